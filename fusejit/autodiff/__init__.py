"""Automatic differentiation as graph transforms: derivatives are ordinary IR, appended to the
graph being traced, so they go through the same passes and fusion planner as the forward pass.

Design: one reverse-mode (VJP) rule per primitive, declared in the op registry next to its type
rule and reference (``OpDef.vjp``; ``nondiff=True`` for comparisons, integer ops, argmax...), as
in TensorFlow and PyTensor, rather than JAX's JVP + transpose pair. Why:

- one rule per op, not two: engineers adding primitives (RNG, convolutions, pooling) write one
  function that reads like the textbook gradient, and the registry test tells them if it is missing;
- reverse mode is what training needs, and a VJP rule emits the efficient backward directly
  (``dot``'s two matmuls, a max reduction's tie mask) without relying on transposition;
- forward mode still comes for free: the backward is linear in the cotangent, so transposing it
  (its own VJP) gives J·v (``forward.py``); DCE removes the first backward's unused parts.

Modules: ``reverse.py`` (the walk, the where-masks), ``forward.py`` (jvp by transposition),
``marks.py`` (stop_gradient and custom_vjp outputs), ``api.py`` (grad, value_and_grad, vjp, jvp,
jacobian, hessian), ``custom.py`` (custom_vjp / custom_jvp), ``tape.py`` (GradientTape).
"""

from .api import grad, hessian, jacobian, jvp, stop_gradient, value_and_grad, vjp
from .custom import custom_jvp, custom_vjp
from .forward import jvp_nodes
from .reverse import vjp_nodes
from .tape import GradientTape

__all__ = ["GradientTape", "custom_jvp", "custom_vjp", "grad", "hessian", "jacobian", "jvp", "jvp_nodes",
           "stop_gradient", "value_and_grad", "vjp", "vjp_nodes"]
