"""Request body decoding: every malformed, deep or huge body is a 400 before anything runs."""

from __future__ import annotations

import pytest

from apiserver.decoding import MAX_DEPTH, decode_body
from kube import errors

YAML = "application/yaml"
JSON = "application/json"


def _bomb(levels: int = 8) -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines).encode()


@pytest.mark.parametrize(("raw", "content_type"), [
    (b"[" * 10_000 + b"]" * 10_000, JSON),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/merge-patch+json"),
    (b"[" * 10_000 + b"]" * 10_000, YAML),
    (b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5), JSON),  # parses in Python, still too deep for us
    (_bomb(), YAML),
    (b'{"a": NaN}', JSON),
    (b'{"a": Infinity}', JSON),
    (b"a: .nan", YAML),
    (b'"\\ud800"', JSON),
    (b"? [1, 2]\n: x", YAML),
    (b"a: !!binary aGVsbG8=", YAML),
    (b"{not json", JSON),
    (b"1" * 5000, JSON),  # beyond Python's int string limit
], ids=["json-deep", "merge-deep", "yaml-deep", "json-just-too-deep", "yaml-alias-bomb", "nan", "infinity",
        "yaml-nan", "lone-surrogate", "yaml-list-key", "yaml-binary", "malformed", "huge-int"])
def test_refused_bodies(raw: bytes, content_type: str) -> None:
    with pytest.raises(errors.BadRequest):
        decode_body(raw, content_type)


def test_duplicates_are_reported_not_lost() -> None:
    decoded = decode_body(b'{"spec": {"replicas": 1, "replicas": 2}}', JSON)
    assert decoded.value == {"spec": {"replicas": 2}}
    assert decoded.duplicates == ["replicas"]


def test_yaml_keys_become_strings_and_times_stay_text() -> None:
    decoded = decode_body(b"metadata:\n  labels:\n    1: one\n  creationTimestamp: 2024-01-02T03:04:05Z\n", YAML)
    assert decoded.value == {"metadata": {"labels": {"1": "one"}, "creationTimestamp": "2024-01-02T03:04:05Z"}}


def test_depth_at_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 1
    assert decode_body(b"[" * depth + b"]" * depth, JSON).value is not None


def test_yaml_whole_floats_become_integers_as_sigs_yaml_prints_them() -> None:
    decoded = decode_body(b"spec:\n  replicas: 3.0\n  ratio: 1.5\n  huge: 1.0e+21\n", YAML)
    spec = decoded.value["spec"]
    assert spec["replicas"] == 3 and isinstance(spec["replicas"], int)
    assert spec["ratio"] == 1.5 and isinstance(spec["huge"], float)


def test_json_whole_floats_stay_floats_for_the_models_to_refuse() -> None:
    assert isinstance(decode_body(b'{"replicas": 3.0}', "application/json").value["replicas"], float)


@pytest.mark.parametrize("key", ["null", "~", "[a, b]", "{a: b}"])
def test_yaml_keys_json_cannot_hold_are_refused(key: str) -> None:
    with pytest.raises(errors.BadRequest, match="could not be decoded"):
        decode_body(f"data:\n  {key}: x\n".encode(), YAML)
