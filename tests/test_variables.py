"""``fusejit.Variable``: read by reference, assigned in program order, never retraced."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import Variable, jit
from tests.helpers import assert_same


def test_value_changes_do_not_retrace(jit_options):
    w = Variable(np.ones(3, np.float32), name="w")
    f = jit(lambda x: x * w, **jit_options)
    x = np.arange(3, dtype=np.float32)
    assert_same(f(x), x)
    w.assign(np.array([1, 2, 3]))
    assert_same(f(x), x * np.array([1, 2, 3], np.float32))
    assert f.trace_count == 1 and w.numpy().dtype == np.float32


def test_assignments_inside_jit_take_effect_in_program_order(jit_options):
    b = Variable(np.zeros(2), name="b")

    @jit(**jit_options)
    def step(x, w):
        b.assign_add(x)
        before = b * 1
        b.assign(b * 2)
        w -= 1  # augmented assignment on a Variable argument is assign_sub
        return before

    w = Variable(np.full((2, 2), 5.0), name="w")
    x = np.array([1.0, 2.0])
    assert_same(step(x, w), x)
    assert_same(b.numpy(), 2 * x)
    assert_same(w.numpy(), np.full((2, 2), 4.0))
    step(x, w)
    assert_same(b.numpy(), 2 * (2 * x + x))
    assert step.trace_count == 1


def test_variable_outside_jit_acts_like_its_value():
    v = Variable([[1.0, 2.0]], name="v")
    assert_same(v + 1, np.array([[2.0, 3.0]]))
    assert_same(np.exp(v), np.exp(np.array([[1.0, 2.0]])))
    assert v.shape == (1, 2) and v.T.shape == (2, 1)
    v.assign_sub(1)
    assert_same(v.numpy(), np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        v.assign(np.ones(3))
    snapshot = v.numpy()
    snapshot[0, 0] = 5  # a copy the caller owns: the variable does not change
    assert_same(v.numpy(), np.array([[0.0, 1.0]]))


def test_creating_a_variable_inside_a_trace_is_an_error():
    with pytest.raises(fusejit.TracingError, match="created inside a traced function"):
        jit(lambda x: x + Variable(np.ones(2)))(np.ones(2))


def test_variables_are_graph_inputs_by_name():
    w = Variable(np.ones((3, 2), np.float32), name="W")
    f = jit(lambda x: x @ w)
    text = str(f.trace(np.ones((4, 3), np.float32)))
    assert "%W: f32[3,2]" in text
