"""Kubeconfig files: read the current context's server and credentials; merge a context in.

Only what kubelite uses: server, certificate-authority(-data), insecure-skip-tls-verify, token(-file),
client certificates. Writing merges into an existing file and never drops another cluster's entries.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ClusterCredentials", "default_path", "load", "merge_context", "remove_context"]


def default_path() -> Path:
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    return Path("~/.kube/config").expanduser()


@dataclass(frozen=True)
class ClusterCredentials:
    server: str
    token: str | None = None
    verify: bool | str = True  # False, True, or a CA bundle path
    cert: tuple[str, str] | None = None
    namespace: str = "default"
    context: str = ""


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a kubeconfig (expected a mapping)")
    return data


def _named(entries: list[dict[str, Any]] | None, name: str, what: str, path: Path) -> dict[str, Any]:
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(what) or {}
    raise ValueError(f"{path}: no {what} named {name!r}")


def _materialise(data_b64: str, suffix: str) -> str:
    """Inline (base64) PEM data as a private file, for the TLS libraries that want paths: one file per content,
    in a 0700 folder of this user's, reused by every load (a fresh temp file per call piled up by the thousand)."""
    data = base64.b64decode(data_b64)
    folder = Path(tempfile.gettempdir()) / f"klite-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:  # not ours alone: never trust it, use a fresh file
        fd, name = tempfile.mkstemp(prefix="klite-", suffix=suffix)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return name
    path = folder / (hashlib.sha256(data).hexdigest()[:32] + suffix)
    if not path.exists():
        fd, name = tempfile.mkstemp(dir=folder, suffix=suffix)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, path)
    return str(path)


def load(path: Path | str | None = None, context: str | None = None) -> ClusterCredentials:
    path = Path(path).expanduser() if path else default_path()
    config = _read(path)
    if not config:
        raise ValueError(f"no kubeconfig at {path}: start a cluster with `klite up` or pass --kubeconfig")
    context_name = context or config.get("current-context")
    if not context_name:
        raise ValueError(f"{path}: no current-context set; pass --context")
    ctx = _named(config.get("contexts"), context_name, "context", path)
    cluster = _named(config.get("clusters"), ctx.get("cluster", ""), "cluster", path)
    user = _named(config.get("users"), ctx["user"], "user", path) if ctx.get("user") else {}

    verify: bool | str = True
    if cluster.get("insecure-skip-tls-verify"):
        verify = False
    elif cluster.get("certificate-authority"):
        verify = cluster["certificate-authority"]
    elif cluster.get("certificate-authority-data"):
        verify = _materialise(cluster["certificate-authority-data"], ".crt")

    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    cert = None
    if user.get("client-certificate") and user.get("client-key"):
        cert = (user["client-certificate"], user["client-key"])
    elif user.get("client-certificate-data") and user.get("client-key-data"):
        cert = (_materialise(user["client-certificate-data"], ".crt"),
                _materialise(user["client-key-data"], ".key"))
    return ClusterCredentials(
        server=cluster["server"].rstrip("/"),
        token=token,
        verify=verify,
        cert=cert,
        namespace=ctx.get("namespace") or "default",
        context=context_name,
    )


def _upsert(entries: list[dict[str, Any]], name: str, what: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [e for e in entries or [] if e.get("name") != name]
    return [*kept, {"name": name, what: body}]


def _write(path: Path, config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".klite-tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)


def merge_context(
    name: str,
    server: str,
    *,
    path: Path | None = None,
    token: str | None = None,
    ca_file: str | None = None,
    client_certificate: str | None = None,
    client_key: str | None = None,
    embed: bool = False,
    insecure: bool = False,
    make_current: bool = True,
) -> Path:
    """Add or replace cluster/user/context `name`, keeping every other entry of the file. Files are named by
    path, or with `embed` copied in as base64 (`...-data`), as kubeadm writes admin.conf."""
    path = path or default_path()
    config = _read(path) or {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    cluster: dict[str, Any] = {"server": server}
    if ca_file:
        cluster.update(_file_entry("certificate-authority", ca_file, embed))
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {"token": token} if token else {}
    if client_certificate and client_key:
        user.update(_file_entry("client-certificate", client_certificate, embed))
        user.update(_file_entry("client-key", client_key, embed))
    config["clusters"] = _upsert(config.get("clusters", []), name, "cluster", cluster)
    config["users"] = _upsert(config.get("users", []), name, "user", user)
    config["contexts"] = _upsert(config.get("contexts", []), name, "context", {"cluster": name, "user": name})
    if make_current or not config.get("current-context"):
        config["current-context"] = name
    _write(path, config)
    return path


def _file_entry(key: str, file: str, embed: bool) -> dict[str, str]:
    if embed:
        return {f"{key}-data": base64.b64encode(Path(file).read_bytes()).decode()}
    return {key: file}


def remove_context(name: str, path: Path | None = None) -> None:
    """Drop cluster/user/context `name`; clear current-context only if it pointed there."""
    path = path or default_path()
    config = _read(path)
    if not config:
        return
    for section in ("clusters", "users", "contexts"):
        config[section] = [e for e in config.get(section) or [] if e.get("name") != name]
    if config.get("current-context") == name:
        config["current-context"] = ""
    _write(path, config)
