import pytest

from fusejit.bench.peers import jax_peer

from .agreement import ALL, assert_agrees_with_numpy

pytest.importorskip("jax")


@pytest.mark.parametrize("name", ALL)
def test_jax_runs_the_workload_bodies_and_agrees_with_numpy(name):
    assert_agrees_with_numpy(jax_peer.variant(), name)
