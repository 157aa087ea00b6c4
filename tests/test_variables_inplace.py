"""Variables own one buffer for life; the CPU program writes updates into it in place when the
alias rule (fusejit.codegen.cpu.abi.inplace_outputs) allows, and gives NumPy's answers when not."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fusejit
from fusejit import Variable, jit
from tests.helpers import assert_same

CPU = {"backend": "cpu"}


def pointer(v: Variable) -> int:
    return v._value.__array_interface__["data"][0]


def test_sgd_step_updates_the_weights_in_place_without_allocating_them() -> None:
    rng = np.random.default_rng(0)
    w = Variable(rng.standard_normal((784, 10)).astype(np.float32), name="W")
    buf, ptr = w._value, pointer(w)

    @jit(**CPU)
    def sgd(x, g):
        w.assign_sub(0.5 * (x.T @ g))

    x = rng.standard_normal((16, 784)).astype(np.float32)
    g = rng.standard_normal((16, 10)).astype(np.float32)
    want = w.numpy() - np.float32(0.5) * (x.T @ g)
    sgd(x, g)
    assert_same(w.numpy(), want, rtol=1e-5)
    assert w._value is buf and pointer(w) == ptr
    exe = sgd.lower(x, g)
    assert exe.inplace == {0: 2} and "written in place into input 2 (W)" in exe.describe()
    sgd(x, g)  # warm: the scratch arena exists now
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        sgd(x, g)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < w._value.nbytes // 4, f"a call allocated {peak} bytes; W is {w._value.nbytes}"
    assert pointer(w) == ptr


def test_assign_outside_jit_writes_into_the_buffer_with_casts_and_shape_checks() -> None:
    v = Variable(np.zeros((2, 3), np.float32), name="v")
    buf = v._value
    v.assign(np.arange(3))  # broadcast, int -> float32
    v.assign_add(1.5)
    assert v._value is buf and v.numpy().dtype == np.float32
    assert_same(v.numpy(), np.tile(np.arange(3, dtype=np.float32) + 1.5, (2, 1)))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        v.assign(np.ones(4))
    i = Variable(np.zeros(3, np.int32))
    i.assign(np.array([1.7, -2.2, 3.9]))  # like np.array(value, dtype=int32)
    assert_same(i.numpy(), np.array([1, -2, 3], np.int32))


def test_a_scalar_variable_stays_zero_dimensional_and_counts_in_place() -> None:
    count = Variable(0.0, name="count")
    ptr = pointer(count)
    f = jit(lambda x: [count.assign_add(x.sum()), count * 2][1], **CPU)
    for _ in range(3):
        got = f(np.ones(4))
    assert count.shape == () and got.shape == ()
    assert_same(count.numpy(), np.array(12.0))
    assert_same(got, np.array(24.0))
    assert pointer(count) == ptr and f.lower(np.ones(4)).inplace


def test_numpy_is_a_snapshot_that_later_updates_do_not_change() -> None:
    v = Variable(np.arange(4.0), name="v")
    inc = jit(lambda: [v.assign_add(1.0)][:0], **CPU)
    before, as_array = v.numpy(), np.asarray(v)
    inc()
    v.assign_add(1.0)
    assert_same(before, np.arange(4.0))
    assert_same(as_array, np.arange(4.0))
    assert_same(v.numpy(), np.arange(4.0) + 2)
    assert not np.shares_memory(v.numpy(), v._value)


UNSAFE = {  # programs whose new value must not be written over the old one
    "transpose": (lambda v, x: v.assign(v.T), False),
    "reversed": (lambda v, x: v.assign(v[::-1]), False),
    "sum_minus": (lambda v, x: v.assign(v.sum() - v), False),
    "row_softmax": (lambda v, x: v.assign(np.exp(v - v.max(axis=1, keepdims=True))), False),
    "dot_reads_v": (lambda v, x: v.assign(v @ x), False),
    "dot_transposed": (lambda v, x: v.assign(x @ v.T + v), False),
    "rolled": (lambda v, x: v.assign(np.concatenate([v[1:], v[:1]])), False),
    "elementwise": (lambda v, x: v.assign(v * 2 + x), True),
    "dot_epilogue": (lambda v, x: v.assign_sub(0.25 * (x.T @ x) + v * 0.5), True),
}


@pytest.mark.parametrize("name", sorted(UNSAFE))
@pytest.mark.parametrize("options", [CPU, {"backend": "cpu", "fuse": False}, {"backend": "reference"}])
def test_the_alias_rule_gives_numpys_answers(name: str, options: dict) -> None:
    body, in_place = UNSAFE[name]
    rng = np.random.default_rng(5)
    start = rng.integers(-4, 5, (6, 6)).astype(np.float64)
    x = rng.integers(-3, 4, (6, 6)).astype(np.float64)
    v = Variable(start, name="v")
    ptr = pointer(v)
    f = jit(lambda x: [body(v, x)][:0], **options)
    eager = Variable(start, name="eager")  # outside jit a variable is NumPy on snapshots: the oracle
    for _ in range(2):
        body(eager, x)
        f(x)
        assert_same(v.numpy(), eager.numpy())
    assert pointer(v) == ptr
    if options == CPU:
        assert bool(f.lower(x).inplace) == in_place


def test_a_large_multithreaded_update_in_place() -> None:
    """12 MiB: above the parallel threshold, so the thread pool's chunks write in place too."""
    n = 3 << 20
    v = Variable(np.arange(n, dtype=np.float32), name="big")
    ptr = pointer(v)
    x = np.full(n, 0.5, np.float32)
    f = jit(lambda x: [v.assign(v * 2 + x)][:0], **CPU)
    f(x)
    f(x)
    np.testing.assert_array_equal(v.numpy(), (np.arange(n, dtype=np.float32) * 2 + 0.5) * 2 + 0.5)
    assert pointer(v) == ptr and f.lower(x).inplace


