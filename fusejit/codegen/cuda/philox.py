"""The ``philox`` primitive on the GPU: Philox-4x32-10 rounds as straight-line kernel source.

The emitter writes the rounds for one block (counter layout in :mod:`fusejit.ir.philox`) once per
point and reads the word(s) each node asks for from the four result names. They are plain lines,
not a device function (numba compiles device functions for the current device, which PTX checks
without a GPU do not have). All arithmetic is uint64 on 32-bit words, so no step overflows (the
simulator runs it on NumPy scalars), and every literal is a ``t_u64`` (numba would promote uint64
with an int64 literal to float64).
"""

from __future__ import annotations

from ...ir.philox import MASK32, MUL, ROUNDS, WEYL


def block_lines(p: str, state: list[str], stream: int, lin: str) -> list[str]:
    """Lines computing the block of flat index ``lin`` into ``{p}c0 .. {p}c3`` for state words ``state``."""
    s0, s1, s2, s3 = state
    m = f"t_u64({MASK32})"
    lines = [f"{p}i = t_u64({lin})",
             f"{p}lo = t_u64({s2}) + t_u64({stream & MASK32})",
             f"{p}c0 = {p}i & {m}",
             f"{p}c1 = {p}i >> t_u64(32)",
             f"{p}c2 = {p}lo & {m}",
             f"{p}c3 = (t_u64({s3}) + t_u64({stream >> 32}) + ({p}lo >> t_u64(32))) & {m}",
             f"{p}k0 = t_u64({s0})",
             f"{p}k1 = t_u64({s1})"]
    for r in range(ROUNDS):
        if r:
            lines += [f"{p}k0 = ({p}k0 + t_u64({WEYL[0]})) & {m}", f"{p}k1 = ({p}k1 + t_u64({WEYL[1]})) & {m}"]
        lines += [f"{p}p0 = t_u64({MUL[0]}) * {p}c0",
                  f"{p}p1 = t_u64({MUL[1]}) * {p}c2",
                  f"{p}c0, {p}c1, {p}c2, {p}c3 = (({p}p1 >> t_u64(32)) ^ {p}c1 ^ {p}k0, {p}p1 & {m}, "
                  f"({p}p0 >> t_u64(32)) ^ {p}c3 ^ {p}k1, {p}p0 & {m})"]
    return lines


def word_expr(p: str, word: int, wide: bool) -> str:
    """A u32 word or a u64 word pair (``w[2j] | w[2j+1] << 32``) of the block named ``p``."""
    if not wide:
        return f"t_u32({p}c{word})"
    return f"({p}c{2 * word} | ({p}c{2 * word + 1} << t_u64(32)))"
