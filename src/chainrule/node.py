"""Symbolic nodes: the wiring of a graph network before any number flows.

``cr.Input(8)`` is a node; calling a layer on nodes (``cr.Dense(8, 4)(x)``)
gives a new node that remembers the layer and its parent nodes. Nothing is
computed: ``cr.Network(inputs=..., outputs=...)`` later walks these links to
find the order in which to compute.
"""

from __future__ import annotations

import weakref

from .validation import check_int


class Node:
    """One value of a graph network: an input, or a layer applied to parent nodes.

    Attributes
    ----------
    layer : Layer or None
        The layer that computes this node (``None`` for an ``Input``).
    inputs : tuple of Node
        The parent nodes whose values the layer takes, in order.
    name : str or None
        A name given by the user, or one ``Network`` assigns when it is built
        (``"dense_0"``, ``"add_0"``...); outputs' names label their losses.
    n_features : int or None
        The width of the value (columns), when it is known.
    """

    _in_network = False  # True once a Network is built on this node

    def __init__(self, layer, inputs: tuple[Node, ...], name: str | None = None) -> None:
        self.layer = layer
        self.inputs = tuple(inputs)
        self.name = name
        self._auto_named = False
        # the nodes computed from this one, held weakly: a node built and then
        # dropped (a notebook cell run twice) must not count as part of a graph
        self._children: list[weakref.ref] = []
        widths = [p.n_features for p in self.inputs]
        self.n_features = None if layer is None else layer.node_features(widths, self.inputs)
        for parent in self.inputs:
            parent._children.append(weakref.ref(self))

    def children(self) -> list[Node]:
        """The nodes (still alive) computed from this one."""
        return [c for c in (ref() for ref in self._children) if c is not None]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_children"] = []  # weak references cannot be copied or pickled
        return state

    def __deepcopy__(self, memo):
        import copy

        new = object.__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__getstate__().items():
            setattr(new, key, copy.deepcopy(value, memo))
        return new

    def __repr__(self) -> str:
        parents = ", ".join(p.name or "?" for p in self.inputs)
        width = "?" if self.n_features is None else self.n_features
        return f"Node({self.name or '?'}: {self.layer!r}({parents}) -> (None, {width}))"


class Input(Node):
    """A symbolic input of a graph network: ``cr.Input(n_features, name="x")``.

    Parameters
    ----------
    n_features : int
        Columns of the arrays this input takes (1 for a column of integer
        codes feeding an ``Embedding``).
    name : str or None
        Names the input for ``fit({"x": X, ...})``; default ``"input_<k>"``
        by position in ``Network(inputs=...)``.
    """

    def __init__(self, n_features: int | None, name: str | None = None) -> None:
        if n_features is not None:
            check_int("Input n_features", n_features)
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"Input name must be a non-empty string, got {name!r}")
        super().__init__(None, (), name)
        self.n_features = None if n_features is None else int(n_features)

    def __repr__(self) -> str:
        return f"Input({self.n_features}, name={self.name!r})"


__all__ = ["Node", "Input"]
