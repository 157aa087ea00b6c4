"""``fusejit.nn``: TensorFlow-named neural-network ops for NumPy code, inside and outside ``jit``.

Convolutions are primitives with kernels of their own (:mod:`fusejit.codegen.cpu.conv`);
everything else is a decomposition into NumPy calls, so fusion sees through it.
"""

from ._prim import NNError
from .conv import conv2d, conv2d_backprop_filter, conv2d_backprop_input, conv2d_transpose

__all__ = ["NNError", "conv2d", "conv2d_backprop_filter", "conv2d_backprop_input", "conv2d_transpose"]
