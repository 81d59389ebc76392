"""Manifest loading: files, folders, stdin, multi-document YAML, JSON streams, List kinds, and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cli import manifests

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}


def names(docs: list[manifests.Document]) -> list[str]:
    return [d.obj["metadata"]["name"] for d in docs if d.obj]


def test_multi_document_yaml_skips_empty_documents(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\n"
                    "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n")
    docs = manifests.load([str(path)])
    assert names(docs) == ["a", "b"]
    assert [d.index for d in docs] == [0, 1]
    assert docs[1].where == f"{path} (document 2)"


def test_json_single_object_and_concatenated_stream() -> None:
    assert names(manifests.parse_text(json.dumps(POD), "x.json")) == ["a"]
    second = {**POD, "metadata": {"name": "b"}}
    assert names(manifests.parse_text(json.dumps(POD) + "\n" + json.dumps(second), "x.json")) == ["a", "b"]


@pytest.mark.parametrize("kind", ["List", "PodList"])
def test_list_kinds_are_flattened(kind: str) -> None:
    text = json.dumps({"apiVersion": "v1", "kind": kind, "items": [POD, {**POD, "metadata": {"name": "b"}}]})
    assert names(manifests.parse_text(text, "STDIN")) == ["a", "b"]


def test_folder_reads_yaml_yml_json_sorted_and_ignores_others(tmp_path: Path) -> None:
    for name, obj_name in (("b.yml", "b"), ("a.json", "a"), ("c.yaml", "c")):
        (tmp_path / name).write_text(json.dumps({**POD, "metadata": {"name": obj_name}}))
    (tmp_path / "notes.txt").write_text("not a manifest")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "d.yaml").write_text(json.dumps({**POD, "metadata": {"name": "d"}}))
    assert names(manifests.load([str(tmp_path)])) == ["a", "b", "c"]
    assert names(manifests.load([str(tmp_path)], recursive=True)) == ["a", "b", "c", "d"]


def test_stdin_and_repeated_paths_keep_order(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: file}\n")
    stdin = io.StringIO("apiVersion: v1\nkind: Pod\nmetadata: {name: piped}\n")
    docs = manifests.load([str(path), "-"], stdin=stdin)
    assert names(docs) == ["file", "piped"]
    assert docs[1].source == "STDIN"


def test_bad_documents_become_errors_without_hiding_the_good_ones(tmp_path: Path) -> None:
    docs = manifests.parse_text("apiVersion: v1\nmetadata: {name: x}\n---\n- 1\n---\n" + json.dumps(POD), "f.yaml")
    assert [d.error for d in docs][:2] == ["error validating data: [kind not set]", "expected an object, got int"]
    assert names(docs) == ["a"]
    broken = manifests.parse_text("kind: [unclosed", "bad.yaml")
    assert len(broken) == 1 and broken[0].obj is None and "bad.yaml" in (broken[0].error or "")
    missing = manifests.load([str(tmp_path / "nope.yaml")])
    assert missing[0].error == f'the path "{tmp_path / "nope.yaml"}" does not exist'
