"""A body that does not fit its kind's types, refused in the words of Kubernetes' Go decoders.

Kubernetes decodes a request body into Go structs before anything else runs, so a field of the wrong JSON type
(`replicas: "3"`), a number out of an integer's range, a time that is no RFC 3339 time or a quantity that is no
quantity never reaches validation:

- create and update (handlers/create.go, update.go, transformDecodeError): 400 BadRequest
  `Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32` — encoding/json's first error, in the body's order;
- a JSON or merge patch (handlers/patch.go): 422 Invalid on the field `patch`, the patched object as the value and
  the same encoding/json error;
- a strategic merge patch: 422 Invalid on `patch`, the patch map as Go prints it (`map[spec:map[replicas:3]]`) and
  the error of runtime.DefaultUnstructuredConverter, the first in the Go struct's field order (`unrecognized type:
  int32`, `cannot restore struct from: string`, ...).

A missing required field is no decoding error (Go leaves it zero): validation reports it, 422, as before. The
models' pydantic errors carry what is needed: the location (to the Go struct and field path, the struct named as
the model class) and the input; the field's annotation gives the Go type (`Int32` -> int32, a model -> v1.<Name>,
lists and maps -> []T and map[string]T). `Strategy.decode` raises `DecodeError`; the registry turns it into the
patch form for patches.
"""

from __future__ import annotations

import json
import types
import typing
from decimal import Decimal
from typing import Annotated, Any, Union

from annotated_types import Interval
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kube import errors
from kube.models.base import INT32_MAX, IntOrString, Quantity, Time

__all__ = ["DecodeError", "refusal"]

Obj = dict[str, Any]

#: pydantic error types that are a JSON value of the wrong type (or out of an integer's range) for the field
_TYPE_ERRORS = frozenset({
    "int_type", "int_parsing", "int_from_float", "string_type", "bool_type", "float_type", "list_type", "dict_type",
    "model_type", "model_attributes_type", "int_or_string_type", "less_than_equal", "greater_than_equal",
})
#: resource.ErrFormatWrong, what Quantity.UnmarshalJSON answers for anything that is no quantity
QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
RFC3339 = "2006-01-02T15:04:05Z07:00"
_NONE = type(None)


class DecodeError(errors.BadRequest):
    """400 `<Kind> in version "<version>" cannot be handled as a <Kind>: <Go's error>`; `in_patch` gives the 422 a
    patch gets instead."""

    def __init__(self, kind: str, version: str, model: type[BaseModel], failures: list[ErrorDetails],
                 json_error: str) -> None:
        super().__init__(f'{kind} in version "{version}" cannot be handled as a {kind}: {json_error}')
        self.model, self.failures, self.json_error = model, failures, json_error

    def in_patch(self, patch: Any, patched: Obj, strategic: bool) -> errors.Invalid:
        """The Invalid a patch whose result does not decode gets (`patch: Invalid value: ...`)."""
        if strategic:
            first = min(self.failures, key=lambda e: _declared_position(self.model, e["loc"]))
            value, detail = _go_print(patch), _converter_error(self.model, first)
        else:
            value, detail = json.dumps(patched, separators=(",", ":"), sort_keys=True), self.json_error
        cause: errors.Cause = {"reason": "FieldValueInvalid", "field": "patch",
                               "message": f"Invalid value: {json.dumps(value)}: {detail}"}
        return errors.Invalid.for_object("", "", [cause])


def refusal(kind: str, version: str, model: type[BaseModel], body: Obj, exc: ValidationError) -> DecodeError | None:
    """The DecodeError Go's decoder would have raised for `body`, or None when all errors are validation's."""
    failures = [e for e in exc.errors(include_url=False) if _json_error(model, e) is not None]
    if not failures:
        return None
    first = min(failures, key=lambda e: _document_position(body, e["loc"]))
    return DecodeError(kind, version, model, failures, _json_error(model, first) or "")


# ---------------------------------------------------------------- where an error is, in Go's terms

def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X (other unions are kept)."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not _NONE]
        if len(args) == 1:
            return args[0]
    return annotation


