"""A pod's names: resolv.conf under each dnsPolicy (with dnsConfig merged), the managed /etc/hosts
(hostname, subdomain, hostAliases, hostNetwork), and the service environment variables."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.dns import hosts_file, parse_resolv_conf, resolv_conf, service_env

HOST = "# host\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example\noptions edns0\n"


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": {"containers": [], **spec}}


def test_parse_resolv_conf() -> None:
    assert parse_resolv_conf(HOST) == (["127.0.0.53", "192.0.2.1"], ["corp.example"], ["edns0"])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
                         "nameserver 10.96.0.10\noptions ndots:5\n", id="cluster-first"),
        pytest.param({"hostNetwork": True}, None, id="host-network-uses-the-node"),
        pytest.param({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"},
                     "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
                     "nameserver 10.96.0.10\noptions ndots:5\n", id="cluster-first-with-host-net"),
        pytest.param({"dnsPolicy": "Default"}, None, id="default-keeps-the-runtime-file"),
        pytest.param({"dnsPolicy": "Default", "dnsConfig": {"searches": ["x.test"]}},
                     "search corp.example x.test\nnameserver 192.0.2.1\noptions edns0\n",
                     id="default-with-config-drops-loopback-servers"),
        pytest.param({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["192.0.2.9"], "options": [
            {"name": "ndots", "value": "1"}, {"name": "rotate"}]}},
                     "nameserver 192.0.2.9\noptions ndots:1 rotate\n", id="none"),
        pytest.param({"dnsConfig": {"options": [{"name": "ndots", "value": "2"}], "searches": ["a.test"]}},
                     "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example a.test\n"
                     "nameserver 10.96.0.10\noptions ndots:2\n", id="cluster-first-with-config"),
    ],
)
def test_resolv_conf(spec: dict[str, Any], expected: str | None) -> None:
    assert resolv_conf(pod(**spec), cluster_dns=["10.96.0.10"], cluster_domain="cluster.local",
                       host_resolv=HOST) == expected


def test_cluster_first_without_a_cluster_dns_falls_back_to_the_node() -> None:
    assert resolv_conf(pod(), cluster_dns=[], cluster_domain="cluster.local", host_resolv=HOST) is None


def test_hosts_file() -> None:
    text = hosts_file(pod(hostname="box", subdomain="grp", hostAliases=[{"ip": "192.0.2.7", "hostnames":
                                                                           ["a", "b"]}]), "10.0.0.5", "cluster.local")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.0.0.5\tbox.grp.shop.svc.cluster.local\tbox\n" in text
    assert text.endswith("# Entries added by HostAliases.\n192.0.2.7\ta\tb\n")
    assert "10.0.0.5\tweb-0\n" in hosts_file(pod(), "10.0.0.5", "cluster.local")
    assert hosts_file(pod(hostNetwork=True), "10.0.0.5", "cluster.local", "127.0.0.1 node\n") == "127.0.0.1 node\n"


def svc(name: str, ns: str, ip: str | None, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}


def test_service_env_like_docker_links() -> None:
    services = [
        svc("web-api", "shop", "10.96.0.20", [{"name": "http", "port": 80, "protocol": "TCP"},
                                              {"name": "metrics", "port": 9090}]),
        svc("headless", "shop", "None", [{"port": 80}]),
        svc("pending", "shop", None, [{"port": 80}]),
        svc("other", "elsewhere", "10.96.0.30", [{"port": 80}]),
        svc("kubernetes", "default", "10.96.0.1", [{"name": "https", "port": 443}]),
    ]
    env = service_env(services, "shop", True)
    assert env == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
        "WEB_API_SERVICE_HOST": "10.96.0.20", "WEB_API_SERVICE_PORT": "80", "WEB_API_SERVICE_PORT_HTTP": "80",
        "WEB_API_SERVICE_PORT_METRICS": "9090", "WEB_API_PORT": "tcp://10.96.0.20:80",
        "WEB_API_PORT_80_TCP": "tcp://10.96.0.20:80", "WEB_API_PORT_80_TCP_PROTO": "tcp",
        "WEB_API_PORT_80_TCP_PORT": "80", "WEB_API_PORT_80_TCP_ADDR": "10.96.0.20",
        "WEB_API_PORT_9090_TCP": "tcp://10.96.0.20:9090", "WEB_API_PORT_9090_TCP_PROTO": "tcp",
        "WEB_API_PORT_9090_TCP_PORT": "9090", "WEB_API_PORT_9090_TCP_ADDR": "10.96.0.20",
    }
    # Without service links only the master service stays.
    assert set(service_env(services, "shop", False)) == {k for k in env if k.startswith("KUBERNETES_")}
