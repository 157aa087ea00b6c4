"""``fusejit.freeze``: variables become constants; freeze + save + load + run equals the jitted function."""

from __future__ import annotations

import numpy as np
import pytest

import fusejit
from fusejit import Spec, Variable, freeze, jit
from tests.helpers import assert_same

rng = np.random.default_rng(0)
W = Variable(rng.standard_normal((20, 5)).astype(np.float32), name="W")
b = Variable(rng.standard_normal(5).astype(np.float32), name="b")


@jit
def predict(x):
    z = x @ W + b
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("text", [False, True])
def test_freeze_save_load_run_matches_jit(tmp_path, text):
    g = freeze(predict, Spec((None, 20), np.float32))
    assert [n.name for n in g.inputs] == ["x"] and "N" in str(g.inputs[0].type)
    path = tmp_path / ("model.fjgt" if text else "model.fjg")
    g.save(path, text=text)
    loaded = fusejit.load(path)
    for n in (1, 7):
        x = rng.standard_normal((n, 20)).astype(np.float32)
        assert_same(loaded.evaluate(x)[0], predict(x), rtol=1e-5)


def test_freeze_keeps_chosen_variables_as_inputs():
    g = freeze(predict, np.zeros((3, 20), np.float32), keep_variables=["b"])
    assert [n.name for n in g.inputs] == ["x", "b"]
    x = rng.standard_normal((3, 20)).astype(np.float32)
    assert_same(g.evaluate(x, b.numpy())[0], predict(x), rtol=1e-5)


def test_freeze_refuses_training_steps():
    @jit
    def step(x):
        b.assign_add(x.sum(0))
        return x

    with pytest.raises(fusejit.TracingError, match="assigns variable"):
        freeze(step, Spec((2, 5), np.float32))