def _field_annotation(model: type[BaseModel], alias: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            annotation = info.annotation
            return name, Annotated[(annotation, *info.metadata)] if info.metadata else annotation
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel) is True


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, list[str], Any]:
    """(the Go struct holding the failing field, the field path from the root without indexes, its annotation)."""
    struct, path, current = model.__name__, [], model
    for part in loc:
        current = _unwrap(current)
        if typing.get_origin(current) is Annotated and not isinstance(part, int):
            base = _unwrap(typing.get_args(current)[0])
            if _is_model(base) or typing.get_origin(base) in (list, dict):
                current = base
        if _is_model(current) and isinstance(part, str):
            found = _field_annotation(current, part)
            if found is None:
                break
            struct = current.__name__
            path.append(part)
            current = found[1]
        elif typing.get_origin(current) is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        # anything else is a union member's tag (`int`, `function-after[...]`): no step in the document
    return struct, path, _unwrap(current)


def _int_bits(annotation: Any) -> int | None:
    if typing.get_origin(annotation) is Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, Interval) and meta.le is not None:
                return 32 if meta.le == INT32_MAX else 64
        return _int_bits(typing.get_args(annotation)[0])
    return 64 if annotation is int else None


def go_type(annotation: Any) -> str:
    """The Go type (as reflect prints it) of a field with this annotation."""
    annotation = _unwrap(annotation)
    if annotation == Time or annotation is str:
        return "string"
    if annotation == Quantity:
        return "resource.Quantity"
    if annotation == IntOrString:
        return "int32"  # IntOrString.UnmarshalJSON decodes whatever is not a string into its int32
    bits = _int_bits(annotation)
    if bits is not None:
        return f"int{bits}"
    if typing.get_origin(annotation) is Annotated:
        return go_type(typing.get_args(annotation)[0])
    if annotation is bool:
        return "bool"
    if annotation is float:
        return "float64"
    if typing.get_origin(annotation) is list:
        return "[]" + go_type(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is dict:
        return "map[string]" + go_type(typing.get_args(annotation)[1])
    if _is_model(annotation):
        return f"v1.{annotation.__name__}"
    return "interface {}"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# ---------------------------------------------------------------- encoding/json

def _json_error(model: type[BaseModel], error: ErrorDetails) -> str | None:
    """encoding/json's (or the field type's UnmarshalJSON's) error for one pydantic error; None if Go decodes it."""
    kind, value = error["type"], error.get("input")
    struct, path, annotation = _walk(model, error["loc"])
    if kind == "date_time_format" and isinstance(value, str):
        return parse_time_error(value)
    if kind == "value_error" and annotation == Quantity:
        return QUANTITY_FORMAT
    if kind not in _TYPE_ERRORS or value is None:
        return None
    target = go_type(annotation)
    if kind in ("less_than_equal", "greater_than_equal") and (
            not target.startswith("int") or not isinstance(value, int) or _fits(value, target)):
        return None  # a bound of the field's own, not of its Go type: validation's
    shown = _json_kind(value)
    if shown == "number" and target.startswith("int") and not (isinstance(value, int) and _fits(value, target)):
        shown = f"number {_number_text(value)}"
    return f"json: cannot unmarshal {shown} into Go struct field {struct}.{'.'.join(path)} of type {target}"


def _fits(value: int, target: str) -> bool:
    bits = int(target[3:] or 64)
    return -(1 << (bits - 1)) <= value < 1 << (bits - 1)


def _number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


def _document_position(body: Any, loc: tuple[int | str, ...]) -> tuple[int, ...]:
    """Where the error is in the body, as a sortable path of member and item indexes (Go stops at the first)."""
    out: list[int] = []
    current = body
    for part in loc:
        if isinstance(current, dict) and part in current:
            out.append(list(current).index(part))
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            out.append(part)
            current = current[part]
    return tuple(out)


def _declared_position(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[int, ...]:
    """Where the error is in the Go struct's field order (how the unstructured converter walks an object)."""
    out: list[int] = []
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if typing.get_origin(current) is Annotated:
            current = _unwrap(typing.get_args(current)[0])
        if _is_model(current) and isinstance(part, str):
            names = [info.alias or name for name, info in current.model_fields.items()]
            found = _field_annotation(current, part)
            if found is None:
                break
            out.append(names.index(part))
            current = found[1]
        elif isinstance(part, int):
            out.append(part)
            current = typing.get_args(current)[0] if typing.get_origin(current) is list else current
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
    return tuple(out)


# ---------------------------------------------------------------- runtime.DefaultUnstructuredConverter

def _unstructured_kind(value: Any) -> str:
    """The reflect kind of a JSON value decoded into interface{} the way Kubernetes' unstructured JSON does."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "slice" if isinstance(value, list) else "map"


def _converter_error(model: type[BaseModel], error: ErrorDetails) -> str:
    """fromUnstructured's error for a value that does not fit its field (converter.go)."""
    value = error.get("input")
    _, _, annotation = _walk(model, error["loc"])
    if error["type"] == "date_time_format" and isinstance(value, str):
        return parse_time_error(value) or ""
    if annotation == Quantity:
        return QUANTITY_FORMAT
    target, source = go_type(annotation), _unstructured_kind(value)
    if annotation == IntOrString:  # its own FromUnstructured: json.Unmarshal of the value into an int32
        return f"json: cannot unmarshal {_json_kind(value)} into Go value of type int32"
    if annotation == Time:
        return f"json: cannot unmarshal {_json_kind(value)} into Go value of type string"
    if target.startswith("[]"):
        return f"cannot restore slice from {source}"
    if target.startswith("map["):
        return f"cannot restore map from {source}"
    if target.startswith("v1."):
        return f"cannot restore struct from: {source}"
    if source in ("int64", "float64") and target in ("int32", "int64", "float64"):
        return f"cannot convert {source} to {target}"  # a fraction for an integer
    if source == "int64" and target == "string":
        return "cannot convert int64 to string"  # Go converts integers to strings (as runes): refused by name
    return f"unrecognized type: {target}"


def _go_float(value: float) -> str:
    """%v of a float64 (strconv's shortest 'g', with exponents below -4 and from 6 on: `1e+06`)."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    power = len(text) + exponent - 1
    if -4 <= power < 6:
        return repr(value).removesuffix(".0")
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"


def _go_print(value: Any) -> str:
    """fmt's %+v of a decoded JSON value: maps sorted by key, slices space-separated, nil as <nil>."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_print(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_print(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


# ---------------------------------------------------------------- time.Parse

def _quote(text: str) -> str:
    """time's quote(): printable ASCII as is (with \\" and \\\\), every other byte as \\xNN."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch < "\x80":
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
    return "".join(out) + '"'


def _getnum(value: str, fixed: bool) -> tuple[int, str] | None:
    if not value[:1].isdigit() or not value[:1].isascii():
        return None
    if not value[1:2].isdigit() or not value[1:2].isascii():
        return None if fixed else (int(value[0]), value[1:])
    return int(value[:2]), value[2:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_time_error(value: str) -> str | None:
    """time.Parse(time.RFC3339, value)'s error, as metav1.Time.UnmarshalJSON returns it; None if it parses."""

    def failed(layout_elem: str, value_elem: str) -> str:
        return (f"parsing time {_quote(value)} as {_quote(RFC3339)}: cannot parse {_quote(value_elem)} as "
                f"{_quote(layout_elem)}")

    def out_of_range(what: str) -> str:
        return f"parsing time {_quote(value)}: {what} out of range"

    rest = value
    fields: dict[str, int] = {}
    chunks = [("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"), ("", "Z07:00")]
    limits = {"01": ("month", 1, 12), "02": ("day", 1, 31), "15": ("hour", 0, 23), "04": ("minute", 0, 59),
              "05": ("second", 0, 59)}
    for prefix, std in chunks:
        if not rest.startswith(prefix):
            return failed(prefix, rest)
        rest = rest[len(prefix):]
        hold = rest
        if std == "2006":
            if len(rest) < 4 or not rest[:4].isascii() or not rest[:4].lstrip("+-").isdigit():
                return failed(std, hold)
            fields["year"], rest = int(rest[:4]), rest[4:]
        elif std == "Z07:00":
            if rest.startswith("Z"):
                rest = rest[1:]
            else:
                if len(rest) < 6 or rest[3] != ":":
                    return failed(std, hold)
                hours, minutes = _getnum(rest[1:3], True), _getnum(rest[4:6], True)
                if hours is not None and hours[0] > 24:
                    return out_of_range("time zone offset hour")
                if minutes is not None and minutes[0] > 60:
                    return out_of_range("time zone offset minute")
                if hours is None or minutes is None or rest[0] not in "+-":
                    return failed(std, hold)
                rest = rest[6:]
        else:
            got = _getnum(rest, std != "15")
            if got is None:
                return failed(std, hold)
            what, low, high = limits[std]
            number, rest = got
            if not low <= number <= high and not (std == "02" and number == 0):
                return out_of_range(what)
            fields[what] = number
            if std == "05" and len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit():
                end = 1
                while end < len(rest) and rest[end].isdigit() and rest[end].isascii():
                    end += 1
                rest = rest[end:]
    if rest:
        return f"parsing time {_quote(value)}: extra text: {_quote(rest)}"
    if not 1 <= fields["day"] <= _days_in(fields["month"], fields["year"]):
        return out_of_range("day")
    return None
