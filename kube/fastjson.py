"""JSON through orjson where it gives the same values, through the standard library where it would not.

The apiserver decodes every value it reads from etcd and encodes every object it stores or answers; with the
standard library that was most of a list's time (a list of 1000 pods: about 80 ms to decode, 25 ms to encode).
orjson does both several times faster, but differs from `json` at a few edges, each sent to `json` here so
that what is stored and answered holds the same values as before:

- integers beyond 64 bits: orjson reads them as floats (silently) and refuses to write them; a document with a
  run of 20 or more digits is read by `json`, and a value orjson cannot write is written by `json`;
- numbers too large for a double, NaN and Infinity in input, lone surrogates, keys that are not strings:
  orjson refuses them, `json` takes them as it always did (a float NaN in a value is written `null` by orjson,
  where `json` wrote the invalid `NaN`; request bodies never hold one, the decoder refuses them).

The output is compact (no spaces) and UTF-8: non-ASCII characters are written as themselves, as Go's encoder
writes them, where `json.dumps` wrote `\\u` escapes; both read back as the same text.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["copy", "dumps", "dumps_line", "loads"]

#: every digit made a 9, so that a run of digits that may be an integer orjson cannot hold exactly (u64 has at most
#: 20 digits) is found by one bytes.find (a regular expression took four times orjson's own time)
_DIGITS = bytes.maketrans(b"0123456789", b"9999999999")
_LONG_DIGITS = b"9" * 20


def loads(data: bytes | str) -> Any:
    """`json.loads(data)`, faster; ValueError (json.JSONDecodeError) on malformed input, as `json` raises it."""
    raw = data.encode() if isinstance(data, str) else data
    if _LONG_DIGITS not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # what orjson refuses (NaN, 1e400, a lone surrogate) is decided by json, as before
    return json.loads(data)


def dumps(value: Any) -> bytes:
    """`json.dumps(value, separators=(",", ":")).encode()`, faster, non-ASCII characters as UTF-8."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: big integers, non-string keys, surrogates
        return json.dumps(value, separators=(",", ":")).encode()


def dumps_line(value: Any) -> bytes:
    """`dumps(value)` and a newline, as Go's json.Encoder ends each document (responses, watch events)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return dumps(value) + b"\n"


def copy(value: Any) -> Any:
    """A deep copy of a JSON value, as `json.loads(json.dumps(value))` made it (tuples become lists)."""
    return loads(dumps(value))
