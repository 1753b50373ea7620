"""The API reference cannot drift from the code: docstrings against signatures.

The reference pages (docs/reference/*.md) render each public callable's
numpydoc docstring with mkdocstrings. This test walks the same public API
and checks every docstring's "Parameters" section against
``inspect.signature`` of the object it documents:

- every parameter of the signature has an entry, and no entry names a
  parameter the signature lacks (``*args``/``**kwargs`` may be written with
  or without their stars);
- each entry has its own line (``epochs, batch_size, shuffle`` sharing one
  description hides three different types and defaults), except names that
  share a type and have no defaults, like ``X, y : array-like``;
- each entry states a type, and the type is plausible for the default
  (``bool`` for True/False, ``int``/``float`` for numbers, ``str`` or the
  accepted strings for a string, ``None``/``optional`` for None);
- a default, where stated, follows the one convention of this project,
  ``name : type, default VALUE`` (as in numpydoc's style guide, ``copy :
  bool, default True``), and VALUE equals the signature's default. A literal
  default written in the description (``(default 10)``) must equal it too.

What counts as public: ``chainrule.__all__``, and in every public module
(every module of the package whose dotted name has no part starting with
``_``, except the apps in ``APPS``) the names of its ``__all__`` and the
functions and classes it defines whose names do not start with ``_`` (both
are rendered); of each class, the methods defined in it, with the same rule. Names
hidden from the rendered reference by mkdocs.yml's mkdocstrings ``filters``
are not public (they are hidden in both places by one list). A method
without a docstring of its own inherits its parent's (``inspect.getdoc``),
which must then fit its signature too; an override whose own docstring has
no Parameters section takes the section of the method it overrides (the
reference shows that method on the base class: ``Layer.forward``,
``Loss.row_losses``, ``Callback.on_epoch_end``...). A class that keeps its
constructor arguments as attributes of the same names (a dataclass, a
report) may document them under "Attributes" instead of "Parameters".

Every public module must be rendered by a page of docs/reference (a
``::: chainrule.module`` line), so a new module cannot stay out of the
reference unnoticed.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import types
import warnings
from pathlib import Path

import pytest

docscrape = pytest.importorskip("numpydoc.docscrape")
yaml = pytest.importorskip("yaml")

import chainrule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
# Applications, documented by guide pages (docs/cli.md, docs/playground.md), not the reference.
APPS = ("chainrule.cli", "chainrule.playground")
# Modules imported only with their optional dependency installed.
OPTIONAL = {"chainrule.sklearn": "sklearn", "chainrule.export.torch": "torch"}


def _mkdocs_filters() -> list[str]:
    """The mkdocstrings ``filters`` of mkdocs.yml: the one list of hidden names."""

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use !!python/name tags (material's emoji); they do not matter here
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *a: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            return plugin["mkdocstrings"]["handlers"]["python"]["options"]["filters"]
    raise AssertionError("mkdocs.yml has no mkdocstrings plugin")


FILTERS = _mkdocs_filters()


def shown(name: str) -> bool:
    """Whether mkdocstrings' filters let ``name`` into the rendered reference."""
    keep = None
    for f in FILTERS:
        negative = f.startswith("!")
        if re.search(f[1:] if negative else f, name):
            if negative:
                return False
            keep = True
    positive = [f for f in FILTERS if not f.startswith("!")]
    return keep is True or not positive


def public_modules() -> list[str]:
    names = ["chainrule"]
    for info in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name.startswith(APPS):
            continue
        names.append(info.name)
    return sorted(names)


def _import(name: str) -> types.ModuleType | None:
    if name in OPTIONAL:
        try:
            importlib.import_module(OPTIONAL[name])
        except ImportError:
            return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


def _module_names(module: types.ModuleType) -> list[str]:
    """``__all__``, and the functions and classes the module defines without a leading
    underscore (mkdocstrings renders both)."""
    names = list(getattr(module, "__all__", []))
    names += [
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and n not in names
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]
    return names


