"""A module of its own for test_live_state: a base class whose method reads this module's globals."""

from __future__ import annotations

import numpy as np

OFFSET = np.zeros(2)


class Base:
    def shift(self, x):
        return x + OFFSET

SCALE = 2.0
TABLE = np.arange(3.0)


def lookup(x):
    return x + TABLE
