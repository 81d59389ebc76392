"""kubeconfig: merging a context keeps other entries; loading picks the current or named context."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kube.client import kubeconfig


def test_merge_keeps_other_clusters_and_switches_current(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443"}}],
        "users": [{"name": "prod", "user": {"token": "secret"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod", "namespace": "web"}}],
    }))
    kubeconfig.merge_context("kubelite", "http://127.0.0.1:6443", path=path)
    kubeconfig.merge_context("kubelite", "http://127.0.0.1:7443", path=path)  # replaced, not duplicated
    data = yaml.safe_load(path.read_text())
    assert [c["name"] for c in data["clusters"]] == ["prod", "kubelite"]
    assert data["current-context"] == "kubelite"
    assert kubeconfig.load(path).server == "http://127.0.0.1:7443"
    prod = kubeconfig.load(path, "prod")
    assert (prod.server, prod.token, prod.namespace) == ("https://prod:6443", "secret", "web")

    kubeconfig.remove_context("kubelite", path)
    data = yaml.safe_load(path.read_text())
    assert [c["name"] for c in data["contexts"]] == ["prod"] and data["current-context"] == ""


def test_missing_file_and_unknown_context_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no kubeconfig"):
        kubeconfig.load(tmp_path / "absent")
    kubeconfig.merge_context("a", "http://x", path=tmp_path / "c")
    with pytest.raises(ValueError, match="no context named 'b'"):
        kubeconfig.load(tmp_path / "c", "b")


def test_embedded_credentials_become_one_private_file_each_reused_by_every_load(tmp_path: Path) -> None:
    import base64 as b64
    import stat

    from kube.client import kubeconfig as kc

    data = b64.b64encode(b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n").decode()
    first, again = kc._materialise(data, ".crt"), kc._materialise(data, ".crt")
    assert first == again and Path(first).read_bytes().startswith(b"-----BEGIN")
    assert stat.S_IMODE(Path(first).stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(first).parent.stat().st_mode) == 0o700
    other = kc._materialise(b64.b64encode(b"other").decode(), ".crt")
    assert other != first
