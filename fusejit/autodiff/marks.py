"""Nodes the reverse walk treats specially: ``stop_gradient`` and the outputs of ``custom_vjp``.

Both are *aliases*: an identity ``reshape`` of a value (a new node computing the same thing, which
the optimizer's DCE removes after differentiation), remembered in a side table keyed by node.
No new primitive is needed, so backends, passes and the file format never see them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ir import Node


def alias(node: Node) -> Node:
    """A fresh node equal to ``node``: what is differentiated with respect to (argument
    placeholders, watched values), so only paths through it count."""
    return Node("reshape", (node,), {"shape": list(node.shape)}, node.type)


@dataclass(eq=False)
class CustomGroup:
    """The outputs of one call of a ``custom_vjp`` function: ``backward(cotangents)`` returns the
    cotangents of ``inputs`` (None for zero), given one cotangent node (or None) per output."""

    inputs: list[Node]
    backward: Callable[[list[Node | None]], list[Node | None]]
    outputs: list[Node] = field(default_factory=list)


_STOP = object()
_MARKS: weakref.WeakKeyDictionary[Node, Any] = weakref.WeakKeyDictionary()


def stop(node: Node) -> Node:
    out = alias(node)
    _MARKS[out] = _STOP
    return out


def is_stopped(node: Node) -> bool:
    return _MARKS.get(node) is _STOP


def custom_outputs(group: CustomGroup, outputs: list[Node]) -> list[Node]:
    """Aliases of ``outputs`` whose derivative is ``group.backward`` instead of their graph's."""
    for o in outputs:
        a = alias(o)
        _MARKS[a] = group
        group.outputs.append(a)
    return list(group.outputs)


def custom_group(node: Node) -> CustomGroup | None:
    mark = _MARKS.get(node)
    return mark if isinstance(mark, CustomGroup) else None
