"""Flattening nested tuples/lists/dicts of arguments and results into leaves and back."""

from __future__ import annotations

from typing import Any

# A treedef is a hashable description: ("leaf",), ("none",), ("tuple", children), ("list", children),
# ("dict", keys, children)
TreeDef = tuple


def flatten(obj: Any, path: str = "") -> tuple[list[tuple[str, Any]], TreeDef]:
    """Leaves as (path, value) pairs in a fixed order, and the structure to rebuild them."""
    if obj is None:
        return [], ("none",)
    if isinstance(obj, (tuple, list)) and not hasattr(obj, "_fields"):
        leaves: list[tuple[str, Any]] = []
        children = []
        for i, item in enumerate(obj):
            sub, tree = flatten(item, f"{path}.{i}" if path else f"arg{i}")
            leaves += sub
            children.append(tree)
        return leaves, (type(obj).__name__, tuple(children))
    if isinstance(obj, dict):
        keys = list(obj)  # insertion order: results come back with the keys in the order written
        leaves, children = [], []
        for k in keys:
            sub, tree = flatten(obj[k], f"{path}.{k}" if path else str(k))
            leaves += sub
            children.append(tree)
        return leaves, ("dict", tuple(keys), tuple(children))
    return [(path, obj)], ("leaf",)


def unflatten(tree: TreeDef, leaves: Any) -> Any:
    it = iter(leaves)
    out = _build(tree, it)
    return out


def _build(tree: TreeDef, it: Any) -> Any:
    kind = tree[0]
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    if kind == "dict":
        return {k: _build(t, it) for k, t in zip(tree[1], tree[2])}
    items = [_build(t, it) for t in tree[1]]
    return tuple(items) if kind == "tuple" else items
