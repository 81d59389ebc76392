"""Pod volumes on disk: the atomic writer's ..data swap (and what a reader sees across an update), the
payloads of configMap, secret and downwardAPI volumes (items, modes, optional sources), subPath checks,
hostPath type checks, and the manager's setup and cleanup of a pod's directory."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from kube.resources import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, SECRETS, ResourceType
from kubelet.atomicwriter import FileProjection, write_payload
from kubelet.volumes import (
    VolumeError,
    VolumeManager,
    configmap_payload,
    downward_payload,
    resolve_subpath,
    secret_payload,
)

POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "prod", "uid": "u1", "labels": {"b": "2", "a": "1"},
                 "annotations": {"note": "hi"}},
    "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}}]},
}


def test_atomic_writer_swaps_the_data_link_and_keeps_top_level_links(tmp_path: Path) -> None:
    assert write_payload(tmp_path, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    first = os.readlink(tmp_path / "..data")
    assert (tmp_path / "a").read_bytes() == b"1" and os.readlink(tmp_path / "a") == "..data/a"
    assert (tmp_path / "dir" / "b").read_bytes() == b"2"
    assert (tmp_path / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert not write_payload(tmp_path, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    assert os.readlink(tmp_path / "..data") == first  # nothing changed: no new directory

    assert write_payload(tmp_path, {"a": FileProjection(b"one"), "c": FileProjection(b"3")})
    assert os.readlink(tmp_path / "..data") != first
    assert (tmp_path / "a").read_bytes() == b"one" and (tmp_path / "c").read_bytes() == b"3"
    assert not (tmp_path / "dir").exists()  # a name gone from the payload loses its link
    assert not (tmp_path / first).exists()  # the old payload is removed
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == ["a", "c"]


def test_atomic_writer_refuses_escaping_paths(tmp_path: Path) -> None:
    for bad in ("../x", "/abs", "..data", "a/../../b"):
        with pytest.raises(ValueError):
            write_payload(tmp_path, {bad: FileProjection(b"")})


def test_config_map_payload_items_modes_and_optional() -> None:
    cm = {"data": {"color": "blue", "size": "L"}, "binaryData": {"raw": base64.b64encode(b"\x00\x01").decode()}}
    everything = configmap_payload(cm, {"name": "cfg", "defaultMode": 0o440})
    assert {k: (v.data, v.mode) for k, v in everything.items()} == {
        "color": (b"blue", 0o440), "size": (b"L", 0o440), "raw": (b"\x00\x01", 0o440)}
    picked = configmap_payload(cm, {"name": "cfg", "items": [{"key": "size", "path": "x/size", "mode": 0o600}]})
    assert {k: (v.data, v.mode) for k, v in picked.items()} == {"x/size": (b"L", 0o600)}
    with pytest.raises(VolumeError, match="non-existent config key: nope"):
        configmap_payload(cm, {"name": "cfg", "items": [{"key": "nope", "path": "n"}]})
    assert configmap_payload(cm, {"name": "cfg", "optional": True, "items": [{"key": "nope", "path": "n"}]}) == {}
    with pytest.raises(VolumeError, match='configmap "cfg" not found'):
        configmap_payload(None, {"name": "cfg"})
    assert configmap_payload(None, {"name": "cfg", "optional": True}) == {}


def test_secret_payload_decodes_data() -> None:
    secret = {"data": {"user": base64.b64encode(b"admin").decode()}}
    assert secret_payload(secret, {"secretName": "s"})["user"].data == b"admin"
    with pytest.raises(VolumeError, match='secret "s" not found'):
        secret_payload(None, {"secretName": "s"})


def test_downward_payload_fields_and_resources() -> None:
    payload = downward_payload(POD, {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "note", "fieldRef": {"fieldPath": "metadata.annotations['note']"}},
        {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
        {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "requests.cpu", "divisor": "1m"}},
    ]})
    assert {k: v.data for k, v in payload.items()} == {
        "labels": b'a="1"\nb="2"', "note": b"hi", "ns": b"prod", "mem": b"64", "cpu": b"250"}


def test_subpath_is_created_inside_and_cannot_escape(tmp_path: Path) -> None:
    assert resolve_subpath(str(tmp_path), "a/b") == str(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    for bad in ("../x", "/etc", "a/../../x"):
        with pytest.raises(VolumeError):
            resolve_subpath(str(tmp_path), bad)
    os.symlink("/etc", tmp_path / "out")
    with pytest.raises(VolumeError, match="outside the volume"):
        resolve_subpath(str(tmp_path), "out")


class FakeApi:
    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.objects = objects

    async def __call__(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((rt.plural, namespace, name))


async def test_manager_sets_up_every_kind_and_cleans_up(tmp_path: Path) -> None:
    host = tmp_path / "host"
    claimed = tmp_path / "claimed"
    api = FakeApi({
        (CONFIGMAPS.plural, "prod", "cfg"): {"data": {"k": "v"}},
        (SECRETS.plural, "prod", "s"): {"data": {"p": base64.b64encode(b"pw").decode()}},
        (PERSISTENTVOLUMECLAIMS.plural, "prod", "data"): {"spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}},
        (PERSISTENTVOLUMES.plural, "", "pv1"): {"spec": {"hostPath": {"path": str(claimed)}}},
    })
    manager = VolumeManager(tmp_path / "root", api)
    pod = {**POD, "spec": {**POD["spec"], "volumes": [
        {"name": "scratch", "emptyDir": {}},
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "s"}},
        {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
        {"name": "all", "projected": {"sources": [{"configMap": {"name": "cfg"}}, {"secret": {"name": "s"}}]}},
    ]}}
    volumes = await manager.setup(pod)
    assert Path(volumes["scratch"].path).is_dir() and not volumes["scratch"].read_only
    assert Path(volumes["scratch"].path).stat().st_mode & 0o777 == 0o777
    assert (Path(volumes["cfg"].path) / "k").read_text() == "v" and volumes["cfg"].read_only
    assert (Path(volumes["sec"].path) / "p").read_text() == "pw"
    assert volumes["host"].path == str(host) and host.is_dir()
    assert volumes["claim"].path == str(claimed) and claimed.is_dir() and volumes["claim"].read_only
    assert sorted(p.name for p in Path(volumes["all"].path).iterdir() if not p.name.startswith("..")) == ["k", "p"]
    assert manager.known_uids() == ["u1"]
    log_file = manager.termination_log("u1", "c", 0)
    Path(log_file).write_text("bye")
    assert manager.read_termination_log("u1", "c", 0) == "bye"
    manager.cleanup("u1")
    assert manager.known_uids() == [] and host.is_dir() and claimed.is_dir()  # only the pod's own dir goes


@pytest.mark.parametrize(
    ("kind", "make", "message"),
    [
        pytest.param("Directory", None, "does not exist", id="missing-directory"),
        pytest.param("File", "dir", "is not a file", id="directory-is-not-a-file"),
        pytest.param("Directory", "file", "is not a directory", id="file-is-not-a-directory"),
        pytest.param("Socket", "file", "is not a socket file", id="file-is-not-a-socket"),
        pytest.param("Weird", "file", "not supported", id="unknown-type"),
    ],
)
async def test_host_path_type_checks(tmp_path: Path, kind: str, make: str | None, message: str) -> None:
    target = tmp_path / "target"
    if make == "dir":
        target.mkdir()
    elif make == "file":
        target.write_text("")
    manager = VolumeManager(tmp_path / "root", FakeApi({}))
    pod = {**POD, "spec": {**POD["spec"], "volumes": [{"name": "h", "hostPath": {"path": str(target),
                                                                              "type": kind}}]}}
    with pytest.raises(VolumeError, match=message):
        await manager.setup(pod)


async def test_file_or_create_and_missing_claims(tmp_path: Path) -> None:
    manager = VolumeManager(tmp_path / "root", FakeApi({
        (PERSISTENTVOLUMECLAIMS.plural, "prod", "pending"): {"spec": {}, "status": {"phase": "Pending"}}}))
    target = tmp_path / "deep" / "file"
    pod = {**POD, "spec": {**POD["spec"], "volumes": [{"name": "f", "hostPath": {"path": str(target),
                                                                              "type": "FileOrCreate"}}]}}
    await manager.setup(pod)
    assert target.is_file()
    for claim, message in (("absent", 'persistentvolumeclaim "absent" not found'),
                           ("pending", 'persistentvolumeclaim "pending" is not bound')):
        pod = {**POD, "spec": {**POD["spec"], "volumes": [{"name": "c", "persistentVolumeClaim": {
            "claimName": claim}}]}}
        with pytest.raises(VolumeError, match=message):
            await manager.setup(pod)
