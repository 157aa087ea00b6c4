"""examples/digits_aot: scikit-learn weights -> Variables -> freeze -> save/load -> AOT -> C; accuracies agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from .conftest import needs_toolchain

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_aot" / "digits.py"


@needs_toolchain
def test_digits_example(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("digits_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    py_acc, aot_acc, c_acc = module.main(tmp_path)
    assert py_acc == aot_acc == pytest.approx(c_acc, abs=1e-4)
    assert py_acc > 0.9
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == [
        "digits.h", "digits.json", "libdigits.a", "libdigits.so"]
