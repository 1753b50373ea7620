"""The perceptron: one unit, a step function, and Rosenblatt's learning rule.

A perceptron computes a weighted vote of its inputs and fires when the vote
reaches zero:

    z     = w . x + b                  (the net input)
    y_hat = step(z) = 1 if z >= 0 else 0

It learns without any derivative: after each sample it nudges the weights
towards the right answer,

    w <- w + lr (y - y_hat) x
    b <- b + lr (y - y_hat)

so nothing moves when the answer is right (y - y_hat = 0), and a wrong answer
adds (or subtracts) the input itself. If some line (a hyperplane, in more
dimensions) separates the two classes, this rule finds one in a finite number
of updates (the perceptron convergence theorem). If none does, as for XOR, it
cycles forever: that is the limit that multilayer networks and
backpropagation overcome.
"""

from __future__ import annotations

import warnings

import numpy as np

from .activations import Step
from .initializers import Initializer, get_initializer
from .network import check_features
from .validation import check_int, check_number


class ConvergenceWarning(UserWarning):
    """The perceptron rule still made mistakes after ``max_epochs`` epochs."""


class Perceptron:
    r"""A single threshold unit trained by the perceptron learning rule.

    Parameters
    ----------
    n_inputs : int
        Number of inputs (features) of each sample.
    lr : float, default 1.0
        Learning rate: the size of each correction. Starting from zero
        weights it only rescales ``w`` and ``b``, and so never changes the
        predictions, because the step function only looks at the sign of
        ``w . x + b`` (exactly so for a power of two such as 0.5; other values
        can round a tie at ``z = 0`` to either side).
    max_epochs : int, default 100
        Maximum number of passes over the data.
    weight_init : str or Initializer, default "zeros"
        Initial weights: any chainrule initializer name (``"zeros"``,
        ``"uniform"``, ``"normal"``, ``"glorot_uniform"``...). The bias
        always starts at 0.
    seed : int or None
        Seed for a random ``weight_init`` and for ``shuffle``.
    shuffle : bool, default False
        Visit the samples in a new random order in each epoch.

    Attributes
    ----------
    w : ndarray of shape (n_inputs,)
        The weights.
    b : float
        The bias.
    converged_ : bool
        Whether the last ``fit`` reached an epoch without a single mistake.
    n_epochs_ : int
        Number of epochs the last ``fit`` ran.
    errors_ : list of int
        Misclassified samples in each epoch (counted while learning).
    history_ : list of (ndarray, float)
        Copies of ``(w, b)`` after each epoch, to plot the decision boundary
        as it moves.

    Notes
    -----
    For each sample ``x`` with label ``y`` in {0, 1}, in order (``eta`` the
    learning rate ``lr``):

        y_hat = step(w . x + b)
        w    <- w + eta (y - y_hat) x
        b    <- b + eta (y - y_hat)

    Training stops after the first epoch with no mistakes.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> p = Perceptron(2).fit(X, np.array([0, 0, 0, 1]))   # AND
    >>> p.predict(X).tolist(), p.converged_
    ([0, 0, 0, 1], True)
    """

    def __init__(
        self,
        n_inputs: int,
        lr: float = 1.0,
        max_epochs: int = 100,
        weight_init: str | Initializer = "zeros",
        seed: int | None = None,
        shuffle: bool = False,
    ) -> None:
        self.n_inputs = check_int("Perceptron n_inputs", n_inputs)
        self.lr = check_number("Perceptron lr", lr, low_open=True)
        self.max_epochs = check_int("Perceptron max_epochs", max_epochs)
        self.weight_init = weight_init
        self.seed = seed
        self.shuffle = bool(shuffle)
        self._init = get_initializer(weight_init)
        self._step = Step()
        self._reset()

    def _reset(self) -> None:
        """Initial weights and bias (the same ones for every ``fit`` with a seed)."""
        self._rng = np.random.default_rng(self.seed)
        self.w = self._init((self.n_inputs, 1), self._rng, np.float64).ravel()
        self.b = 0.0
        self.converged_ = False
        self.n_epochs_ = 0
        self.errors_: list[int] = []
        self.history_: list[tuple[np.ndarray, float]] = []

    # -- input checks ---------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        X = check_features(X, self.n_inputs, np.float64, owner="the perceptron")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or inf; remove or impute those values first")
        return X

    def _check_y(self, y, n_samples: int) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(
                "y must be a 1-D array of 0/1 labels with one label per row of X, "
                f"got shape {y.shape}"
            )
        if y.shape[0] != n_samples:
            raise ValueError(
                f"X has {n_samples} samples but y has {y.shape[0]} labels; give one label per row"
            )
        if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
            raise TypeError(f"y must hold 0/1 labels, got dtype {y.dtype}")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(
                "y contains NaN or inf; the perceptron needs a 0/1 label for every sample"
            )
        bad = np.unique(y[(y != 0) & (y != 1)])
        if bad.size:
            hint = (
                " (for -1/+1 labels use (y + 1) // 2)"
                if set(np.unique(y).tolist()) <= {-1.0, 1.0}
                else ""
            )
            raise ValueError(
                f"y must contain only 0/1 labels (the step unit outputs 0 or 1), but it has "
                f"{bad[:5].tolist()}; map the two classes to 0 and 1{hint}"
            )
        return y.astype(np.int64)

    # -- the unit -------------------------------------------------------------------
    def net_input(self, X) -> np.ndarray:
        """The weighted sum ``z = X w + b`` for each row of ``X``, shape (n_samples,).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            One row per sample.
        """
        return self._check_X(X) @ self.w + self.b

    def predict(self, X) -> np.ndarray:
        """Class labels ``step(X w + b)`` as integers 0/1, shape (n_samples,).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            One row per sample.
        """
        return self._step.f(self.net_input(X)).astype(np.int64)

    def score(self, X, y) -> float:
        """Accuracy: the fraction of samples whose prediction equals ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            One row per sample.
        y : array-like of shape (n_samples,)
            The true labels, 0 or 1.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        return float(np.mean(self.predict(X) == y))

    # -- learning -------------------------------------------------------------------
    def fit(self, X, y) -> Perceptron:
        """Train with the perceptron learning rule, starting from the initial weights.

        For each sample in turn, ``y_hat = step(w . x + b)``, then
        ``w += lr (y - y_hat) x`` and ``b += lr (y - y_hat)``. Epochs repeat
        until one passes without a mistake or ``max_epochs`` is reached.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like of shape (n_samples,)
            Labels 0 or 1.

        Returns
        -------
        self

        Warns
        -----
        ConvergenceWarning
            If some sample is still misclassified after ``max_epochs`` epochs,
            which always happens when the classes are not linearly separable.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        self._reset()
        order = np.arange(X.shape[0])
        for _ in range(self.max_epochs):
            if self.shuffle:
                order = self._rng.permutation(X.shape[0])
            errors = 0
            for i in order:
                x_i, y_i = X[i], y[i]
                y_hat = 1 if x_i @ self.w + self.b >= 0 else 0  # step(w . x + b)
                update = self.lr * (y_i - y_hat)  # 0 when the answer is right
                if update != 0:
                    self.w += update * x_i
                    self.b += update
                    errors += 1
            self.errors_.append(errors)
            self.history_.append((self.w.copy(), float(self.b)))
            self.n_epochs_ += 1
            if errors == 0:
                self.converged_ = True
                break
        if not self.converged_:
            warnings.warn(
                f"the perceptron did not converge in {self.max_epochs} epochs: "
                f"{self.errors_[-1]} of {X.shape[0]} samples were still misclassified in the "
                "last epoch. The classes may not be linearly separable (XOR, for example: no "
                "single line splits its two classes), and then the perceptron rule never "
                "settles. A multilayer network can learn them: e.g. cr.Sequential(cr.Dense("
                f"{self.n_inputs}, 2, activation='tanh'), cr.Dense(2, 1)) trained with "
                "loss='binary_cross_entropy'. If the data is separable, raise max_epochs.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def __repr__(self) -> str:
        return (
            f"Perceptron(n_inputs={self.n_inputs}, lr={self.lr}, max_epochs={self.max_epochs}, "
            f"weight_init={self.weight_init!r}, seed={self.seed}, shuffle={self.shuffle})"
        )


__all__ = ["Perceptron", "ConvergenceWarning"]
