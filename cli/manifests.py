"""Reading manifests the way `kubectl -f` does: files, folders (*.yaml, *.yml, *.json) and `-` for stdin;
multi-document YAML, JSON (one object or a stream of them), and `List` kinds flattened into their items.

Every object comes back as a `Document` that remembers where it came from, so a bad one can be reported
by file and position while the others still go ahead. Used by `apply` and `delete -f`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

__all__ = ["EXTENSIONS", "Document", "load", "parse_text"]

EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    """One object of a manifest, or the reason it could not be read (`obj` is None then)."""

    source: str  # the file path, or "STDIN"
    index: int  # 0-based position of the document in its source
    obj: dict[str, Any] | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return self.source if self.index == 0 else f"{self.source} (document {self.index + 1})"


def _json_stream(text: str) -> Iterator[Any]:
    """Objects of a JSON text holding one or several concatenated values."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return
        value, pos = decoder.raw_decode(text, pos)
        yield value


def _raw_documents(text: str) -> list[Any]:
    if text.lstrip().startswith(("{", "[")):
        try:
            return list(_json_stream(text))
        except json.JSONDecodeError:
            pass  # YAML flow style can start with "{" too
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _flatten(value: Any) -> Iterator[Any]:
    """`kind: List` (and `XxxList`) holders give their items; nested lists too."""
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict) and str(value.get("kind", "")).endswith("List") and isinstance(
            value.get("items"), list):
        for item in value["items"]:
            yield from _flatten(item)
    else:
        yield value


def _check(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"expected an object, got {type(value).__name__}"
    missing = [f for f in ("apiVersion", "kind") if not value.get(f)]
    if missing:
        return "error validating data: [" + ", ".join(f"{f} not set" for f in missing) + "]"
    return None


def parse_text(text: str, source: str) -> list[Document]:
    """The documents of one manifest text; a syntax error gives a single error Document for the source."""
    try:
        raw = _raw_documents(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        return [Document(source, 0, error=f"error parsing {source}: {exc}")]
    docs = []
    for index, value in enumerate(v for doc in raw for v in _flatten(doc)):
        problem = _check(value)
        docs.append(Document(source, index, None if problem else value, problem))
    return docs


def _folder_files(folder: Path, recursive: bool) -> list[Path]:
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in pattern if p.is_file() and p.suffix.lower() in EXTENSIONS)


def load(paths: list[str], *, recursive: bool = False, stdin: TextIO | None = None) -> list[Document]:
    """Every document under `paths` in order. A missing path is an error Document, not an exception."""
    docs: list[Document] = []
    for name in paths:
        if name == "-":
            docs.extend(parse_text((stdin or sys.stdin).read(), "STDIN"))
            continue
        path = Path(name).expanduser()
        if path.is_dir():
            files = _folder_files(path, recursive)
        elif path.exists():
            files = [path]
        else:
            docs.append(Document(name, 0, error=f'the path "{name}" does not exist'))
            continue
        for file in files:
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                docs.append(Document(str(file), 0, error=f"error reading {file}: {exc}"))
                continue
            docs.extend(parse_text(text, str(file)))
    return docs
