"""Encryption at rest: the value transformers etcd values of chosen resources pass through, as kube-apiserver's
`--encryption-provider-config` sets them up (k8s.io/apiserver storage/value and options/encryptionconfig).

An EncryptionConfiguration (apiserver.config.k8s.io/v1) lists, per group of resources, providers in order:

    aescbc     AES-CBC, PKCS#7 padding, a random 16-byte IV before the ciphertext      k8s:enc:aescbc:v1:NAME:
    aesgcm     AES-GCM, a random 12-byte nonce before it, the etcd key authenticated    k8s:enc:aesgcm:v1:NAME:
    secretbox  XSalsa20-Poly1305 (NaCl), a random 24-byte nonce before it               k8s:enc:secretbox:v1:NAME:
    identity   the plain JSON, no prefix

each with named base64 keys. The first provider's first key encrypts every write; a read picks the provider
and key by the value's prefix, so the bytes in etcd are laid out exactly as Kubernetes lays them out. A value
read with anything but the first provider and key is *stale*: storage rewrites it on the next update even if the
object did not change, which is what makes rotation by `kubectl replace` work.

apiserver.storage calls the transformer of a key's resource (`/registry/{resource}/...`); apiserver.app builds
the map from the served resource types with `EncryptionConfig.transformers`. This module knows no kinds and no
storage: bytes in, bytes out, TransformError on anything it cannot read.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM

__all__ = [
    "AESCBC",
    "AESGCM",
    "ConfigError",
    "EncryptionConfig",
    "Identity",
    "PrefixTransformers",
    "Secretbox",
    "TransformError",
    "Transformer",
    "load",
    "parse",
]

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
ENCRYPTED_PREFIX = b"k8s:enc:"  # reserved for encrypted values: the identity provider refuses to read them
PREFIXES = {"aescbc": b"k8s:enc:aescbc:v1:", "aesgcm": b"k8s:enc:aesgcm:v1:", "secretbox": b"k8s:enc:secretbox:v1:"}
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZE = 32
_BLOCK = 16
_GCM_NONCE = 12
_SECRETBOX_NONCE = 24
_SECRETBOX_OVERHEAD = 16


class TransformError(ValueError):
    """A stored value that cannot be read (wrong key, unknown prefix, tampered bytes)."""


class ConfigError(ValueError):
    """An EncryptionConfiguration that cannot be used; the apiserver refuses to start with it."""


class Transformer(Protocol):
    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        """The plain value and whether it is stale (should be rewritten); TransformError if unreadable."""

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        """The value as stored. `context` is the etcd key: authenticated by the providers that can."""


class AESCBC:
    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.AES(key)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < _BLOCK:
            raise TransformError("the stored data was shorter than the required size")
        iv, body = data[:_BLOCK], data[_BLOCK:]
        if len(body) % _BLOCK:
            raise TransformError("the stored data is not a multiple of the block size")
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        plain = decryptor.update(body) + decryptor.finalize()
        pad = plain[-1] if plain else 0
        if pad == 0 or pad > len(plain):
            raise TransformError("invalid PKCS7 data (empty or not padded)")
        if plain[-pad:] != bytes([pad]) * pad:
            raise TransformError("invalid padding on input")
        return plain[:-pad], False

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        pad = _BLOCK - len(data) % _BLOCK
        iv = os.urandom(_BLOCK)
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()


class AESGCM:
    def __init__(self, key: bytes) -> None:
        self._aead = _AESGCM(key)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < _GCM_NONCE:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(data[:_GCM_NONCE], data[_GCM_NONCE:], context), False
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_GCM_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)


class Secretbox:
    """NaCl's secretbox: `cryptography` has no XSalsa20-Poly1305, PyNaCl (libsodium) has."""

    def __init__(self, key: bytes) -> None:
        import nacl.secret  # only a config with secretbox needs it

        self._box = nacl.secret.SecretBox(key)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        import nacl.exceptions

        if len(data) < _SECRETBOX_NONCE + _SECRETBOX_OVERHEAD:
            raise TransformError("the stored data was shorter than the required size")
        try:
            return self._box.decrypt(data[_SECRETBOX_NONCE:], data[:_SECRETBOX_NONCE]), False
        except nacl.exceptions.CryptoError:
            raise TransformError("output array was not large enough for encryption") from None  # Kubernetes' words

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(_SECRETBOX_NONCE)
        return bytes(self._box.encrypt(data, nonce))  # nonce || tag || ciphertext, as Go's secretbox.Seal


