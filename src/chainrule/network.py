"""Networks: ``Network`` (any directed acyclic graph of layers) and ``Sequential`` (a chain).

Forward propagation computes the nodes in a topological order; backpropagation
walks it backwards, and where a node feeds several layers its gradient is the
**sum** of what each of them sends back (the multivariable chain rule).
``fit``/``predict``/``evaluate`` and ``save`` are provided by the modules above
this one (``chainrule.training``, ``chainrule.serialization``), which register
them in ``METHODS`` when imported, so the engine never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .activations import Activation
from .embedding import Embedding
from .layer import Layer
from .layers import Dense
from .node import Input, Node
from .parameter import Parameter
from .validation import as_float_array

#: The front-end methods of every network, filled by the modules that implement them:
#: "fit", "predict", "predict_proba", "evaluate" (chainrule.training), "save"
#: (chainrule.serialization). ``import chainrule`` imports both.
METHODS: dict[str, Callable] = {}


def provides(name: str) -> Callable[[Callable], Callable]:
    """Decorator: register ``func`` as the implementation of ``Network.<name>``.

    Parameters
    ----------
    name : str
        The method: ``"fit"``, ``"predict"``, ``"predict_proba"``, ``"evaluate"`` or ``"save"``.
    """

    def register(func: Callable) -> Callable:
        METHODS[name] = func
        return func

    return register


def _method(name: str) -> Callable:
    try:
        return METHODS[name]
    except KeyError:  # only if chainrule.network is used without the package
        raise RuntimeError(
            f"Network.{name} is provided by chainrule's training and serialization modules: "
            "import chainrule first"
        ) from None


def check_features(
    X, n_features: int | None, dtype, what: str = "X", owner: str = "the first layer"
) -> np.ndarray:
    """``X`` as a 2-D array of ``dtype`` with ``n_features`` columns, or a clear error.

    ``owner`` names what expects the input, for the messages.
    """
    if isinstance(X, (list, tuple)) or not hasattr(X, "dtype"):  # lists, DataFrames
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
    return as_float_array(X, dtype, what)  # refuses NaN, inf and float32 overflow


def _codes(x, what: str) -> np.ndarray:
    """A column of integer codes for an ``Embedding`` input, as ``(n, 1)``; not cast."""
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"{what} must hold integer codes, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[1] != 1:
        raise ValueError(
            f"{what} holds integer codes for an Embedding: shape (n,) or (n, 1), got {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{what} is empty (0 samples); give at least one row")
    if x.dtype.kind == "f" and not np.isfinite(x).all():  # codes: a column, a cheap mask
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise ValueError(
            f"{what} contains NaN or inf (first at row {row}); it holds integer codes for an "
            "Embedding: give every row a code 0..K-1 (e.g. a code for 'missing')"
        )
    return x


def _as_list(spec, what: str) -> tuple[list, bool]:
    """``spec`` as a list, and whether it was a single item."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError(f"Network needs at least one of {what}")
        return list(spec), False
    return [spec], True


def _graph(inputs: list[Input], outputs: list[Node]) -> list[Node]:
    """Every node needed from ``inputs`` to ``outputs``, in a topological order, after checks.

    Inputs come first (in ``inputs`` order), then each node after its parents,
    in the order a depth-first walk from the outputs meets them.
    """
    for i, x in enumerate(inputs):
        if not isinstance(x, Input):
            raise TypeError(
                f"inputs[{i}] is a {type(x).__name__}, not a cr.Input; the inputs of a Network "
                "are the cr.Input nodes its outputs are computed from"
            )
    if len({id(x) for x in inputs}) != len(inputs):
        raise ValueError("the same Input appears twice in inputs")
    for i, out in enumerate(outputs):
        if not isinstance(out, Node):
            raise TypeError(
                f"outputs[{i}] is a {type(out).__name__}, not a node; outputs are what calling "
                "layers on cr.Input nodes returns, e.g. cr.Dense(8, 1)(x)"
            )
    input_ids = {id(x) for x in inputs}
    order: list[Node] = list(inputs)
    seen = set(input_ids)
    for out in outputs:  # iterative depth-first walk: post-order is a topological order
        if id(out) in seen:
            continue
        seen.add(id(out))
        stack = [(out, iter(out.inputs))]
        while stack:
            node, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                if node.layer is None:  # an Input that is not among inputs
                    raise ValueError(
                        f"the outputs depend on {node!r}, which is not in inputs "
                        f"{[x.name for x in inputs]}; add it to inputs"
                    )
                order.append(node)
            elif id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, iter(parent.inputs)))
    # a node computed from this graph's values that no output needs is a forgotten branch:
    # say which. Not forgotten: what is computed from an output (the network ends there, e.g.
    # an encoder whose decoder follows), and a node of a Network already built (another
    # network sharing these inputs or layers).
    output_ids = {id(o) for o in outputs}
    for node in order:
        if id(node) in output_ids:
            continue
        for child in node.children():
            if child._in_network or id(child) in seen:
                continue
            if all(id(p) in seen for p in child.inputs):
                _name_nodes(inputs, order + [child])
                raise ValueError(
                    f"node {child.name!r} ({child.layer!r} on "
                    f"{', '.join(repr(p.name) for p in child.inputs)}) reaches no output; "
                    "add it to outputs, or do not compute it; if it belongs to another network "
                    "on the same inputs, build that network first (or one with both outputs)"
                )
    used = {id(p) for node in order for p in node.inputs} | {id(o) for o in outputs}
    for x in inputs:
        if id(x) not in used:
            raise ValueError(
                f"input {x.name or inputs.index(x)!r} reaches no output: the outputs are not "
                "computed from it; remove it from inputs or connect it"
            )
    return order


