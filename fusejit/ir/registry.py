"""The op registry: each primitive declared once with its type rule, reference and fusion class.

Backends keep their own tables from op name to emitter; this module is what they agree on.
Fusion classes (see DESIGN.md): ``elementwise``, ``layout`` (pure indexing), ``reduce``,
``opaque`` (matmul, gather, ...), ``source`` (inputs, constants, shape queries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .shapes import TensorType

FUSION_CLASSES = ("elementwise", "layout", "reduce", "opaque", "source")

InferFn = Callable[[list[TensorType], dict[str, Any]], TensorType]
RefFn = Callable[..., Any]
# vjp(g, node) -> one cotangent (or None: zero) per operand of ``node``, given the cotangent ``g`` of
# its result; it builds ordinary IR (see fusejit/autodiff/__init__.py) and must be linear in ``g``.
VjpFn = Callable[[Any, Any], "list[Any]"]


@dataclass(frozen=True)
class OpDef:
    name: str
    arity: int | None  # None: variadic (at least one operand)
    fusion: str
    infer: InferFn
    ref: RefFn  # ref(*operands: np.ndarray, **attrs) with symbols in attrs already bound
    attrs: tuple[str, ...] = ()
    doc: str = ""
    # derivatives: a reverse-mode rule, or nondiff=True for ops whose result is constant almost
    # everywhere or not a float (comparisons, integer ops, argmax, shape queries). Every op that
    # is neither has no gradient, and differentiating through it is an error naming it.
    vjp: VjpFn | None = None
    nondiff: bool = False


_REGISTRY: dict[str, OpDef] = {}


class IRTypeError(TypeError):
    """Operands or attributes that violate an op's type rule."""


class GradientError(ValueError):
    """A derivative that cannot be built: an op without a rule, a non-float argument, ..."""


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name!r} registered twice")
    if opdef.fusion not in FUSION_CLASSES:
        raise ValueError(f"op {opdef.name!r}: unknown fusion class {opdef.fusion!r}")
    _REGISTRY[opdef.name] = opdef
    return opdef


def get_op(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


def all_ops() -> dict[str, OpDef]:
    return dict(_REGISTRY)


def ops_of_class(fusion: str) -> list[str]:
    return [name for name, d in _REGISTRY.items() if d.fusion == fusion]


def check_arity(opdef: OpDef, n: int) -> None:
    if opdef.arity is None:
        if n < 1:
            raise IRTypeError(f"{opdef.name} needs at least one operand")
    elif n != opdef.arity:
        raise IRTypeError(f"{opdef.name} takes {opdef.arity} operand(s), got {n}")


def as_ndarray(x: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


from . import primitives as _primitives  # noqa: E402,F401  (populates the registry)
