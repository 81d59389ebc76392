"""Pod volumes on the node's disk: each Pod gets a directory under the kubelet's root dir holding its
volumes, its managed /etc/hosts and resolv.conf, and its containers' termination-message files.

    <root>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>     emptyDir (a tmpfs mount for medium Memory)
    <root>/pods/<uid>/volumes/kubernetes.io~configmap/<name>     configMap, secret, downwardAPI, projected:
                          ~secret, ~downward-api, ~projected      written by `kubelet.atomicwriter`
    <root>/pods/<uid>/etc-hosts, resolv.conf, containers/<name>/<attempt>

A projected serviceAccountToken source is the pod's bound token from `kubelet.tokens` (which refreshes it);
the atomic writer rewrites the file when the token changed. hostPath and persistentVolumeClaim volumes point
outside (a claim through its bound PersistentVolume's hostPath or local path, created when missing). `setup`
is idempotent and called at every sync, so updated ConfigMaps, Secrets, labels and tokens reach the files
within a sync period; `cleanup` removes the whole directory (unmounting tmpfs first) once the pod's containers
are gone. The payload builders are pure functions.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kube import quantity
from kube.resources import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, SECRETS, ResourceType
from kubelet.atomicwriter import FileProjection, write_payload
from kubelet.containers import ConfigError, field_value, resource_value
from kubelet.tokens import TokenError, TokenManager

__all__ = [
    "HostVolume", "VolumeError", "VolumeManager", "configmap_payload", "downward_payload", "resolve_subpath",
    "secret_payload",
]

log = logging.getLogger("kubelet.volumes")

Obj = dict[str, Any]
Fetch = Callable[[ResourceType, str, str], Awaitable[Obj | None]]
Payload = dict[str, FileProjection]

DEFAULT_MODE = 0o644
_PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
_HOST_PATH_TYPES = {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
                    "BlockDevice"}


class VolumeError(Exception):
    """A volume cannot be set up (a missing ConfigMap, a failed hostPath type check): FailedMount."""


@dataclass(frozen=True)
class HostVolume:
    """Where a pod volume is on the host, and whether it is always mounted read-only (API data volumes)."""

    path: str
    read_only: bool = False


# ---------------------------------------------------------------------------------------------- payloads


def _items(data: dict[str, bytes], source: Obj, what: str, optional: bool) -> Payload:
    default = int(source.get("defaultMode", DEFAULT_MODE))
    items = source.get("items")
    if not items:
        return {k: FileProjection(v, default) for k, v in data.items()}
    out: Payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"{what} references non-existent config key: {key}")
        out[item.get("path") or key] = FileProjection(data[key], int(item.get("mode", default)))
    return out


def configmap_payload(cm: Obj | None, source: Obj, namespace: str = "") -> Payload:
    """The files of a configMap volume (or projection): every key, or the listed items with their paths."""
    optional = bool(source.get("optional"))
    if cm is None:
        if optional:
            return {}
        raise VolumeError(f'configmap "{source.get("name")}" not found')
    data = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return _items(data, source, "configMap", optional)


def secret_payload(secret: Obj | None, source: Obj) -> Payload:
    optional = bool(source.get("optional"))
    if secret is None:
        if optional:
            return {}
        raise VolumeError(f'secret "{source.get("secretName") or source.get("name")}" not found')
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return _items(data, source, "secret", optional)


def downward_payload(pod: Obj, source: Obj) -> Payload:
    """The files of a downwardAPI volume: pod fields (name, namespace, uid, labels, annotations) and
    container resources."""
    default = int(source.get("defaultMode", DEFAULT_MODE))
    out: Payload = {}
    for item in source.get("items") or []:
        try:
            if item.get("fieldRef"):
                value = field_value(pod, item["fieldRef"].get("fieldPath", ""), "", "")
            elif item.get("resourceFieldRef"):
                ref = item["resourceFieldRef"]
                value = resource_value(pod, ref.get("containerName", ""), ref)
            else:
                raise VolumeError(f"downwardAPI item {item.get('path')!r} has no fieldRef or resourceFieldRef")
        except ConfigError as exc:
            raise VolumeError(str(exc)) from exc
        out[item["path"]] = FileProjection(value.encode(), int(item.get("mode", default)))
    return out


# ---------------------------------------------------------------------------------------------- helpers


def resolve_subpath(base: str, sub: str) -> str:
    """`base/sub` for a volumeMount's subPath, created as a directory when missing; it must stay inside the
    volume (no absolute path, no `..`, no symlink leading out)."""
    if sub.startswith("/") or ".." in sub.split("/"):
        raise VolumeError(f"subPath {sub!r} must be a relative path without '..'")
    target = os.path.join(base, sub)
    if not os.path.lexists(target):
        os.makedirs(target, mode=0o777, exist_ok=True)
    real, real_base = os.path.realpath(target), os.path.realpath(base)
    if real != real_base and not real.startswith(real_base.rstrip("/") + "/"):
        # configMap keys are links through ..data, which stays inside; anything else leading out is refused
        raise VolumeError(f"subPath {sub!r} resolves outside the volume")
    return real


def _check_host_path(path: str, kind: str) -> None:
    if kind not in _HOST_PATH_TYPES:
        raise VolumeError(f"hostPath type {kind!r} is not supported")
    if kind == "DirectoryOrCreate" and not os.path.exists(path):
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    if kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
        os.close(fd)
        return
    if not kind:
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise VolumeError(f"hostPath type check failed: {path} does not exist") from None
    checks = {
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"), "Directory": (stat.S_ISDIR, "a directory"),
        "FileOrCreate": (stat.S_ISREG, "a file"), "File": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket file"), "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    test, what = checks[kind]
    if not test(mode):
        raise VolumeError(f"hostPath type check failed: {path} is not {what}")


def _mount_tmpfs(path: Path, size: int | None) -> None:
    if os.path.ismount(path):
        return
    options = "mode=0777" + (f",size={size}" if size else "")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise VolumeError(f"cannot mount a tmpfs (emptyDir medium Memory) at {path}: "
                          f"{result.stderr.strip() or result.returncode}")


# ---------------------------------------------------------------------------------------------- manager


class VolumeManager:
    def __init__(self, root: Path, fetch: Fetch, tokens: TokenManager | None = None) -> None:
        self.root = Path(root)
        self.fetch = fetch
        self.tokens = tokens

    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    def known_uids(self) -> list[str]:
        pods = self.root / "pods"
        return [p.name for p in pods.iterdir() if p.is_dir()] if pods.is_dir() else []

    async def setup(self, pod: Obj) -> dict[str, HostVolume]:
        """Make every volume of the pod ready on disk (and refresh API data); volume name -> host path."""
        out: dict[str, HostVolume] = {}
        for volume in pod["spec"].get("volumes") or []:
            name = volume.get("name", "")
            try:
                out[name] = await self._setup_one(pod, volume)
            except VolumeError as exc:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from None
            except OSError as exc:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {exc}') from None
        return out

    async def _setup_one(self, pod: Obj, volume: Obj) -> HostVolume:
        uid, ns = pod["metadata"]["uid"], pod["metadata"]["namespace"]
        plugin = next((k for k in _PLUGIN_DIRS if k in volume), None)
        base = self.pod_dir(uid) / "volumes" / _PLUGIN_DIRS[plugin] / volume["name"] if plugin else None
        if plugin == "emptyDir" and base is not None:
            source = volume.get("emptyDir") or {}
            if not base.exists():
                base.mkdir(parents=True, exist_ok=True)
                os.chmod(base, 0o777)  # any container user may write, as on Kubernetes
            if source.get("medium") == "Memory":
                size = quantity.memory_bytes(source["sizeLimit"]) if source.get("sizeLimit") else None
                _mount_tmpfs(base, size)
            return HostVolume(str(base))
        if plugin == "configMap" and base is not None:
            source = volume["configMap"]
            cm = await self.fetch(CONFIGMAPS, ns, source.get("name", ""))
            write_payload(base, configmap_payload(cm, source))
            return HostVolume(str(base), read_only=True)
        if plugin == "secret" and base is not None:
            source = volume["secret"]
            secret = await self.fetch(SECRETS, ns, source.get("secretName", ""))
            write_payload(base, secret_payload(secret, source))
            return HostVolume(str(base), read_only=True)
        if plugin == "downwardAPI" and base is not None:
            write_payload(base, downward_payload(pod, volume["downwardAPI"]))
            return HostVolume(str(base), read_only=True)
        if plugin == "projected" and base is not None:
            write_payload(base, await self._projected(pod, volume["projected"]))
            return HostVolume(str(base), read_only=True)
        if "hostPath" in volume:
            source = volume["hostPath"]
            path = source.get("path", "")
            if not path.startswith("/"):
                raise VolumeError(f"hostPath {path!r} must be absolute")
            _check_host_path(path, source.get("type") or "")
            return HostVolume(path)
        if "persistentVolumeClaim" in volume:
            source = volume["persistentVolumeClaim"]
            return HostVolume(await self._claim_path(ns, source.get("claimName", "")),
                              read_only=bool(source.get("readOnly")))
        kinds = [k for k in volume if k != "name"]
        raise VolumeError(f"volume type {', '.join(kinds) or 'unknown'} is not supported by this kubelet")

    async def _projected(self, pod: Obj, projected: Obj) -> Payload:
        """The files of a projected volume; as Kubernetes' plugin, every source is tried and the errors of all
        that failed are reported together (then nothing is written)."""
        ns = pod["metadata"]["namespace"]
        default = int(projected.get("defaultMode", DEFAULT_MODE))
        payload: Payload = {}
        failures: list[str] = []
        for source in projected.get("sources") or []:
            try:
                if "configMap" in source:
                    sub = {"defaultMode": default, **source["configMap"]}
                    cm = await self.fetch(CONFIGMAPS, ns, sub.get("name", ""))
                    payload.update(configmap_payload(cm, sub))
                elif "secret" in source:
                    sub = {"defaultMode": default, **source["secret"]}
                    secret = await self.fetch(SECRETS, ns, sub.get("name", ""))
                    payload.update(secret_payload(secret, sub))
                elif "downwardAPI" in source:
                    payload.update(downward_payload(pod, {"defaultMode": default, **source["downwardAPI"]}))
                elif "serviceAccountToken" in source:
                    payload.update(await self._token(pod, source["serviceAccountToken"], default))
                else:
                    kinds = ", ".join(source)
                    log.debug("projected source %s is not supported; skipped", kinds)
            except VolumeError as exc:
                failures.append(str(exc))
        if failures:  # utilerrors.NewAggregate's wording
            raise VolumeError(failures[0] if len(failures) == 1 else f"[{', '.join(failures)}]")
        return payload

    async def _token(self, pod: Obj, source: Obj, mode: int) -> Payload:
        """A serviceAccountToken projection: the pod's bound token from the token manager, with the volume's
        mode (refreshed there; rewritten here when it changed)."""
        if self.tokens is None:
            raise VolumeError("cannot use TokenManager when kubelet is in standalone mode")
        try:
            token = await self.tokens.get(pod, source)
        except TokenError as exc:
            raise VolumeError(str(exc)) from None
        return {source.get("path") or "token": FileProjection(token.encode(), mode)}

    async def _claim_path(self, namespace: str, claim: str) -> str:
        pvc = await self.fetch(PERSISTENTVOLUMECLAIMS, namespace, claim)
        if pvc is None:
            raise VolumeError(f'persistentvolumeclaim "{claim}" not found')
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        if not volume_name or (pvc.get("status") or {}).get("phase") not in (None, "Bound"):
            raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound')
        pv = await self.fetch(PERSISTENTVOLUMES, "", volume_name)
        if pv is None:
            raise VolumeError(f'persistentvolume "{volume_name}" not found')
        spec = pv.get("spec") or {}
        path = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
        if not path:
            raise VolumeError(f'persistentvolume "{volume_name}" has no hostPath or local path this kubelet '
                              "can mount")
        os.makedirs(path, mode=0o777, exist_ok=True)
        return path

    # ------------------------------------------------------------------ files of the pod itself

    def write_file(self, uid: str, name: str, content: str) -> str:
        """A pod-level file (etc-hosts, resolv.conf), rewritten only when its content changed."""
        path = self.pod_dir(uid) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_text(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        return str(path)

    def termination_log(self, uid: str, container: str, attempt: int) -> str:
        """An empty file the container may write its termination message to (any user may write it)."""
        path = self.pod_dir(uid) / "containers" / container / str(attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch()
            os.chmod(path, 0o666)
        return str(path)

    def read_termination_log(self, uid: str, container: str, attempt: int, limit: int = 4096) -> str:
        path = self.pod_dir(uid) / "containers" / container / str(attempt)
        try:
            with open(path, "rb") as f:
                return f.read(limit).decode(errors="replace")
        except OSError:
            return ""

    def cleanup(self, uid: str) -> None:
        """Remove the pod's directory; its containers must be gone (tmpfs volumes are unmounted first)."""
        base = self.pod_dir(uid)
        if not base.exists():
            return
        empty_dirs = base / "volumes" / _PLUGIN_DIRS["emptyDir"]
        if empty_dirs.is_dir():
            for volume in empty_dirs.iterdir():
                if os.path.ismount(volume):
                    subprocess.run(["umount", "-l", str(volume)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
