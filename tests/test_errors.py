"""Every user-facing error is a clear Python exception naming what was wrong: the text is API."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import fusejit
from fusejit import jit


def test_unsupported_numpy_function_is_named():
    with pytest.raises(fusejit.UnsupportedFunctionError, match=r"np\.convolve is not supported in a traced function"):
        jit(lambda x: np.convolve(x, x))(np.ones(3))
    with pytest.raises(fusejit.UnsupportedFunctionError, match=r"np\.sort is not supported"):
        jit(lambda x: x.sort())(np.ones(3))
    with pytest.raises(fusejit.UnsupportedFunctionError, match=r"np\.ldexp is not supported"):
        jit(lambda x: np.ldexp(x, 2))(np.ones(3))


def test_python_control_flow_on_traced_values_explains_the_fix():
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    # where there is no call's data to follow the branch (freeze: a graph for every input)
    with pytest.raises(fusejit.ConcretizationError) as info:
        fusejit.freeze(jit(f), fusejit.Spec((3,), np.float64))
    msg = str(info.value)
    assert "truth value" in msg and "static_argnames" in msg and "np.where" in msg
    with pytest.raises(fusejit.ConcretizationError, match=r"float\(\)"):  # floats are never speculated
        jit(lambda x: float(x.sum()))(np.ones(3))
    with pytest.raises(fusejit.ConcretizationError, match=r"int\(\)"):
        fusejit.freeze(jit(lambda x: x[:int(x.max())]), fusejit.Spec((3,), np.int64))
    np.testing.assert_array_equal(jit(f)(np.ones(3)), np.ones(3))  # with a call's data: followed and checked


def test_writing_traced_values_into_numpy_arrays_explains():
    def f(x):
        out = np.frombuffer(bytes(24)).copy()  # a NumPy array (np.zeros(3) would be a traced buffer)
        out[0] = x.sum()
        return out

    with pytest.raises(fusejit.ConcretizationError, match="zeros_like"):
        jit(f)(np.ones(3))


def test_data_dependent_output_shape():
    with pytest.raises(fusejit.DataDependentShapeError, match="boolean-mask selection"):
        jit(lambda x: x[x > 0])(np.arange(-2.0, 2.0))
    with pytest.raises(fusejit.DataDependentShapeError, match="three-argument np.where"):
        jit(lambda x: np.where(x > 0))(np.arange(-2.0, 2.0))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3,\) \(4,\)"):
        jit(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        jit(lambda a, b: a @ b)(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"cannot reshape array of shape \(6,\) into shape \(4, -1\)"):
        jit(lambda a: a.reshape(4, -1))(np.ones(6))


@pytest.mark.parametrize("value,kind", [(np.array(["a", "b"]), "<U1"), (np.array([1 + 2j]), "complex128"),
                                        (np.array([object()], dtype=object), "object")])
def test_unsupported_dtypes(value, kind):
    with pytest.raises(fusejit.ir.UnsupportedDTypeError, match=rf"argument 'x' has dtype {kind}.*not support"):
        jit(lambda x: x)(value)


def test_complex_constants_inside_the_function():
    with pytest.raises(fusejit.ir.UnsupportedDTypeError, match="complex"):
        jit(lambda x: x * np.array([1j]))(np.ones(1))


def test_bad_arguments():
    f = jit(lambda x, y: x + y)
    with pytest.raises(fusejit.ArgumentError, match="missing a required argument: 'y'"):
        f(np.ones(2))
    with pytest.raises(fusejit.ArgumentError, match="argument 'y' is a set"):
        f(np.ones(2), {1, 2})
    with pytest.raises(fusejit.ArgumentError, match="must be hashable"):
        jit(lambda x, k: x, static_argnames=["k"])(np.ones(1), [1])
    with pytest.raises(ValueError, match=r"static_argnames \['z'\] are not parameters"):
        jit(lambda x: x, static_argnames=["z"])


def test_a_misspelled_jit_option_is_named_with_the_options():
    for make in (lambda: jit(lambda x: x, fusee=False), lambda: jit(fusee=False)):
        with pytest.raises(fusejit.ArgumentError, match=r"unknown option 'fusee'; did you mean 'fuse'\? the options "
                                                        r"are static_argnames, .*input_signature"):
            make()


def test_bad_jit_option_values_are_refused_at_jit_time():
    f = lambda x: x + 1
    spec = fusejit.Spec((None, 3), np.float32)
    for options, message in [({"backend": "llvm"}, r"backend='llvm'\): expected one of 'auto', 'cpu', 'reference'"),
                             ({"threads": 0}, r"threads=0\): expected an int >= 1"),
                             ({"input_signature": spec}, r"expected a list of fusejit.Spec, one per array argument")]:
        with pytest.raises(fusejit.ArgumentError, match=message):
            jit(f, **options)
    with pytest.raises(fusejit.ArgumentError, match=r"shape 3 is not a sequence of dims; write e.g. Spec\(\(3,\)\)"):
        fusejit.Spec(3, np.float32)
    # one static name or index needs no list, as in JAX
    g = jit(lambda x, n: x * n, static_argnums=1)
    assert g(np.ones(2), 3)[0] == 3 and g(np.ones(2), 4)[0] == 4 and g.trace_count == 2
    assert jit(lambda x, scale: x * scale, static_argnames="scale").static_names == {"scale"}


def test_input_signature_mismatch_says_what_differs():
    spec = fusejit.Spec(("B", 3), np.float32)
    f = jit(lambda a, b: a + b, input_signature=[spec, spec])
    x = np.ones((2, 3), np.float32)
    cases = [((x, x.astype(np.float64)), "argument 'b' .*: dtype float64 is not float32"),
             ((x, x[0]), "argument 'b' .*: 1 dim\\(s\\), not 2"),
             ((x, np.ones((2, 4), np.float32)), "argument 'b' .*: dim 1 is 4, not 3"),
             ((x, np.ones((5, 3), np.float32)), "argument 'b' .*: dim 0 is 5, but B is 2 in an earlier argument")]
    for args, message in cases:
        with pytest.raises(fusejit.ArgumentError, match=message):
            f(*args)


def test_reductions_of_empty_arrays_without_identity():
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        jit(lambda x: x.max())(np.ones((0, 3)))
    with pytest.raises(ValueError, match="empty sequence"):
        jit(lambda x: x.argmin())(np.ones(0))


def test_returning_unsupported_objects():
    with pytest.raises(fusejit.TracingError, match="returned a object"):
        jit(lambda x: object())(np.ones(1))


def test_dynamic_dim_cannot_become_a_python_int():
    f = jit(lambda x: np.zeros(int(x.shape[0])), input_signature=[fusejit.Spec((None,), np.float64)])
    with pytest.raises(fusejit.ConcretizationError, match="dimension 'N' is dynamic"):
        f(np.ones(3))


def test_unknown_and_missing_devices():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        jit(lambda x: x + 1, device="tpu")(np.ones(2))
    with pytest.raises(ValueError, match="unknown device"):
        with fusejit.device("npu:0"):
            pass


def test_indexing_a_numpy_constant_with_a_traced_index_explains_the_fix():
    table = np.arange(15.0).reshape(5, 3)
    idx = np.array([0, 3, 1])
    raw = table.tobytes()
    with pytest.raises(fusejit.ConcretizationError, match=r"np\.asarray\(table, like=i\)\[i\]"):
        jit(lambda i: np.frombuffer(raw).reshape(5, 3)[i])(idx)  # NumPy's array, made by C code
    # made inside the function with np.arange: a traced constant, so a gather
    np.testing.assert_array_equal(jit(lambda i: np.arange(15.0).reshape(5, 3)[i])(idx), table[idx])
    np.testing.assert_array_equal(jit(lambda i: np.asarray(table, like=i)[i])(idx), table[idx])
    np.testing.assert_array_equal(jit(lambda i: table[i])(idx), table[idx])  # a closure's table is live state


MASKED = np.ma.masked_array([1.0, 100.0, 3.0], mask=[0, 1, 0])
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    MATRIX = np.matrix([[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("value, what", [(MASKED, r"is a numpy\.ma\.MaskedArray.*ignore its mask.*x\.filled"),
                                         (MATRIX, r"is a numpy\.matrix.*matrix products.*np\.asarray\(x\)")])
def test_masked_arrays_and_matrices_are_refused_not_read_as_plain_arrays(value, what):
    """NumPy computes differently on them (a masked max skips the masked 100; matrix `*` is a
    product): as an argument, nested in a tuple, captured, in a Variable, or at a compiled program."""
    @jit
    def biggest(x):
        return x.max()

    biggest(np.asarray(value))  # a plain array of that signature compiled first must not admit them later
    with pytest.raises(fusejit.ArgumentError, match=r"biggest\(\): argument 'x' " + what):
        biggest(value)
    with pytest.raises(fusejit.ArgumentError, match=r"argument 'p.1' " + what):
        jit(lambda p: p[0] * p[1])((np.ones_like(np.asarray(value)), value))
    with pytest.raises(fusejit.TracingError, match=what):
        jit(lambda x: x * value)(np.ones(2))
    with pytest.raises(TypeError, match="fusejit.Variable value " + what):
        fusejit.Variable(value)
    v = fusejit.Variable(np.zeros(np.shape(value)))
    with pytest.raises(TypeError, match="fusejit.Variable value " + what):
        v.assign(value)
    exe = biggest.lower(np.asarray(value))
    with pytest.raises(TypeError, match=what):
        exe(value)


def test_every_public_callable_has_a_docstring():
    """help(fusejit.X) is a user's first stop: nothing exported may answer it with nothing."""
    missing = [n for n in fusejit.__all__ if callable(getattr(fusejit, n)) and not inspect.getdoc(getattr(fusejit, n))]
    assert not missing, f"public callables without a docstring: {missing}"
