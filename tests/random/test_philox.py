"""The philox primitive: Random123's known answers, and the same bits from the NumPy reference, the
CPU kernels fused and unfused, flat and strided loops, any thread count, and through the IR text."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit.random as fr
from fusejit import jit
from fusejit.ir import Graph, Node, make, parse
from fusejit.ir.philox import philox4x32, philox_ref
from fusejit.ir.registry import IRTypeError
from fusejit.ir.shapes import TensorType

# Random123 kat_vectors for philox4x32_10: (counter, key, output)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize(("counter", "key", "want"), KAT)
def test_known_answers(counter, key, want) -> None:
    assert tuple(int(w) for w in philox4x32(counter, key)) == want


def test_reference_counter_layout() -> None:
    """Element i of stream k: counter (i lo, i hi, (s3:s2 + k) lo, hi), with the carry into s3."""
    state = np.array([1, 2, 0xFFFFFFFF, 7], np.uint32)
    words = philox_ref(state, [3], 1, 2, np.dtype(np.uint32))
    for i in range(3):
        assert words[i] == philox4x32((i, 0, 0, 8), (1, 2))[2]
    pair = philox_ref(state, [3], 0, 1, np.dtype(np.uint64))
    w = philox4x32((2, 0, 0xFFFFFFFF, 7), (1, 2))
    assert int(pair[2]) == int(w[2]) | (int(w[3]) << 32)


def _graph(shape, stream=5, word=1, dtype=np.uint64):
    s = Node("input", (), {}, TensorType(np.dtype(np.uint32), (4,)), name="s")
    bits = make("philox", s, shape=list(shape), stream=stream, word=word, dtype=np.dtype(dtype))
    return Graph([s], [bits])


def test_type_rule_and_text_round_trip() -> None:
    g = _graph(("N", 3))
    assert str(parse(str(g))) == str(g)
    s = Node("input", (), {}, TensorType(np.dtype(np.uint32), (2,)), name="s")
    with pytest.raises(IRTypeError, match="u32\\[4\\]"):
        make("philox", s, shape=[3], stream=0, word=0, dtype=np.dtype(np.uint32))
    s4 = Node("input", (), {}, TensorType(np.dtype(np.uint32), (4,)), name="s")
    with pytest.raises(IRTypeError, match="word"):
        make("philox", s4, shape=[3], stream=0, word=2, dtype=np.dtype(np.uint64))


STATE = np.array([0xDEADBEEF, 12345, 0xFFFFFFF0, 3], np.uint32)


def _dropout(x, state):
    """Bits at strided and broadcast positions, floats, a mask fused into its consumer."""
    k = state[:2]
    u = fr.uniform(k, x.shape)
    z = fr.normal(k, x.shape, np.float32)
    t = fr.truncated_normal(k, -0.5, 1.5, x.shape[:1])
    return (np.where(u < 0.3, x / 0.7, 0.0), u.T[::2], z * x, t, fr.randint(k, (5, 3), 0, 10**12),
            fr.permutation(k, 40), fr.split(k, 3))


@pytest.mark.parametrize("shape", [(7, 13), (300, 1031)])
def test_cpu_same_bits_fused_unfused_threads(shape) -> None:
    """Random words, uniforms, normals, truncated normals, integers, masks, permutations and keys: bit
    for bit the NumPy reference, fused or not, on any thread count."""
    x = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape)
    want = _dropout(x, STATE)
    for options in ({}, {"fuse": False}, {"threads": 1}):
        for g, w in zip(jit(_dropout, **options)(x, STATE), want):
            np.testing.assert_array_equal(g, w)


def test_dropout_mask_is_fused_and_never_stored() -> None:
    @jit
    def dropout(x, key):
        return np.where(fr.uniform(key, x.shape) < 0.5, x * 2.0, 0.0)

    x = np.ones((64, 128))
    exe = dropout.lower(x, fr.key(1))
    assert exe.num_kernels == 2  # the key's (k0, k1, 0, 0) state (4 words), then one kernel for the rest
    state, kernel = exe.plan.kernels
    assert state.outputs[0].shape == (4,)
    assert {"philox", "lt", "where"} <= {n.op for n in kernel.nodes}
    assert [o.op for o in kernel.outputs] == ["where"]  # the mask and the uniforms are never stored


def test_keys_with_dynamic_dims() -> None:
    """A key's draws need no static size: the philox shape carries the symbol, bits as eager."""
    import fusejit

    f = jit(lambda x, k: x + fr.normal(k, x.shape), input_signature=[fusejit.Spec((None, 3), np.float64),
                                                                       fusejit.Spec((2,), np.uint32)])
    k = fr.key(4)
    for n in (1, 5, 40):
        x = np.zeros((n, 3))
        np.testing.assert_allclose(f(x, k), fr.normal(k, (n, 3)), rtol=1e-13)


def test_keys_freeze_save_and_compile_ahead_of_time(tmp_path) -> None:
    """A key is an ordinary input: frozen, saved, loaded and AOT-compiled graphs give the same bits."""
    import shutil

    import fusejit
    import fusejit.aot as aot

    def f(x, k):
        return np.where(fr.uniform(k, x.shape) < 0.5, x, 0.0) + fr.split(k, 1)[0, 0]

    g = fusejit.freeze(f, fusejit.Spec((None, 4), np.float64), fusejit.Spec((2,), np.uint32))
    g.save(tmp_path / "m.fjg")
    x, k = np.arange(12.0).reshape(3, 4), fr.key(7)
    np.testing.assert_array_equal(fusejit.load(tmp_path / "m.fjg").evaluate(x, k)[0], f(x, k))
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler")
    aot.compile(g, tmp_path, "m")
    np.testing.assert_array_equal(aot.load(tmp_path)(x, k), f(x, k))


def test_legacy_dropout_is_one_kernel() -> None:
    """`np.random.rand(*x.shape) < p`: the state is a hidden input, the mask lives in registers."""
    dropout = jit(lambda x: np.where(np.random.rand(*x.shape) < 0.8, x / 0.8, 0.0))
    exe = dropout.lower(np.ones((64, 128)))
    assert exe.num_kernels == 1
    (kernel,) = exe.plan.kernels
    assert "philox" in {n.op for n in kernel.nodes} and [o.op for o in kernel.outputs] == ["where"]
