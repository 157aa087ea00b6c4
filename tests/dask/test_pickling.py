"""Compiled objects pickle by reference to what rebuilds them, and recompile where they land."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fusejit
from fusejit.pickling import rebuild_jit
from tests.dask import workloads as w

cloudpickle = pytest.importorskip("cloudpickle")
ROOT = Path(__file__).resolve().parents[2]


def test_module_level_function_pickles_by_name() -> None:
    data = pickle.dumps(w.softmax)
    assert b"tests.dask.workloads" in data and len(data) < 200
    assert pickle.loads(data) is w.softmax


def test_lambda_and_closure_pickle_by_value_with_options() -> None:
    scale = np.float32(3.0)
    f = fusejit.jit(lambda x: x * scale + 1, fuse=False)
    g = cloudpickle.loads(cloudpickle.dumps(f))
    x = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(g(x), f(x))
    assert g.fuse is False and g is not f


def test_plain_pickle_of_a_local_function_uses_cloudpickle_for_the_function() -> None:
    def local(x):
        return np.sqrt(x) * 2

    f = fusejit.jit(local, static_argnames=())
    g = pickle.loads(pickle.dumps(f))
    x = np.linspace(0, 4, 9)
    np.testing.assert_array_equal(g(x), f(x))


def test_unpickling_twice_gives_one_function_that_compiles_once() -> None:
    f = fusejit.jit(lambda x: x + 2)
    data = pickle.dumps(f)
    a, b = pickle.loads(data), pickle.loads(data)
    assert a is b
    a(np.ones(3)), b(np.ones(3))
    assert a.trace_count == 1
    assert rebuild_jit(*f.__reduce__()[1]) is a


def test_captured_variable_values_travel() -> None:
    v = fusejit.Variable(np.array([1.0, 2.0, 3.0]), name="v")
    f = fusejit.jit(lambda x: x * v)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(g(np.ones(3)), [1.0, 2.0, 3.0])


def test_compiled_programs_and_graphs_pickle() -> None:
    graph = fusejit.freeze(lambda x: np.exp(x) + 1, fusejit.Spec((None,), np.float32))
    assert str(pickle.loads(pickle.dumps(graph))) == str(graph)
    from fusejit.driver import compile_graph

    exe = compile_graph(graph)
    again = pickle.loads(pickle.dumps(exe))
    x = np.linspace(-1, 1, 11, dtype=np.float32)
    np.testing.assert_array_equal(again(x)[0], exe(x)[0])


def test_aot_model_pickles_as_its_directory(tmp_path: Path) -> None:
    from fusejit import aot

    graph = fusejit.freeze(lambda x: x * 2 + 1, fusejit.Spec((None,), np.float32))
    aot.compile(graph, tmp_path, name="twice")
    model = aot.load(tmp_path)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again(np.arange(4, dtype=np.float32)), [1, 3, 5, 7])


def test_a_function_pickled_in_main_runs_in_another_process(tmp_path: Path) -> None:
    """A function defined in ``__main__`` travels by value and compiles in the receiving process."""
    script = tmp_path / "make.py"
    script.write_text(textwrap.dedent("""
        import pickle, sys
        import numpy as np, fusejit

        @fusejit.jit
        def f(x):
            return np.maximum(x, 0) * 3

        sys.stdout.buffer.write(pickle.dumps(f))
    """))
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    blob = subprocess.run([sys.executable, str(script)], capture_output=True, check=True, env=env).stdout
    out = subprocess.run([sys.executable, "-c", "import pickle, sys, numpy as np; f = pickle.loads(sys.stdin.buffer"
                          ".read()); print(f(np.array([-1.0, 2.0])).tolist())"],
                         input=blob, capture_output=True, check=True, env=env).stdout
    assert out.decode().strip() == "[0.0, 6.0]"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_unpickled_arrays_are_accepted(dtype: type) -> None:
    """An unpickled array's dtype is an equal object, not NumPy's singleton (an AssertionError before)."""
    a = pickle.loads(pickle.dumps(np.ones((3, 2), dtype)))
    f = fusejit.jit(lambda x: x.astype(np.float64) * 2)
    np.testing.assert_array_equal(f(a), np.full((3, 2), 2.0))
    np.testing.assert_array_equal(f(a[:, ::-1]), np.full((3, 2), 2.0))
