"""Graph passes: the Grappler-style optimizer pipeline (and, in fusion.py, the fusion planner)."""

from .dump import to_dot
from .pipeline import ALL_PASS_NAMES, PASS_NAMES, OptimizeResult, PassError, PassStats, format_stats, optimize
from .rewrite import RewriteError

__all__ = [
    "ALL_PASS_NAMES", "PASS_NAMES", "OptimizeResult", "PassError", "PassStats", "RewriteError",
    "format_stats", "optimize", "to_dot",
]
