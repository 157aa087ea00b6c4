import pytest

from fusejit.bench.peers import numba_peer

from .agreement import ALL, assert_agrees_with_numpy


@pytest.mark.parametrize("name", ALL)
def test_numba_loops_agree_with_numpy(name):
    assert_agrees_with_numpy(numba_peer.variant(), name)