def test_read_after_assign_assign_twice_and_results_do_not_alias_the_buffer() -> None:
    v = Variable(np.arange(5.0), name="v")

    @jit(**CPU)
    def step(x):
        old = v * 3
        v.assign(v + x)
        mid = v * 10  # reads the new value
        v.assign(v * 2)  # the same variable assigned twice: the last value wins
        return old, mid, v.read()

    x = np.ones(5)
    old, mid, new = step(x)
    assert_same(old, np.arange(5.0) * 3)
    assert_same(mid, (np.arange(5.0) + 1) * 10)
    assert_same(new, (np.arange(5.0) + 1) * 2)
    assert_same(v.numpy(), new)
    assert not np.shares_memory(new, v._value) and not np.shares_memory(old, v._value)
    assert step.lower(x).inplace  # v's final value still goes straight into its buffer
    step(x)
    assert_same(new, (np.arange(5.0) + 1) * 2)  # the returned array did not change under us
    assert_same(v.numpy(), ((np.arange(5.0) + 1) * 2 + 1) * 2)


def test_returning_the_old_value_keeps_it() -> None:
    v = Variable(np.arange(3.0), name="v")

    @jit(**CPU)
    def swap_in(x):
        old = v.read()
        v.assign(x * 1)
        return old

    got = swap_in(np.full(3, 7.0))
    assert_same(got, np.arange(3.0))
    assert_same(v.numpy(), np.full(3, 7.0))


def test_two_variables_updated_from_each_other() -> None:
    a = Variable(np.arange(4.0), name="a")
    b = Variable(np.arange(4.0) * 10, name="b")
    ptrs = pointer(a), pointer(b)

    @jit(**CPU)
    def cross():
        a_old = a.read()
        a.assign(b * 2)
        b.assign(a_old * 3 + a)  # reads a's old and new values

    cross()
    assert_same(a.numpy(), np.arange(4.0) * 20)
    assert_same(b.numpy(), np.arange(4.0) * 3 + np.arange(4.0) * 20)
    swap = jit(lambda: [a.assign(b), b.assign(a_old)][:0] if (a_old := a.read()) is not None else None, **CPU)
    want_a, want_b = b.numpy(), a.numpy()
    swap()
    assert_same(a.numpy(), want_a)
    assert_same(b.numpy(), want_b)
    assert (pointer(a), pointer(b)) == ptrs


def test_variable_passed_as_an_argument_and_captured() -> None:
    w = Variable(np.ones((2, 3), np.float32), name="w")

    @jit(**CPU)
    def step(var, x):
        var.assign_add(x)
        w.assign(w * 2)
        return var + 0

    x = np.ones((2, 3), np.float32)
    r = step(w, x)
    assert_same(r, np.full((2, 3), 4.0, np.float32))  # var and w are one variable: program order
    assert_same(w.numpy(), np.full((2, 3), 4.0, np.float32))
    assert step.trace_count == 1


