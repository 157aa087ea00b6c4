"""Request bodies to input arrays and output arrays to response bodies (TF Serving's REST formats).

JSON, as TensorFlow Serving defines it:

- row format ``{"instances": [...]}``: one entry per example, stacked along a new batch axis; for
  a model with one input an entry is that input's value, otherwise an object ``{input: value}``.
  The answer is ``{"predictions": [...]}`` (one entry per example; objects ``{output: value}``
  when the model has several outputs).
- columnar format ``{"inputs": value}`` or ``{"inputs": {input: value}}``: whole tensors, batch
  axis included; the answer is ``{"outputs": value}`` or ``{"outputs": {output: value}}``.

Values must fit the input's dtype without changing: integers and floats for a float input,
integers for an integer input (a float is an error, not truncated), booleans for a bool input,
and nothing that overflows (``1e39`` for a float32 input is refused rather than become ``inf``).
Strict JSON is read: ``NaN``/``Infinity`` tokens are errors (send such values in a binary body).
Answers whose floats include NaN or infinities are written with TensorFlow Serving's ``NaN``,
``Infinity`` and ``-Infinity`` tokens (which Python's ``json`` reads) instead of ``null``.

Binary: an ``application/x-npy`` body is the one input of the model as a ``.npy`` file (batch axis
included); ``application/x-npz`` holds one array per input name. Dtypes must match exactly
(byte order aside). Binary requests get binary answers (``.npy`` for one output, ``.npz`` keyed by
output name otherwise) unless the ``Accept`` header asks for ``application/json``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import numpy as np
import orjson

from ..aot.signature import Signature, Tensor

NPY, NPZ, JSON = "application/x-npy", "application/x-npz", "application/json"


class RequestError(ValueError):
    """A request the model cannot take (HTTP 400); the message says what was expected."""


def _describe(t: Tensor) -> str:
    return f"{t.numpy_dtype}[{', '.join(str(d) for d in t.shape)}]"


def _convert(value: object, t: Tensor, what: str) -> np.ndarray:
    """A JSON value as an array of ``t``'s dtype, refusing anything that would change a value."""
    want = np.dtype(t.numpy_dtype)
    try:
        a = np.array(value)
    except (ValueError, OverflowError) as exc:
        raise RequestError(f"{what}: not a rectangular array of numbers ({exc})") from None
    kind = a.dtype.kind
    if kind in "OUS":
        raise RequestError(f"{what}: expected numbers of dtype {want} with shape {_shape(t)}, got "
                           + ("strings" if kind in "US" else "ragged or mixed values (lists of unequal length, "
                              "or numbers mixed with lists/objects/null)"))
    if want.kind == "b":
        if kind != "b":
            raise RequestError(f"{what}: expected booleans (true/false) for a bool input, got {a.dtype.name} values")
        return a
    if kind == "b":
        raise RequestError(f"{what}: expected numbers of dtype {want}, got booleans")
    if want.kind in "iu":
        if kind == "f":
            raise RequestError(f"{what}: expected integers for a {want} input, got floating-point values")
        info = np.iinfo(want)
        if a.size and (a.min() < info.min or a.max() > info.max):
            raise RequestError(f"{what}: values outside the range of {want} ([{info.min}, {info.max}])")
        return a.astype(want)
    with np.errstate(over="ignore"):
        out = a.astype(want)
    if kind == "f" and want.itemsize < a.dtype.itemsize and not np.isfinite(out).all():
        raise RequestError(f"{what}: values too large for {want} (largest {np.finfo(want).max:g})")
    return out


def _shape(t: Tensor) -> str:
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def check_shapes(arrays: Sequence[np.ndarray], sig: Signature) -> dict[str, int]:
    """Every array has its input's rank and static dims, and each symbol one size; returns the sizes."""
    sizes: dict[str, int] = {}
    for a, t in zip(arrays, sig.inputs):
        ok = a.ndim == len(t.shape)
        for d, n in zip(t.shape, a.shape):
            if not ok:
                break
            ok = (sizes.setdefault(d, n) == n) if isinstance(d, str) else d == n
        if not ok:
            bound = f" with {', '.join(f'{k}={v}' for k, v in sizes.items())}" if sizes else ""
            raise RequestError(f"input {t.name!r}: expected shape {_shape(t)}{bound} ({t.numpy_dtype}), "
                               f"got shape {list(a.shape)}")
    return sizes


def _named(obj: object, sig: Signature, what: str) -> list[object]:
    names = [t.name for t in sig.inputs]
    if not isinstance(obj, dict):
        raise RequestError(f"{what}: the model takes {len(names)} inputs ({', '.join(names)}): give an object "
                           "keyed by input name")
    missing = [n for n in names if n not in obj]
    extra = [k for k in obj if k not in names]
    if missing or extra:
        raise RequestError(f"{what}: " + "; ".join(
            ([f"missing input(s) {', '.join(missing)}"] if missing else [])
            + ([f"unknown input(s) {', '.join(map(str, extra))}"] if extra else []))
                           + f" (the model's inputs: {', '.join(f'{t.name}: {_describe(t)}' for t in sig.inputs)})")
    return [obj[n] for n in names]


