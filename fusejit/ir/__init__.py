"""The IR: dtypes, shapes, nodes and graphs, the op registry, text form, verifier, evaluator."""

from .dtypes import UnsupportedDTypeError, as_dtype, parse_dtype, short_name
from .evaluator import ShapeBindingError, bind_symbols, evaluate
from .graph import Graph, Node, constant, make, topo_order
from .parser import IRParseError, parse
from .printer import print_graph
from .registry import IRTypeError, OpDef, all_ops, get_op, ops_of_class
from .serialize import GraphFileError, load_graph, save_graph
from .shapes import Dim, Shape, Size, TensorType, broadcast_shapes
from .verifier import VerificationError, verify

__all__ = [
    "Dim", "Graph", "GraphFileError", "IRParseError", "IRTypeError", "Node", "OpDef", "Shape", "ShapeBindingError",
    "Size", "TensorType", "UnsupportedDTypeError", "VerificationError", "all_ops", "as_dtype",
    "bind_symbols", "broadcast_shapes", "constant", "evaluate", "get_op", "load_graph", "make", "ops_of_class",
    "parse", "parse_dtype", "print_graph", "save_graph", "short_name", "topo_order", "verify",
]