def _name_nodes(inputs: list[Input], nodes: list[Node]) -> None:
    """Give each unnamed node a name (``input_0``, ``dense_1``...), unique in this graph.

    A name, once given, stays (another network built on the same nodes keeps
    it), unless it was given automatically and clashes with one here.
    """
    taken: dict[str, Node] = {}
    for node in nodes:
        if node.name is not None and not node._auto_named:
            if node.name in taken and taken[node.name] is not node:
                raise ValueError(f"two nodes of the network are named {node.name!r}")
            taken[node.name] = node
    for node in nodes:
        if node._auto_named:
            if node.name in taken and taken[node.name] is not node:
                node.name = None
            else:
                taken[node.name] = node
    counts: dict[str, int] = {}
    for node in nodes:
        if node.name is not None:
            continue
        if node.layer is None:
            base = "input"
            k = next((i for i, x in enumerate(inputs) if x is node), counts.get(base, 0))
        else:
            base = node.layer.name
            k = counts.get(base, 0)
        while f"{base}_{k}" in taken:
            k += 1
        counts[base] = k + 1
        node.name, node._auto_named = f"{base}_{k}", True
        taken[node.name] = node


class Network:
    """A network of layers connected as any directed acyclic graph.

    Build it from symbolic nodes::

        x = cr.Input(8, name="x")
        h = cr.Dense(8, 32, activation="relu")(x)
        s = cr.Add()(h, cr.Dense(32, 32, activation="relu")(h))   # a skip connection
        net = cr.Network(inputs=x, outputs=cr.Dense(32, 1)(s), seed=0)

    Parameters
    ----------
    inputs : Input or list of Input
        The network's inputs, in the order ``net([X1, X2])`` takes them.
    outputs : Node or list of Node
        What it computes; a list makes ``net(...)`` return a list in that order.
    seed : int or None
        Re-initialise every layer from ``numpy.random.default_rng(seed)``, in
        ``net.layers`` order.
    dtype : numpy dtype
        ``np.float32`` (default) or ``np.float64``.

    Notes
    -----
    Building checks the wiring: a node computed from the network's values that
    reaches none of its outputs is an error naming it (a forgotten branch). Two
    kinds of node are not forgotten: one computed from an output (the network
    ends at its outputs, so an encoder may be built while its decoder hangs on
    its output), and one that belongs to a ``Network`` already built (several
    networks may share inputs and layers). When two branches on one ``Input``
    exist before either network is built, build one network with both outputs
    first (it claims both branches), or build each network right after its branch.

    Walking the graph: ``net.nodes`` lists every node in a topological order
    (the inputs first, each node after its parents). For a node, ``node.layer``
    is the layer that computes it (``None`` for an ``Input``), ``node.inputs``
    its parent nodes (in the layer's argument order) and ``node.name`` its
    name; ``net.inputs`` and ``net.outputs`` are lists of nodes. A layer used
    by several nodes is shared: one set of parameters. ``net.layers`` lists
    each layer once, in the order of its first use.

    The chain rule on a graph: ``backward`` visits the nodes in reverse order;
    a node read by several layers gets the sum of their gradients, and a
    shared layer's ``param.grad`` is the sum over its uses.
    """

    def __init__(
        self,
        inputs: Input | list[Input],
        outputs: Node | list[Node],
        seed: int | None = None,
        dtype=np.float32,
    ) -> None:
        inputs, _ = _as_list(inputs, "inputs")
        outputs, self._single_output = _as_list(outputs, "outputs")
        self.nodes: list[Node] = _graph(inputs, outputs)
        _name_nodes(inputs, self.nodes)
        for node in self.nodes:  # they belong to a network now: no longer a forgotten branch
            node._in_network = True
        self.inputs: list[Input] = inputs
        self.outputs: list[Node] = outputs
        layers: dict[int, Layer] = {}
        for node in self.nodes:
            if node.layer is not None:
                layers.setdefault(id(node.layer), node.layer)
        self.layers: list[Layer] = list(layers.values())
        self._plan()
        self._setup(dtype, seed)

    # -- structure ---------------------------------------------------------------
    def _plan(self) -> None:
        """Positions of each node's parents, for the two passes."""
        where = {id(node): k for k, node in enumerate(self.nodes)}
        uses: dict[int, int] = {}
        for node in self.nodes:
            if node.layer is not None:
                uses[id(node.layer)] = uses.get(id(node.layer), 0) + 1
        self._parents = [tuple(where[id(p)] for p in node.inputs) for node in self.nodes]
        self._shared = [node.layer is not None and uses[id(node.layer)] > 1 for node in self.nodes]
        self._output_pos = [where[id(o)] for o in self.outputs]
        # inputs read only by Embedding layers hold integer codes: not cast to the float dtype
        readers: dict[int, list[Layer]] = {}
        for node in self.nodes:
            for p in node.inputs:
                readers.setdefault(id(p), []).append(node.layer)
        self._code_inputs = [
            all(isinstance(layer, Embedding) for layer in readers.get(id(x), [None]))
            for x in self.inputs
        ]

    def _setup(self, dtype, seed: int | None) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = seed
        self.loss_: str | list[str] | None = None  # set by fit; decides what predict answers
        for layer in self.layers:
            layer.set_dtype(self.dtype)
        if seed is not None:
            self.reset_parameters(seed)
        self._name_parameters()

    @property
    def input_names(self) -> list[str]:
        return [x.name for x in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    @property
    def n_features_in(self) -> int | None | list[int | None]:
        """Columns of the input (a list for several inputs)."""
        widths = [x.n_features for x in self.inputs]
        return widths[0] if len(widths) == 1 else widths

    @property
    def n_outputs(self) -> int | None | list[int | None]:
        """Width of the output (a list for several outputs)."""
        widths = [o.n_features for o in self.outputs]
        return widths[0] if self._single_output else widths

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
        """Every parameter once, layer by layer (``net.layers`` order), weight before bias."""
        return [p for layer in self.layers for p in layer.parameters()]

    def n_parameters(self) -> int:
        """How many numbers the network learns (the size of every parameter, summed)."""
        return sum(p.size for p in self.parameters())

    def train(self) -> Network:
        """Training mode: Dropout drops, BatchNorm uses batch statistics."""
        for layer in self.layers:
            layer.training = True
        return self

    def eval(self) -> Network:
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
        self._calls = None
        for layer in self.layers:
            layer.clear_cache()
            act = getattr(layer, "activation", None)
            if act is not None:
                act.clear_cache()

    def zero_grad(self) -> None:
        """Set every ``param.grad`` to zero (needed only before ``backward(accumulate=True)``)."""
        for p in self.parameters():
            p.zero_grad()

    # -- inputs ------------------------------------------------------------------------
    def input_arrays(self, X) -> list[np.ndarray]:
        """``X`` (one array, a list in ``inputs`` order or a dict by name) as checked arrays.

        Each array is 2-D with its input's width and the network's dtype (codes
        for an ``Embedding`` keep their integer type); all have the same rows.

        Parameters
        ----------
        X : array-like, list or dict
            One array for a one-input network; else a list in ``inputs`` order
            or a dict by input name.
        """
        names = self.input_names
        if isinstance(X, dict):
            unknown = [k for k in X if k not in names]
            if unknown:
                raise ValueError(
                    f"unknown input name {unknown[0]!r}; the network's inputs are {names}"
                )
            missing = [k for k in names if k not in X]
            if missing:
                raise ValueError(
                    f"missing input {missing[0]!r}; the network's inputs are {names}: give an "
                    "array for each"
                )
            arrays = [X[k] for k in names]
        elif len(names) == 1:  # one array; a list holding just that array is taken too
            one = isinstance(X, (list, tuple)) and len(X) == 1 and getattr(X[0], "ndim", 0) == 2
            arrays = [X[0]] if one else [X]
        elif isinstance(X, (list, tuple)):
            if len(X) != len(names):
                raise ValueError(
                    f"the network has {len(names)} inputs {names} but got {len(X)} arrays; "
                    "give one per input, in that order, or a dict by input name"
                )
            arrays = list(X)
        else:
            raise ValueError(
                f"the network has {len(names)} inputs {names} but got one array; give a list "
                "in that order or a dict by input name"
            )
        out = []
        for x, name, n_features, codes in zip(
            arrays, names, self.n_features_list, self._code_inputs
        ):
            what = f"input {name!r}" if len(names) > 1 else "X"
            if codes:
                out.append(_codes(x, what))
            else:
                out.append(check_features(x, n_features, self.dtype, what, f"Input {name!r}"))
        rows = [len(a) for a in out]
        if len(set(rows)) > 1:
            raise ValueError(
                "the inputs have different numbers of rows: "
                + ", ".join(f"{n!r} has {r}" for n, r in zip(names, rows))
                + "; each row is one sample, so they must match"
            )
        return out

    @property
    def n_features_list(self) -> list[int | None]:
        return [x.n_features for x in self.inputs]

    # -- the two passes -------------------------------------------------------------
    def forward(self, X) -> np.ndarray | list[np.ndarray]:
        """Forward propagation: every node from its parents, in topological order.

        Parameters
        ----------
        X : array-like, list or dict
            One array ``(n_samples, n_features)`` for a one-input network; else a
            list in ``inputs`` order or a dict by input name.
        """
        return self._outputs(self.run(self.input_arrays(X)))

    __call__ = forward

    def _outputs(self, values: list) -> np.ndarray | list[np.ndarray]:
        outs = [values[k] for k in self._output_pos]
        return outs[0] if self._single_output else outs

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """The value of every node (``net.nodes`` order) from checked input arrays.

        Keeps what ``backward`` needs: a shared layer's attributes are saved
        after each of its calls and put back before that call's backward.

        Parameters
        ----------
        xs : list of ndarray
            One checked array per input (``input_arrays``), in ``inputs`` order.
        """
        values: list = [None] * len(self.nodes)
        values[: len(xs)] = xs
        calls: list = [None] * len(self.nodes)
        for k in range(len(xs), len(self.nodes)):
            layer = self.nodes[k].layer
            values[k] = layer.forward(*(values[j] for j in self._parents[k]))
            if self._shared[k]:
                calls[k] = dict(vars(layer))  # this call's cache (the next call overwrites it)
        self._calls = calls
        self._shapes = [v.shape for v in values]
        return values

    def infer_run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """The outputs in inference mode (``layer.infer``: no caches), as a list.

        Parameters
        ----------
        xs : list of ndarray
            One checked array per input (``input_arrays``), in ``inputs`` order.
        """
        values: list = [None] * len(self.nodes)
        values[: len(xs)] = xs
        for k in range(len(xs), len(self.nodes)):
            values[k] = self.nodes[k].layer.infer(*(values[j] for j in self._parents[k]))
        return [values[k] for k in self._output_pos]

    def backward(
        self, grad, accumulate: bool = False, input_grad: bool = True
    ) -> np.ndarray | list | None:
        """Backpropagation through the graph, last node to first.

        ``grad`` is dL/d(output) (a list, in ``outputs`` order, for several
        outputs). A node read by several layers receives the sum of their
        gradients: dL/dh = sum over readers r of dL/dh via r. A shared layer's
        ``param.grad`` is the sum over its uses. Fills every ``param.grad``
        (overwriting, or adding with ``accumulate=True``) and returns dL/dX
        (a list for several inputs; ``None`` for integer codes, or with
        ``input_grad=False``).

        Parameters
        ----------
        grad : ndarray or list of ndarray
            dL/d(output), usually ``loss.backward()``; it is copied, never changed.
        accumulate : bool, default False
            Add to each ``param.grad`` instead of overwriting it.
        input_grad : bool, default True
            False skips dL/dX and returns None.
        """
        grads = [grad] if self._single_output else list(grad)
        if len(grads) != len(self.outputs):
            raise ValueError(
                f"backward needs one gradient per output ({len(self.outputs)}), got {len(grads)}"
            )
        calls = getattr(self, "_calls", None)
        if calls is None:
            raise RuntimeError("backward needs a forward pass first (net.forward(X))")
        g: list = [None] * len(self.nodes)
        for k, gk in zip(self._output_pos, grads):
            gk = np.array(gk, dtype=self.dtype)  # a copy: layers may overwrite it
            g[k] = gk if g[k] is None else g[k] + gk
        saved = [p.grad.copy() for p in self.parameters()] if accumulate else None
        done: set[int] = set()  # layers whose param.grad already holds one use
        n_in = len(self.inputs)
        for k in range(len(self.nodes) - 1, n_in - 1, -1):
            layer = self.nodes[k].layer
            gk = g[k]
            if gk is None:  # only integer codes below: nothing flows back
                gk = np.zeros(self._shapes[k], self.dtype)
            if self._shared[k]:
                vars(layer).update(calls[k])
            earlier = [p.grad.copy() for p in layer.parameters()] if id(layer) in done else None
            parents = self._parents[k]
            need = input_grad or any(j >= n_in for j in parents)
            back = layer.backward(gk, input_grad=need)
            if earlier is not None:  # a shared layer: add this use to the others
                for p, old in zip(layer.parameters(), earlier):
                    p.grad += old
            done.add(id(layer))
            g[k] = None  # consumed (and possibly overwritten by the layer)
            back = back if len(parents) > 1 else [back]
            for j, gj in zip(parents, back):
                if gj is not None:  # dL/d(parent) += its share through this layer
                    g[j] = gj if g[j] is None else g[j] + gj
        if saved is not None:
            for p, old in zip(self.parameters(), saved):
                p.grad += old
        if not input_grad:
            return None
        dX = g[:n_in]
        return dX[0] if n_in == 1 else dX

    # -- reading it -------------------------------------------------------------------
    _align = ("right", "left", "left", "left", "right", "left")
    _code_column = 2  # the layer's repr, shown as code in HTML

    def _summary_rows(self) -> list[tuple[str, ...]]:
        """Header and one row per node: index, name, layer, output shape, params, parents."""
        rows = [("#", "node", "layer", "output shape", "params", "connected to")]
        counted: set[int] = set()
        for k, node in enumerate(self.nodes):
            layer = node.layer
            if layer is None:
                rows.append((str(k), node.name, "Input", f"(None, {node.n_features})", "0", ""))
                continue
            if id(layer) in counted:
                params = "shared"
            else:
                counted.add(id(layer))
                params = f"{sum(p.size for p in layer.parameters()):,}"
            parents = ", ".join(p.name for p in node.inputs)
            rows.append(
                (str(k), node.name, repr(layer), f"(None, {node.n_features})", params, parents)
            )
        return rows

    def _total_line(self) -> str:
        return f"Total parameters: {self.n_parameters():,}  (dtype {self.dtype})"

    def summary(self) -> str:
        """A table of the nodes: layer, output shape, parameter count, and what feeds each."""
        rows = self._summary_rows()
        n = len(rows[0])
        widths = [max(len(r[c]) for r in rows) for c in range(n)]
        line = "-" * (sum(widths) + 2 * (n - 1))

        def fmt(r):
            cells = (
                f"{v:>{w}}" if a == "right" else f"{v:<{w}}"
                for v, w, a in zip(r, widths, self._align)
            )
            return "  ".join(cells).rstrip() if n > 4 else "  ".join(cells)

        out = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line, self._total_line()]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        """The summary as an HTML table, for Jupyter."""
        import html

        rows = self._summary_rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        code = self._code_column

        def cell(c: int, v: str) -> str:
            text = html.escape(v)
            return (
                f'<td style="text-align:{self._align[c]}">'
                f"{f'<code>{text}</code>' if c == code else text}</td>"
            )

        body = "".join(
            "<tr>" + "".join(cell(c, v) for c, v in enumerate(r)) + "</tr>" for r in rows[1:]
        )
        total = html.escape(self._total_line())
        return (
            f"<table><caption>{type(self).__name__}, {len(self.layers)} layers</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f'<tfoot><tr><td colspan="{len(rows[0])}">{total}</td></tr></tfoot></table>'
        )

    def __repr__(self) -> str:
        return (
            f"Network(inputs={self.input_names}, outputs={self.output_names}, "
            f"{len(self.layers)} layers, {len(self.nodes)} nodes)"
        )

    # -- training and inference (chainrule.training), files (chainrule.serialization) ------
    def fit(self, X, y, **kwargs):
        """Train by mini-batch gradient descent: [chainrule.training.fit][] on this network.

        Parameters
        ----------
        X : array-like, list or dict
            Inputs, one row per sample; several inputs as a list in ``inputs``
            order or a dict by input name.
        y : array-like or list
            Targets: labels ``(n_samples,)`` or one-hot rows for
            ``cross_entropy``, values for regression; a list in ``outputs``
            order for several outputs.
        **kwargs
            Every other argument of [chainrule.training.fit][], by keyword:
            ``loss``, ``optimizer``, ``lr``, ``epochs`` (10), ``batch_size``
            (32), ``shuffle`` (True), ``validation_split``, ``validation_data``,
            ``callbacks``, ``metrics``, ``verbose``, ``seed``, ``clip_norm``,
            ``clip_value``, ``schedule``, ``sample_weight``, ``l2``, ``loss_weights``,
            ``class_weight``.

        Returns
        -------
        History
            The loss and metrics of every epoch.
        """
        return _method("fit")(self, X, y, **kwargs)

    def predict(self, X, batch_size: int | None = None):
        """Answer the task in inference mode: class labels for a classifier, values otherwise.

        Parameters
        ----------
        X : array-like, list or dict
            Inputs, as for ``forward``.
        batch_size : int or None, default None
            Rows per forward pass (None: all at once); bounds the memory used.
        """
        return _method("predict")(self, X, batch_size=batch_size)

    def predict_proba(self, X, batch_size: int | None = None):
        """Class probabilities (softmax, or sigmoid for binary outputs), in inference mode.

        Parameters
        ----------
        X : array-like, list or dict
            Inputs, as for ``forward``.
        batch_size : int or None, default None
            Rows per forward pass (None: all at once).
        """
        return _method("predict_proba")(self, X, batch_size=batch_size)

    def evaluate(self, X, y, loss=None, metrics=None, batch_size: int | None = None) -> dict:
        """Loss and metrics on (X, y) in inference mode, as a dict of floats.

        Parameters
        ----------
        X : array-like, list or dict
            Inputs, as for ``forward``.
        y : array-like or list
            Targets, as for ``fit``.
        loss : str, Loss, list or None, default None
            None uses the loss of the last ``fit``.
        metrics : list of str or callables, or None, default None
            None uses the metrics of the last ``fit``.
        batch_size : int or None, default None
            Rows per forward pass (None: all at once).
        """
        return _method("evaluate")(self, X, y, loss=loss, metrics=metrics, batch_size=batch_size)

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
        _method("save")(self, path, optimizer=optimizer)


