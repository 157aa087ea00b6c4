"""Property: a random program of reads and stores on an object's live state, jitted, leaves the
object and the results exactly as the same program in NumPy — over several calls, with plain
NumPy changes to the object between them (the ``ci`` profile runs 40 derandomized examples;
``HYPOTHESIS_PROFILE=dev`` runs 400)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fusejit import jit

OPS = st.sampled_from(["set_a", "set_b_from_a", "inplace_w", "dict_set", "dict_pop", "append", "pop",
                       "read_last", "read_dict", "scale_by_k"])


class State:
    def __init__(self):
        self.W = np.arange(4.0)
        self.a = np.ones(4)
        self.d = {"u": np.full(4, 2.0)}
        self.lst = []
        self.k = 2.0


def program(ops):
    def run(self, x):
        acc = x * 1.0
        for op in ops:
            if op == "set_a":
                self.a = acc + self.W
            elif op == "set_b_from_a":
                self.b = self.a * 2.0
            elif op == "inplace_w":
                self.W += acc
            elif op == "dict_set":
                self.d["v"] = acc - 1.0
            elif op == "dict_pop":
                self.d.pop("v", None)
            elif op == "append":
                self.lst.append(acc + 3.0)
            elif op == "pop":
                if self.lst:
                    self.lst.pop()
            elif op == "read_last":
                acc = acc + (self.lst[-1] if self.lst else self.W)
            elif op == "read_dict":
                acc = acc * self.d.get("v", self.d["u"])
            elif op == "scale_by_k":
                acc = acc * self.k
        return acc
    return run


def assert_same(a, b):
    assert sorted(vars(a)) == sorted(vars(b))
    for name in vars(a):
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, dict):
            assert list(x) == list(y)
            x, y = list(x.values()), list(y.values())
        if isinstance(x, list):
            assert len(x) == len(y)
            for u, v in zip(x, y):
                assert type(v) is np.ndarray
                np.testing.assert_array_equal(v, u)
        elif isinstance(x, np.ndarray):
            assert type(y) is np.ndarray
            np.testing.assert_array_equal(y, x)
        else:
            assert x == y


@given(ops=st.lists(OPS, min_size=1, max_size=6), between=st.lists(st.sampled_from(["k", "clear", "W"]),
                                                                      min_size=3, max_size=3))
def test_random_programs_on_live_state_match_numpy(ops, between):
    run = program(ops)
    f = jit(run)
    plain, fast = State(), State()
    for step, change in enumerate(between):
        x = np.full(4, float(step + 1))
        np.testing.assert_array_equal(f(fast, x), run(plain, x))
        assert_same(plain, fast)
        for obj in (plain, fast):  # plain NumPy and Python between calls
            if change == "k":
                obj.k += 1.0
            elif change == "clear":
                obj.lst.clear()
            else:
                obj.W = obj.W * 0.5