class Identity:
    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if data.startswith(ENCRYPTED_PREFIX):
            raise TransformError("identity transformer tried to read encrypted data")
        return data, False

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        return data


@dataclass(frozen=True)
class Prefixed:
    prefix: bytes
    transformer: Transformer


class PrefixTransformers:
    """Writes with the first; reads with the first whose prefix the value starts with (the prefix stripped),
    going on to the next match when one fails, as Kubernetes' prefixTransformers does (the same provider may be
    listed twice with different keys while rotating). Anything not read with the first is stale."""

    def __init__(self, items: list[Prefixed], no_match: str) -> None:
        if not items:
            raise ConfigError("no transformers")
        self.items = items
        self.no_match = no_match

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        failures: list[str] = []
        for i, item in enumerate(self.items):
            if not data.startswith(item.prefix):
                continue
            try:
                plain, stale = item.transformer.from_storage(data[len(item.prefix):], context)
            except TransformError as exc:
                if item.prefix:  # identity's refusal of encrypted data is no failure: a later provider reads it
                    failures.append(str(exc))
                continue
            return plain, stale or i != 0
        if failures:
            raise TransformError(failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]")
        raise TransformError(self.no_match)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        first = self.items[0]
        return first.prefix + first.transformer.to_storage(data, context)


# ---------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class EncryptionConfig:
    """Resource patterns (`secrets`, `deployments.apps`, `*.apps`, `*.` for the core group, `*.*`) and the
    providers of each, in the order of the file."""

    providers: dict[tuple[str, str], list[Prefixed]]  # (group, resource or "*") -> providers

    def transformer_for(self, group: str, resource: str) -> Transformer | None:
        """The transformer of a resource: its own entries, else its group's wildcard, else `*.*`."""
        for pattern in ((group, resource), (group, "*"), ("*", "*")):
            items = self.providers.get(pattern)
            if items:
                return PrefixTransformers(items, "no matching prefix found")
        return None

    def transformers(self, resources: Iterable[tuple[str, str]]) -> dict[str, Transformer]:
        """{resource: transformer} for the (group, resource) pairs storage keys are made of; resources the
        configuration does not name are left out (stored as they are)."""
        out: dict[str, Transformer] = {}
        for group, resource in resources:
            found = self.transformer_for(group, resource)
            if found is not None:
                out.setdefault(resource, found)
        return out

    def names(self) -> list[str]:
        return [f"{r}.{g}" if g else r for g, r in self.providers]


def load(path: str | Path) -> EncryptionConfig:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"error opening encryption provider configuration file {str(path)!r}: {exc}") from None
    if not text.strip():
        raise ConfigError(f"encryption provider configuration file {str(path)!r} is empty")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"error while parsing file: {exc}") from None
    return parse(doc)


def _resource_pattern(text: str, where: str) -> tuple[str, str]:
    """`secrets` -> ("", "secrets"); `deployments.apps` -> ("apps", "deployments"); `*.apps`; `*.`; `*.*`."""
    if text != text.lower():
        raise ConfigError(f"{where}: Invalid value: {text!r}: resource name must be lowercase")
    resource, dot, group = text.partition(".")
    if resource == "*" and not dot:
        raise ConfigError(f"{where}: Invalid value: '*': use '*.' to encrypt all the resources from core API group "
                          "or *.* to encrypt all resources")
    if not resource or ("*" in group and group != "*") or ("*" in resource and resource != "*"):
        raise ConfigError(f"{where}: Invalid value: {text!r}: not a resource or a wildcard")
    if group == "*" and resource != "*":
        raise ConfigError(f"{where}: Invalid value: {text!r}: use '*.*' to encrypt all resources")
    return group, resource


