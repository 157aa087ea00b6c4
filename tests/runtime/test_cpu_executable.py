"""The compiled program as a Python callable: argument checks, dispatch paths, threads,
buffer recycling, the disk cache, and what it shows about itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusejit.codegen.cpu import compile_cpu
from fusejit.ir import ShapeBindingError, parse
from fusejit.runtime import allocator, disk_cache
from tests.cpu_graphs import CHAIN, LAYERNORM, SOFTMAX, SUMSQ
from tests.helpers import assert_same

ADD = """func @add(%x: f32[N,3], %y: f32[N,3]) -> (f32[N,3]) {
  %0 = add(%x, %y) : f32[N,3]
  return %0
}"""


@pytest.fixture(scope="module")
def add():
    return compile_cpu(parse(ADD))


def test_shape_and_dtype_errors_name_the_argument(add) -> None:
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ShapeBindingError, match=r"argument 'y': expected shape \(N, 3\), got \(2, 4\)"):
        add(a, np.ones((2, 4), np.float32))
    with pytest.raises(ShapeBindingError, match="dim N is 5 here but 2 in an earlier argument"):
        add(a, np.ones((5, 3), np.float32))
    with pytest.raises(ShapeBindingError, match=r"argument 'x': expected shape \(N, 3\), got \(3,\)"):
        add(np.ones(3, np.float32), a)
    with pytest.raises(TypeError, match="argument 'x': expected dtype float32, got float64"):
        add(np.ones((2, 3)), a)
    with pytest.raises(TypeError, match="takes 2 argument"):
        add(a)


def test_slow_path_accepts_lists_subclasses_and_odd_strides(add) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_same(add(a.tolist() and np.asarray(a.tolist(), np.float32), a), [a + a])
    sub = a.view(type("Tagged", (np.ndarray,), {}))  # a subclass that adds no semantics (masked arrays: refused)
    assert_same(add(sub, a), [a + a])
    raw = np.zeros(6 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(2, 3)  # unaligned
    raw[:] = a
    assert_same(add(raw, a), [a + a])
    assert_same(add(a.astype(">f4"), a), [a + a])  # byte-swapped
    rec = np.zeros((2, 3), dtype=[("v", np.float32), ("pad", np.int8)])["v"]  # stride 5: not whole elements
    rec[:] = a
    assert_same(add(rec, a), [a + a])


def test_outputs_are_fresh_arrays_the_caller_owns(add) -> None:
    a = np.ones((4, 3), np.float32)
    r1, = add(a, a)
    r2, = add(a, a)
    assert r1 is not r2 and not np.shares_memory(r1, r2) and r1.flags.writeable and r1.flags.owndata is False \
        or r1.base is None
    g = parse("""func @f(%x: f32[3]) -> (f32[3], f32[3], f32[3]) {
      %0 = neg(%x) : f32[3]
      return %0, %0, %x
    }""")
    x = np.ones(3, np.float32)
    a0, a1, a2 = compile_cpu(g)(x)
    assert not np.shares_memory(a0, a1) and not np.shares_memory(a2, x)
    assert_same([a0, a1, a2], [-x, -x, x])


def test_results_do_not_depend_on_thread_count() -> None:
    rng = np.random.default_rng(3)
    chain = parse(CHAIN)
    args = [rng.standard_normal(300_001).astype(np.float32) for _ in range(3)]
    rows = rng.standard_normal((700, 513)).astype(np.float32)
    for text, a in ((CHAIN, args), (SOFTMAX, [rows]), (LAYERNORM, [rows]), (SUMSQ, args[:1])):
        g = parse(text)
        outs = [compile_cpu(g, threads=t)(*a)[0] for t in (1, 2, 3)]
        for o in outs[1:]:
            np.testing.assert_array_equal(o.view(np.uint32), outs[0].view(np.uint32))
    assert compile_cpu(chain, threads=3).threads == 3
    assert '@"k0.flat"' in compile_cpu(chain, threads=2).llvm_ir  # a 1-d kernel splits its flat range too


def test_large_outputs_are_recycled_without_new_allocations() -> None:
    exe = compile_cpu(parse(CHAIN))
    x = np.ones(1 << 19, np.float32)
    exe(x, x, x)
    before = allocator.POOL.allocated
    for _ in range(5):
        r, = exe(x, x, x)
        del r
    assert allocator.POOL.allocated == before
    keep = [exe(x, x, x)[0] for _ in range(3)]  # live outputs never share memory
    assert not any(np.shares_memory(a, b) for i, a in enumerate(keep) for b in keep[i + 1:])


def test_view_of_a_pooled_output_keeps_its_memory_alive() -> None:
    exe = compile_cpu(parse(CHAIN))
    x = np.full(1 << 19, 2.0, np.float32)
    r, = exe(x, x, x)
    v = r[10:20]
    expected = v.copy()
    del r
    for _ in range(3):
        exe(x * 0, x, x)
    np.testing.assert_array_equal(v, expected)


def test_describe_shows_kernels_and_the_code(add) -> None:
    text = str(compile_cpu(parse(SOFTMAX)))
    assert "1 kernel(s)" in text and "row kernel over (N, D)" in text and "reduce_max" in text
    assert add.num_kernels == 1 and add.kernels[0].ops == ["add"]
    assert "define i32" in add.llvm_ir and "ret" in add.asm and "fj_" in add.asm


def two_processes(code: str, ir_text: str, cache: Path) -> list[list[str]]:
    """The words ``code`` prints in two fresh processes in turn, sharing the disk cache ``cache``."""
    env = dict(os.environ, FUSEJIT_CACHE_DIR=str(cache))
    return [subprocess.run([sys.executable, "-c", code], input=ir_text, capture_output=True, text=True, env=env,
                           check=True).stdout.split() for _ in range(2)]


def test_disk_cache_serves_a_new_process(tmp_path) -> None:
    code = ("import sys; from fusejit.ir import parse; from fusejit.codegen.cpu import compile_cpu; "
            "import numpy as np; e = compile_cpu(parse(sys.stdin.read())); "
            "x = np.arange(6, dtype=np.float32).reshape(2, 3); assert (e(x, x)[0] == 2 * x).all(); "
            "print(e.from_cache)")
    assert two_processes(code, ADD, tmp_path) == [["False"], ["True"]]
    assert len(list(tmp_path.glob("*.o"))) == 2  # the program and the thread pool (runtime.engine)


def test_generic_stride_versions_compile_on_first_strided_call(tmp_path) -> None:
    """Contiguous calls never build the generic versions; a strided call (also a parallel one)
    links them, gives the same values, and a new process loads them from the disk cache."""
    code = ("import sys, numpy as np; from fusejit.ir import parse; from fusejit.codegen.cpu import compile_cpu; "
            "from fusejit.runtime import disk_cache; from pathlib import Path; "
            "e = compile_cpu(parse(sys.stdin.read())); x = np.linspace(-3, 3, 2 * 300 * 1024, dtype=np.float32); "
            "c = x.reshape(600, 1024)[::2]; ref = e(c.copy())[0]; assert (e(c)[0] == ref).all(); "
            "n0 = len(list(Path(disk_cache.cache_dir()).glob('*-generic.o'))); "
            "t = np.ascontiguousarray(c.T).T; np.testing.assert_allclose(e(t)[0], ref, rtol=1e-6); "
            "np.testing.assert_allclose(e(t[:3])[0], ref[:3], rtol=1e-6); "
            "print(e.from_cache, n0, len(list(Path(disk_cache.cache_dir()).glob('*-generic.o'))))")
    assert two_processes(code, SOFTMAX, tmp_path) == [["False", "0", "1"], ["True", "1", "1"]]
    from fusejit.codegen.cpu import build_cpu_module

    assert "_genptr" not in build_cpu_module(parse(SOFTMAX)).llvm_ir  # AOT builds keep every version inline
    assert "_genptr" in build_cpu_module(parse(SOFTMAX), lazy_generic=True).llvm_ir


def test_disk_cache_key_covers_ir_cpu_and_versions(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FUSEJIT_CACHE_DIR", str(tmp_path))
    k = disk_cache.key("ir", "znver4", "+avx512f")
    assert len({k, disk_cache.key("ir2", "znver4", "+avx512f"), disk_cache.key("ir", "skylake", "+avx512f"),
                disk_cache.key("ir", "znver4", "-avx512f")}) == 4
    assert disk_cache.load(k) is None
    disk_cache.store(k, b"obj")
    assert disk_cache.load(k) == b"obj"
    monkeypatch.setenv("FUSEJIT_CACHE_DIR", "off")
    assert disk_cache.load(k) is None
