import pytest

from fusejit.bench.peers import numexpr_peer
from fusejit.bench.variants import Unsupported
from fusejit.bench.workloads import WORKLOADS

from .agreement import ALL, assert_agrees_with_numpy

pytest.importorskip("numexpr")


@pytest.mark.parametrize("name", ALL)
def test_numexpr_versions_agree_with_numpy(name):
    assert_agrees_with_numpy(numexpr_peer.variant(), name, 64 if name != "add_one" else None)


def test_what_numexpr_cannot_say_is_unsupported_with_a_reason():
    with pytest.raises(Unsupported, match="no erf"):
        numexpr_peer.build(WORKLOADS["black_scholes"])
