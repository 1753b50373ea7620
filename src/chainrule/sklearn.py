"""scikit-learn estimators on the chainrule engine.

``MLPClassifier`` and ``MLPRegressor`` train a ``chainrule.Sequential``
of ``Dense`` layers (optionally with ``BatchNorm`` and ``Dropout``) by
mini-batch gradient descent; ``PerceptronClassifier`` wraps the single
threshold unit ``chainrule.Perceptron`` and its learning rule. All
three follow scikit-learn's conventions, so they drop into ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``:

- ``__init__`` only stores its arguments; they are validated in ``fit``;
- everything learned ends with an underscore (``net_``, ``classes_``,
  ``n_features_in_``, ``loss_curve_``...);
- estimators clone and pickle (scikit-learn's contract; chainrule's own model
  files, written by ``est.net_.save(path)``, stay pickle-free);
- the same ``random_state`` gives the same model bit for bit.

Training is ``chainrule.training.fit``: its ``sample_weight`` and ``l2``
arguments give scikit-learn's weighted loss and ``alpha`` penalty, and a
callback (``_SklearnStopping``) applies scikit-learn's stopping rule (``tol``,
``n_iter_no_change``, ``early_stopping``) and keeps ``loss_curve_``. One step
is still the whole method:

```text
out = layers forward (X_batch)
L   = loss.forward(out, y_batch)              (+ weights, + L2 term)
layers backward (loss.backward() * weights)   (chain rule)
W.grad += alpha / n_batch * W                 (the L2 penalty's gradient)
optimizer.step()
```

scikit-learn is an optional dependency: ``pip install chainrule[sklearn]``.
"""

from __future__ import annotations

import sys
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import recipe
from .activations import ACTIVATIONS, sigmoid, softmax
from .callbacks import Callback
from .layers import Dense
from .losses import get_loss
from .network import Sequential
from .optimizers import OPTIMIZERS, get_optimizer
from .perceptron import ConvergenceWarning as _PerceptronConvergenceWarning
from .perceptron import Perceptron
from .threads import blas_for
from .training import DivergenceWarning, _inference, fit

__all__ = ["MLPClassifier", "MLPRegressor", "PerceptronClassifier"]

#: Hidden-layer activations: every differentiable chainrule activation, plus
#: scikit-learn's name "logistic" for the sigmoid. "step" has no usable
#: derivative and "softmax" is not elementwise, so neither is offered.
_HIDDEN_ACTIVATIONS = (set(ACTIVATIONS) - {"step", "softmax"}) | {"logistic"}

#: Rows per forward pass at inference time (bounds the memory of predict).
_PREDICT_CHUNK = 4096


# --------------------------------------------------------------------------- #
# Helpers shared by the MLP estimators
# --------------------------------------------------------------------------- #


class _SklearnStopping(Callback):
    """scikit-learn's bookkeeping, stopping rule and learning-rate schedules, after every epoch.

    Records ``n_iter_``, ``loss_`` and ``loss_curve_`` on the estimator; with
    ``check_convergence`` it stops training once more than ``n_iter_no_change``
    epochs in a row failed to improve the training loss (or, with ``val``, the
    validation score) by ``tol``, and keeps the weights of the best score.
    ``learning_rate="adaptive"`` divides the step size by 5 where the rule
    would stop, and stops once it is below 1e-6; ``"invscaling"`` sets it to
    ``learning_rate_init / (t + 1) ** power_t`` after each epoch, ``t`` the
    number of samples seen (scikit-learn's two schedules).
    """

    def __init__(self, est, check_convergence: bool, val, n_rows: int) -> None:
        self.est = est
        self.check_convergence = check_convergence
        self.val = val  # (X_val, Y_val, sw_val) with early stopping, else None
        self.n_rows = n_rows
        self.no_improvement = 0
        self.converged = False
        self.best_state = None
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        if self.val is not None:
            self.best_state = self.net.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        est = self.est
        est.n_iter_ += 1
        est.t_ = getattr(est, "t_", 0) + self.n_rows
        est.loss_ = logs["loss"]
        est.loss_curve_.append(est.loss_)
        if est._schedule == "invscaling":
            self.net.optimizer_.lr = est._lr_init / (est.t_ + 1) ** float(est.power_t)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}", file=sys.stdout)
        if self.val is not None:
            score = est._encoded_score(*self.val)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:.6f}", file=sys.stdout)
            worse = score < est.best_validation_score_ + est.tol
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_state = self.net.get_weights()
                self.best_epoch = est.n_iter_
        else:
            worse = est.loss_ > est.best_loss_ - est.tol
            est.best_loss_ = min(est.best_loss_, est.loss_)
        if not self.check_convergence:
            return
        self.no_improvement = self.no_improvement + 1 if worse else 0
        if self.no_improvement > est.n_iter_no_change:
            opt = self.net.optimizer_
            if est._schedule == "adaptive" and opt.lr > 1e-6:
                opt.lr = opt.lr / 5.0
                self.no_improvement = 0
                if est.verbose:
                    print(f"Setting learning rate to {opt.lr:f}", file=sys.stdout)
                return
            self.converged = True
            self.net.stop_training = True
            if est.verbose:
                what = "Validation score" if self.val is not None else "Training loss"
                print(
                    f"{what} did not improve more than tol={est.tol} for "
                    f"{est.n_iter_no_change} consecutive epochs. Stopping.",
                    file=sys.stdout,
                )


# --------------------------------------------------------------------------- #
# The multilayer perceptron estimators
# --------------------------------------------------------------------------- #

#: scikit-learn's learning-rate schedules plus the recipe's.
_SCHEDULES = {"constant", "invscaling", "adaptive", "warmup_cosine"}


