"""ONNX models into fusejit (the ``onnx`` extra): ``load(path)`` → a frozen ``Graph``; ``jit(path)`` → a
compiled callable; :mod:`fusejit.onnx.backend` runs ONNX's own backend test suite against fusejit."""

from .importer import ModelFunction, OnnxFileError, OnnxImportError, jit, load, read_model

__all__ = ["ModelFunction", "OnnxFileError", "OnnxImportError", "jit", "load", "read_model"]
