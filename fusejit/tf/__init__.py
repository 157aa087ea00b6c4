"""Frozen TensorFlow graphs without TensorFlow (the ``tf`` extra: protobuf only).

``load_graphdef(path, inputs, outputs)`` → a frozen fusejit ``Graph``; ``jit(path, ...)`` → a
compiled callable; ``transform(...)`` applies Graph Transform Tool transforms to a GraphDef; the
CLI's ``fusejit show|transform|aot`` accept ``.pb`` / ``.pbtxt`` files.
"""

from .importer import (
           GraphDefFileError,
           GraphDefFunction,
           TFImportError,
           jit,
           load_graphdef,
           read_graphdef,
           write_graphdef,
)

__all__ = ["GraphDefFileError", "GraphDefFunction", "TFImportError", "jit", "load_graphdef", "read_graphdef",
           "write_graphdef"]