def decode_json(body: bytes, sig: Signature) -> tuple[list[np.ndarray], str]:
    """Input arrays from a JSON body, and ``"row"`` or ``"columnar"``."""
    try:
        req = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        hint = (" (NaN and Infinity are not JSON: send such values in an application/x-npy body)"
                if b"NaN" in body or b"Infinity" in body else "")
        raise RequestError(f"malformed JSON: {exc}{hint}") from None
    if not isinstance(req, dict):
        raise RequestError("the body must be a JSON object with \"instances\" or \"inputs\"")
    extra = [k for k in req if k not in ("instances", "inputs", "signature_name")]
    if extra:
        raise RequestError(f"unknown field(s) {', '.join(map(repr, extra))}; expected \"instances\" (row format) "
                           "or \"inputs\" (columnar format), and optionally \"signature_name\"")
    sig_name = req.get("signature_name", "serving_default")
    if sig_name not in ("", "serving_default"):
        raise RequestError(f"signature_name {sig_name!r} not found: the model has one signature, 'serving_default'")
    if ("instances" in req) == ("inputs" in req):
        raise RequestError("give exactly one of \"instances\" (row format) or \"inputs\" (columnar format)")
    single = len(sig.inputs) == 1
    if "instances" in req:
        inst = req["instances"]
        if not isinstance(inst, list) or not inst:
            raise RequestError("\"instances\" must be a non-empty list (one entry per example)")
        if single and not all(isinstance(r, dict) for r in inst):
            values: list[object] = [inst]
        else:  # objects keyed by input name (TF allows them for one input too)
            rows = [_named(r, sig, f"instance {i}") for i, r in enumerate(inst)]
            values = [list(col) for col in zip(*rows)]
        fmt = "row"
    else:
        obj = req["inputs"]
        values = [obj] if single and not isinstance(obj, dict) else _named(obj, sig, "\"inputs\"")
        fmt = "columnar"
    arrays = [_convert(v, t, f"input {t.name!r}") for v, t in zip(values, sig.inputs)]
    return arrays, fmt


def _binary_array(a: np.ndarray, t: Tensor) -> np.ndarray:
    want = np.dtype(t.numpy_dtype)
    if a.dtype.newbyteorder("=") != want:
        raise RequestError(f"input {t.name!r}: expected dtype {want}, got {a.dtype} (binary bodies are not converted)")
    return np.ascontiguousarray(a, dtype=want)


def decode_binary(body: bytes, content_type: str, sig: Signature) -> list[np.ndarray]:
    try:
        loaded = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - np.load raises many kinds for bad bytes
        raise RequestError(f"cannot read the {content_type} body: {exc}") from None
    if isinstance(loaded, np.ndarray):
        if content_type != NPY:
            raise RequestError(f"the body is a .npy file but Content-Type is {content_type}")
        if len(sig.inputs) != 1:
            raise RequestError(f"the model takes {len(sig.inputs)} inputs: send an {NPZ} body keyed by input name")
        return [_binary_array(loaded, sig.inputs[0])]
    with loaded:
        arrays = _named({k: loaded[k] for k in loaded.files}, sig, f"the {NPZ} body")
    return [_binary_array(a, t) for a, t in zip(arrays, sig.inputs)]  # type: ignore[arg-type]


def _finite(outputs: Sequence[np.ndarray]) -> bool:
    return all(o.dtype.kind != "f" or np.isfinite(o).all() for o in outputs)


def encode_json(outputs: Sequence[np.ndarray], names: Sequence[str], fmt: str) -> bytes:
    single = len(outputs) == 1
    if fmt == "row":
        rows = len(outputs[0]) if outputs and outputs[0].ndim else 0
        body: object = {"predictions": outputs[0] if single else
                        [{n: o[i] for n, o in zip(names, outputs)} for i in range(rows)]}
    else:
        body = {"outputs": outputs[0] if single else dict(zip(names, outputs))}
    if _finite(outputs):
        try:
            return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:  # a dtype orjson does not write (float16): the plain path
            pass
    return json.dumps(body, default=_plain, allow_nan=True, separators=(",", ":")).encode()


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_binary(outputs: Sequence[np.ndarray], names: Sequence[str]) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if len(outputs) == 1:
        np.save(buf, outputs[0], allow_pickle=False)
        return buf.getvalue(), NPY
    np.savez(buf, **dict(zip(names, outputs)))
    return buf.getvalue(), NPZ
