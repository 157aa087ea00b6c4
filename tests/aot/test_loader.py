"""fusejit.aot.load: calling the compiled library through ctypes, without the compiler."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fusejit.aot
from fusejit.aot import AotCallError
from fusejit.ir import Graph, Node, TensorType, make

from .graphs import classifier_graph, demo_graph, odd_outputs_graph


def test_call_matches_numpy(built: Path) -> None:
    model = fusejit.aot.load(built)
    for n in (0, 1, 100):
        x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
        y, s = model(x)
        want = demo_graph().evaluate(x)
        assert y.shape == (n, 3) and s.shape == (n,) and y.dtype == s.dtype == np.float32
        np.testing.assert_allclose(y, want[0], rtol=1e-6)
        np.testing.assert_allclose(s, want[1], rtol=1e-6)
    assert repr(model).startswith("<AotModel demo(x: f32[N, 3]) -> (f32[N, 3], f32[N]) from ")


def test_non_contiguous_and_castable_inputs(built: Path) -> None:
    model = fusejit.aot.load(built, name="demo")
    x = np.random.default_rng(0).standard_normal((6, 8))[:, 1:7:2]  # float64, strided
    np.testing.assert_allclose(model(x)[1], demo_graph().evaluate(x.astype(np.float32))[1], rtol=1e-6)


def test_argument_errors(built: Path) -> None:
    model = fusejit.aot.load(built)
    with pytest.raises(AotCallError, match=r"demo takes 1 argument\(s\), got 2"):
        model(np.zeros((2, 3), np.float32), 1)
    with pytest.raises(AotCallError, match=r"argument 'x' must have shape \[N, 3\]"):
        model(np.zeros((2, 4), np.float32))
    with pytest.raises(AotCallError, match=r"argument 'x' must have shape \[N, 3\]"):
        model(np.zeros(3, np.float32))
    with pytest.raises(AotCallError, match=r"argument 'x' must have shape \[N, 3\], got \(\)$"):
        model(np.float32(1))
    with pytest.raises(AotCallError, match="argument 'x' must be float32, got int64"):
        model(np.zeros((2, 3), np.int64))


def test_outputs_the_program_does_not_write_and_kernel_errors(tmp_path: Path) -> None:
    g = odd_outputs_graph()
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "odd"))
    x = np.arange(20, dtype=np.int32).reshape(5, 4) - 7
    idx = np.array([3, -1, 0, 2, 2])
    got = model(x, idx)
    want = g.evaluate(x, idx)
    assert [a.dtype for a in got] == [a.dtype for a in want] and [a.shape for a in got] == [a.shape for a in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert got[1] is not x and not np.shares_memory(got[0], got[4])
    with pytest.raises(AotCallError, match=r"index out of bounds in take .* \(status 19\)"):
        model(x, np.array([4]))


def test_classifier_equals_the_jitted_function(tmp_path: Path) -> None:
    g = classifier_graph(seed=3)
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "clf"))
    x = np.random.default_rng(5).standard_normal((257, 64)).astype(np.float32)
    probs, labels = model(x)
    want_probs, want_labels = g.evaluate(x)
    np.testing.assert_allclose(probs, want_probs, rtol=2e-6, atol=1e-7)
    np.testing.assert_array_equal(labels, want_labels)


def test_scalar_input_and_output(tmp_path: Path) -> None:
    x = Node("input", (), {}, TensorType(np.dtype(np.float64), ()), name="x")
    g = Graph([x], [make("mul", x, x)], "sq")
    model = fusejit.aot.load(fusejit.aot.compile(g, tmp_path, "sq"))
    out = model(np.float64(3.0))
    assert out.shape == () and out == 9.0
    assert model(2) == 4.0


def test_rebuilt_library_at_the_same_path_is_reloaded(tmp_path: Path) -> None:
    x = Node("input", (), {}, TensorType(np.dtype(np.float64), ("N",)), name="x")
    first = fusejit.aot.load(fusejit.aot.compile(Graph([x], [make("neg", x)], "f"), tmp_path, "f"))
    second = fusejit.aot.load(fusejit.aot.compile(Graph([x], [make("abs", x)], "f"), tmp_path, "f"))
    v = np.array([-2.0, 3.0])
    np.testing.assert_array_equal(first(v), [2.0, -3.0])  # the old library keeps working
    np.testing.assert_array_equal(second(v), [2.0, 3.0])


def test_concurrent_calls(built: Path) -> None:
    model = fusejit.aot.load(built)
    xs = [np.random.default_rng(i).standard_normal((1000 + i, 3)).astype(np.float32) for i in range(16)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(model, xs))
    for x, (y, s) in zip(xs, results):
        np.testing.assert_allclose(y, demo_graph().evaluate(x)[0], rtol=1e-6)
        np.testing.assert_allclose(s, demo_graph().evaluate(x)[1], rtol=1e-6)


def test_directory_without_a_single_model(tmp_path: Path, built: Path) -> None:
    with pytest.raises(FileNotFoundError, match="expected one AOT-compiled model, found none"):
        fusejit.aot.load(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="unsupported AOT manifest format"):
        fusejit.aot.load(tmp_path)


def _imported_by_serving(built: Path) -> set[str]:
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import fusejit
        before = set(sys.modules)
        import fusejit.aot
        fusejit.aot.load({str(built)!r})(np.ones((2, 3), np.float32))
        print(" ".join(sorted(set(sys.modules) - before)))
        print(" ".join(sorted(sys.modules)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    added, everything = out.split("\n")[:2]
    return set(added.split()), set(everything.split())


def test_serving_imports_no_compiler(built: Path) -> None:
    added, everything = _imported_by_serving(built)
    assert not any(m.startswith(("llvmlite", "numba")) for m in everything)
    assert not any(m.startswith(("fusejit.ir", "fusejit.passes", "fusejit.codegen", "fusejit.aot.build"))
                   for m in added)


def test_serving_imports_no_tracer(built: Path) -> None:
    _, everything = _imported_by_serving(built)
    assert "fusejit.tracer" not in everything


def test_run_buffers_with_null_arrays_returns_an_error_code(built: Path) -> None:
    """Issue 12, item 8: ``demo_run_buffers(NULL, NULL)`` dereferenced both pointers."""
    import ctypes

    lib = ctypes.CDLL(str(built / "libdemo.so"))
    run = lib.demo_run_buffers
    run.restype, run.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]
    message = lib.demo_status_message
    message.restype, message.argtypes = ctypes.c_char_p, [ctypes.c_int]
    dims = (ctypes.c_int64 * 1)(4)
    assert b"dims is null" in message(run(None, None)).lower()
    assert b"null" in message(run(ctypes.cast(dims, ctypes.c_void_p), None)).lower()
