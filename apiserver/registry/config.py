"""ConfigMaps, Secrets and ServiceAccounts: key names, base64 data, `stringData`, immutability."""

from __future__ import annotations

import base64
import re
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import KubeModel
from kube.models import config as models

__all__ = ["ConfigMapStrategy", "SecretStrategy", "ServiceAccountStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_SIZE = 1024 * 1024  # Kubernetes' MaxSecretSize: the values (not keys) of one ConfigMap or Secret, in bytes


_B64_ALPHABET = {c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def go_b64decode(text: str) -> bytes:
    """Go's base64.StdEncoding.DecodeString, which decodes the []byte fields of Kubernetes objects (Secret
    `data`, ConfigMap `binaryData`): `\r` and `\n` anywhere are ignored (base64 wrapped across lines, as
    `base64` and openssl write it), padding is required, and an error names the offending byte's offset in
    the input, as Go's CorruptInputError does ("illegal base64 data at input byte 4")."""
    src = text.encode()
    out = bytearray()
    si, n = 0, len(src)
    while True:
        quantum: list[int] = []
        while len(quantum) < 4:
            if si == n:
                if not quantum:
                    return bytes(out)
                raise ValueError(si - len(quantum))  # a partial quantum: Go reports where it began
            ch = src[si]
            si += 1
            if ch in _B64_ALPHABET:
                quantum.append(_B64_ALPHABET[ch])
                continue
            if ch in b"\r\n":
                continue
            if ch != ord("=") or len(quantum) < 2:
                raise ValueError(si - 1)
            if len(quantum) == 2:  # "==" expected: the second "=" may follow newlines
                while si < n and src[si] in b"\r\n":
                    si += 1
                if si == n:
                    raise ValueError(n)
                if src[si] != ord("="):
                    raise ValueError(si - 1)
                si += 1
            while si < n and src[si] in b"\r\n":
                si += 1
            if si < n:
                raise ValueError(si)  # trailing garbage after the padding
            break
        value = 0
        for digit in quantum + [0] * (4 - len(quantum)):
            value = value << 6 | digit
        out += value.to_bytes(3, "big")[:len(quantum) - 1]
        if len(quantum) < 4:
            return bytes(out)


def canonical_bytes(values: dict[str, Any], kind: str, keys: tuple[str, ...] | None = None) -> None:
    """Decode each value (of `keys` only, when given) as Go does and write it back as Go encodes []byte (one
    line, padded): what Kubernetes stores and returns. Undecodable input is a 400, as Kubernetes' decoder
    answers it."""
    for key, value in values.items():
        if not isinstance(value, str) or (keys is not None and key not in keys):
            continue
        try:
            values[key] = base64.b64encode(go_b64decode(value)).decode()
        except ValueError as exc:
            raise errors.BadRequest(f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data '
                                    f"at input byte {exc.args[0]}") from None


def _decoded_size(value: str) -> int | None:
    try:
        return len(go_b64decode(value))
    except ValueError:
        return None


def _validate_keys(keys: list[str], path: str) -> Causes:
    causes: Causes = []
    for key in keys:
        if not _CONFIG_KEY.match(key) or key in (".", "..") or len(key) > 253:
            causes.append(v.invalid(f"{path}[{key}]", key, "a valid config key must consist of alphanumeric "
                                    "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                    "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
    return causes


def _immutable_data_changed(new: Obj, old: Obj, fields: tuple[str, ...]) -> Causes:
    if not old.get("immutable"):
        return []
    causes: Causes = []
    if not new.get("immutable"):
        causes.append(v.forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if (new.get(field) or {}) != (old.get(field) or {}):
            causes.append(v.forbidden(field, "field is immutable when `immutable` is set"))
    return causes


class ConfigMapStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.ConfigMap

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        canonical_bytes(decoded.get("binaryData") or {}, "ConfigMap")
        return decoded, warnings

    def validate(self, obj: Obj) -> Causes:
        data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
        causes = self.validate_metadata(obj) + _validate_keys(list(data), "data")
        causes += _validate_keys(list(binary), "binaryData")
        for key in set(data) & set(binary):
            causes.append(v.invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        size = sum(len(x.encode()) for x in data.values())
        for key, value in binary.items():
            decoded = _decoded_size(value)
            if decoded is None:
                causes.append(v.invalid(f"binaryData[{key}]", "<value omitted>", "must be valid base64"))
            else:
                size += decoded
        if size > _MAX_SIZE:
            causes.append(v.too_long("", _MAX_SIZE))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        return self.validate(new) + _immutable_data_changed(new, old, ("data", "binaryData"))


class SecretStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.Secret

    def default(self, secret: models.Secret) -> None:
        secret.type = secret.type or "Opaque"
        # stringData is a write-only convenience: folded into data, never stored.
        for key, value in secret.string_data.items():
            secret.data[key] = base64.b64encode(value.encode()).decode()
        secret.string_data = {}

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        canonical_bytes(decoded.get("data") or {}, "Secret")
        return decoded, warnings

    def validate(self, obj: Obj) -> Causes:
        data = obj.get("data") or {}
        causes = self.validate_metadata(obj) + _validate_keys(list(data), "data")
        total = 0
        for key, value in data.items():
            decoded = _decoded_size(value)
            if decoded is None:
                causes.append(v.invalid(f"data[{key}]", "<secret contents redacted>",
                                        "illegal base64 data: the value must be base64-encoded"))
            else:
                total += decoded
        if total > _MAX_SIZE:
            causes.append(v.too_long("data", _MAX_SIZE))
        kind = obj.get("type")
        if kind == "kubernetes.io/service-account-token" and not (obj["metadata"].get("annotations") or {}).get(
                "kubernetes.io/service-account.name"):
            causes.append(v.required("metadata.annotations[kubernetes.io/service-account.name]"))
        if kind == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
            causes.append(v.required("data[.dockerconfigjson]"))
        if kind == "kubernetes.io/tls":
            causes += [v.required(f"data[{k}]") for k in ("tls.crt", "tls.key") if k not in data]
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new) + _immutable_data_changed(new, old, ("data",))
        if new.get("type") != old.get("type"):
            causes.append(v.invalid("type", new.get("type"), "field is immutable"))
        return causes


class ServiceAccountStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.ServiceAccount