class _BaseMLP(BaseEstimator):
    """Shared parameters, network construction and training loop of the MLP estimators."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(_HIDDEN_ACTIVATIONS)],
        "solver": [StrOptions(set(OPTIMIZERS) | {"lbfgs"})],
        "optimizer": [StrOptions(set(OPTIMIZERS)), None],
        "learning_rate": [StrOptions(_SCHEDULES), Interval(Real, 0, None, closed="neither")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "dtype": [type, StrOptions({"float32", "float64"}), np.dtype, None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "shuffle": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes=recipe.DEFAULTS["hidden"],
        activation=recipe.DEFAULTS["activation"],
        loss=None,
        solver="adam",
        learning_rate="warmup_cosine",
        learning_rate_init=None,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=recipe.DEFAULTS["betas"][0],
        beta_2=recipe.DEFAULTS["betas"][1],
        epsilon=1e-8,
        batch_size="auto",
        max_iter="auto",
        alpha=recipe.L2["regress"],
        dropout=0.0,
        batch_norm=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        dtype=None,
        warm_start=False,
        verbose=0,
        shuffle=True,
        optimizer=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.alpha = alpha
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.dtype = dtype
        self.warm_start = warm_start
        self.verbose = verbose
        self.shuffle = shuffle
        self.optimizer = optimizer

    # -- parameter checks that the constraint table cannot express ---------------------
    def _invalid(self, name: str, what: str, value) -> InvalidParameterError:
        return InvalidParameterError(
            f"The {name!r} parameter of {type(self).__name__} must be {what}. "
            f"Got {value!r} instead."
        )

    def _check_params(self) -> None:
        self._validate_params()
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, (Integral, np.integer)) else list(sizes)
        for h in sizes:
            if isinstance(h, bool) or not isinstance(h, (Integral, np.integer)) or h < 1:
                raise self._invalid(
                    "hidden_layer_sizes", "an int >= 1 or a sequence of ints >= 1", sizes
                )
        self._sizes = [int(h) for h in sizes]
        # the optimiser: scikit-learn's `solver`, or chainrule's earlier name `optimizer`
        solver = self.solver
        if self.optimizer is not None:
            if solver not in ("adam", self.optimizer):
                raise ValueError(
                    f"solver={solver!r} and optimizer={self.optimizer!r} disagree: they are "
                    "two names for one setting; give only solver"
                )
            solver = self.optimizer
        if solver == "lbfgs":
            raise ValueError(
                "solver='lbfgs' is not supported: chainrule trains by mini-batch gradient "
                "descent; use solver='adam' (the default) or 'sgd'"
            )
        self._solver = solver
        # the step size: `learning_rate_init`, or a number given as `learning_rate`
        # (chainrule's earlier name for it)
        if isinstance(self.learning_rate, str):
            self._schedule = self.learning_rate
            lr = self.learning_rate_init
        else:
            if self.learning_rate_init is not None:
                raise ValueError(
                    f"learning_rate={self.learning_rate!r} is a step size and "
                    f"learning_rate_init={self.learning_rate_init!r} is another: give the step "
                    "size as learning_rate_init, and learning_rate as a schedule name"
                )
            self._schedule, lr = "constant", self.learning_rate
        self._lr_init = float(recipe.DEFAULTS["lr"] if lr is None else lr)
        if self.dtype is None:
            self._dtype = None  # the input's precision, settled in _fit
            return
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise self._invalid("dtype", "np.float32, np.float64 or None", self.dtype)
        self._dtype = dtype

    def _make_optimizer(self):
        params = self.net_.parameters()
        lr = self._lr_init
        if self._solver == "sgd":
            return get_optimizer(
                "sgd", params, lr=lr, momentum=float(self.momentum),
                nesterov=bool(self.nesterovs_momentum) and self.momentum > 0,
            )  # fmt: skip
        if self._solver in ("adam", "adamw"):
            betas = (float(self.beta_1), float(self.beta_2))
            return get_optimizer(self._solver, params, lr=lr, betas=betas, eps=float(self.epsilon))
        if self._solver == "rmsprop":
            return get_optimizer("rmsprop", params, lr=lr, eps=float(self.epsilon))
        return get_optimizer(self._solver, params, lr=lr)

    # -- the network -------------------------------------------------------------------
    def _build_net(self, n_in: int, n_out: int, seed: int) -> Sequential:
        return recipe.build_mlp(
            n_in, self._sizes, self.activation, n_out, seed=seed, dtype=self._dtype,
            batch_norm=self.batch_norm, dropout=self.dropout,
            zero_last_layer=recipe.DEFAULTS["zero_last_layer"],
        )  # fmt: skip

    def _raw_output(self, X: np.ndarray) -> np.ndarray:
        """Network outputs in inference mode, as float64 (one BLAS thread for a small network)."""
        with blas_for(self.net_, min(len(X), _PREDICT_CHUNK)):
            out = _inference(self.net_, X, batch_size=_PREDICT_CHUNK)
        return out.astype(np.float64)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices of the ``Dense`` layers, ``coefs_[i]`` of shape (in, out) (as scikit-learn)."""
        check_is_fitted(self, "net_")
        return [layer.weight.value for layer in self.net_.layers if isinstance(layer, Dense)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors of the ``Dense`` layers (as scikit-learn)."""
        check_is_fitted(self, "net_")
        return [layer.bias.value for layer in self.net_.layers if isinstance(layer, Dense)]

    # -- random numbers ------------------------------------------------------------------
    def _fresh_rng(self) -> np.random.Generator:
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return np.random.default_rng(seed)

    # -- the training loop -----------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental: bool, classes=None):
        self._check_params()
        fitted = hasattr(self, "net_")
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: there is no held-out "
                "set to watch across calls; use fit, or set early_stopping=False"
            )
        keep = fitted and (incremental or self.warm_start)
        X, y = validate_data(
            self,
            X,
            y,
            reset=not keep,
            multi_output=True,
            dtype=(np.float64, np.float32),
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            if not np.any(sample_weight > 0):
                raise ValueError(
                    "Sample weights must contain at least one non-zero number: with every "
                    "weight zero there is nothing to learn from"
                )
        if keep:
            self._dtype = self.net_.dtype  # the network keeps the precision it was built with
        elif self._dtype is None:  # scikit-learn's convention: float64 in, float64 out
            self._dtype = X.dtype
        Y, n_out = self._encode_targets(y, sample_weight, keep, incremental, classes)
        sample_weight = self._weights_for(y, sample_weight)
        loss = get_loss(self._loss_name)

        if not keep:
            self._rng = self._fresh_rng()
            seed = int(self._rng.integers(np.iinfo(np.int32).max))
            self.net_ = self._build_net(X.shape[1], n_out, seed)
            self._folded = False  # a new network trains on the scale its targets came in
            self.net_.loss_ = loss.name  # net_.predict then answers the same task
            self.n_outputs_ = n_out
            self.loss_curve_ = []
            self.n_iter_ = 0
            self.t_ = 0
        elif not incremental:
            self._rng = self._fresh_rng()  # a warm-started fit reshuffles as a new fit would
        elif not hasattr(self, "_rng"):  # pragma: no cover - defensive
            self._rng = self._fresh_rng()
        if not keep or not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer()
        X = np.ascontiguousarray(X, dtype=self._dtype)

        self._unfold_output()  # train on the standardised target (regression)
        try:
            if incremental:
                self._train(X, Y, sample_weight, loss, max_epochs=1, check_convergence=False)
            else:
                self.n_iter_ = 0
                self._train(X, Y, sample_weight, loss, None, check_convergence=True)
        finally:
            self._fold_output()
        self.net_.clear_cache()  # the last batch is dead weight in a pickle
        self.net_.eval()
        return self

    def _weights_for(self, y, sample_weight):
        """Sample weights times class weights (the classifier's ``class_weight``)."""
        return sample_weight

    def _unfold_output(self) -> None:
        """Map the output layer to the scale the network trains on (see MLPRegressor)."""

    def _fold_output(self) -> None:
        """Map the output layer back to the scale of the targets (see MLPRegressor)."""

    def _split_validation(self, X, Y, sample_weight):
        stratify = None
        if isinstance(self, ClassifierMixin) and not self._multilabel:  # stratify by class
            stratify = Y if Y.ndim == 1 else (Y[:, 0] if Y.shape[1] == 1 else Y.argmax(axis=1))
        arrays = [X, Y] if sample_weight is None else [X, Y, sample_weight]
        parts = train_test_split(
            *arrays,
            test_size=self.validation_fraction,
            random_state=int(self._rng.integers(np.iinfo(np.int32).max)),
            stratify=stratify,
        )
        X_tr, X_val, Y_tr, Y_val = parts[:4]
        sw_tr, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if len(X_val) < 2:
            raise ValueError(
                f"The validation set is too small ({len(X_val)} rows): increase "
                "validation_fraction or the size of the data set, or set early_stopping=False"
            )
        return X_tr, Y_tr, sw_tr, X_val, Y_val, sw_val

    def _train(self, X, Y, sample_weight, loss, max_epochs, check_convergence: bool):
        net = self.net_
        early = self.early_stopping and check_convergence
        val = None
        if early:
            X, Y, sample_weight, X_val, Y_val, sw_val = self._split_validation(X, Y, sample_weight)
            val = (X_val, Y_val, sw_val)
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            if check_convergence or not hasattr(self, "validation_scores_"):
                self.validation_scores_ = None
                self.best_validation_score_ = None
            if check_convergence or getattr(self, "best_loss_", None) is None:
                self.best_loss_ = np.inf

        n = len(X)
        if self.batch_size == "auto":
            bs = min(recipe.batch_size_for(n), n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    f"batch_size={self.batch_size} is larger than the {n} training samples; "
                    f"it is clipped to {n}",
                    UserWarning,
                    stacklevel=4,
                )
            bs = min(int(self.batch_size), n)
        if max_epochs is None:
            max_epochs = (
                recipe.epoch_budget(n, bs) if self.max_iter == "auto" else int(self.max_iter)
            )
        if self.batch_norm and n < 2:
            raise ValueError(
                "batch_norm=True needs at least 2 samples (n_samples=1): a batch variance "
                "needs two rows; use batch_norm=False"
            )
        shuffle = bool(self.shuffle) and bs < n  # a full batch is the same in any order
        seed = int(self._rng.integers(np.iinfo(np.int32).max)) if shuffle else 0

        # The recipe's schedule runs the whole budget: the tol rule only stops it on a
        # validation set; scikit-learn's schedules keep scikit-learn's rule.
        cosine = self._schedule == "warmup_cosine"
        rule = _SklearnStopping(self, check_convergence and (early or not cosine), val, n)
        callbacks = [rule]
        if cosine and check_convergence:
            steps = max_epochs * -(-n // bs)
            callbacks.insert(
                0, recipe.WarmupCosine(self._lr_init, steps, recipe.DEFAULTS["warmup"])
            )
        with warnings.catch_warnings(), blas_for(net, bs):  # warnings: reported below
            warnings.simplefilter("ignore", DivergenceWarning)
            history = fit(
                net, X, Y, loss=loss, optimizer=self._optimizer, epochs=max_epochs,
                batch_size=bs, shuffle=shuffle, callbacks=callbacks, seed=seed,
                sample_weight=sample_weight, l2=float(self.alpha),
            )  # fmt: skip
        self.best_epoch_ = None
        converged = rule.converged or (cosine and check_convergence)
        if history.diverged:
            # the optimizer's running averages saw the blow-up: start them afresh
            self._optimizer = self._make_optimizer()
            warnings.warn(
                "training diverged: the loss became NaN or infinite in epoch "
                f"{self.n_iter_ + 1}; the weights are those from the start of that "
                "epoch. Lower learning_rate_init or standardise X",
                DivergenceWarning,
                stacklevel=4,
            )
            converged = True  # stopping was deliberate: no ConvergenceWarning
        if early:
            net.set_weights(rule.best_state)
            self.best_epoch_ = rule.best_epoch
        if check_convergence and not converged and len(history) == max_epochs:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({max_epochs}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    # -- what subclasses provide -------------------------------------------------------------
    def _encode_targets(self, y, sample_weight, keep, incremental, classes):
        raise NotImplementedError

    def _encoded_score(self, X, Y, sample_weight) -> float:
        raise NotImplementedError

    def _check_X_predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=(np.float64, np.float32))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False  # with a fixed random_state
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier trained by backpropagation.

    Single-label targets (binary or multiclass, any label values) are
    learned with one output per class and the softmax cross-entropy; 2-D
    0/1 indicator targets (multilabel) with one sigmoid output per label and
    the binary cross-entropy.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Width of each hidden layer; ``()`` gives a model with no hidden layer
        (a linear model trained by gradient descent).
    activation : str, default "relu"
        Hidden-layer activation: any differentiable chainrule activation
        ("relu", "tanh", "sigmoid" (alias "logistic"), "identity",
        "leaky_relu", "elu", "selu", "softplus", "gelu", "silu"/"swish",
        "mish").
    loss : {"cross_entropy", "binary_cross_entropy", "hinge"} or None, default None
        None means "cross_entropy" for single-label and
        "binary_cross_entropy" for multilabel targets. "binary_cross_entropy"
        on single-label targets uses one sigmoid output for two classes and
        one-vs-rest sigmoids for more. "hinge" is the multi-class margin loss
        (no ``predict_proba``).
    solver : {"adam", "sgd", "adamw", "rmsprop", "adagrad"}, default "adam"
        The optimizer (scikit-learn's name; "lbfgs" is refused). "sgd" uses
        ``momentum`` and ``nesterovs_momentum``; "adam"/"adamw" use ``beta_1``,
        ``beta_2`` and ``epsilon``.
    learning_rate : {"warmup_cosine", "constant", "invscaling", "adaptive"} or float, default "warmup_cosine"
        The schedule. "warmup_cosine" (the recipe) warms up linearly over the
        first 5% of the steps, then decays as a cosine to 0 at the end of the
        budget, ``lr_t = lr min(1, (t+1)/t_w) (1 + cos(pi t / T)) / 2``, and
        always runs the whole budget (the ``tol`` rule only stops it with
        ``early_stopping``). The other three are scikit-learn's: "invscaling"
        sets ``lr = learning_rate_init / (t + 1) ** power_t`` after each epoch
        (``t`` samples seen), "adaptive" divides the rate by 5 where the
        ``tol`` rule would stop and stops below 1e-6; unlike scikit-learn they
        apply to every solver. A number is the step size with a constant
        rate (chainrule's earlier spelling of ``learning_rate_init``).
    learning_rate_init : float or None, default None
        Step size; None means 2e-3 (the recipe's).
    power_t : float, default 0.5
        Exponent of "invscaling".
    momentum : float, default 0.9
        SGD momentum.
    nesterovs_momentum : bool, default True
        Nesterov's momentum for SGD (when ``momentum > 0``).
    beta_1 : float, default 0.9
        Adam's decay rate of the first moment estimate.
    beta_2 : float, default 0.999
        Adam's decay rate of the second moment estimate.
    epsilon : float, default 1e-8
        Adam's (and RMSprop's) term added to the denominator.
    batch_size : int or "auto", default "auto"
        Rows per gradient step; "auto" is about a tenth of the rows,
        ``clip(n / 10, 16, 256)`` rounded to a power of two (scikit-learn:
        ``min(200, n)``). A larger value is clipped to ``n_samples`` with a
        warning.
    max_iter : int or "auto", default "auto"
        Number of epochs (the most, with scikit-learn's schedules). "auto" is
        the recipe's budget: enough epochs for 600 steps (1200 under 200 rows), 16 to 256.
    alpha : float, default 0.05
        L2 penalty on the weights (not the biases, nor BatchNorm's scale and
        shift); the recipe's 0.05 (``recipe.l2_for``) where scikit-learn's
        default is 1e-4. As in scikit-learn, each batch's loss gets
        ``alpha * sum ||W||^2 / (2 * n_b)`` added, where ``n_b`` is the number of
        rows in the batch (the sum of their weights with ``sample_weight``), so
        its gradient ``alpha * W / n_b`` is added to each weight gradient.
    dropout : float, default 0.0
        Dropout probability after each hidden layer (0 disables it).
    batch_norm : bool, default False
        Put a ``BatchNorm`` between each hidden ``Dense`` layer and its activation.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified for
        single-label classification), stop when its score (accuracy, or R^2)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep
        the weights of the best epoch.
    validation_fraction : float, default 0.1
        Fraction held out for early stopping.
    n_iter_no_change : int, default 10
        Training stops once more than this many epochs in a row failed to
        improve on the best loss (or score) by ``tol`` (scikit-learn's rule).
    tol : float, default 1e-4
        Minimum improvement of the training loss (or validation score).
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffling, dropout and the validation
        split. An int gives the same model on every fit.
    dtype : np.float32, np.float64 or None, default None
        Precision of the network's weights and arithmetic. None follows the
        input, as scikit-learn does: float32 ``X`` trains a float32 network
        (about twice as fast), anything else float64.
    warm_start : bool, default False
        When fitted already, continue from the current weights (with a fresh
        optimizer state) instead of starting over.
    verbose : int, default 0
        Print the loss (and the validation score) after every epoch.
    shuffle : bool, default True
        Visit the rows in a new random order in each epoch.
    optimizer : str or None, default None
        chainrule's earlier name for ``solver`` (they must agree if both are given).
    label_smoothing : float, default 0.0
        With the cross-entropy, train on ``(1 - eps) onehot + eps / K``
        instead of one-hot targets.
    class_weight : "balanced", dict or None, default None
        Weight of each class in the loss: "balanced" is ``n / (K count_k)``,
        a dict maps labels to weights (others get 1); multiplied into
        ``sample_weight``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (``arange(n_labels)`` for multilabel targets).
    net_ : chainrule.Sequential
        The trained network; ``net_(X)`` gives its raw outputs, and
        ``net_.save(path)`` writes a pickle-free model file.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; only defined when ``X`` had
        string column names (a pandas DataFrame).
    n_outputs_ : int
        Width of the network's output layer.
    loss_ : float
        Training loss (with the L2 term) of the last epoch.
    loss_curve_ : list of float
        Training loss of every epoch (kept across warm-started fits and
        ``partial_fit`` calls).
    best_loss_ : float or None
        Lowest training loss seen; None with early stopping.
    validation_scores_ : list of float or None
        Validation score of every epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best validation score with early stopping, else None.
    n_iter_ : int
        Epochs run by the last ``fit`` (``partial_fit`` adds one per call).
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix of the i-th ``Dense`` layer, shape
        (in, out), as in scikit-learn.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is its bias vector.
    best_epoch_ : int or None
        With early stopping, the epoch whose weights were kept.

    See Also
    --------
    MLPRegressor : The same network for regression.
    PerceptronClassifier : A single threshold unit.
    sklearn.neural_network.MLPClassifier : scikit-learn's own MLP.

    Notes
    -----
    Sample weights scale each row's loss gradient: a batch's gradient is
    ``sum_i w_i dl_i / sum_i w_i``, so a weight of 2 counts a row twice and a
    weight of 0 ignores it (exactly so for full-batch training; with
    mini-batches the batches differ). ``BatchNorm`` statistics and dropout
    masks do not see the weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from chainrule.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
    ...                     max_iter=300, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"cross_entropy", "binary_cross_entropy", "hinge"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        hidden_layer_sizes=recipe.DEFAULTS["hidden"],
        activation=recipe.DEFAULTS["activation"],
        loss=None,
        solver="adam",
        learning_rate="warmup_cosine",
        learning_rate_init=None,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=recipe.DEFAULTS["betas"][0],
        beta_2=recipe.DEFAULTS["betas"][1],
        epsilon=1e-8,
        batch_size="auto",
        max_iter="auto",
        alpha=recipe.L2["classify"],
        dropout=0.0,
        batch_norm=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        dtype=None,
        warm_start=False,
        verbose=0,
        shuffle=True,
        optimizer=None,
        label_smoothing=recipe.DEFAULTS["label_smoothing"],
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, loss=loss,
            solver=solver, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, batch_size=batch_size,
            max_iter=max_iter, alpha=alpha, dropout=dropout, batch_norm=batch_norm,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, tol=tol, random_state=random_state, dtype=dtype,
            warm_start=warm_start, verbose=verbose, shuffle=shuffle, optimizer=optimizer,
        )  # fmt: skip
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

    def _weights_for(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        if self._multilabel:
            raise ValueError(
                "class_weight is not supported for multilabel targets; give sample_weight instead"
            )
        from .class_weights import class_weight_rows

        classes = self.classes_ if isinstance(self.class_weight, dict) else None
        weights = class_weight_rows(y, self.class_weight, classes=classes)
        return weights if sample_weight is None else weights * sample_weight

    def _encode_targets(self, y, sample_weight, keep, incremental, classes):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if hasattr(y, "toarray"):  # a sparse multilabel indicator
            y = y.toarray()
        check_classification_targets(y)
        target = type_of_target(y)
        multilabel = target == "multilabel-indicator"
        if target not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                f"{type(self).__name__} supports binary, multiclass and multilabel-indicator "
                f"targets; got {target!r} targets (2-D labels that are not a 0/1 indicator)"
            )
        loss = self.loss
        if loss is None:
            loss = "binary_cross_entropy" if multilabel else "cross_entropy"
        if multilabel and loss != "binary_cross_entropy":
            raise ValueError(
                f"multilabel targets need loss='binary_cross_entropy' (one sigmoid per label), "
                f"got loss={loss!r}"
            )

        if keep:  # continuing: the label set must be the one the network was built for
            if multilabel != self._multilabel:
                raise ValueError(
                    "y changed between multilabel and single-label targets since the last fit; "
                    "fit from scratch (warm_start=False)"
                )
            if multilabel and y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y has {y.shape[1]} labels but the network was fitted with "
                    f"{len(self.classes_)}"
                )
            if incremental and classes is not None:
                given = np.unique(np.asarray(classes))
                same = (
                    len(given) == len(self.classes_)
                    if multilabel
                    else np.array_equal(given, self.classes_)
                )
                if not same:
                    raise ValueError(
                        f"classes={given!r} is not the same as the classes of the first call "
                        f"to partial_fit, {self.classes_!r}"
                    )
            if loss != self._loss_name:
                raise ValueError(
                    f"loss changed from {self._loss_name!r} to {loss!r} since the network was "
                    "built; fit from scratch (warm_start=False)"
                )
        else:
            self._multilabel = multilabel
            self._loss_name = loss
            if multilabel:
                if incremental and classes is None:
                    raise ValueError(
                        "classes must be passed on the first call to partial_fit "
                        "(for multilabel targets: one entry per label column)"
                    )
                if classes is not None and len(np.unique(classes)) != y.shape[1]:
                    raise ValueError(
                        f"classes has {len(np.unique(classes))} entries but y has "
                        f"{y.shape[1]} label columns"
                    )
                self.classes_ = np.arange(y.shape[1])
            elif incremental:
                if classes is None:
                    raise ValueError(
                        "classes must be passed on the first call to partial_fit: the "
                        "network's output layer needs every class label up front"
                    )
                self.classes_ = np.unique(np.asarray(classes))
            else:
                self.classes_ = np.unique(y)
            if not multilabel and len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes but y has 1 class "
                    f"({self.classes_[0]!r}); a classifier cannot learn from one class"
                )

        if multilabel:
            return np.ascontiguousarray(y, dtype=self._dtype), y.shape[1]

        k = len(self.classes_)
        idx = np.searchsorted(self.classes_, y)
        idx_ok = np.minimum(idx, k - 1)
        if np.any(self.classes_[idx_ok] != y):
            unseen = np.setdiff1d(y, self.classes_)
            if keep and not incremental:
                raise ValueError(
                    f"warm_start can only be used where y has the same classes as in the "
                    f"previous call to fit: y has {unseen!r}, previously {self.classes_!r}"
                )
            raise ValueError(f"y has classes {unseen!r} that are not in classes={self.classes_!r}")
        if keep and not incremental and len(np.unique(idx)) != k:
            raise ValueError(
                f"warm_start can only be used where y has the same classes as in the "
                f"previous call to fit: y has {np.unique(y)!r}, previously {self.classes_!r}"
            )
        if not incremental and sample_weight is not None:
            weighted = np.unique(idx[sample_weight > 0])
            if len(weighted) < 2:
                raise ValueError(
                    f"only 1 class ({self.classes_[weighted[0]]!r}) has a non-zero sample "
                    "weight; a classifier needs at least 2 classes with positive weight"
                )
        if self._loss_name == "binary_cross_entropy":
            if k == 2:  # one sigmoid output: P(classes_[1])
                return np.ascontiguousarray(idx[:, None], dtype=self._dtype), 1
            onehot = np.zeros((len(idx), k), dtype=self._dtype)
            onehot[np.arange(len(idx)), idx] = 1
            return onehot, k
        if self._loss_name == "cross_entropy" and self.label_smoothing > 0:
            # label smoothing: (1 - eps) onehot + eps / K, soft targets for the cross-entropy
            return recipe.smooth_labels(idx, k, float(self.label_smoothing), self._dtype), k
        return idx.astype(np.intp), k  # integer labels for cross_entropy and hinge

    # -- from outputs to answers ------------------------------------------------------------
    def _decision_from_output(self, z: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return z
        if z.shape[1] == 1:
            return z[:, 0]
        if z.shape[1] == 2:
            return z[:, 1] - z[:, 0]
        return z

    def _indices_from_output(self, z: np.ndarray) -> np.ndarray:
        if self._multilabel:
            return (z > 0).astype(np.int64)
        if z.shape[1] == 1:
            return (z[:, 0] > 0).astype(np.intp)
        return z.argmax(axis=1)

    def _encoded_score(self, X, Y, sample_weight) -> float:
        pred = self._indices_from_output(self._raw_output(X))
        if self._multilabel:
            hit = np.all(pred == Y, axis=1)
        elif Y.ndim == 2 and Y.shape[1] == 1:
            hit = pred == Y[:, 0]
        elif Y.ndim == 2:
            hit = pred == Y.argmax(axis=1)
        else:
            hit = pred == Y
        return float(np.average(hit, weights=sample_weight))

    # -- the public methods ---------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None) -> MLPClassifier:
        """Train the network on (X, y) from scratch (or on, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel classification.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample.

        Returns
        -------
        self : MLPClassifier
            The fitted estimator.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            For a constructor argument of the wrong type or range (a
            ``ValueError``).
        ValueError
            For inputs scikit-learn's validation rejects (NaN, wrong number of
            features when continuing, ...), negative or all-zero sample weights,
            targets with fewer than 2 classes, 2-D targets that are not a 0/1
            indicator, a ``loss`` that does not suit the targets, classes or loss that
            changed since the last fit with ``warm_start``, or a validation set of
            fewer than 2 rows with ``early_stopping``.

        Warns
        -----
        ConvergenceWarning
            If ``max_iter`` epochs ran without meeting the stopping rule.
        DivergenceWarning
            If the loss became NaN or infinite; training stops with the
            weights from the start of that epoch.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None, classes=None) -> MLPClassifier:
        """Run one epoch over (X, y), keeping the weights and the optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample.
        classes : array-like of shape (n_classes,), default None
            Every class label of the whole stream. Required on the first call;
            later calls may omit it (or must repeat the same classes).

        Returns
        -------
        self : MLPClassifier
            The updated estimator.

        Raises
        ------
        ValueError
            With ``early_stopping=True``, without ``classes`` on the first call, with
            labels outside ``classes``, or for inputs that do not match the earlier
            calls.

        Warns
        -----
        DivergenceWarning
            If the loss became NaN or infinite in this epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def decision_function(self, X) -> np.ndarray:
        """Raw scores of the network (logits), as float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            For two classes, one score per sample that is positive for
            ``classes_[1]`` (the difference of the two logits with
            cross-entropy, which is ``log(p1 / p0)``); otherwise one column
            per class (or label).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        """
        X = self._check_X_predict(X)
        return self._decision_from_output(self._raw_output(X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels (an int 0/1 indicator matrix for multilabel targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels taken from ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        """
        X = self._check_X_predict(X)
        idx = self._indices_from_output(self._raw_output(X))
        return idx if self._multilabel else self.classes_[idx]

    def _has_proba(self) -> bool:
        return self.loss != "hinge"

    @available_if(_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax of the logits (sigmoids for BCE), float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1, except for multilabel
            targets, where each column is the probability of its own label.
            With one-vs-rest sigmoids (``binary_cross_entropy`` on more than
            two classes) the sigmoids are normalised to sum to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        AttributeError
            With ``loss="hinge"``, which gives no probabilities.
        """
        X = self._check_X_predict(X)
        z = self._raw_output(X)
        if self._loss_name == "cross_entropy":
            return softmax(z)
        p = sigmoid(z)
        if self._multilabel:
            return p
        if p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        return p / p.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of ``predict_proba``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        AttributeError
            With ``loss="hinge"``, which gives no probabilities.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        # 0/1 indicator targets need one sigmoid per label: not with the hinge loss
        tags.classifier_tags.multi_label = self.loss in (None, "binary_cross_entropy")
        tags.target_tags.multi_output = False  # no multiclass-multioutput targets
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor trained by backpropagation.

    One linear output per target column; ``y`` may be 1-D or 2-D
    (multi-output regression).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Width of each hidden layer; ``()`` gives a model with no hidden layer
        (a linear model trained by gradient descent).
    activation : str, default "relu"
        Hidden-layer activation: any differentiable chainrule activation
        ("relu", "tanh", "sigmoid" (alias "logistic"), "identity",
        "leaky_relu", "elu", "selu", "softplus", "gelu", "silu"/"swish",
        "mish").
    loss : {"mse", "mae", "huber"} or None, default None
        None means "mse": the mean of ``(pred - y)^2`` over every entry
        (without scikit-learn's factor 1/2, which only rescales the
        gradient, so ``alpha`` weighs half as much against it as in
        scikit-learn).
    solver : {"adam", "sgd", "adamw", "rmsprop", "adagrad"}, default "adam"
        The optimizer (scikit-learn's name; "lbfgs" is refused). "sgd" uses
        ``momentum`` and ``nesterovs_momentum``; "adam"/"adamw" use ``beta_1``,
        ``beta_2`` and ``epsilon``.
    learning_rate : {"warmup_cosine", "constant", "invscaling", "adaptive"} or float, default "warmup_cosine"
        The schedule. "warmup_cosine" (the recipe) warms up linearly over the
        first 5% of the steps, then decays as a cosine to 0 at the end of the
        budget, ``lr_t = lr min(1, (t+1)/t_w) (1 + cos(pi t / T)) / 2``, and
        always runs the whole budget (the ``tol`` rule only stops it with
        ``early_stopping``). The other three are scikit-learn's: "invscaling"
        sets ``lr = learning_rate_init / (t + 1) ** power_t`` after each epoch
        (``t`` samples seen), "adaptive" divides the rate by 5 where the
        ``tol`` rule would stop and stops below 1e-6; unlike scikit-learn they
        apply to every solver. A number is the step size with a constant
        rate (chainrule's earlier spelling of ``learning_rate_init``).
    learning_rate_init : float or None, default None
        Step size; None means 2e-3 (the recipe's).
    power_t : float, default 0.5
        Exponent of "invscaling".
    momentum : float, default 0.9
        SGD momentum.
    nesterovs_momentum : bool, default True
        Nesterov's momentum for SGD (when ``momentum > 0``).
    beta_1 : float, default 0.9
        Adam's decay rate of the first moment estimate.
    beta_2 : float, default 0.999
        Adam's decay rate of the second moment estimate.
    epsilon : float, default 1e-8
        Adam's (and RMSprop's) term added to the denominator.
    batch_size : int or "auto", default "auto"
        Rows per gradient step; "auto" is about a tenth of the rows,
        ``clip(n / 10, 16, 256)`` rounded to a power of two (scikit-learn:
        ``min(200, n)``). A larger value is clipped to ``n_samples`` with a
        warning.
    max_iter : int or "auto", default "auto"
        Number of epochs (the most, with scikit-learn's schedules). "auto" is
        the recipe's budget: enough epochs for 600 steps (1200 under 200 rows), 16 to 256.
    alpha : float, default 1e-4
        L2 penalty on the weights (not the biases, nor BatchNorm's scale and
        shift). As in scikit-learn, each batch's loss gets
        ``alpha * sum ||W||^2 / (2 * n_b)`` added, where ``n_b`` is the number of
        rows in the batch (the sum of their weights with ``sample_weight``), so
        its gradient ``alpha * W / n_b`` is added to each weight gradient.
    dropout : float, default 0.0
        Dropout probability after each hidden layer (0 disables it).
    batch_norm : bool, default False
        Put a ``BatchNorm`` between each hidden ``Dense`` layer and its activation.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified for
        single-label classification), stop when its score (accuracy, or R^2)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep
        the weights of the best epoch.
    validation_fraction : float, default 0.1
        Fraction held out for early stopping.
    n_iter_no_change : int, default 10
        Training stops once more than this many epochs in a row failed to
        improve on the best loss (or score) by ``tol`` (scikit-learn's rule).
    tol : float, default 1e-4
        Minimum improvement of the training loss (or validation score).
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights, the shuffling, dropout and the validation
        split. An int gives the same model on every fit.
    dtype : np.float32, np.float64 or None, default None
        Precision of the network's weights and arithmetic. None follows the
        input, as scikit-learn does: float32 ``X`` trains a float32 network
        (about twice as fast), anything else float64.
    warm_start : bool, default False
        When fitted already, continue from the current weights (with a fresh
        optimizer state) instead of starting over.
    verbose : int, default 0
        Print the loss (and the validation score) after every epoch.
    shuffle : bool, default True
        Visit the rows in a new random order in each epoch.
    optimizer : str or None, default None
        chainrule's earlier name for ``solver`` (they must agree if both are given).

    Attributes
    ----------
    net_ : chainrule.Sequential
        The trained network; ``net_(X)`` gives its raw outputs, and
        ``net_.save(path)`` writes a pickle-free model file.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; only defined when ``X`` had
        string column names (a pandas DataFrame).
    n_outputs_ : int
        Width of the network's output layer.
    loss_ : float
        Training loss (with the L2 term) of the last epoch.
    loss_curve_ : list of float
        Training loss of every epoch (kept across warm-started fits and
        ``partial_fit`` calls).
    best_loss_ : float or None
        Lowest training loss seen; None with early stopping.
    validation_scores_ : list of float or None
        Validation score of every epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best validation score with early stopping, else None.
    n_iter_ : int
        Epochs run by the last ``fit`` (``partial_fit`` adds one per call).
    coefs_ : list of ndarray
        ``coefs_[i]`` is the weight matrix of the i-th ``Dense`` layer, shape
        (in, out), as in scikit-learn.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` is its bias vector.
    best_epoch_ : int or None
        With early stopping, the epoch whose weights were kept.

    See Also
    --------
    MLPClassifier : The same network for classification.
    sklearn.neural_network.MLPRegressor : scikit-learn's own MLP.

    Notes
    -----
    The network learns the standardised target ``(y - mean) / sd`` (mean and
    sd from the first fit, weighted by ``sample_weight``); after training its
    last layer is rescaled, ``W' = W sd`` and ``b' = b sd + mean``, so
    ``net_(X)`` and ``predict`` answer in the units of ``y``. Standardise
    ``X`` (a ``StandardScaler`` in a pipeline). Sample weights work as in
    ``MLPClassifier``.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01,
    ...                    max_iter=500, random_state=0).fit(X, X[:, 0] ** 2)
    >>> bool(reg.score(X, X[:, 0] ** 2) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"mse", "mae", "huber"}), None],
    }

    def _encode_targets(self, y, sample_weight, keep, incremental, classes):
        loss = self.loss or "mse"
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if keep:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"y has {Y.shape[1]} target column(s) but the network was fitted with "
                    f"{self.n_outputs_}; fit from scratch (warm_start=False)"
                )
            if loss != self._loss_name:
                raise ValueError(
                    f"loss changed from {self._loss_name!r} to {loss!r} since the network was "
                    "built; fit from scratch (warm_start=False)"
                )
        else:
            self._loss_name = loss
            # the recipe's standardised target: the network learns (y - mean) / sd
            sw = None if sample_weight is None else sample_weight / sample_weight.sum()
            mean = np.average(Y, axis=0, weights=sw)
            sd = np.sqrt(np.average((Y - mean) ** 2, axis=0, weights=sw))
            self._y_mean = mean
            self._y_scale = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        Y = (Y - self._y_mean) / self._y_scale
        return np.ascontiguousarray(Y, dtype=self._dtype), Y.shape[1]

    # The network trains on the standardised target; between fits its last layer is
    # rescaled so that net_(X) answers in the target's own units (recipe.rescale_output):
    #   W' = W * sd,  b' = b * sd + mean     (and back: W = W' / sd, b = (b' - mean) / sd)
    def _unfold_output(self) -> None:
        if getattr(self, "_folded", False):
            recipe.rescale_output(self.net_, 1.0 / self._y_scale, -self._y_mean / self._y_scale)
            self._folded = False

    def _fold_output(self) -> None:
        if not getattr(self, "_folded", False):
            recipe.rescale_output(self.net_, self._y_scale, self._y_mean)
            self._folded = True

    def _encoded_score(self, X, Y, sample_weight) -> float:
        from sklearn.metrics import r2_score

        return float(r2_score(Y, self._raw_output(X), sample_weight=sample_weight))

    def fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """Train the network on (X, y) from scratch (or on, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample.

        Returns
        -------
        self : MLPRegressor
            The fitted estimator.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            For a constructor argument of the wrong type or range (a
            ``ValueError``).
        ValueError
            For inputs scikit-learn's validation rejects (NaN, wrong number of
            features when continuing, ...), negative or all-zero sample weights, a
            different number of target columns or ``loss`` with ``warm_start``, or a
            validation set of fewer than 2 rows with ``early_stopping``.

        Warns
        -----
        ConvergenceWarning
            If ``max_iter`` epochs ran without meeting the stopping rule.
        DivergenceWarning
            If the loss became NaN or infinite; training stops with the
            weights from the start of that epoch.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """Run one epoch over (X, y), keeping the weights and the optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default None
            Non-negative weight of each sample.

        Returns
        -------
        self : MLPRegressor
            The updated estimator.

        Raises
        ------
        ValueError
            With ``early_stopping=True``, or for inputs that do not match the earlier
            calls.

        Warns
        -----
        DivergenceWarning
            If the loss became NaN or infinite in this epoch.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted values, as float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            1-D when the model has a single output.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        """
        X = self._check_X_predict(X)
        out = self._raw_output(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# --------------------------------------------------------------------------- #
# The perceptron
# --------------------------------------------------------------------------- #


class PerceptronClassifier(ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron, a single threshold unit, as a scikit-learn classifier.

    Wraps ``chainrule.Perceptron``: ``step(w . x + b)`` trained by the
    perceptron learning rule, one sample at a time, until an epoch makes no
    mistake. It separates any two linearly separable classes and never
    settles on others (XOR); then it stops after ``max_iter`` epochs with a
    ``ConvergenceWarning`` and keeps its last weights.

    Parameters
    ----------
    learning_rate : float, default 1.0
        Size of each correction (``lr`` of the perceptron). From zero
        weights it only rescales ``w`` and ``b``.
    max_iter : int, default 100
        Maximum number of epochs.
    weight_init : str, default "zeros"
        Initial weights: a chainrule initializer name ("zeros", "uniform",
        "normal", "glorot_uniform"...). The bias starts at 0.
    shuffle : bool, default False
        Visit the samples in a new random order in each epoch.
    random_state : int, RandomState instance or None, default None
        Seeds a random ``weight_init`` and the shuffling.

    Attributes
    ----------
    perceptron_ : chainrule.Perceptron
        The trained unit (``errors_`` and ``history_`` show how it learned).
    classes_ : ndarray of shape (2,)
        The two labels; ``classes_[1]`` is the one the unit fires for.
    coef_ : ndarray of shape (1, n_features)
        The weights ``w``.
    intercept_ : ndarray of shape (1,)
        The bias ``b``.
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether the last epoch made no mistake.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; only defined when ``X`` had
        string column names.

    See Also
    --------
    MLPClassifier, sklearn.linear_model.Perceptron

    Notes
    -----
    Only binary classification: the unit has one output. Any two labels
    work; they are mapped to 0 and 1 in the order of ``classes_``. The unit
    fires when ``w . x + b >= 0``, so ``decision_function(X) >= 0`` (with a
    tie at exactly 0 going to ``classes_[1]``) is the prediction.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import PerceptronClassifier
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> PerceptronClassifier().fit(X, ["no", "no", "no", "yes"]).predict(X).tolist()
    ['no', 'no', 'no', 'yes']
    """

    _parameter_constraints: dict = {
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "weight_init": [str],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        learning_rate=1.0,
        max_iter=100,
        weight_init="zeros",
        shuffle=False,
        random_state=None,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.weight_init = weight_init
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X, y) -> PerceptronClassifier:
        """Train the unit with the perceptron learning rule.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Two class labels (any values).

        Returns
        -------
        self : PerceptronClassifier
            The fitted estimator.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            For a constructor argument of the wrong type or range (a
            ``ValueError``).
        ValueError
            If ``y`` has fewer or more than 2 classes, or ``X`` is rejected by
            scikit-learn's validation; an unknown ``weight_init`` name.

        Warns
        -----
        ConvergenceWarning
            If an epoch with no mistake was not reached in ``max_iter`` epochs
            (the classes are not linearly separable, or need more epochs).
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        target = type_of_target(y, input_name="y")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"PerceptronClassifier needs 2 classes but y has 1 class ({classes[0]!r})"
            )
        if target != "binary":
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{target}: the perceptron is a single unit with one 0/1 output; use "
                "MLPClassifier (or sklearn.multiclass.OneVsRestClassifier) for more classes."
            )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        unit = Perceptron(
            X.shape[1],
            lr=float(self.learning_rate),
            max_epochs=int(self.max_iter),
            weight_init=self.weight_init,
            seed=seed,
            shuffle=bool(self.shuffle),
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", _PerceptronConvergenceWarning)
            unit.fit(X, (y == classes[1]).astype(np.int64))
        for w in caught:
            if issubclass(w.category, _PerceptronConvergenceWarning):
                warnings.warn(str(w.message), ConvergenceWarning, stacklevel=2)
            else:  # pragma: no cover - passed through unchanged
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.perceptron_ = unit
        self.classes_ = classes
        self.coef_ = unit.w.reshape(1, -1).copy()
        self.intercept_ = np.array([float(unit.b)])
        self.n_iter_ = int(unit.n_epochs_)
        self.converged_ = bool(unit.converged_)
        return self

    def decision_function(self, X) -> np.ndarray:
        """The net input ``w . x + b`` of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        z : ndarray of shape (n_samples,)
            Non-negative for ``classes_[1]``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.perceptron_.net_input(X)

    def predict(self, X) -> np.ndarray:
        """Class labels ``classes_[step(w . x + b)]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` has a different number of features than in ``fit``.
        """
        fires = self.decision_function(X) >= 0  # checks that the estimator is fitted
        return self.classes_[fires.astype(np.intp)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
