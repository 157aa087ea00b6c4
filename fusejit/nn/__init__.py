"""``fusejit.nn``: TensorFlow-named neural-network ops for NumPy code, inside and outside ``jit``.

Convolutions are primitives with kernels of their own (:mod:`fusejit.codegen.cpu.conv`);
everything else is a decomposition into NumPy calls, so fusion sees through it and it runs
eagerly in NumPy outside ``jit``.
"""

from ._prim import NNError
from .activations import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    swish,
    tanh,
)
from .conv import (
    conv1d,
    conv2d,
    conv2d_backprop_filter,
    conv2d_backprop_input,
    conv2d_transpose,
    depthwise_conv2d,
    separable_conv2d,
)
from .dropout import dropout
from .losses import (
    huber_loss,
    l2_loss,
    mean_squared_error,
    sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits,
    weighted_cross_entropy_with_logits,
)
from .misc import bias_add, embedding_lookup, in_top_k, one_hot, top_k
from .normalization import (
    batch_normalization,
    fused_batch_norm,
    l2_normalize,
    layer_norm,
    local_response_normalization,
    moments,
)
from .pooling import (
    avg_pool,
    avg_pool2d,
    global_avg_pool,
    global_max_pool,
    max_pool,
    max_pool2d,
    max_pool_with_argmax,
)

__all__ = [
    "NNError", "avg_pool", "avg_pool2d", "batch_normalization", "bias_add", "conv1d", "conv2d",
    "conv2d_backprop_filter", "conv2d_backprop_input", "conv2d_transpose", "depthwise_conv2d", "dropout", "elu",
    "embedding_lookup", "fused_batch_norm", "gelu", "global_avg_pool", "global_max_pool", "huber_loss",
    "in_top_k", "l2_loss", "l2_normalize", "layer_norm", "leaky_relu", "local_response_normalization",
    "log_softmax", "max_pool", "max_pool2d", "max_pool_with_argmax", "mean_squared_error", "moments", "one_hot",
    "relu", "relu6", "selu", "separable_conv2d", "sigmoid", "sigmoid_cross_entropy_with_logits", "silu",
    "softmax", "softmax_cross_entropy_with_logits", "softplus", "softsign", "sparse_softmax_cross_entropy_with_logits",
    "swish", "tanh", "top_k", "weighted_cross_entropy_with_logits",
]
