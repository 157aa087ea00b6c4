"""Peer libraries measured beside fusejit; each is optional and a missing one is a blank cell."""

from __future__ import annotations

import importlib.util

from ..variants import Variant


def missing_module(*names: str) -> str | None:
    """Why a peer cannot run: the first of ``names`` that is not installed (found without importing it)."""
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken install, or a module blocked in sys.modules
            found = False
        if not found:
            return f"{name} is not installed (pip install 'fusejit[bench]')"
    return None


def peer_variants() -> list[Variant]:
    from . import jax_peer, numba_peer, numexpr_peer, torch_peer

    return [numexpr_peer.variant(), numba_peer.variant(), jax_peer.variant(), torch_peer.eager_variant(),
            torch_peer.variant()]
