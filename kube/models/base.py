"""The base of every API model: camelCase JSON names, unknown fields kept and findable.

Models describe structure and types only; semantic validation (names, required combinations) lives in the
apiserver, as in Kubernetes. Unknown fields are kept (`extra="allow"`) so that a client never drops what a
newer server sends; the apiserver finds them with `unknown_fields` and rejects or prunes them.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["KubeModel", "Quantity", "camel", "prune_unknown_fields", "unknown_fields"]

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


class KubeModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=camel,
        populate_by_name=True,
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


def _walk(value: Any, path: str):
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
        del owner.model_extra[key]
