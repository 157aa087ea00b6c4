"""Scale out with Dask: jitted functions over chunked ``dask.array`` arguments (the ``dask`` extra).

``f(S, K, ...)`` with Dask arrays among the arguments (``f`` a ``fusejit.jit`` function) builds
a Dask graph instead of computing: the function is traced once on the client with symbolic chunk
sizes, so output dtypes, shapes and chunks are known without computing anything, and then

- *blockwise* when every output element depends only on the inputs at the same position along
  every chunked axis (elementwise programs over any chunking; row-wise programs such as softmax
  or layer norm when the reduced axes are whole): one task per block calls the compiled function;
- as a *tree* when the outputs are functions of full reductions (``sum``, ``mean``, ``max``,
  ``min``, ``prod`` of all elements) of such programs: a compiled per-chunk partial, then one
  compiled combine;
- otherwise a :class:`DaskPlanError` names the chunked axes that must be whole.

Workers receive the jitted function pickled (:mod:`fusejit.pickling`) and compile it once per
process; compiled calls release the GIL, so the threaded scheduler uses every core.
"""

from __future__ import annotations

from typing import Any

from ..driver import JitFunction
from .plan import DaskPlanError, is_dask_array, make_plan


def _as_jit(fn: Any) -> JitFunction:
    return fn if isinstance(fn, JitFunction) else JitFunction(fn)


def call(fn: JitFunction, args: tuple, kwargs: dict) -> Any:
    """What calling a jitted function on Dask arrays does: blockwise, or a tree reduction."""
    from .build import blockwise, tree

    plan = make_plan(fn, args, kwargs)
    return tree(plan) if plan.tree_nodes else blockwise(plan)


def map_blocks(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Apply ``fn`` (jitted if it is not) block by block; refuses a program whose result at a
    position depends on other positions along a chunked axis (rechunk that axis whole)."""
    from .build import blockwise

    plan = make_plan(_as_jit(fn), args, kwargs)
    if plan.tree_nodes:
        raise DaskPlanError(f"map_blocks({plan.fn.__name__}): the program reduces over chunked axes; "
                            "use fusejit.dask.reduction (or call the function directly) for a tree reduction")
    return blockwise(plan)


def reduction(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` as a tree: per-chunk partials of its full reductions, then one compiled combine.
    ``fn`` must compute its outputs from full reductions (``sum``/``mean``/``max``/``min``/``prod``
    over all elements) of values that are blockwise along the chunked axes."""
    from .build import tree

    plan = make_plan(_as_jit(fn), args, kwargs)
    if not plan.tree_nodes:
        raise DaskPlanError(f"reduction({plan.fn.__name__}): the program has no full reduction over the chunked "
                            "axes; use fusejit.dask.map_blocks")
    return tree(plan)


__all__ = ["DaskPlanError", "call", "is_dask_array", "map_blocks", "reduction"]