def test_symbolic_dims_with_an_in_place_update() -> None:
    b = Variable(np.zeros(4, np.float32), name="b")
    step = jit(lambda x: [b.assign_sub(0.5 * x.sum(axis=0))][:0],
               input_signature=[fusejit.Spec((None, 4), np.float32)], **CPU)
    ptr, total = pointer(b), np.zeros(4, np.float32)
    for n in (1, 7, 300):
        x = np.arange(n * 4, dtype=np.float32).reshape(n, 4)
        step(x)
        total -= np.float32(0.5) * x.sum(axis=0)
        assert_same(b.numpy(), total)
    assert step.trace_count == 1 and pointer(b) == ptr and step.lower(x).inplace


def test_a_strided_argument_on_the_first_call_of_an_in_place_program() -> None:
    """The generic-stride kernels are compiled lazily; an in-place program must not run half of
    itself and rerun (its variable would be updated twice)."""
    v = Variable(np.zeros((8, 8)), name="v_strided")
    step = jit(lambda x: [v.assign(v + 1.0), x * 3.25 + v[:, :1]][1], **CPU)  # v's kernel runs first
    x = np.arange(512.0).reshape(16, 32)[::2, ::2]
    got = step(x)
    assert_same(v.numpy(), np.ones((8, 8)))
    assert_same(got, x * 3.25 + 1)
    assert step.lower(x).inplace


def test_a_call_that_raises_leaves_the_variables_unchanged() -> None:
    v = Variable(np.arange(3.0), name="v")
    step = jit(lambda x, i: [v.assign(v * 2), x[i]][1], **CPU)
    step(np.arange(4.0), np.array([0, 3]))
    assert_same(v.numpy(), np.arange(3.0) * 2)
    with pytest.raises(IndexError):
        step(np.arange(4.0), np.array([0, 9]))
    assert_same(v.numpy(), np.arange(3.0) * 2)


def test_freeze_keeps_variables_as_inputs_and_is_unaffected() -> None:
    w = Variable(np.full((3, 2), 2.0, np.float32), name="W")
    predict = jit(lambda x: x @ w, **CPU)
    g = fusejit.freeze(predict, fusejit.Spec((None, 3), np.float32), keep_variables=[w])
    x = np.ones((4, 3), np.float32)
    assert [n.name for n in g.inputs][-1] == "W"
    assert_same(g.evaluate(x, w.numpy())[0], x @ w.numpy())
    assert_same(fusejit.freeze(predict, x).evaluate(x)[0], predict(x))


# ---- random programs: any mix of reads, layout ops, reductions, dots and updates ------------

EXPRS = ("add", "scale", "T", "rev", "colsum", "dot", "rowmax", "roll")
N = 5


def _expr(kind: str, a, b):
    if kind == "add":
        return a + b
    if kind == "scale":
        return a * 3.0 - 1.0
    if kind == "T":
        return a.T + 0.0
    if kind == "rev":
        return a[::-1] * 1.0
    if kind == "colsum":
        return a.sum(axis=0) + b
    if kind == "dot":
        return (a @ b) * 0.5
    if kind == "rowmax":
        return a - a.max(axis=1, keepdims=True)
    return np.concatenate([a[:, 2:], a[:, :2]], axis=1)


def _program(steps, read, assign):
    def run(x):
        values = [read(0), read(1), x]
        for target, kind, i, j, ret in steps:
            new = _expr(kind, values[i], values[j])
            assign(target, new)
            values[target] = new if ret else read(target)
        return values[0] + values[1] * 2.0
    return run


STEP = st.tuples(st.integers(0, 1), st.sampled_from(EXPRS), st.integers(0, 2), st.integers(0, 2), st.booleans())


@settings(max_examples=40, derandomize=True, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=4), fuse=st.booleans())
def test_random_programs_match_numpy(steps, fuse) -> None:
    rng = np.random.default_rng(len(steps))
    start = [rng.integers(-3, 4, (N, N)).astype(np.float64) for _ in range(2)]
    x = rng.integers(-3, 4, (N, N)).astype(np.float64)
    vs = [Variable(s, name=f"v{k}") for k, s in enumerate(start)]
    ptrs = [pointer(v) for v in vs]
    f = jit(_program(steps, lambda k: vs[k].read(), lambda k, new: vs[k].assign(new)), backend="cpu", fuse=fuse)
    state = [s.copy() for s in start]

    def assign(k, new):
        state[k] = np.array(np.broadcast_to(new, (N, N)))

    oracle = _program(steps, lambda k: state[k], assign)
    for _ in range(2):  # the second call starts from the first one's updates
        want = oracle(x)
        got = f(x)
        np.testing.assert_array_equal(got, want)  # small integers: every op here is exact
        for v, s in zip(vs, state):
            np.testing.assert_array_equal(v.numpy(), s)
    assert [pointer(v) for v in vs] == ptrs
