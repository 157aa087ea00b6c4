import numpy as np
import pytest

from fusejit.bench.check import WrongAnswer, check_result, relative_error


def test_relative_error_is_scaled_by_the_largest_magnitude():
    want = np.array([100.0, 1.0, -3.0])
    assert relative_error(want + np.array([0.0, 0.01, 0.0]), want) == pytest.approx(1e-4)
    assert relative_error(np.array([np.inf, 1.0]), np.array([np.inf, 2.0])) == pytest.approx(0.5)


def test_close_answers_pass_and_report_their_error():
    want = np.linspace(-1, 1, 11, dtype=np.float32)
    assert check_result([want * (1 + 1e-7)], [want], 1e-5, strict_dtype=True) < 1e-6


@pytest.mark.parametrize("got, message", [
    (np.linspace(-1, 1, 11, dtype=np.float32) + 0.01, "relative error"),
    (np.linspace(-1, 1, 12, dtype=np.float32), "shape"),
    (np.linspace(-1, 1, 11, dtype=np.float64), "dtype float64, NumPy's is float32"),
    (np.where(np.arange(11) == 3, np.nan, np.linspace(-1, 1, 11)).astype(np.float32), "NaN"),
    (np.where(np.arange(11) == 3, np.inf, np.linspace(-1, 1, 11)).astype(np.float32), "infinities"),
])
def test_wrong_answers_are_named(got, message):
    want = np.linspace(-1, 1, 11, dtype=np.float32)
    with pytest.raises(WrongAnswer, match=message):
        check_result([got], [want], 1e-5, strict_dtype=True)


def test_peers_may_differ_in_dtype_but_not_in_value_or_count():
    want = np.linspace(-1, 1, 11, dtype=np.float32)
    check_result([want.astype(np.float64)], [want], 1e-5, strict_dtype=False)
    with pytest.raises(WrongAnswer, match="2 output"):
        check_result([want, want], [want], 1e-5, strict_dtype=False)


def test_infinity_of_the_wrong_sign_is_wrong():
    want = np.array([np.inf, 1.0])
    with pytest.raises(WrongAnswer, match="infinities"):
        check_result([np.array([-np.inf, 1.0])], [want], 1e-5, strict_dtype=False)
