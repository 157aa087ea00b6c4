"""TensorFlow's GraphDef messages, declared here with TensorFlow's field numbers (a public wire format).

TensorFlow is not a dependency: the message types are built at import time from a descriptor
written in Python (no ``protoc``, no generated module), and the ``protobuf`` runtime parses and
writes them, binary and text. Only the messages a frozen inference graph uses are declared;
fields this file does not know (``GraphDef.library``, debug info) are kept by protobuf as unknown
fields, so a graph read and written back loses nothing TensorFlow needs.

Field numbers follow ``tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,
types,versions}.proto``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow"

DATA_TYPES = {  # DataType enum
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5, "DT_INT8": 6,
    "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9, "DT_BOOL": 10, "DT_QINT8": 11, "DT_QUINT8": 12,
    "DT_QINT32": 13, "DT_BFLOAT16": 14, "DT_QINT16": 15, "DT_QUINT16": 16, "DT_UINT16": 17, "DT_COMPLEX128": 18,
    "DT_HALF": 19, "DT_RESOURCE": 20, "DT_VARIANT": 21, "DT_UINT32": 22, "DT_UINT64": 23,
}

# message name -> [(field name, number, type, label, type name or None)]
_REP, _OPT = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL
_MESSAGES: dict[str, list[tuple[str, int, int, int, str | None]]] = {
    "TensorShapeProto.Dim": [("size", 1, _F.TYPE_INT64, _OPT, None), ("name", 2, _F.TYPE_STRING, _OPT, None)],
    "TensorShapeProto": [("dim", 2, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorShapeProto.Dim"),
                         ("unknown_rank", 3, _F.TYPE_BOOL, _OPT, None)],
    "TensorProto": [
        ("dtype", 1, _F.TYPE_ENUM, _OPT, ".tensorflow.DataType"),
        ("tensor_shape", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
        ("version_number", 3, _F.TYPE_INT32, _OPT, None),
        ("tensor_content", 4, _F.TYPE_BYTES, _OPT, None),
        ("float_val", 5, _F.TYPE_FLOAT, _REP, None), ("double_val", 6, _F.TYPE_DOUBLE, _REP, None),
        ("int_val", 7, _F.TYPE_INT32, _REP, None), ("string_val", 8, _F.TYPE_BYTES, _REP, None),
        ("scomplex_val", 9, _F.TYPE_FLOAT, _REP, None), ("int64_val", 10, _F.TYPE_INT64, _REP, None),
        ("bool_val", 11, _F.TYPE_BOOL, _REP, None), ("dcomplex_val", 12, _F.TYPE_DOUBLE, _REP, None),
        ("half_val", 13, _F.TYPE_INT32, _REP, None), ("uint32_val", 16, _F.TYPE_UINT32, _REP, None),
        ("uint64_val", 17, _F.TYPE_UINT64, _REP, None),
    ],
    "AttrValue.ListValue": [
        ("s", 2, _F.TYPE_BYTES, _REP, None), ("i", 3, _F.TYPE_INT64, _REP, None),
        ("f", 4, _F.TYPE_FLOAT, _REP, None), ("b", 5, _F.TYPE_BOOL, _REP, None),
        ("type", 6, _F.TYPE_ENUM, _REP, ".tensorflow.DataType"),
        ("shape", 7, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorShapeProto"),
        ("tensor", 8, _F.TYPE_MESSAGE, _REP, ".tensorflow.TensorProto"),
        ("func", 9, _F.TYPE_MESSAGE, _REP, ".tensorflow.NameAttrList"),
    ],
    "AttrValue": [
        ("list", 1, _F.TYPE_MESSAGE, _OPT, ".tensorflow.AttrValue.ListValue"),
        ("s", 2, _F.TYPE_BYTES, _OPT, None), ("i", 3, _F.TYPE_INT64, _OPT, None),
        ("f", 4, _F.TYPE_FLOAT, _OPT, None), ("b", 5, _F.TYPE_BOOL, _OPT, None),
        ("type", 6, _F.TYPE_ENUM, _OPT, ".tensorflow.DataType"),
        ("shape", 7, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
        ("tensor", 8, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorProto"),
        ("placeholder", 9, _F.TYPE_STRING, _OPT, None),
        ("func", 10, _F.TYPE_MESSAGE, _OPT, ".tensorflow.NameAttrList"),
    ],
    "NameAttrList": [("name", 1, _F.TYPE_STRING, _OPT, None)],  # + attr map, added below
    "NodeDef": [("name", 1, _F.TYPE_STRING, _OPT, None), ("op", 2, _F.TYPE_STRING, _OPT, None),
                ("input", 3, _F.TYPE_STRING, _REP, None), ("device", 4, _F.TYPE_STRING, _OPT, None)],
    "VersionDef": [("producer", 1, _F.TYPE_INT32, _OPT, None), ("min_consumer", 2, _F.TYPE_INT32, _OPT, None),
                   ("bad_consumers", 3, _F.TYPE_INT32, _REP, None)],
    # tfcompile's tf2xla.Config (tensorflow/compiler/tf2xla/tf2xla.proto)
    "TensorId": [("node_name", 1, _F.TYPE_STRING, _OPT, None), ("output_index", 2, _F.TYPE_INT64, _OPT, None)],
    "Feed": [("id", 1, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorId"),
             ("shape", 2, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
             ("name", 3, _F.TYPE_STRING, _OPT, None), ("type", 4, _F.TYPE_ENUM, _OPT, ".tensorflow.DataType")],
    "Fetch": [("id", 1, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorId"), ("name", 2, _F.TYPE_STRING, _OPT, None),
              ("shape", 3, _F.TYPE_MESSAGE, _OPT, ".tensorflow.TensorShapeProto"),
              ("type", 4, _F.TYPE_ENUM, _OPT, ".tensorflow.DataType")],
    "Config": [("feed", 1, _F.TYPE_MESSAGE, _REP, ".tensorflow.Feed"),
               ("fetch", 2, _F.TYPE_MESSAGE, _REP, ".tensorflow.Fetch")],
    "GraphDef": [("node", 1, _F.TYPE_MESSAGE, _REP, ".tensorflow.NodeDef"),
                 ("version", 3, _F.TYPE_INT32, _OPT, None),
                 ("versions", 4, _F.TYPE_MESSAGE, _OPT, ".tensorflow.VersionDef")],
}
_ONEOF = {"AttrValue": ["list", "s", "i", "f", "b", "type", "shape", "tensor", "placeholder", "func"]}


def _file() -> descriptor_pb2.FileDescriptorProto:
    fd = descriptor_pb2.FileDescriptorProto(name="fusejit/tf/graph.proto", package=_PACKAGE, syntax="proto3")
    enum = fd.enum_type.add(name="DataType")
    for name, number in DATA_TYPES.items():
        enum.value.add(name=name, number=number)
    for name, number in list(DATA_TYPES.items())[1:]:
        enum.value.add(name=f"{name}_REF", number=number + 100)
    messages: dict[str, descriptor_pb2.DescriptorProto] = {}
    for full, fields in sorted(_MESSAGES.items(), key=lambda kv: kv[0].count(".")):  # outer types first
        outer, _, inner = full.partition(".")
        if inner:
            msg = messages[outer].nested_type.add(name=inner)
        else:
            msg = messages[outer] = fd.message_type.add(name=outer)
        for fname, number, ftype, label, tname in fields:
            f = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if tname:
                f.type_name = tname
            if full in _ONEOF and fname in _ONEOF[full]:
                f.oneof_index = 0
        if full in _ONEOF:
            msg.oneof_decl.add(name="value")
    for owner, number in (("NodeDef", 5), ("NameAttrList", 2)):  # map<string, AttrValue> attr
        entry = messages[owner].nested_type.add(name="AttrEntry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_OPT)
        entry.field.add(name="value", number=2, type=_F.TYPE_MESSAGE, label=_OPT, type_name=".tensorflow.AttrValue")
        messages[owner].field.add(name="attr", number=number, type=_F.TYPE_MESSAGE, label=_REP,
                                  type_name=f".tensorflow.{owner}.AttrEntry")
    return fd


def _build() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file())
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
            for name in ("GraphDef", "NodeDef", "AttrValue", "TensorProto", "TensorShapeProto", "NameAttrList",
                         "Config")}


_CLASSES = _build()
GraphDef = _CLASSES["GraphDef"]
NodeDef = _CLASSES["NodeDef"]
AttrValue = _CLASSES["AttrValue"]
TensorProto = _CLASSES["TensorProto"]
TensorShapeProto = _CLASSES["TensorShapeProto"]
Tf2XlaConfig = _CLASSES["Config"]

__all__ = ["AttrValue", "DATA_TYPES", "GraphDef", "NodeDef", "TensorProto", "TensorShapeProto", "Tf2XlaConfig"]
