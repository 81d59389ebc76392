"""The base of every API model: camelCase JSON names, strict types, unknown fields kept and findable.

Models describe structure and types only; semantic validation (names, required combinations) lives in the
apiserver, as in Kubernetes. Unknown fields are kept (`extra="allow"`) so that a client never drops what a
newer server sends; the apiserver finds them with `unknown_fields` and rejects or prunes them.

Types are strict, as Kubernetes' Go decoder is: `"3"` is not an integer, `true` is not a number, `1` is not a
string. `Int32`/`Int64` carry the Go types' bounds, `IntOrString` is exactly a JSON integer or string, and
`Time`/`MicroTime` are RFC 3339 strings (kept as text, as the rest of the code reads them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Self

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError, PydanticKnownError

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "Int32",
    "Int64",
    "IntOrString",
    "KubeModel",
    "MicroTime",
    "Quantity",
    "Time",
    "camel",
    "prune_unknown_fields",
    "unknown_fields",
]

_INITIALISMS = {
    "id": "ID", "ip": "IP", "ips": "IPs", "uid": "UID", "uuid": "UUID", "cidr": "CIDR", "cidrs": "CIDRs",
    "pid": "PID", "ipc": "IPC", "fqdn": "FQDN", "url": "URL", "tls": "TLS",
}


def camel(name: str) -> str:
    """snake_case -> the Kubernetes JSON spelling (`container_id` -> `containerID`)."""
    first, *rest = name.split("_")
    return first + "".join(_INITIALISMS.get(w, w[:1].upper() + w[1:]) for w in rest)


def _quantity(value: Any) -> str:
    # Imported lazily: quantity parsing is only needed when a model is validated.
    from kube import quantity

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    text = str(value)
    quantity.parse(text)  # raises ValueError with a readable message
    return text


Quantity = Annotated[str, BeforeValidator(_quantity)]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


# Strict: `3.0` is not an integer, as Go's decoder says ("cannot unmarshal number 3.0 into ... int32"). YAML
# bodies reach here with whole floats already made ints, as sigs.k8s.io/yaml's conversion to JSON does.
Int32 = Annotated[int, Interval(ge=INT32_MIN, le=INT32_MAX), WithJsonSchema({"type": "integer", "format": "int32"})]
Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX), WithJsonSchema({"type": "integer", "format": "int64"})]


def _int_or_string(value: Any) -> int | str:
    """intstr.IntOrString: a JSON string, or a JSON integer within int32; a boolean is neither."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_or_string_type", "Input should be an integer or a string")
    if value > INT32_MAX:
        raise PydanticKnownError("less_than_equal", {"le": INT32_MAX})
    if value < INT32_MIN:
        raise PydanticKnownError("greater_than_equal", {"ge": INT32_MIN})
    return value


IntOrString = Annotated[int | str, BeforeValidator(_int_or_string)]

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))", re.ASCII)


def _rfc3339(value: str) -> str:
    """metav1.Time and MicroTime: RFC 3339 with a real date and time (Go's time.Parse(time.RFC3339)); the text is
    kept as sent. MicroTime's six fraction digits are not insisted on: clients write it with any precision."""
    match = _RFC3339.fullmatch(value)
    try:
        if not match:
            raise ValueError(value)
        year, month, day, hour, minute, second, tz_hour, tz_minute = (int(g or 0) for g in match.groups())
        datetime(year or 2000, month, day, hour, minute, second)  # year 0 is Go's; 2000 is leap like it
        if tz_hour > 23 or tz_minute > 59:
            raise ValueError(value)
    except ValueError:
        raise PydanticCustomError("date_time_format", "Input should be an RFC 3339 date-time") from None
    return value


Time = Annotated[str, AfterValidator(_rfc3339), WithJsonSchema({"type": "string", "format": "date-time"})]
MicroTime = Time  # metav1.MicroTime: the same check (see _rfc3339)


class KubeModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=camel,
        populate_by_name=True,
        strict=True,
        extra="allow",
        validate_assignment=False,
        protected_namespaces=(),
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: camelCase names, no null or empty defaults (Kubernetes' omitempty)."""
        return self.model_dump(by_alias=True, exclude_defaults=True, mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(data)


def _walk(value: Any, path: str) -> Iterator[tuple[KubeModel, str, str]]:
    if isinstance(value, KubeModel):
        for key in value.__pydantic_extra__ or {}:
            yield value, key, f"{path}.{key}" if path else key
        fields_set = value.__pydantic_fields_set__
        for name, alias in _aliases(type(value)).items():
            if name not in fields_set:
                continue  # a field never set cannot hold unknown ones
            child = getattr(value, name, None)
            if isinstance(child, KubeModel | list):
                yield from _walk(child, f"{path}.{alias}" if path else alias)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, KubeModel | list):
                yield from _walk(item, f"{path}[{i}]")


@functools.cache
def _aliases(cls: type[KubeModel]) -> dict[str, str]:
    return {name: info.alias or name for name, info in cls.model_fields.items()}


def unknown_fields(model: KubeModel) -> list[str]:
    """Field paths (`spec.containers[0].imagee`) of every field the model does not declare."""
    return [path for _, _, path in _walk(model, "")]


def prune_unknown_fields(model: KubeModel) -> None:
    """Drop undeclared fields in place, as Kubernetes' decoder does when validation is not Strict."""
    for owner, key, _ in list(_walk(model, "")):
        extra = owner.model_extra
        if extra is not None:  # _walk only yields keys of models that have extras
            del extra[key]
