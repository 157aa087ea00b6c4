"""How ``fusejit.nn`` reaches a primitive: a node while tracing, a compiled call on NumPy arrays.

Decompositions in ``fusejit.nn`` are plain NumPy and need none of this; only ops that are
primitives of their own (convolutions) do. Outside ``jit`` they run a small jitted function
(cached per attributes), so ``fusejit.nn.conv2d`` on NumPy arrays gets the same kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import Node, make
from ..tracer.array import TracedArray, cast, wrap
from ..tracer.context import current
from ..tracer.errors import TracingError
from ..tracer.variables import Variable


class NNError(TracingError, ValueError):
    """A ``fusejit.nn`` call with arguments the op does not accept (the message says which)."""


def _frozen(v: Any) -> Any:
    return tuple(_frozen(x) for x in v) if isinstance(v, (list, tuple)) else v


@functools.cache
def _compiled(what: str, builder: Callable[..., Node], attrs: tuple) -> Any:
    from ..driver import jit

    kw = {k: list(v) if isinstance(v, tuple) else v for k, v in attrs}
    return jit(lambda *xs: build(what, builder, *xs, **kw))


def float_operands(what: str, *xs: Any) -> np.dtype:
    """The common float dtype of ``xs`` (NumPy's promotion), or an error naming ``what``."""
    dts = [np.asarray(x).dtype if not isinstance(x, TracedArray) else x.dtype for x in xs]
    dt = np.result_type(*dts)
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        raise NNError(f"fusejit.nn.{what} needs float32 or float64 arrays, got "
                      f"{', '.join(str(d) for d in dts)}")
    return dt


def build(what: str, builder: Callable[..., Node], *xs: Any, **attrs: Any) -> Any:
    """``builder(*nodes, **attrs)`` (IR nodes from IR nodes) on traced arrays (tracing), or computed
    now on NumPy arrays by a jitted function (cached per builder and attributes). ``what`` names the
    ``fusejit.nn`` function in errors. A ``fusejit.Variable`` operand is read (a filter Variable)."""
    xs = tuple(x.read() if isinstance(x, Variable) else x for x in xs)
    if current() is None and not any(isinstance(x, TracedArray) for x in xs):
        return _compiled(what, builder, tuple(sorted((k, _frozen(v)) for k, v in attrs.items())))(*xs)
    from ..tracer.functions import arr

    dt = float_operands(what, *xs)
    return wrap(builder(*(cast(arr(x).node, dt) for x in xs), **attrs))


def _node(*args: Node, op: str, **attrs: Any) -> Node:
    return make(op, *args, **attrs)


def primitive(op: str, *xs: Any, **attrs: Any) -> Any:
    """``op(*xs, **attrs)`` as an IR node (tracing) or computed now (NumPy arrays, jit-compiled)."""
    return build(op, _node, *xs, op=op, **attrs)
