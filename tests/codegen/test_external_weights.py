"""Large constants of JIT programs live outside the LLVM module (fusejit.codegen.cpu.weights): same
answers, the IR holds a declaration instead of the bytes, and programs from the disk cache relink."""

from __future__ import annotations

import numpy as np

import fusejit
from fusejit.codegen.cpu import compile_cpu, weights
from fusejit.ir import parse
from tests.runtime.subprocess_run import run_python

rng = np.random.default_rng(7)
W = rng.standard_normal((160, 128)).astype(np.float32)  # 80 KB: above weights.EXTERNAL_BYTES
SMALL = rng.standard_normal(128).astype(np.float32)


def model(x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ W + SMALL) * W[:1]


def test_large_constants_are_declared_and_bound_small_ones_stay_inline() -> None:
    assert W.nbytes >= weights.EXTERNAL_BYTES > SMALL.nbytes
    f = fusejit.jit(model, constants=True)
    x = rng.standard_normal((5, 160)).astype(np.float32)
    np.testing.assert_allclose(f(x), model(x), rtol=2e-6, atol=2e-6)


SCALE = """func @f(%x: f32[N,20000]) -> (f32[N,20000]) {
  %0 = constant {value=[%s]} : f32[20000]
  %1 = broadcast(%0) {shape=[N,20000]} : f32[N,20000]
  %2 = mul(%x, %1) : f32[N,20000]
  return %2
}"""
VALUES = ", ".join(str(v) for v in np.arange(20000, dtype=np.float32) / 7)


def test_the_module_declares_a_large_constant_instead_of_holding_its_bytes() -> None:
    exe = compile_cpu(parse(SCALE.replace("%s", VALUES)))
    assert "fjw_" in exe.llvm_ir and len(exe.llvm_ir) < 80_000 * 2
    x = rng.standard_normal((3, 20000)).astype(np.float32)
    np.testing.assert_array_equal(exe(x)[0], x * (np.arange(20000, dtype=np.float32) / 7))


def test_two_programs_with_the_same_weights_share_one_buffer() -> None:
    g1 = parse(SCALE.replace("%s", VALUES))
    g2 = parse(SCALE.replace("%s", VALUES).replace("%2 = mul", "%2 = sub"))
    (s1, b1), (s2, b2) = weights.bind_constants(g1), weights.bind_constants(g2)
    assert len(s1) == 1 and list(s1.values()) == list(s2.values())
    assert b1[0] is b2[0] and not b1[0].flags.writeable and b1[0].ctypes.data % weights.ALIGN == 0
    np.testing.assert_array_equal(b1[0].view(np.float32), np.arange(20000, dtype=np.float32) / 7)


def test_a_program_from_the_disk_cache_links_against_its_graphs_weights(tmp_path) -> None:
    code = """
import numpy as np, fusejit
w = (np.arange(40000, dtype=np.float32) % 13).reshape(200, 200) / 3
f = fusejit.jit(lambda x: x @ w + w[0], constants=True)
x = np.linspace(-1, 1, 600, dtype=np.float32).reshape(3, 200)
np.testing.assert_allclose(f(x), x @ w + w[0], rtol=1e-5, atol=1e-5)
print("ok")
"""
    for _ in range(2):  # the second process loads the object the first one stored
        r = run_python(code, cache_dir=tmp_path)
        assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert any(tmp_path.rglob("*")), "the first process stored no object"


def test_threads_binding_the_same_weights_at_once_share_one_buffer() -> None:
    """A program's code links against whatever buffer the name resolves to, so every thread must get
    the buffer that name is bound to (never its own copy that the table then forgets)."""
    from concurrent.futures import ThreadPoolExecutor

    graphs = [parse(SCALE.replace("%s", VALUES).replace("%2 = mul", "%2 = add")) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        held = list(pool.map(weights.bind_constants, graphs))
    assert len({id(buffers[0]) for _, buffers in held}) == 1
