"""Graph Transform Tool transforms on a GraphDef, under TensorFlow's names and argument syntax.

``transform(graph, inputs, outputs, "strip_unused_nodes remove_nodes(op=Identity) ...")`` returns a
new GraphDef that TensorFlow itself loads. The transforms, each exact:

- ``strip_unused_nodes``: keep only what the outputs need, stopping at the inputs (a fed non-
  placeholder becomes a ``Placeholder`` of its dtype; ``type=``/``shape=`` set placeholders').
- ``remove_nodes(op=Identity, op=CheckNumerics, ...)``: bypass single-input nodes of those ops
  (consumers read the node's input); inputs and outputs are kept.
- ``fold_constants(ignore_error=true)``: a node whose inputs are all constants becomes a ``Const``
  of its value, computed by the importer's NumPy op table (TensorFlow's semantics).
- ``fold_batch_norms``: ``Mul(Conv2D|MatMul|DepthwiseConv2dNative(x, W), c)`` with constant ``W``
  and ``c`` becomes the product with ``W * c``: (x·W)·c = x·(W·c) per output channel.
- ``fold_old_batch_norms``: an inference ``FusedBatchNorm[V2|V3]`` after such a product becomes
  the product with scaled weights plus ``BiasAdd`` of the shifted offset.
- ``merge_duplicate_nodes``: nodes with the same op, inputs and attributes (constants of the same
  value) are one node.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .importer import tensor_ref
from .ops import OPS, TFImportError
from .proto import GraphDef, NodeDef
from .tensors import DTYPE_OF, attr_dtype, attr_value, from_numpy


def parse_transforms(spec: str) -> list[tuple[str, dict[str, list[str]]]]:
    """``"a b(x=1, y=\"2,3\") c(op=A, op=B)"`` → ``[("a", {}), ("b", {"x": ["1"], "y": ["2,3"]}), ...]``."""
    out, pos = [], 0
    pattern = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\(([^()]*)\))?")
    while pos < len(spec.strip()):
        m = pattern.match(spec, pos)
        if not m or m.end() == pos:
            raise TFImportError(f"transforms: cannot parse {spec[pos:]!r}; expected name or name(key=value, ...)")
        args: dict[str, list[str]] = {}
        for part in re.findall(r'([A-Za-z_]+)\s*=\s*("[^"]*"|\'[^\']*\'|[^,]+)', m.group(3) or ""):
            args.setdefault(part[0], []).append(part[1].strip().strip("\"'"))
        out.append((m.group(1), args))
        pos = m.end()
    return out


def transform(graph: Any, inputs: Sequence[str], outputs: Sequence[str], transforms: str) -> Any:
    """Apply the transforms in order to a copy of ``graph``."""
    result = GraphDef()
    result.CopyFrom(graph)
    for name, args in parse_transforms(transforms):
        if name not in TRANSFORMS:
            raise TFImportError(f"transforms: unknown transform {name!r}; supported: {', '.join(sorted(TRANSFORMS))}")
        result = TRANSFORMS[name](result, list(inputs), list(outputs), args)
    return result


def _flag(args: dict[str, list[str]], key: str) -> bool:
    return any(v.lower() in ("true", "1", "yes") for v in args.get(key, []))


def _consumers(graph: Any) -> dict[str, list[Any]]:
    users: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(tensor_ref(i)[0], []).append(n)
    return users


def _rebuilt(graph: Any, nodes: list[Any]) -> Any:
    out = GraphDef()
    out.CopyFrom(graph)
    del out.node[:]
    out.node.extend(nodes)
    return out


def strip_unused_nodes(graph: Any, inputs: list[str], outputs: list[str], args: dict[str, list[str]]) -> Any:
    by_name = {n.name: n for n in graph.node}
    fed = {tensor_ref(i)[0] for i in inputs}
    keep, stack = set(), [tensor_ref(o)[0] for o in outputs]
    while stack:
        name = stack.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        if name not in fed:
            stack.extend(tensor_ref(i)[0] for i in by_name[name].input)
    nodes = []
    for n in graph.node:
        if n.name not in keep:
            continue
        if n.name in fed and n.op != "Placeholder":
            ph = NodeDef(name=n.name, op="Placeholder")
            dtype = args.get("type", [None])[0]
            code = DTYPE_OF[np.dtype(dtype)] if dtype else n.attr["T"].type if "T" in n.attr else 1
            ph.attr["dtype"].type = code
            n = ph
        if n.op == "Placeholder" and "shape" in args:
            shape = [int(d) for d in args["shape"][0].split(",") if d.strip()]
            n.attr["shape"].shape.Clear()
            for d in shape:
                n.attr["shape"].shape.dim.add(size=d)
        nodes.append(n)
    return _rebuilt(graph, nodes)


def remove_nodes(graph: Any, inputs: list[str], outputs: list[str], args: dict[str, list[str]]) -> Any:
    ops = set(args.get("op", []))
    if not ops:
        raise TFImportError("remove_nodes: give the ops to remove, e.g. remove_nodes(op=Identity)")
    protected = {tensor_ref(t)[0] for t in (*inputs, *outputs)}
    bypass: dict[str, str] = {}
    for n in graph.node:
        data = [i for i in n.input if not i.startswith("^")]
        if n.op in ops and len(data) == 1 and n.name not in protected:
            bypass[n.name] = data[0]

    def resolve(ref: str) -> str:
        ctrl = ref.startswith("^")
        name, index = tensor_ref(ref)
        seen = set()
        while name in bypass and index == 0 and name not in seen:
            seen.add(name)
            ctrl_free = bypass[name]
            name, index = tensor_ref(ctrl_free)
        base = name if index == 0 else f"{name}:{index}"
        return "^" + name if ctrl else base

    nodes = []
    for n in graph.node:
        if n.name in bypass:
            continue
        m = NodeDef()
        m.CopyFrom(n)
        del m.input[:]
        m.input.extend(resolve(i) for i in n.input)
        nodes.append(m)
    return _rebuilt(graph, nodes)


def fold_constants(graph: Any, inputs: list[str], outputs: list[str], args: dict[str, list[str]]) -> Any:
    ignore = _flag(args, "ignore_error")
    fed = {tensor_ref(i)[0] for i in inputs}
    values: dict[str, list[Any]] = {}
    nodes = []
    consumers = _consumers(graph)
    for n in graph.node:  # frozen GraphDefs list producers first; others are left as they are
        data = [i for i in n.input if not i.startswith("^")]
        if n.op == "Const":
            values[n.name] = [attr_value(n, "value")]
        elif n.name not in fed and n.op in OPS and n.op not in ("NoOp", "Placeholder") and data and \
                all(tensor_ref(i)[0] in values for i in data):
            try:
                outs = OPS[n.op](n, [values[tensor_ref(i)[0]][tensor_ref(i)[1]] for i in data])
                if any(not isinstance(o, np.ndarray) or o.dtype == object or o.dtype not in DTYPE_OF for o in outs):
                    raise TFImportError("not a plain array")
            except Exception:
                if not ignore:
                    raise
            else:
                values[n.name] = outs
                if len(outs) == 1 and all(tensor_ref(i)[1] == 0 for c in consumers.get(n.name, [])
                                          for i in c.input if tensor_ref(i)[0] == n.name):
                    c = NodeDef(name=n.name, op="Const")
                    c.attr["dtype"].type = DTYPE_OF[outs[0].dtype]
                    c.attr["value"].tensor.CopyFrom(from_numpy(outs[0]))
                    nodes.append(c)
                    continue
        nodes.append(n)
    # constants that only fed folded nodes are unused now
    return strip_unused_nodes(_rebuilt(graph, nodes), inputs, outputs, {})


_PRODUCTS = ("Conv2D", "MatMul", "DepthwiseConv2dNative")


def _const_of(by_name: dict[str, Any], ref: str) -> np.ndarray | None:
    node = by_name.get(tensor_ref(ref)[0])
    return attr_value(node, "value") if node is not None and node.op == "Const" else None


def _scaled_weights(product: Any, weights: np.ndarray, scale: np.ndarray) -> np.ndarray | None:
    """``W`` scaled per output channel: the last axis of HWIO/IO filters; depthwise HWCM flattens C*M."""
    scale = np.asarray(scale).reshape(-1)
    if product.op == "MatMul" and attr_value(product, "transpose_b", False):
        return weights * scale[:, None] if scale.size in (1, weights.shape[0]) else None
    if product.op == "DepthwiseConv2dNative":
        c_m = weights.shape[2] * weights.shape[3]
        return (weights.reshape(*weights.shape[:2], c_m) * scale).reshape(weights.shape) if scale.size in (1, c_m) \
            else None
    return weights * scale if scale.size in (1, weights.shape[-1]) else None


def _replace_const(by_name: dict[str, Any], ref: str, value: np.ndarray, name: str) -> Any:
    c = NodeDef(name=name, op="Const")
    c.attr["dtype"].type = DTYPE_OF[value.dtype]
    c.attr["value"].tensor.CopyFrom(from_numpy(value))
    return c


def fold_batch_norms(graph: Any, inputs: list[str], outputs: list[str], args: dict[str, list[str]]) -> Any:
    return _fold(graph, inputs, outputs, old=False)


def fold_old_batch_norms(graph: Any, inputs: list[str], outputs: list[str], args: dict[str, list[str]]) -> Any:
    return _fold(graph, inputs, outputs, old=True)


def _fold(graph: Any, inputs: list[str], outputs: list[str], old: bool) -> Any:
    by_name = {n.name: n for n in graph.node}
    consumers = _consumers(graph)
    replaced: dict[str, list[Any]] = {}  # node name -> nodes that replace it (same name for the last one)
    dropped: set[str] = set()
    for n in graph.node:
        data = [i for i in n.input if not i.startswith("^")]
        if not old and n.op == "Mul" and len(data) == 2:
            for a, b in (data, data[::-1]):
                prod = by_name.get(tensor_ref(a)[0])
                scale = _const_of(by_name, b)
                if prod is None or prod.op not in _PRODUCTS or scale is None or tensor_ref(a)[1] != 0 \
                        or len(consumers.get(prod.name, [])) != 1:
                    continue
                w = _const_of(by_name, prod.input[1])
                new_w = None if w is None else _scaled_weights(prod, w, scale)
                if new_w is None or new_w.shape != w.shape:
                    continue
                wname = f"{n.name}/folded_weights"
                p = NodeDef()
                p.CopyFrom(prod)
                p.name = n.name
                p.input[1] = wname
                replaced[n.name] = [_replace_const(by_name, prod.input[1], new_w.astype(w.dtype), wname), p]
                dropped.add(prod.name)
                break
        if old and n.op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3") and \
                not attr_value(n, "is_training", True):
            folded = _fold_batch_norm(n, by_name, consumers)
            if folded is not None:
                replaced[n.name], gone = folded
                dropped |= gone
    nodes = []
    for n in graph.node:
        if n.name in dropped:
            continue
        nodes.extend(replaced.get(n.name, [n]))
    return strip_unused_nodes(_rebuilt(graph, nodes), inputs, outputs, {})


def _fold_batch_norm(n: Any, by_name: dict[str, Any], consumers: dict[str, list[Any]]) -> tuple | None:
    """``BN(x·W [+ b])`` → ``x·(W·s) + (beta - (mean - b)·s)`` with ``s = gamma / sqrt(var + eps)``."""
    data = [i for i in n.input if not i.startswith("^")]
    single = lambda node: node is not None and len(consumers.get(node.name, [])) == 1  # noqa: E731
    prod, gone, bias = by_name.get(tensor_ref(data[0])[0]), set(), 0.0
    if prod is not None and prod.op == "BiasAdd" and single(prod) and _const_of(by_name, prod.input[1]) is not None:
        bias = np.asarray(_const_of(by_name, prod.input[1]), np.float64)
        gone.add(prod.name)
        prod = by_name.get(tensor_ref(prod.input[0])[0])
    params = [_const_of(by_name, r) for r in data[1:5]]
    if prod is None or prod.op not in _PRODUCTS or any(p is None for p in params) or not single(prod) or \
            attr_value(n, "data_format", "NHWC") != "NHWC" or \
            any(tensor_ref(i)[1] != 0 for c in consumers.get(n.name, []) for i in c.input
                if tensor_ref(i)[0] == n.name):
        return None
    gamma, beta, mean, var = (np.asarray(p, np.float64) for p in params)
    scale = gamma / np.sqrt(var + float(attr_value(n, "epsilon", 1e-3)))
    w = _const_of(by_name, prod.input[1])
    new_w = None if w is None else _scaled_weights(prod, w.astype(np.float64), scale)
    if new_w is None:
        return None
    dt = w.dtype
    wname, bname, pname = f"{n.name}/folded_weights", f"{n.name}/folded_offset", f"{n.name}/folded_product"
    p = NodeDef()
    p.CopyFrom(prod)
    p.name = pname
    p.input[1] = wname
    add = NodeDef(name=n.name, op="BiasAdd", input=[pname, bname])
    add.attr["T"].type = DTYPE_OF[np.dtype(dt)]
    offset = beta - (mean - bias) * scale
    return [_replace_const(by_name, "", new_w.astype(dt), wname), _replace_const(by_name, "", offset.astype(dt), bname),
            p, add], gone | {prod.name}


def merge_duplicate_nodes(graph: Any, inputs: list[str], outputs: list[str], args: dict[str, list[str]]) -> Any:
    protected = {tensor_ref(t)[0] for t in (*inputs, *outputs)}
    canonical: dict[Any, str] = {}
    rename: dict[str, str] = {}
    nodes = []
    for n in graph.node:
        ins = []
        for i in n.input:
            ctrl = i.startswith("^")
            name, index = tensor_ref(i)
            name = rename.get(name, name)
            ins.append(("^" if ctrl else "") + (name if index == 0 or ctrl else f"{name}:{index}"))
        attrs = tuple(sorted((k, v.SerializeToString(deterministic=True)) for k, v in n.attr.items()))
        key = (n.op, tuple(ins), attrs)
        if n.op not in ("Placeholder", "NoOp") and n.name not in protected and key in canonical:
            rename[n.name] = canonical[key]
            continue
        canonical.setdefault(key, n.name)
        m = NodeDef()
        m.CopyFrom(n)
        del m.input[:]
        m.input.extend(ins)
        nodes.append(m)
    return _rebuilt(graph, nodes)


TRANSFORMS = {
    "strip_unused_nodes": strip_unused_nodes, "remove_nodes": remove_nodes, "fold_constants": fold_constants,
    "fold_batch_norms": fold_batch_norms, "fold_old_batch_norms": fold_old_batch_norms,
    "merge_duplicate_nodes": merge_duplicate_nodes,
}

__all__ = ["TRANSFORMS", "parse_transforms", "transform", "attr_dtype"]
