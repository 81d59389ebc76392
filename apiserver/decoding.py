"""Request bodies to plain JSON values, refusing what Kubernetes' decoder refuses, before any write.

JSON, YAML (`application/yaml`, `application/apply-patch+yaml`) and protobuf bodies become dicts and lists
of str/int/float/bool/None, and every body is then walked once, without recursion, to bound it: nesting
depth, node count (a YAML alias bomb is small on the wire and huge once expanded), string encodability.
Duplicate JSON keys are reported, so `fieldValidation=Strict` can refuse them as Kubernetes does.
Python's own recursion limit is why the depth limit is lower than Go's 10,000: nothing after decoding
(models, patches, encoders) may run out of stack.
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

from apiserver import protobuf
from kube import errors

__all__ = ["MAX_DEPTH", "MAX_NODES", "Decoded", "decode_body"]

MAX_DEPTH = 100
MAX_NODES = 1_000_000
#: Go's JSON encoder writes a float64 from 1e21 up with an exponent, which no integer field then takes.
_GO_EXPONENT_FROM = 1e21

JSON_TYPES = ("application/json", "")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "application/apply-patch+yaml")


class Decoded:
    """A decoded body and the duplicate keys its JSON held (field paths, for strict field validation)."""

    __slots__ = ("duplicates", "value")

    def __init__(self, value: Any, duplicates: list[str]) -> None:
        self.value = value
        self.duplicates = duplicates


class _DepthLimitedLoader(yaml.SafeLoader):
    """SafeLoader that stops composing past MAX_DEPTH instead of recursing until Python's stack runs out."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"exceeded max depth of {MAX_DEPTH}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# Timestamps stay strings, as sigs.k8s.io/yaml leaves them: the API's times are RFC 3339 text.
_DepthLimitedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


class _DuplicateRecorder:
    """object_pairs_hook that builds dicts and remembers keys seen twice (JSON allows them; Strict doesn't)."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                self.duplicates.append(key)
            out[key] = value
        return out


def decode_body(raw: bytes, content_type: str) -> Decoded:
    """Decode `raw` by its media type; BadRequest on anything malformed, too deep or too large."""
    duplicates: list[str] = []
    try:
        if content_type == protobuf.CONTENT_TYPE:
            value = protobuf.decode(raw)
        elif content_type in YAML_TYPES:
            value = yaml.load(raw, Loader=_DepthLimitedLoader)
            return Decoded(_bounded(value, yaml_numbers=True), duplicates)
        else:
            recorder = _DuplicateRecorder()
            value = json.loads(raw, object_pairs_hook=recorder, parse_constant=_refuse_constant)
            duplicates = recorder.duplicates
    except RecursionError:
        raise errors.BadRequest(f"the request body is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.BadRequest(f"the request body could not be decoded: {_one_line(exc)}") from None
    return Decoded(_bounded(value), duplicates)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:500]


def _bounded(value: Any, yaml_numbers: bool = False) -> Any:
    """Walk the value iteratively: check depth and size, refuse NaN/Inf and strings that are not valid Unicode.
    For YAML, do what sigs.k8s.io/yaml's conversion to JSON does: scalar keys become strings and whole floats
    (`3.0`) integers, as Go prints them."""
    root = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    nodes = 0
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise errors.BadRequest(f"the request body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(container, dict):
            if any(not isinstance(k, str) for k in container):
                _stringify_keys(container)
            for key in container:
                _check_text(key)
            children: Any = container.items()
        else:
            children = enumerate(container)
        for slot, child in children:
            nodes += 1
            if nodes > MAX_NODES:
                raise errors.BadRequest(f"the request body has more than {MAX_NODES} values")
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            elif isinstance(child, str):
                _check_text(child)
            elif isinstance(child, float) and not math.isfinite(child):
                raise errors.BadRequest(f"the request body could not be decoded: unsupported value: {child}")
            elif yaml_numbers and isinstance(child, float) and child.is_integer() and abs(child) < _GO_EXPONENT_FROM:
                container[slot] = int(child)
            elif child is not None and not isinstance(child, bool | int | float):
                # YAML timestamps, dates, binary: JSON has no such types.
                raise errors.BadRequest(f"the request body could not be decoded: unsupported value of type "
                                        f"{type(child).__name__}")
    return root[0]


def _stringify_keys(mapping: dict[Any, Any]) -> None:
    items = list(mapping.items())
    mapping.clear()
    for key, child in items:
        if isinstance(key, bool):
            text = "true" if key else "false"
        elif isinstance(key, int | float | str):
            text = str(key)
        else:
            kind = "<nil>" if key is None else type(key).__name__
            raise errors.BadRequest(f"the request body could not be decoded: unsupported map key of type: {kind}")
        if text in mapping:
            raise errors.BadRequest(f'the request body could not be decoded: duplicate map key "{text}"')
        mapping[text] = child


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.BadRequest("the request body could not be decoded: invalid Unicode (a lone surrogate) in "
                                "a string") from None