def _keys(provider: str, body: Any, where: str, sizes: tuple[int, ...]) -> list[tuple[str, bytes]]:
    keys = body.get("keys") if isinstance(body, dict) else None
    if not keys or not isinstance(keys, list):
        raise ConfigError(f"{where}.keys: Required value: at least one key is required for {provider}")
    out: list[tuple[str, bytes]] = []
    for j, key in enumerate(keys):
        at = f"{where}.keys[{j}]"
        if not isinstance(key, dict):
            raise ConfigError(f"{at}: Invalid value: a key is an object with name and secret")
        name, secret = key.get("name"), key.get("secret")
        if not name or not isinstance(name, str):
            raise ConfigError(f"{at}.name: Required value: key name is required")
        if ":" in name:
            raise ConfigError(f"{at}.name: Invalid value: {name!r}: a key name may not contain ':'")
        if any(name == seen for seen, _ in out):
            raise ConfigError(f"{at}.name: Duplicate value: {name!r}")
        if not secret or not isinstance(secret, str):
            raise ConfigError(f"{at}.secret: Required value: key material is required")
        try:
            material = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{at}.secret: Invalid value: REDACTED: secrets must be base64 encoded") from None
        if len(material) not in sizes:
            expected = f"one of {list(sizes)}" if len(sizes) > 1 else str(sizes[0])
            raise ConfigError(f"{at}.secret: Invalid value: REDACTED: secret is not of the expected length, "
                              f"got {len(material)}, expected {expected}")
        out.append((name, material))
    return out


def _provider(entry: Any, where: str) -> Prefixed:
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ConfigError(f"{where}: Invalid value: exactly one provider must be specified in each element "
                          "(aescbc, aesgcm, secretbox, identity)")
    (kind, body), = entry.items()
    if kind == "identity":
        return Prefixed(b"", Identity())
    makers: dict[str, tuple[Any, tuple[int, ...]]] = {
        "aescbc": (AESCBC, AES_KEY_SIZES), "aesgcm": (AESGCM, AES_KEY_SIZES),
        "secretbox": (Secretbox, (SECRETBOX_KEY_SIZE,)),
    }
    if kind not in makers:
        raise ConfigError(f"{where}: Unsupported value: {kind!r}: supported values: aescbc, aesgcm, secretbox, "
                          "identity (kms is not served by kubelite)")
    make, sizes = makers[kind]
    keys = [Prefixed(name.encode() + b":", make(material))
            for name, material in _keys(kind, body, f"{where}.{kind}", sizes)]
    label = "Secretbox" if kind == "secretbox" else "AES"
    return Prefixed(PREFIXES[kind], PrefixTransformers(
        keys, f"no matching key was found for the provided {label} transformer"))


def parse(doc: Any) -> EncryptionConfig:
    if not isinstance(doc, dict):
        raise ConfigError("an EncryptionConfiguration is a YAML or JSON object")
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        raise ConfigError(f"got unexpected config type: {doc.get('apiVersion')}, Kind={doc.get('kind')} "
                          f"(want {API_VERSION}, Kind={KIND})")
    entries = doc.get("resources")
    if not entries or not isinstance(entries, list):
        raise ConfigError("resources: Required value: resources is a required field")
    providers: dict[tuple[str, str], list[Prefixed]] = {}
    for i, entry in enumerate(entries):
        where = f"resources[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: Invalid value: an entry has resources and providers")
        names, listed = entry.get("resources"), entry.get("providers")
        if not names or not isinstance(names, list):
            raise ConfigError(f"{where}.resources: Required value: resources is a required field")
        if not listed or not isinstance(listed, list):
            raise ConfigError(f"{where}.providers: Required value: providers is a required field")
        made = [_provider(p, f"{where}.providers[{j}]") for j, p in enumerate(listed)]
        for j, name in enumerate(names):
            if not isinstance(name, str):
                raise ConfigError(f"{where}.resources[{j}]: Invalid value: a resource name is a string")
            pattern = _resource_pattern(name, f"{where}.resources[{j}]")
            providers.setdefault(pattern, []).extend(made)
    return EncryptionConfig(providers)
