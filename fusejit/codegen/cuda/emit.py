"""Expression emission for one fused group: values at symbolic indices, layout ops as index math.

A kernel skeleton (loop, row, reduce, gemm) owns the loops; it asks ``Emitter.value(node, idx,
block)`` for the value of ``node`` at index ``idx`` (one ``Ix`` per dim) and gets back a Python
expression. Layout ops never load or store: broadcast, transpose, reshape, slice, concat and
update_slice rewrite the index and recurse. Each computed value is assigned once, memoized per
(node, index) and hoisted to the outermost block whose index variables it uses, so per-row values
of a softmax are computed once per row, not once per element. Blocks marked ``barrier`` (bounds
guards, concat branches) never hoist their contents past themselves: a load there may be out of
range for other indices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ...ir import Node
from ...ir.shapes import Dim
from ...passes.fusion import is_splat
from . import ops
from .ops import CudaLoweringError
from .philox import block_lines as philox_lines
from .philox import word_expr as philox_word


@dataclass(frozen=True)
class Ix:
    """One index component: Python code and the index variables it reads."""

    code: str
    vars: frozenset[str] = frozenset()

    @staticmethod
    def var(name: str) -> Ix:
        return Ix(name, frozenset([name]))


ZERO = Ix("0")


@dataclass
class Block:
    """A straight-line region of kernel code; children are rendered where they were appended."""

    parent: Block | None = None
    vars: frozenset[str] = frozenset()
    barrier: bool = False
    lines: list[str | tuple[str, Block]] = field(default_factory=list)
    memo: dict[tuple, tuple[str, Block | None]] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1

    def child(self, header: str, new_vars: Sequence[str] = (), barrier: bool = False, attach: bool = True) -> Block:
        """A nested block under ``header`` (``for ...:``, ``if ...:``); appended now unless ``attach`` is
        False (then the caller appends it with ``attach_child`` once it is filled)."""
        b = Block(self, self.vars | frozenset(new_vars), barrier)
        if attach:
            self.lines.append((header, b))
        return b

    def attach_child(self, header: str, b: Block) -> None:
        self.lines.append((header, b))

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def add_above(self, inner: Block, *lines: str) -> None:
        """Add ``lines`` to this block so that they run before the nested block holding ``inner``
        (hoisting out of a loop that is already in place), else at the end."""
        chain = set()
        b: Block | None = inner
        while b is not None:
            chain.add(id(b))
            b = b.parent
        for i, item in enumerate(self.lines):
            if not isinstance(item, str) and id(item[1]) in chain:
                self.lines[i:i] = lines
                return
        self.lines.extend(lines)

    def lookup(self, key: tuple) -> tuple[str, Block | None] | None:
        b: Block | None = self
        while b is not None:
            if key in b.memo:
                return b.memo[key]
            b = b.parent
        return None

    def render(self, indent: int) -> list[str]:
        out: list[str] = []
        pad = "    " * indent
        for item in self.lines:
            if isinstance(item, str):
                out.append(pad + item)
            else:
                header, b = item
                out.append(pad + header)
                body = b.render(indent + 1)
                out.extend(body or [pad + "    pass"])
        return out


Special = Callable[[Sequence[Ix], Block], tuple[str, Block | None]]


class Emitter:
    """Values of a group's nodes at symbolic indices; records which arrays and symbols it reads."""

    def __init__(self, group_nodes: Sequence[Node], flat: bool = False) -> None:
        self.flat = flat  # every index is the one flat position ``lin`` (see elementwise.is_flat)
        self.in_group = {id(n) for n in group_nodes}
        self.loads: list[Node] = []  # arrays read: graph inputs, other groups' results, constants
        self._load_names: dict[int, str] = {}
        self.symbols: list[str] = []
        self.special: dict[int, Special] = {}  # values the skeleton provides (reductions, dot)
        self.load_indices: set[tuple[str, ...]] = set()  # every index an array is read at
        self.uses_err = False  # a gather checks its indices: the kernel takes an ``err`` flag array
        self._n = 0

    # ---- names -------------------------------------------------------------------------
    def fresh(self, stem: str = "v") -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def dim(self, d: Dim) -> str:
        if isinstance(d, int):
            return str(d)
        if d not in self.symbols:
            self.symbols.append(d)
        return f"n_{d}"

    def size(self, dims: Sequence[Dim]) -> str:
        return " * ".join(self.dim(d) for d in dims) or "1"

    def array(self, node: Node) -> str:
        """Kernel parameter name of an array this group reads."""
        if id(node) not in self._load_names:
            self._load_names[id(node)] = f"a{len(self.loads)}"
            self.loads.append(node)
        return self._load_names[id(node)]

    # ---- index helpers -----------------------------------------------------------------
    def unravel(self, block: Block, linear: str, dims: Sequence[Dim], names: Sequence[str]) -> None:
        """Emit ``names`` = row-major multi-index of ``linear`` over ``dims``."""
        rem = linear
        for k in range(len(dims) - 1, -1, -1):
            if k == 0:
                block.add(f"{names[0]} = {rem}")
            else:
                d = self.dim(dims[k])
                block.add(f"{names[k]} = {rem} % {d}")
                nxt = self.fresh("q")
                block.add(f"{nxt} = {rem} // {d}")
                rem = nxt

    def _target(self, block: Block, needed: frozenset[str], min_depth: int) -> Block:
        b = block
        while (b.parent is not None and not b.barrier and needed <= b.parent.vars
               and b.parent.depth >= min_depth):
            b = b.parent
        return b

    def _assign(self, expr: str, needed: frozenset[str], deps: Sequence[Block | None], block: Block,
                key: tuple) -> tuple[str, Block]:
        min_depth = max((d.depth for d in deps if d is not None), default=0)
        target = self._target(block, needed, min_depth)
        name = self.fresh()
        target.add_above(block, f"{name} = {expr}")
        target.memo[key] = (name, target)
        return name, target

    # ---- values ------------------------------------------------------------------------
    def value(self, node: Node, idx: Sequence[Ix], block: Block) -> str:
        return self._value(node, tuple(idx), block)[0]

    def _value(self, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
        if len(idx) != node.ndim and not self.flat:
            raise AssertionError(f"index of rank {len(idx)} for {node}")
        if id(node) in self.special:
            return self.special[id(node)](idx, block)
        if node.op == "constant" and node.attrs["value"].size == 1:
            return ops.literal(node.attrs["value"].reshape(()).item(), node.dtype), None
        if node.op == "numel":
            dims = [node.args[0].shape[a] for a in node.attrs["axes"]]
            return ops.cast(self.size(dims) if dims else "1", node.dtype), None
        key = (id(node), tuple(i.code for i in idx))
        hit = block.lookup(key)
        if hit is not None:
            return hit
        needed = frozenset().union(*(i.vars for i in idx)) if idx else frozenset()
        if node.op in ("input", "constant") or (id(node) not in self.in_group and not is_splat(node)):
            self.load_indices.add(tuple(i.code for i in idx))
            where = ", ".join(i.code for i in idx) if idx else "0"
            return self._assign(f"{self.array(node)}[{where}]", needed, (), block, key)
        if node.op in LAYOUT:
            return LAYOUT[node.op](self, node, idx, block)
        if node.op.startswith("reduce_") and not node.attrs["axes"]:
            return self._value(node.args[0], idx, block)
        if node.op == "dot" or node.op.startswith(("reduce_", "arg")):
            raise CudaLoweringError(f"GPU backend: {node.op} cannot be evaluated inside this kind of kernel")
        if node.op == "philox":
            return self._philox(node, idx, block, key, needed)
        vals = [self._value(a, idx, block) for a in node.args]
        in_dt = node.args[-1].dtype if node.op == "where" else node.args[0].dtype
        expr = ops.elementwise(node.op, [v for v, _ in vals], in_dt, node.dtype, node.attrs)
        return self._assign(expr, needed, [b for _, b in vals], block, key)


    def _philox(self, node: Node, idx: tuple[Ix, ...], block: Block, key: tuple,
                needed: frozenset[str]) -> tuple[str, Block]:
        """Random words at this point: the state read whole, the counter from the flat index; one
        block of rounds per point serves every node reading it (word 0 and word 1 of a pair)."""
        words = [self._value(node.args[0], (Ix(str(k)),), block) for k in range(4)]
        if self.flat:
            lin = idx[0].code if node.ndim else "0"
        else:
            lin = "0"
            for i, d in zip(idx, node.shape):
                lin = i.code if lin == "0" else f"({lin}) * {self.dim(d)} + {i.code}"
        block_key = ("philox", id(node.args[0]), node.attrs["stream"], lin)
        hit = block.lookup(block_key)
        if hit is None:
            depth = max((b.depth for _, b in words if b is not None), default=0)
            target = self._target(block, needed, depth)
            prefix = self.fresh("ph")
            target.add_above(block, *philox_lines(prefix, [w for w, _ in words], node.attrs["stream"], lin))
            hit = target.memo[block_key] = (prefix, target)
        prefix, rounds = hit
        expr = philox_word(prefix, node.attrs["word"], node.dtype.itemsize == 8)
        return self._assign(expr, needed, [rounds], block, key)


# ---- layout ops as index rewrites ------------------------------------------------------------

def _broadcast(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    src = node.args[0].shape
    off = node.ndim - len(src)
    return em._value(node.args[0], tuple(ZERO if d == 1 else idx[off + k] for k, d in enumerate(src)), block)


def _transpose(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    src: list[Ix] = [ZERO] * node.ndim
    for i, p in enumerate(node.attrs["perm"]):
        src[p] = idx[i]
    return em._value(node.args[0], tuple(src), block)


def _reshape(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    src, out = node.args[0].shape, node.shape
    if [d for d in src if d != 1] == [d for d in out if d != 1]:  # only unit dims move: no arithmetic
        kept = [i for i, d in zip(idx, out) if d != 1]
        it = iter(kept)
        return em._value(node.args[0], tuple(ZERO if d == 1 else next(it) for d in src), block)
    needed = frozenset().union(*(i.vars for i in idx)) if idx else frozenset()
    lin = "0"
    for i, d in zip(idx, out):
        lin = i.code if lin == "0" else f"({lin}) * {em.dim(d)} + {i.code}"
    target = em._target(block, needed, 0)
    name = em.fresh("r")
    tmp = Block(target, target.vars)
    tmp.add(f"{name} = {lin}")
    names = [em.fresh("r") for _ in src]
    em.unravel(tmp, name, src, names)
    target.add_above(block, *tmp.lines)
    return em._value(node.args[0], tuple(Ix(n, needed) for n in names), block)


def _slice(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    src = []
    for i, a, c in zip(idx, node.attrs["starts"], node.attrs["steps"]):
        code = i.code if (a, c) == (0, 1) else f"({a} + {i.code} * {c})"
        src.append(Ix(code, i.vars))
    return em._value(node.args[0], tuple(src), block)


def _select(em: Emitter, node: Node, block: Block, idx: tuple[Ix, ...],
            cases: list[tuple[str | None, Node, tuple[Ix, ...]]]) -> tuple[str, Block | None]:
    """``if cond: v = value(node_k at idx_k) elif ...``: each branch in its own barrier block."""
    needed = frozenset().union(*(i.vars for i in idx)) if idx else frozenset()
    target = em._target(block, needed, 0)
    name = em.fresh()
    tmp = Block(target, target.vars)
    tmp.add(f"{name} = {ops.literal(0, node.dtype)}")
    for k, (cond, src, sidx) in enumerate(cases):
        header = "else:" if cond is None else ("if " if k == 0 else "elif ") + f"{cond}:"
        br = tmp.child(header, barrier=True)
        br.add(f"{name} = {em._value(src, sidx, br)[0]}")
    target.add_above(block, *tmp.lines)
    target.memo[(id(node), tuple(i.code for i in idx))] = (name, target)
    return name, target


def _concat(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    axis = node.attrs["axis"]
    cases: list[tuple[str | None, Node, tuple[Ix, ...]]] = []
    start = 0
    for k, a in enumerate(node.args):
        stop = start + a.shape[axis]
        shifted = Ix(f"({idx[axis].code} - {start})" if start else idx[axis].code, idx[axis].vars)
        sidx = idx[:axis] + (shifted,) + idx[axis + 1:]
        cases.append((None if k == len(node.args) - 1 else f"{idx[axis].code} < {stop}", a, sidx))
        start = stop
    return _select(em, node, block, idx, cases)


def _update_slice(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    base, upd = node.args
    conds, uidx = [], []
    for i, d, a, b, c in zip(idx, node.shape, node.attrs["starts"], node.attrs["stops"], node.attrs["steps"]):
        if (a, b, c) == (0, d, 1):
            uidx.append(i)
            continue
        if c > 0:
            conds.append(f"{a} <= {i.code} < {b} and ({i.code} - {a}) % {c} == 0")
            uidx.append(Ix(f"(({i.code} - {a}) // {c})", i.vars))
        else:
            conds.append(f"{b} < {i.code} <= {a} and ({a} - {i.code}) % {-c} == 0")
            uidx.append(Ix(f"(({a} - {i.code}) // {-c})", i.vars))
    if not conds:
        return em._value(upd, idx, block)
    return _select(em, node, block, idx, [(" and ".join(f"({c})" for c in conds), upd, tuple(uidx)),
                                         (None, base, idx)])


def _take(em: Emitter, node: Node, idx: tuple[Ix, ...], block: Block) -> tuple[str, Block | None]:
    """Gather: the index array's value becomes a load index. Negative indices wrap as in NumPy; an
    out-of-range one sets ``err[0]`` (the runtime raises IndexError) and reads index 0 instead."""
    x, ind = node.args
    axis = node.attrs["axis"] % x.ndim
    k = ind.ndim
    mid = idx[axis:axis + k]
    j, jblock = em._value(ind, mid, block)
    needed = frozenset().union(*(i.vars for i in mid)) if mid else frozenset()
    target = em._target(block, needed, jblock.depth if jblock is not None else 0)
    g, dim = em.fresh("g"), em.dim(x.shape[axis])
    target.add_above(block, f"{g} = t_i64({j})", f"if {g} < 0:", f"    {g} += {dim}",
                     f"if {g} < 0 or {g} >= {dim}:", "    err[0] = 1", f"    {g} = 0")
    em.uses_err = True
    return em._value(x, idx[:axis] + (Ix(g, needed),) + idx[axis + k:], block)


LAYOUT = {"take": _take, "broadcast": _broadcast, "transpose": _transpose, "reshape": _reshape, "slice": _slice,
          "concat": _concat, "update_slice": _update_slice}


def store_index(node: Node, idx: Sequence[Ix]) -> str:
    return ", ".join(i.code for i in idx) if node.ndim else "0"


def store_epilogue(em: Emitter, anchor: Node, value: str, oidx: Sequence[Ix], block: Block,
                   outputs: Sequence[Node]) -> None:
    """Store each output at ``oidx``, evaluating the group's epilogue with ``anchor`` (a product or a
    convolution) read from the variable ``value`` — only at the element being stored."""
    def special(idx: Sequence[Ix], at: Block) -> tuple[str, Block]:
        if [i.code for i in idx] != [i.code for i in oidx]:
            raise CudaLoweringError(f"GPU backend: the {anchor.op} is read at another element in its epilogue")
        return value, block

    em.special[id(anchor)] = special
    for k, o in enumerate(outputs):
        block.add(f"o{k}[{store_index(o, oidx)}] = {em.value(o, oidx, block)}")


def acc_dtype(dt: np.dtype) -> np.dtype:
    """Accumulator dtype of a reduction: wide enough for warp shuffles, exact for wrap-around sums."""
    if dt.kind == "f":
        return np.dtype(np.float64) if dt == np.float64 else np.dtype(np.float32)
    if dt.kind == "b" or dt in (np.int8, np.int16, np.int32):
        return np.dtype(np.int32)
    if dt in (np.uint8, np.uint16, np.uint32):
        return np.dtype(np.int64)
    return dt
