"""--etcd-servers and the --etcd-* files, read as kube-apiserver reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from apiserver.etcdclient import EtcdClient, EtcdTLS, parse_endpoints
from apiserver.main import _etcd_tls, parse_args


def test_endpoints_are_comma_separated_urls() -> None:
    assert parse_endpoints("http://127.0.0.1:2379") == ([("127.0.0.1", 2379)], False)
    assert parse_endpoints("https://a:1, https://b:2,") == ([("a", 1), ("b", 2)], True)
    assert parse_endpoints("127.0.0.1:4001") == ([("127.0.0.1", 4001)], False)


@pytest.mark.parametrize("servers", ["", " , ", "http://a:1,https://b:2", "unix:///run/etcd.sock"])
def test_bad_endpoints_are_refused(servers: str) -> None:
    with pytest.raises(ValueError, match="--etcd-servers"):
        parse_endpoints(servers)


def test_several_endpoints_make_one_failover_target_under_the_first_name() -> None:
    client = EtcdClient([("localhost", 2379), ("127.0.0.1", 2380)], EtcdTLS())
    target, options = client._target()
    assert target == "ipv4:127.0.0.1:2379,127.0.0.1:2380"
    assert ("grpc.ssl_target_name_override", "localhost") in options
    assert EtcdClient([("etcd-0", 2379)])._target()[0] == "etcd-0:2379"


def test_etcd_files_go_together_and_must_be_readable(tmp_path: Path) -> None:
    assert _etcd_tls(parse_args([])) is None
    with pytest.raises(ValueError, match="go together"):
        _etcd_tls(parse_args(["--etcd-certfile", str(tmp_path / "c")]))
    with pytest.raises(OSError):
        _etcd_tls(parse_args(["--etcd-cafile", str(tmp_path / "missing.crt")]))
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    assert _etcd_tls(parse_args(["--etcd-cafile", str(ca)])) == EtcdTLS(ca)