class Sequential(Network):
    """A network whose graph is a chain: layers applied one after the other.

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

    A ``Sequential`` is a ``Network`` (``net.nodes`` is its chain: an input,
    then one node per layer); it runs the chain with a loop of its own, the
    fastest path.
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
        self._single_output = True
        self._check_widths()
        self._setup(dtype, seed)

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

    # -- the chain as a graph (built on demand: the layer list may be edited) -------------
    def _chain(self) -> tuple[Input, list[Node]]:
        key = (tuple(map(id, self.layers)), self.n_features_in)
        cached = self.__dict__.get("_chain_cache")
        if cached is None or cached[0] != key:
            x = Input(self.n_features_in)
            nodes: list[Node] = [x]
            for layer in self.layers:
                nodes.append(Node(layer, (nodes[-1],)))
            _name_nodes([x], nodes)
            cached = self._chain_cache = (key, x, nodes)
        return cached[1], cached[2]

    @property
    def nodes(self) -> list[Node]:
        return self._chain()[1]

    @property
    def inputs(self) -> list[Input]:
        return [self._chain()[0]]

    @property
    def outputs(self) -> list[Node]:
        return [self._chain()[1][-1]]

    @property
    def n_features_list(self) -> list[int | None]:
        return [self.n_features_in]

    def input_arrays(self, X) -> list[np.ndarray]:
        return [check_features(X, self.n_features_in, self.dtype)]

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        values = list(xs)
        for layer in self.layers:
            values.append(layer.forward(values[-1]))
        return values

    def infer_run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        out = xs[0]
        for layer in self.layers:
            out = layer.infer(out)
        return [out]

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
    _align = ("right", "left", "left", "right")
    _code_column = 1

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

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"


def is_activation(layer: Layer) -> bool:
    """Whether ``layer`` is an activation layer of its own (``cr.ReLU()``...).

    Parameters
    ----------
    layer : Layer
        Any layer.
    """
    return isinstance(layer, Activation)


__all__ = ["Network", "Sequential", "Input", "Node", "Dense", "check_features"]