def _own_methods(cls: type) -> list[tuple[str, object]]:
    """Public methods defined in ``cls`` itself (what mkdocstrings lists under it)."""
    found = []
    for name, attr in vars(cls).items():
        if name.startswith("_") or not shown(name):
            continue
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if inspect.isfunction(attr):
            found.append((name, getattr(cls, name)))
    return found


def public_callables() -> dict[str, object]:
    """``qualified name -> callable`` for the whole public API, each object once."""
    found: dict[str, object] = {}
    seen: set[int] = set()

    def add(where: str, obj) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        found[where] = obj
        if inspect.isclass(obj) and obj.__module__.startswith("chainrule"):
            for name, method in _own_methods(obj):
                key = (id(obj), name)  # a method is checked once, under its defining class
                if key not in seen:
                    seen.add(key)
                    found[f"{where}.{name}"] = method

    for modname in sorted(public_modules(), key=lambda m: m == "chainrule"):
        module = _import(modname)
        if module is None:
            continue
        for name in _module_names(module):
            if not shown(name):
                continue
            obj = getattr(module, name, None)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                add(f"{modname}.{name}", obj)
    return found


# ------------------------------------------------------------------------------------------
# Reading a docstring's Parameters section and comparing it with a signature


def _signature(obj) -> inspect.Signature | None:
    if inspect.isclass(obj):
        if issubclass(obj, BaseException) and "__init__" not in vars(obj):
            return None  # an exception class: Exception's own (*args)
        init = getattr(obj, "__init__", None)
        if init is object.__init__:
            return inspect.Signature([])
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p for n, p in sig.parameters.items() if n not in ("self", "cls")]
    return sig.replace(parameters=params)


def _doc(obj) -> str | None:
    if inspect.isclass(obj):
        doc = obj.__doc__ if "__doc__" in vars(obj) else None
        return inspect.cleandoc(doc) if doc else None
    return inspect.getdoc(obj)


DEFAULT_IN_TYPE = re.compile(r",?\s*\(?\s*\bdefault(?:s)?\b\s*(?:to|is|:|=)?\s*(.*?)\)?\s*$", re.I)
CONVENTION = re.compile(r", default (\S.*)$")
DEFAULT_IN_DESC = re.compile(r"\(default:?\s*(?:is\s+|=\s*)?`{0,2}([^)`]+?)`{0,2}\)", re.I)


def _literal(text: str):
    text = text.strip().strip("`").strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if text.startswith("np."):  # np.float32 and the like
            return text
        raise


def _same_default(stated: str, actual) -> bool:
    try:
        value = _literal(stated)
    except (ValueError, SyntaxError):
        return stated.strip().strip("`") in (
            repr(actual),
            str(actual),
            getattr(actual, "__name__", None),
        )
    if isinstance(value, str) and stated.strip().strip("`").startswith("np."):
        return value == f"np.{getattr(actual, '__name__', actual)}"
    if isinstance(actual, bool) or isinstance(value, bool):
        return value is actual
    if isinstance(actual, tuple) and isinstance(value, list):
        value = tuple(value)
    return value == actual


def _plausible(type_text: str, default) -> str | None:
    """Why the documented type cannot hold the default, or None."""
    t = CONVENTION.sub("", type_text).lower()
    if default is inspect.Parameter.empty:
        return None
    if default is None:
        ok = "none" in type_text.lower() or "optional" in t
        need = "None (or 'optional')"
    elif isinstance(default, bool):
        ok, need = "bool" in t, "bool"
    elif isinstance(default, int):
        ok, need = re.search(r"\b(int|float|number)", t) is not None, "int"
    elif isinstance(default, float):
        ok, need = re.search(r"\b(float|number)", t) is not None, "float"
    elif isinstance(default, str):
        ok = "str" in t or "{" in t or f'"{default}"' in type_text or f"'{default}'" in type_text
        need = "str or the accepted strings"
    else:
        return None
    return None if ok else f"default {default!r} but the type says {type_text!r}: expected {need}"


def _parse(doc: str):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return docscrape.NumpyDocString(doc)


