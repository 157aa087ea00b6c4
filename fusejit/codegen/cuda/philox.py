"""The ``philox`` primitive on the GPU: one device function, ``rng_philox``, in every kernel's namespace.

It returns the four words of the Philox-4x32-10 block at a flat index (counter layout in
:mod:`fusejit.ir.philox`); the emitter picks the word(s) a node asks for. All arithmetic is uint64
on 32-bit words, so no step overflows (the simulator runs it on NumPy scalars) and every literal is
a ``t_u64`` (numba would promote uint64 with an int64 literal to float64).
"""

from __future__ import annotations

from typing import Any

from ...ir.philox import MUL, ROUNDS, WEYL

_ROUND = """\
    p0 = t_u64({m0}) * c0
    p1 = t_u64({m1}) * c2
    c0, c1, c2, c3 = (p1 >> t_u64(32)) ^ c1 ^ k0, p1 & mask, (p0 >> t_u64(32)) ^ c3 ^ k1, p0 & mask
"""
_BUMP = """\
    k0 = (k0 + t_u64({w0})) & mask
    k1 = (k1 + t_u64({w1})) & mask
"""
_HEAD = """\
def rng_philox(s0, s1, s2, s3, stream, lin):
    mask = t_u64(0xFFFFFFFF)
    st = t_u64(stream)
    idx = t_u64(lin)
    lo = t_u64(s2) + (st & mask)
    c0, c1 = idx & mask, idx >> t_u64(32)
    c2, c3 = lo & mask, (t_u64(s3) + (st >> t_u64(32)) + (lo >> t_u64(32))) & mask
    k0, k1 = t_u64(s0), t_u64(s1)
"""


def source() -> str:
    """Python source of ``rng_philox`` (ten rounds unrolled)."""
    body = [_HEAD]
    for r in range(ROUNDS):
        if r:
            body.append(_BUMP.format(w0=WEYL[0], w1=WEYL[1]))
        body.append(_ROUND.format(m0=MUL[0], m1=MUL[1]))
    body.append("    return c0, c1, c2, c3\n")
    return "".join(body)


def install(ns: dict[str, Any], cuda: Any) -> None:
    """Define ``rng_philox`` as a device function in the kernel namespace ``ns``."""
    exec(source(), ns)  # noqa: S102 - our own fixed source
    ns["rng_philox"] = cuda.jit(device=True)(ns["rng_philox"])


def word_expr(call: str, word: int, wide: bool) -> str:
    """The expression selecting a u32 word or a u64 word pair of a ``rng_philox`` result ``call``."""
    if not wide:
        return f"t_u32({call}[{word}])"
    return f"({call}[{2 * word}] | ({call}[{2 * word + 1}] << t_u64(32)))"
