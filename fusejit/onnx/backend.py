"""fusejit as an ONNX backend (``onnx.backend.base.Backend``), so ONNX's backend test suite runs on it.

``prepare(model)`` checks and imports the model and returns a rep whose ``run(inputs)`` compiles
the model once per input signature (the given arrays' shapes, so symbolic dims need no binding;
inputs whose values decide shapes — shapes, axes, pads, repeats — by value) and runs the
native code. Only the CPU device is offered here (``supports_device``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx.backend.base import Backend, BackendRep

from .importer import ModelFunction, StaticArray, read_model


class FusejitRep(BackendRep):
    def __init__(self, fn: ModelFunction, jitted: Any) -> None:
        self.fn, self.jitted = fn, jitted

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        arrays = list(inputs.values()) if isinstance(inputs, dict) else \
            [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
        arrays = [np.asarray(a) for a in arrays]
        static = [i.name in self.fn.shape_inputs for i in self.fn.inputs]
        args = [StaticArray(a) if s else a for a, s in zip(arrays, static)]
        out = self.jitted(*args)
        return tuple(np.asarray(o) for o in (out if isinstance(out, tuple) else (out,)))


class FusejitBackend(Backend):
    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> FusejitRep:
        from ..driver import JitFunction

        fn = ModelFunction(read_model(model))
        return FusejitRep(fn, JitFunction(fn.python_function(), constants=True))

    @classmethod
    def run_model(cls, model: Any, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device).run(inputs)

    @classmethod
    def run_node(cls, node: Any, inputs: Any, device: str = "CPU", outputs_info: Any = None,
                 **kwargs: Any) -> tuple[np.ndarray, ...]:
        import onnx
        from onnx import helper

        arrays = [np.asarray(a) for a in inputs]
        graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                        for n, a in zip(node.input, arrays)]
        graph_outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.output]
        model = helper.make_model(helper.make_graph([node], "node", graph_inputs, graph_outputs))
        return cls.prepare(model, device).run(arrays)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper().startswith("CPU")


prepare = FusejitBackend.prepare
run_model = FusejitBackend.run_model
run_node = FusejitBackend.run_node
supports_device = FusejitBackend.supports_device

__all__ = ["FusejitBackend", "FusejitRep", "prepare", "run_model", "run_node", "supports_device"]
