"""jit of callables without ``__name__`` (functools.partial, objects with ``__call__``) and traced
arrays used where Python needs a hash (sets, dict keys): NumPy arrays are unhashable, so are they."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import fusejit
from fusejit.tracer.errors import TracingError


def scaled(x, a):
    return x * a


class AddOne:
    def __call__(self, x):
        return x + 1


def test_partial_compiles_and_is_named_after_its_function() -> None:
    f = fusejit.jit(functools.partial(scaled, a=3.0))
    x = np.arange(4.0)
    np.testing.assert_array_equal(f(x), x * 3.0)
    assert f.__name__ == "scaled" and "scaled" in repr(f)


def test_callable_object_is_named_after_its_class() -> None:
    f = fusejit.jit(AddOne())
    np.testing.assert_array_equal(f(np.zeros(3, np.float32)), np.ones(3, np.float32))
    assert f.__name__ == "AddOne"


@pytest.mark.parametrize("use", [lambda x: {x}, lambda x: {x: 1}, lambda x: hash(x)])
def test_hashing_a_traced_array_is_a_clear_type_error(use) -> None:
    with pytest.raises(TracingError, match="unhashable type: a traced array .* set member or dict key") as info:
        fusejit.jit(lambda x: (use(x), x)[1])(np.ones(2))
    assert isinstance(info.value, TypeError)
