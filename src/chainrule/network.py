"""``Sequential``: layers in order, forward propagation and backpropagation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .activations import Activation
from .layer import Layer
from .layers import Dense
from .parameter import Parameter


def check_features(
    X, n_features: int | None, dtype, what: str = "X", owner: str = "the first layer"
) -> np.ndarray:
    """``X`` as a 2-D array of ``dtype`` with ``n_features`` columns, or a clear error.

    ``owner`` names what expects the input, for the messages.
    """
    if isinstance(X, (list, tuple)) or not hasattr(X, "ndim"):
        X = np.asarray(X)
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise TypeError(f"{what} must hold numbers, got dtype {X.dtype}; encode text columns first")
    if X.ndim == 1:
        raise ValueError(
            f"{what} is 1-D with shape {X.shape}, but {owner} expects a 2-D batch "
            f"(n_samples, n_features); use X.reshape(1, -1) for one sample or "
            f"X.reshape(-1, 1) for one feature"
        )
    if X.ndim != 2:
        raise ValueError(
            f"{what} has {X.ndim} dimensions with shape {X.shape}; {owner} expects a 2-D "
            f"batch (n_samples, n_features); flatten each sample, e.g. X.reshape(len(X), -1)"
        )
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{what} has {X.shape[1]} features but {owner} expects {n_features}")
    if X.shape[0] == 0:
        raise ValueError(f"{what} is empty (0 samples); give at least one row")
    return np.asarray(X, dtype=dtype)


class Sequential:
    """A network: layers applied one after the other.

    Parameters
    ----------
    *layers : Layer
        ``Dense``, activation layers (``cr.ReLU()``), ``Dropout``, ``BatchNorm``...
        A list or tuple of layers is accepted too.
    seed : int or None
        Re-initialise every layer from ``numpy.random.default_rng(seed)``, in
        order, so the same seed gives the same network bit for bit.
    dtype : numpy dtype
        ``np.float32`` (default, fast) or ``np.float64`` (gradient checks).

    Notes
    -----
    ``backward`` **overwrites** each ``param.grad`` with the gradient of the
    batch just seen (so forgetting ``zero_grad`` cannot corrupt training);
    ``backward(grad, accumulate=True)`` adds to ``.grad`` instead, PyTorch
    style, for gradient accumulation over several batches.
    """

    def __init__(self, *layers: Layer, seed: int | None = None, dtype=np.float32) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layer {i} is a {type(layer).__name__}, not a chainrule Layer; "
                    "use cr.Dense, cr.ReLU(), cr.Dropout, cr.BatchNorm, ..."
                )
        self.layers: list[Layer] = list(layers)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = seed
        self.loss_: str | None = None  # set by fit; decides what predict answers
        self._check_widths()
        for layer in self.layers:
            layer.set_dtype(self.dtype)
        if seed is not None:
            self.reset_parameters(seed)
        self._name_parameters()

    # -- structure ---------------------------------------------------------------
    def _check_widths(self) -> None:
        width = None
        for i, layer in enumerate(self.layers):
            n_in = getattr(layer, "in_features", None) or getattr(layer, "num_features", None)
            if width is not None and n_in is not None and n_in != width:
                raise ValueError(
                    f"layer {i} ({layer!r}) expects {n_in} inputs but the layer before it "
                    f"gives {width}"
                )
            if width is None:
                width = n_in
            if width is not None:
                width = layer.output_features(width)

    @property
    def n_features_in(self) -> int | None:
        for layer in self.layers:
            n_in = getattr(layer, "in_features", None) or getattr(layer, "num_features", None)
            if n_in is not None:
                return n_in
        return None

    @property
    def n_outputs(self) -> int | None:
        width = self.n_features_in
        if width is None:
            return None
        for layer in self.layers:
            width = layer.output_features(width)
        return width

    def _name_parameters(self) -> None:
        for i, layer in enumerate(self.layers):
            for p in layer.parameters():
                base = p.name.rsplit(".", 1)[-1]
                p.name = f"{i}.{layer.name}.{base}"

    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw fresh initial weights for every layer from one seeded generator.

        Also forgets where ``fit``'s shuffling had got to, so a re-seeded
        network trains exactly as a new one built with the same seed.

        Parameters
        ----------
        seed : int or None, default None
            Seed of ``numpy.random.default_rng``; None draws a fresh one.
        """
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            layer.reset_parameters(rng)
        self._shuffle_state = None

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def parameters(self) -> list[Parameter]:
        """Every parameter, layer by layer, weight before bias."""
        return [p for layer in self.layers for p in layer.parameters()]

    def n_parameters(self) -> int:
        """How many numbers the network learns (the size of every parameter, summed)."""
        return sum(p.size for p in self.parameters())

    def train(self) -> Sequential:
        """Training mode: Dropout drops, BatchNorm uses batch statistics."""
        for layer in self.layers:
            layer.training = True
        return self

    def eval(self) -> Sequential:
        """Inference mode: Dropout is off, BatchNorm uses its running statistics."""
        for layer in self.layers:
            layer.training = False
        return self

    @property
    def training(self) -> bool:
        return all(layer.training for layer in self.layers)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer (BatchNorm statistics), in a stable order."""
        return [a.copy() for a in self._state_arrays()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Copy arrays from ``get_weights`` back into the network, in place.

        Parameters
        ----------
        weights : list of ndarray
            As ``get_weights`` returns them: same count, order and shapes.
        """
        targets = self._state_arrays()
        if len(weights) != len(targets):
            raise ValueError(f"expected {len(targets)} arrays, got {len(weights)}")
        for i, (dst, src) in enumerate(zip(targets, weights)):
            if np.shape(src) != dst.shape:
                raise ValueError(f"array {i} has shape {np.shape(src)}, expected {dst.shape}")
            dst[...] = src

    def _state_arrays(self) -> list[np.ndarray]:
        arrays = [p.value for p in self.parameters()]
        for layer in self.layers:
            arrays.extend(layer.buffers().values())
        return arrays

    def clear_cache(self) -> None:
        """Forget the arrays every layer keeps for ``backward``."""
        for layer in self.layers:
            layer.clear_cache()
            act = getattr(layer, "activation", None)
            if act is not None:
                act.clear_cache()

    def zero_grad(self) -> None:
        """Set every ``param.grad`` to zero (needed only before ``backward(accumulate=True)``)."""
        for p in self.parameters():
            p.zero_grad()

    # -- the two passes -------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Forward propagation: each layer's output is the next layer's input.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One row per sample; a 1-D array is refused with a message.
        """
        out = check_features(X, self.n_features_in, self.dtype)
        for layer in self.layers:
            out = layer.forward(out)
        return out

    __call__ = forward

    def backward(
        self, grad: np.ndarray, accumulate: bool = False, input_grad: bool = True
    ) -> np.ndarray | None:
        """Backpropagation: the chain rule applied layer by layer, last to first.

        ``grad`` is dL/d(output) (from ``loss.backward()``). Fills every
        ``param.grad`` (overwriting, or adding with ``accumulate=True``) and
        returns dL/dX (``None`` with ``input_grad=False``, which saves the
        first layer's largest product).

        Parameters
        ----------
        grad : ndarray of shape (n_samples, n_outputs)
            dL/d(output), usually ``loss.backward()``; it is copied, never changed.
        accumulate : bool, default False
            Add to each ``param.grad`` instead of overwriting it.
        input_grad : bool, default True
            False skips dL/dX and returns None.
        """
        grad = np.array(grad, dtype=self.dtype)  # a copy: layers may overwrite it
        saved = [p.grad.copy() for p in self.parameters()] if accumulate else None
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            grad = self.layers[i].backward(grad, input_grad=input_grad or i > 0)
        if saved is not None:
            for p, old in zip(self.parameters(), saved):
                p.grad += old
        return grad

    # -- reading it -------------------------------------------------------------------
    def _summary_rows(self) -> list[tuple[str, str, str, str]]:
        """Header and one row per layer: index, repr, output shape, parameter count."""
        rows = [("#", "layer", "output shape", "params")]
        width = self.n_features_in
        for i, layer in enumerate(self.layers):
            if width is not None:
                width = layer.output_features(width)
            n = sum(p.size for p in layer.parameters())
            rows.append((str(i), repr(layer), f"(None, {width})", f"{n:,}"))
        return rows

    def summary(self) -> str:
        """A table of the layers with their output shapes and parameter counts."""
        rows = self._summary_rows()
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 6)

        def fmt(r):
            return f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}"

        out = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
        out.append(f"Total parameters: {self.n_parameters():,}  (dtype {self.dtype})")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        """The summary as an HTML table, for Jupyter."""
        import html

        rows = self._summary_rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        align = ("right", "left", "left", "right")

        def cell(c: int, v: str) -> str:
            text = html.escape(v)
            return f'<td style="text-align:{align[c]}">{f"<code>{text}</code>" if c == 1 else text}</td>'

        body = "".join(
            "<tr>" + "".join(cell(c, v) for c, v in enumerate(r)) + "</tr>" for r in rows[1:]
        )
        total = html.escape(f"Total parameters: {self.n_parameters():,}  (dtype {self.dtype})")
        return (
            f"<table><caption>Sequential, {len(self.layers)} layers</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f'<tfoot><tr><td colspan="4">{total}</td></tr></tfoot></table>'
        )

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"

    # -- training and inference (see training.py) -----------------------------------------
    def fit(self, X, y, **kwargs):
        """Train by mini-batch gradient descent: [chainrule.training.fit][] on this network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs, one row per sample.
        y : array-like
            Targets: labels ``(n_samples,)`` or one-hot rows for
            ``cross_entropy``, values for regression.
        **kwargs
            Every other argument of [chainrule.training.fit][], by keyword:
            ``loss``, ``optimizer``, ``lr``, ``epochs`` (10), ``batch_size``
            (32), ``shuffle`` (True), ``validation_split``, ``validation_data``,
            ``callbacks``, ``metrics``, ``verbose``, ``seed``, ``clip_norm``,
            ``clip_value``, ``schedule``, ``sample_weight``, ``l2``.

        Returns
        -------
        History
            The loss and metrics of every epoch.
        """
        from .training import fit

        return fit(self, X, y, **kwargs)

    def predict(self, X, batch_size: int | None = None) -> np.ndarray:
        """Answer the task in inference mode: class labels for a classifier, values otherwise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs, one row per sample.
        batch_size : int or None, default None
            Rows per forward pass (None: all at once); bounds the memory used.
        """
        from .training import predict

        return predict(self, X, batch_size=batch_size)

    def predict_proba(self, X, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (softmax, or sigmoid for binary outputs), in inference mode.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs, one row per sample.
        batch_size : int or None, default None
            Rows per forward pass (None: all at once).
        """
        from .training import predict_proba

        return predict_proba(self, X, batch_size=batch_size)

    def save(self, path, optimizer=None) -> None:
        """Write the network to a safetensors model file (see ``chainrule.serialization``).

        With ``optimizer``, a checkpoint: its state is saved too, for
        ``chainrule.serialization.load_checkpoint``.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (``.safetensors``); written to a temporary name first.
        optimizer : Optimizer or None, default None
            Also save this optimizer's state, to resume training.
        """
        from .serialization import save

        save(self, path, optimizer=optimizer)

    def evaluate(self, X, y, loss=None, metrics=None, batch_size: int | None = None) -> dict:
        """Loss and metrics on (X, y) in inference mode, as a dict of floats.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs, one row per sample.
        y : array-like
            Targets, as for ``fit``.
        loss : str, Loss or None, default None
            None uses the loss of the last ``fit``.
        metrics : list of str or callables, or None, default None
            None uses the metrics of the last ``fit``.
        batch_size : int or None, default None
            Rows per forward pass (None: all at once).
        """
        from .training import evaluate

        return evaluate(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size)


def is_activation(layer: Layer) -> bool:
    """Whether ``layer`` is an activation layer of its own (``cr.ReLU()``...).

    Parameters
    ----------
    layer : Layer
        Any layer.
    """
    return isinstance(layer, Activation)


__all__ = ["Sequential", "Dense", "check_features"]