def _inherited_parameters(obj, owner: type | None) -> list | None:
    """The Parameters section of the method ``obj`` overrides, if it has one."""
    if owner is None:
        return None
    for base in owner.__mro__[1:]:
        parent = vars(base).get(obj.__name__)
        if parent is not None and getattr(parent, "__doc__", None):
            try:
                section = _parse(inspect.cleandoc(parent.__doc__))["Parameters"]
            except Exception:
                return None
            if section:
                return section
    return None


def check(obj, owner: type | None = None) -> list[str]:
    """What is wrong with ``obj``'s documented parameters (empty when nothing is).

    ``owner`` is the class of a method, whose bases may document its parameters.
    """
    sig = _signature(obj)
    doc = _doc(obj)
    if sig is None:
        return []
    if not doc:
        return ["no docstring"]
    try:
        parsed = _parse(doc)
    except Exception as exc:  # numpydoc warns on unknown sections and bad layout
        return [f"numpydoc cannot read the docstring: {exc}"]
    section = parsed["Parameters"]
    if inspect.isclass(obj) and (dataclasses.is_dataclass(obj) or not section):
        # a record whose constructor arguments become its attributes documents them once
        # (attributes that are not constructor arguments are no concern of this test)
        section = section + [
            a
            for a in parsed["Attributes"]
            if any(n.strip() in sig.parameters for n in a.name.split(","))
        ]
    if not section and sig.parameters:
        section = _inherited_parameters(obj, owner) or []
    params = sig.parameters
    problems: list[str] = []
    documented: dict[str, tuple[str, list[str], int]] = {}
    for entry in section:
        names = [n.strip().lstrip("*") for n in entry.name.split(",")]
        for n in names:
            if n in documented:
                problems.append(f"{n!r} is documented twice")
            documented[n] = (entry.type, entry.desc, len(names))
        if len(names) > 1:
            with_defaults = [
                n for n in names if n in params and params[n].default is not params[n].empty
            ]
            if with_defaults:
                problems.append(
                    f"{entry.name!r} share one entry but {', '.join(with_defaults)} have defaults: "
                    "give each its own line with its type and default"
                )
    for name, p in params.items():
        if name not in documented:
            problems.append(f"parameter {name!r} is not documented")
            continue
        type_text, desc, _ = documented[name]
        if not type_text.strip() and p.kind is not p.VAR_KEYWORD:
            problems.append(f"{name!r} has no type (write '{name} : type')")
            continue
        m = DEFAULT_IN_TYPE.search(type_text)
        if m and "default" in type_text.lower():
            if not CONVENTION.search(type_text):
                problems.append(
                    f"{name!r}: write the default as '{name} : <type>, default <value>', "
                    f"not {type_text!r}"
                )
            elif p.default is p.empty:
                problems.append(f"{name!r} states a default but has none in the signature")
            elif not _same_default(CONVENTION.search(type_text).group(1), p.default):
                problems.append(
                    f"{name!r}: documented {type_text!r}, but the default is {p.default!r}"
                )
        for stated in DEFAULT_IN_DESC.findall(" ".join(desc)):
            try:
                _literal(stated)
            except (ValueError, SyntaxError):
                continue  # prose, like "(default: the network's seed)"
            if p.default is p.empty or not _same_default(stated, p.default):
                problems.append(
                    f"{name!r}: the description says (default {stated}), "
                    f"but the default is {p.default!r}"
                )
        why = _plausible(type_text, p.default)
        if why:
            problems.append(f"{name!r}: {why}")
    for name in documented:
        if name not in params:
            problems.append(f"{name!r} is documented but not a parameter")
    return problems


# ------------------------------------------------------------------------------------------
# The tests

CALLABLES = public_callables()
OWNERS = {where: obj for where, obj in CALLABLES.items() if inspect.isclass(obj)}


