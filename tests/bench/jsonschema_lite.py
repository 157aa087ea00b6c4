"""A small JSON Schema validator for the keywords bench/schema.json uses (jsonschema is not a
dependency). An unknown keyword is an error, so a schema edit can never be silently unchecked."""

from __future__ import annotations

from typing import Any

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
ANNOTATIONS = {"$schema", "$defs", "title", "description"}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "$") -> list[str]:
    """Every violation as ``path: problem``; empty when ``value`` conforms."""
    root = root or schema
    errors: list[str] = []
    for key, rule in schema.items():
        if key in ANNOTATIONS or key in ("properties", "required", "additionalProperties", "items", "minimum"):
            continue
        if key == "$ref":
            target = root
            for part in rule.removeprefix("#/").split("/"):
                target = target[part]
            errors += validate(value, target, root, path)
        elif key == "type":
            names = [rule] if isinstance(rule, str) else rule
            if not any(_is_type(value, n) for n in names):
                return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
        elif key == "enum":
            if value not in rule:
                errors.append(f"{path}: {value!r} is not one of {rule}")
        elif key == "anyOf":
            if all(validate(value, s, root, path) for s in rule):
                errors.append(f"{path}: matches none of the anyOf alternatives")
        else:
            raise ValueError(f"jsonschema_lite does not implement {key!r} (at {path})")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {name!r}" for name in schema.get("required", []) if name not in value]
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                errors += validate(item, props[name], root, f"{path}.{name}")
            elif extra is False:
                errors.append(f"{path}: unexpected property {name!r}")
            elif isinstance(extra, dict):
                errors += validate(item, extra, root, f"{path}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
    return errors
