"""Field validation helpers producing Kubernetes-style causes (`field`, `reason`, `message`).

Messages follow Kubernetes' wording so that kubectl users read familiar errors, e.g.
`metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist of ...`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kube.errors import Cause

__all__ = [
    "Causes",
    "causes_from_pydantic",
    "dns1123_label",
    "dns1123_subdomain",
    "duplicate",
    "field_path",
    "forbidden",
    "invalid",
    "json_type",
    "label_key",
    "label_value",
    "not_supported",
    "path_segment_name",
    "required",
    "too_long",
]

Causes = list[Cause]

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def invalid(field: str, value: Any, detail: str) -> Cause:
    return {"reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {_show(value)}: {detail}"}


def required(field: str, detail: str = "") -> Cause:
    return {"reason": "FieldValueRequired", "field": field,
            "message": f"Required value{': ' + detail if detail else ''}"}


def duplicate(field: str, value: Any) -> Cause:
    return {"reason": "FieldValueDuplicate", "field": field, "message": f"Duplicate value: {_show(value)}"}


def not_supported(field: str, value: Any, allowed: list[str]) -> Cause:
    options = ", ".join(f'"{a}"' for a in allowed)
    return {"reason": "FieldValueNotSupported", "field": field,
            "message": f"Unsupported value: {_show(value)}: supported values: {options}"}


def too_long(field: str, limit: int) -> Cause:
    return {"reason": "FieldValueTooLong", "field": field, "message": f"Too long: must have at most {limit} bytes"}


def forbidden(field: str, detail: str) -> Cause:
    return {"reason": "FieldValueForbidden", "field": field, "message": f"Forbidden: {detail}"}


def dns1123_label(value: str, field: str) -> Causes:
    if len(value) > 63:
        return [invalid(field, value, "must be no more than 63 characters")]
    if not _LABEL.match(value):
        return [invalid(field, value, "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                        "characters or '-', and must start and end with an alphanumeric character (e.g. "
                        "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]
    return []


def dns1123_subdomain(value: str, field: str) -> Causes:
    if len(value) > 253:
        return [invalid(field, value, "must be no more than 253 characters")]
    if not _SUBDOMAIN.match(value):
        return [invalid(field, value, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                        "'example.com', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    return []


def path_segment_name(value: str, field: str) -> Causes:
    """apimachinery's path.IsValidPathSegmentName: what RBAC objects may be named (`system:node` included)."""
    if value in (".", ".."):
        return [invalid(field, value, f"may not be '{value}'")]
    return [invalid(field, value, f"may not contain '{c}'") for c in ("/", "%") if c in value]


def label_key(key: str, field: str) -> Causes:
    prefix, _, name = key.rpartition("/")
    causes: Causes = []
    if prefix:
        causes += dns1123_subdomain(prefix, field)
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        causes.append(invalid(field, key, "name part must consist of alphanumeric characters, '-', '_' or '.', "
                              "and must start and end with an alphanumeric character and be at most 63 characters"))
    return causes


def label_value(value: str, field: str) -> Causes:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return [invalid(field, value, "a valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                        "and be at most 63 characters")]
    return []


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location -> Kubernetes field path (`spec.containers[0].image`)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union")) or part in ("int", "str", "bool", "float"):
            continue  # pydantic's internal validator names inside unions
        else:
            out += f".{part}" if out else str(part)
    return out


#: pydantic's type errors -> the OpenAPI type the field wants, as Kubernetes' schema validation names it.
_EXPECTED = {
    "int_type": "integer", "string_type": "string", "bool_type": "boolean", "float_type": "number",
    "list_type": "array", "dict_type": "object", "model_type": "object", "model_attributes_type": "object",
    "int_or_string_type": "integer or string",
}


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, in OpenAPI's words (what Kubernetes shows as the invalid value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _from_error(path: str, err: ErrorDetails) -> Cause:
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return required(path)
    if kind == "date_time_format":  # a string that is no RFC 3339 time (a non-string is a string_type error)
        return invalid(path, value, f"{path} in body must be of type date-time: {_show(value)}")
    if kind in _EXPECTED:
        shown = json_type(value)
        return invalid(path, shown, f'{path} in body must be of type {_EXPECTED[kind]}: "{shown}"')
    ctx = err.get("ctx") or {}
    if kind == "less_than_equal":
        return invalid(path, value, f"{path} in body should be less than or equal to {ctx['le']}")
    if kind == "greater_than_equal":
        return invalid(path, value, f"{path} in body should be greater than or equal to {ctx['ge']}")
    shown = value if isinstance(value, str | int | float | bool) else json_type(value)
    message = err["msg"].removeprefix("Value error, ")
    return invalid(path, shown, message)


def causes_from_pydantic(exc: ValidationError) -> Causes:
    """pydantic's errors as Kubernetes' causes, in the wording of its OpenAPI schema validation, e.g.
    `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`."""
    causes: Causes = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        path = field_path(err["loc"])
        if path in seen:
            continue  # a union reports one error per member; one per field is enough
        seen.add(path)
        causes.append(_from_error(path, err))
    return causes