def test_the_walk_covers_the_public_api():
    names = set(CALLABLES)
    # a sample from each kind of thing the reference shows; if one goes missing the walk broke
    for expected in (
        "chainrule.training.fit",
        "chainrule.network.Sequential",
        "chainrule.network.Sequential.fit",
        "chainrule.layers.Dense",
        "chainrule.losses.Huber",
        "chainrule.optimizers.Adam",
        "chainrule.plots.plot_decision_boundary",
        "chainrule.serialization.save",
        "chainrule.export.onnx.to_onnx",
    ):
        assert expected in names or any(
            n.endswith("." + expected.rsplit(".", 2)[-1]) for n in names
        ), f"{expected} was not walked"
    for hidden in ("vjp", "f_", "vjp_", "bias_f_", "check_features"):
        assert not any(n.endswith("." + hidden) for n in names), f"{hidden} is treated as public"
    assert len(CALLABLES) >= 150, len(CALLABLES)


def test_every_public_module_is_in_the_reference():
    rendered = set()
    for page in REFERENCE.glob("*.md"):
        rendered |= set(re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M))
    missing = [m for m in public_modules() if m != "chainrule" and m not in rendered]
    assert not missing, (
        "public modules not rendered by any docs/reference page (add a '::: module' line to "
        "the page where a reader would look for it, or make the module private with a leading "
        f"underscore): {missing}"
    )


def test_explicit_member_lists_leave_out_only_names_defined_elsewhere():
    """A page may list the members to render (to skip re-exports); it must not skip more."""
    skipped = []
    for page in REFERENCE.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for modname, members in re.findall(
            r"^::: ([\w.]+)\n(?:[ \t]+.*\n)*?[ \t]+members: \[([^\]]*)\]", text, re.M
        ):
            listed = {m.strip() for m in members.split(",")}
            module = _import(modname)
            for name in _module_names(module):
                obj = getattr(module, name, None)
                if (
                    getattr(obj, "__module__", None) == modname
                    and name not in listed
                    and shown(name)
                ):
                    skipped.append(f"{page.name}: {modname}.{name}")
    assert not skipped, "defined in the module but left out of its members list:\n" + "\n".join(
        skipped
    )


def test_documented_parameters_match_the_signatures():
    report = []
    for where, obj in CALLABLES.items():
        for problem in check(obj, OWNERS.get(where.rsplit(".", 1)[0])):
            report.append(f"{where}: {problem}")
    assert not report, (
        f"{len(report)} docstring problems in {len({r.split(': ')[0] for r in report})} of "
        f"{len(CALLABLES)} public callables:\n" + "\n".join(report)
    )


# The checker itself, on docstrings whose faults are known


def _f_good(X, y, epochs: int = 10, batch_size: int | None = 32, shuffle: bool = True):
    """Train.

    Parameters
    ----------
    X, y : array-like
        Data.
    epochs : int, default 10
        Passes.
    batch_size : int or None, default 32
        Rows per step.
    shuffle : bool, default True
        Shuffle each epoch.
    """


def _f_bad(X, y, epochs: int = 10, batch_size: int | None = 32, shuffle: bool = True, lr=None):
    """Train.

    Parameters
    ----------
    X, y : array-like
        Data.
    epochs, batch_size, shuffle
        Shared.
    momentum : float
        Not a parameter.
    """


def _f_wrong_default(batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """Train.

    Parameters
    ----------
    batch_size : int, default 10
        Rows.
    shuffle : int
        Shuffle.
    seed : int
        Seed (default 1).
    """


def _f_other_convention(batch_size: int = 32):
    """Train.

    Parameters
    ----------
    batch_size : int, optional (default=32)
        Rows.
    """


def test_the_checker_passes_a_correct_docstring():
    assert check(_f_good) == []


def test_the_checker_finds_shared_missing_and_extra_entries():
    problems = "\n".join(check(_f_bad))
    assert "share one entry" in problems
    assert "'lr' is not documented" in problems
    assert "'momentum' is documented but not a parameter" in problems


def test_the_checker_finds_wrong_defaults_and_types():
    problems = "\n".join(check(_f_wrong_default))
    assert "documented 'int, default 10', but the default is 32" in problems
    assert "'shuffle': default True but the type says 'int'" in problems
    assert "(default 1), but the default is 0" in problems
    assert "default <value>" in "\n".join(check(_f_other_convention))


def test_hidden_names_follow_mkdocs_filters():
    assert not shown("_private") and not shown("vjp_") and not shown("check_features")
    assert shown("fit") and shown("forward")
