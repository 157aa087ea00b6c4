"""``einsum`` and ``tensordot`` as transposes, reshapes and one batched ``dot``.

Every two-operand contraction is brought to ``[batch, M, K] x [batch, K, N]``: axes of one
operand that appear nowhere else are summed first, and the result is transposed into the
requested order.
"""

from __future__ import annotations

from ..ir import Node, make
from ..ir.shapes import Size
from .array import reshape, transpose
from .errors import UnsupportedFunctionError


def _prod(dims: list) -> object:
    dim = Size.of(dims).as_dim()
    if dim is None:
        raise UnsupportedFunctionError("contracting several dynamic dimensions together is not supported")
    return dim


def contract(a: Node, b: Node, batch_a: list[int], batch_b: list[int], con_a: list[int], con_b: list[int]) -> Node:
    """Result axes: batch, free axes of ``a`` (in order), free axes of ``b`` (in order)."""
    for i, j in zip(con_a + batch_a, con_b + batch_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"shape-mismatch for sum: {a.shape[i]} and {b.shape[j]}")
    free_a = [i for i in range(a.ndim) if i not in con_a and i not in batch_a]
    free_b = [i for i in range(b.ndim) if i not in con_b and i not in batch_b]
    bs = [a.shape[i] for i in batch_a]
    fa, fb, ks = [a.shape[i] for i in free_a], [b.shape[i] for i in free_b], [a.shape[i] for i in con_a]
    a3 = reshape(transpose(a, batch_a + free_a + con_a), (*bs, _prod(fa), _prod(ks)))
    b3 = reshape(transpose(b, batch_b + con_b + free_b), (*bs, _prod(ks), _prod(fb)))
    out = make("dot", a3, b3)
    return reshape(out, (*bs, *fa, *fb))


def _sum_out(node: Node, labels: str, keep: set[str]) -> tuple[Node, str]:
    axes = [i for i, c in enumerate(labels) if c not in keep]
    if not axes:
        return node, labels
    return make("reduce_sum", node, axes=axes), "".join(c for c in labels if c in keep)


def einsum(subscripts: str, operands: list[Node]) -> Node:
    spec = subscripts.replace(" ", "")
    if "..." in spec:
        raise UnsupportedFunctionError("np.einsum with '...' is not supported")
    inputs, _, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {len(terms)} subscripts for {len(operands)} operands")
    if not _:
        counts = {c: inputs.count(c) for c in inputs if c.isalpha()}
        output = "".join(sorted(c for c, n in counts.items() if n == 1))
    for t, node in zip(terms, operands):
        if len(t) != node.ndim:
            raise ValueError(f"einsum: subscript {t!r} does not match an operand of {node.ndim} dims")
        if len(set(t)) != len(t):
            raise UnsupportedFunctionError(f"np.einsum: repeated index in {t!r} (diagonals) is not supported")
    node, labels = operands[0], terms[0]
    for k in range(1, len(terms)):
        t, other = terms[k], operands[k]
        later = set(output) | set("".join(terms[k + 1:]))
        node, labels = _sum_out(node, labels, set(t) | later)
        other, t = _sum_out(other, t, set(labels) | later)
        batch = [c for c in labels if c in t and c in later]
        con = [c for c in labels if c in t and c not in later]
        node = contract(node, other, [labels.index(c) for c in batch], [t.index(c) for c in batch],
                        [labels.index(c) for c in con], [t.index(c) for c in con])
        labels = "".join(batch) + "".join(c for c in labels if c not in t) + "".join(c for c in t if c not in labels)
    node, labels = _sum_out(node, labels, set(output))
    if sorted(labels) != sorted(output):
        raise ValueError(f"einsum: output subscript {output!r} does not match the inputs")
    return transpose(node, [labels.index(c) for c in output])


