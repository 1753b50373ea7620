"""Optional dependencies: a missing one is an ImportError that says what to install."""

from __future__ import annotations

import json
import sys

import pytest

from chainrule._optional import require


def test_a_present_module_is_returned():
    assert require("json", "nothing", "nothing") is json


def test_a_missing_module_says_what_needs_it_and_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)  # as if not installed
    import chainrule as cr

    with pytest.raises(
        ImportError,
        match=r"^saving and loading models needs the safetensors package: pip install safetensors$",
    ):
        cr.Sequential(cr.Dense(2, 1), seed=0).save(tmp_path / "m.safetensors")
