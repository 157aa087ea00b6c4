"""Random words from the ``philox`` primitive, traced or concrete.

Inside a trace ``philox_bits`` records a ``philox`` node (fused into whatever consumes it);
outside it evaluates the primitive's NumPy reference, so every distribution in this package is
one piece of NumPy code that gives the same bits inside and outside ``jit``.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..ir import make
from ..ir.philox import philox_ref
from ..tracer.array import TracedArray

U32, U64 = np.dtype(np.uint32), np.dtype(np.uint64)


def is_traced(x: Any) -> bool:
    return isinstance(x, TracedArray)


def philox_bits(state: Any, shape: tuple, stream: int, word: int = 0, dtype: Any = U32) -> Any:
    """Words of ``shape`` (one Philox block per element; ``word`` selects a u32 word or u64 pair)."""
    dims = [str(d) if isinstance(d, str) else operator.index(d) for d in shape]  # symbols stay names
    if is_traced(state):
        return TracedArray(make("philox", state.node, shape=dims, stream=stream, word=word, dtype=np.dtype(dtype)))
    return philox_ref(np.asarray(state, dtype=U32), dims, stream, word, np.dtype(dtype))
