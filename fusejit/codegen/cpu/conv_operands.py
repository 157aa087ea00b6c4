"""The graph rewrite that gives the convolution kernels (:mod:`.conv`) their operands, before planning.

- ``conv2d`` -> ``conv2d_blocked``: the input zero-padded (a concat of zeros: one fused loop kernel)
  and C-contiguous, the filter packed per block of output channels (:func:`pack_filter`), and the
  per-channel ops and relu that only the convolution feeds taken into it (:func:`channel_epilogues`),
  which its kernel applies as it stores (the same float operations: results unchanged);
- ``conv2d_backprop_filter``: the input zero-padded and C-contiguous, dy C-contiguous.

Graph inputs (any strides) are copied (a ``reshape`` to their own shape: a loop kernel) so the kernels
only ever read buffers the program laid out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import Graph, Node, constant, make
from ...ir.graph import rebuild
from .conv import blocking


def _zeros(dtype: np.dtype, shape: tuple) -> Node:
    return make("broadcast", constant(np.zeros((), dtype)), shape=list(shape))


def _pad(x: Node, axis: int, lo: int, hi: int) -> Node:
    """``x`` with ``lo`` zeros before and ``hi`` after along ``axis`` (a concat: one fused copy)."""
    if not lo and not hi:
        return x
    parts = []
    for k in (lo, None, hi):
        if k is None:
            parts.append(x)
        elif k:
            shape = list(x.shape)
            shape[axis] = k
            parts.append(_zeros(x.dtype, tuple(shape)))
    return make("concat", *parts, axis=axis)


def pack_filter(w: Node, groups: int, width: int) -> Node:
    """HWIO ``w`` as [groups, blocks, kh, kw, in/groups, width]: each block of ``width`` output
    channels of a group is one contiguous run the micro-kernel streams through (zero-filled
    past the group's last channel)."""
    kh, kw, cg, o = w.shape
    og = o // groups
    nb = -(-og // width)
    w5 = make("reshape", w, shape=[kh, kw, cg, groups, og])
    w5 = _pad(w5, 4, 0, nb * width - og)
    w6 = make("reshape", w5, shape=[kh, kw, cg, groups, nb, width])
    return make("transpose", w6, perm=[3, 4, 0, 1, 2, 5])


def _own_buffer(node: Node) -> Node:
    """``node`` itself if its buffer is ours (C-contiguous); a graph input (any strides) gets a copy."""
    return make("reshape", node, shape=list(node.shape)) if node.op == "input" else node


def _is_zero(node: Node) -> bool:
    while node.op == "broadcast":
        node = node.args[0]
    return node.op == "constant" and node.attrs["value"].size > 0 and not np.any(node.attrs["value"])


def _other(node: Node, one: Node) -> Node | None:
    """The operand of binary ``node`` that is not ``one`` (None unless exactly one of them is)."""
    a, b = node.args
    return b if a is one and b is not one else a if b is one and a is not one else None


EPILOGUE_OPS = {("add", 0): 0, ("add", 1): 0, ("sub", 0): 1, ("sub", 1): 2, ("mul", 0): 3, ("mul", 1): 3}
# codes of conv2d_blocked's `epilogue` attribute: v + c, v - c, c - v, v * c (c: a per-channel operand)


@dataclass(frozen=True)
class ChannelEpilogue:
    """Per-channel elementwise ops applied to a ``conv2d``'s value, then possibly ``max(., 0)``:
    ``links`` are (graph node, index of the operand carrying the value) from the convolution's
    user up to ``top``, the node the fused convolution replaces."""

    codes: tuple[int, ...]
    relu: bool
    links: tuple[tuple[Node, int], ...]

    @property
    def top(self) -> Node:
        return self.links[-1][0]


def channel_epilogues(graph: Graph) -> dict[int, ChannelEpilogue]:
    """``conv2d`` nodes followed only by ``+ - *`` with 1-d operands broadcast along the channels
    (bias, batch-norm scale and shift) and possibly a final ``max(., 0)``, each the only use of the
    one before: id(conv) -> its :class:`ChannelEpilogue`. The kernel applies them as it stores, as the
    same float operations in the same order (``np.maximum``'s NaN and signed-zero rules for relu),
    so results are bitwise those of the separate ops."""
    users = graph.users()
    outs = {id(o) for o in graph.outputs}
    found: dict[int, ChannelEpilogue] = {}
    for conv in graph.nodes:
        if conv.op != "conv2d":
            continue
        cur, codes, links, relu = conv, [], [], False
        while id(cur) not in outs and len(users[id(cur)]) == 1:
            user = users[id(cur)][0]
            other = _other(user, cur) if len(user.args) == 2 else None
            if other is None:
                break
            side = 0 if user.args[0] is cur else 1
            if user.op == "max" and _is_zero(other):
                links.append((user, side))
                relu = True
                break
            if (user.op, side) not in EPILOGUE_OPS or other.op != "broadcast" \
                    or other.args[0].shape != (conv.shape[3],):
                break
            codes.append(EPILOGUE_OPS[user.op, side])
            links.append((user, side))
            cur = user
        if links:
            found[id(conv)] = ChannelEpilogue(tuple(codes), relu, tuple(links))
    return found


def _fuse_epilogue(ep: ChannelEpilogue, top: Node) -> Node:
    """The rebuilt ``top`` of ``ep`` as one ``conv2d_blocked`` taking the per-channel operands: walk the
    rebuilt chain down to the (already lowered) convolution, collecting each level's operand."""
    operands: list[Node] = []
    node = top
    for orig, side in reversed(ep.links):
        if not (orig.op == "max" and ep.relu and orig is ep.top):
            operands.append(node.args[1 - side].args[0])
        node = node.args[side]
    assert node.op == "conv2d_blocked", node.op
    return make("conv2d_blocked", *node.args[:2], *reversed(operands), **{**node.attrs, "epilogue": list(ep.codes),
                                                                            "relu": ep.relu})


def prepare_conv_operands(graph: Graph, isa: str, epilogues: bool = True) -> Graph:
    """Each ``conv2d`` as ``conv2d_blocked`` of a zero-padded C-contiguous input and a packed filter,
    taking in the per-channel epilogue only it feeds (:func:`channel_epilogues`; not with
    ``epilogues=False``); each ``conv2d_backprop_filter`` reads a zero-padded C-contiguous input and a
    C-contiguous dy."""
    tops = {id(ep.top): ep for ep in channel_epilogues(graph).values()} if epilogues else {}

    def prepare(node: Node, args: tuple[Node, ...]) -> Node | None:
        if id(node) in tops:
            return _fuse_epilogue(tops[id(node)], Node(node.op, args, node.attrs, node.type))
        if node.op == "conv2d_backprop_filter" and (any(node.attrs["pads"]) or any(a.op == "input" for a in args)):
            t, b, left, r = node.attrs["pads"]
            x, dy = _own_buffer(_pad(_pad(args[0], 1, t, b), 2, left, r)), _own_buffer(args[1])
            return Node(node.op, (x, dy), {**node.attrs, "pads": [0, 0, 0, 0]}, node.type)
        if node.op != "conv2d":
            return None
        x, w = args
        t, b, left, r = node.attrs["pads"]
        x = _own_buffer(_pad(_pad(x, 1, t, b), 2, left, r))
        groups, o = node.attrs["groups"], w.shape[3]
        blk = blocking(isa, node.dtype.itemsize, o // groups, node.shape[2])
        wp = pack_filter(w, groups, blk.vw * blk.cb)
        return make("conv2d_blocked", x, wp, strides=node.attrs["strides"], dilations=node.attrs["dilations"],
                    out_channels=o, epilogue=[], relu=False)

    return rebuild(graph, prepare)
