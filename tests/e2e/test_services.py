"""Services end to end, real processes and containers, traffic only on this machine.

Allocation across two apiservers over one etcd (unique, released, explicit IP or NodePort taken -> 422); then,
with a real controller-manager, kubelet, cluster DNS and the proxy in each mode (iptables, then userspace):
a 3-replica Deployment behind a ClusterIP Service answers 300 requests from the host and from a pod with every
pod's name and none above half; a pod reaches itself (hairpin); NodePort on the node's address; UDP through a
Service; ClientIP affinity; DNS from inside a pod (full and short names, headless pod IPs, SRV) and the service
variables; a pod failing its readiness probe, or an endpoint moved to notReadyAddresses, stops getting traffic;
unprogrammed addresses fail here; a Service the proxy cannot program gets an Event; a restarted proxy writes the
same rules; scaled to one, only the remaining pod answers within 2 s. Everything runs on a private service
range, node port range and chain prefix, and is removed at the end (rules, addresses, route, pods, namespace).

Pods name their node (`spec.nodeName`): the session's etcd also holds other modules' nodes (hollow ones among
them), and these pods must run beside this proxy, on this bridge.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cli import supervise
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
LABEL_POD = "io.kubelite.pod.name"
LABEL_NS = "io.kubelite.pod.namespace"
LABEL_CONTAINER = "io.kubelite.container.name"
WEB_COMMAND = 'mkdir -p /www && echo $HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www'


@dataclass
class Env:
    api: str  # apiserver A
    api_b: str  # apiserver B, same etcd
    ns: str
    node: str
    cidr: str
    node_ports: tuple[int, int]
    prefix: str
    dns_ip: str
    logs: Path
    docker: docker.DockerClient
    http: httpx.Client  # the admin, for full URLs of either apiserver
    server: Apiserver  # apiserver A, which the daemons use

    def url(self, path: str) -> str:
        return self.api + path

    def call(self, method: str, url: str, body: Any = None, ok: tuple[int, ...] = (200, 201), **kw: Any) -> Obj:
        resp = self.http.request(method, url, json=body, timeout=10, **kw)
        assert resp.status_code in ok, f"{method} {url}: {resp.status_code} {resp.text[:300]}"
        return resp.json()

    def ip(self, last: int) -> str:
        return self.cidr.rsplit(".", 1)[0] + f".{last}"


# ---------------------------------------------------------------- small helpers


def eventually(check: Callable[[], Any], timeout: float = 30, interval: float = 0.2, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, httpx.HTTPError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def http_get(ip: str, port: int, timeout: float = 2.0) -> str:
    """One HTTP/1.0 request over a fresh TCP connection; the body's last line (a pod's name)."""
    with socket.create_connection((ip, port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], head[:80]
    return body.decode().strip().splitlines()[-1]


def tally(ip: str, port: int, n: int) -> tuple[collections.Counter[str], int]:
    seen: collections.Counter[str] = collections.Counter()
    failures = 0
    for _ in range(n):
        try:
            seen[http_get(ip, port)] += 1
        except (OSError, AssertionError):
            failures += 1
    return seen, failures


def connect_error(ip: str, port: int) -> str:
    with socket.socket() as sock:
        sock.settimeout(3)
        try:
            sock.connect((ip, port))
            return "connected"
        except OSError as exc:
            return type(exc).__name__ if not isinstance(exc, TimeoutError) else "timeout"


def node_address() -> str:
    """This host's address on its default route (the node's InternalIP, where NodePorts are served)."""
    out = subprocess.run(["ip", "-4", "route", "get", "192.0.2.200"], capture_output=True, text=True).stdout
    return out.split(" src ")[1].split()[0]


def pod_exec(env: Env, pod: str, command: str, timeout: float = 60) -> tuple[int, str]:
    containers = env.docker.containers.list(filters={"label": [f"{LABEL_POD}={pod}", f"{LABEL_NS}={env.ns}",
                                                                f"{LABEL_CONTAINER}=main"]})
    assert containers, f"no running container for pod {pod}"
    result = containers[0].exec_run(["timeout", str(int(timeout)), "sh", "-c", command])
    return result.exit_code, result.output.decode(errors="replace")


def pods(env: Env, selector: str) -> list[Obj]:
    items = env.call("GET", env.url(f"/api/v1/namespaces/{env.ns}/pods"), params={"labelSelector": selector})["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready_endpoints(env: Env, name: str) -> list[str]:
    resp = env.http.get(env.url(f"/api/v1/namespaces/{env.ns}/endpoints/{name}"), timeout=5)
    if resp.status_code != 200:
        return []
    return sorted(a["ip"] for s in resp.json().get("subsets") or [] for a in s.get("addresses") or [])


def scale(env: Env, replicas: int) -> None:
    env.call("PATCH", env.url(f"/apis/apps/v1/namespaces/{env.ns}/deployments/web/scale"),
         headers={"Content-Type": "application/merge-patch+json"}, body={"spec": {"replicas": replicas}})


def our_rules(prefix: str) -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return sorted(line for line in out.splitlines() if f"{prefix}-" in line and not line.startswith("#"))


def our_addresses(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo", "label", f"lo:{prefix.lower()}"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(line.split()[3] for line in out.splitlines())


def listeners(cidr_prefix: str) -> list[str]:
    """Listening TCP and bound UDP sockets on the service range (/proc/net, no ss needed)."""
    found = []
    for proto, state in (("tcp", "0A"), ("udp", "07")):
        for line in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != state:
                continue
            hex_ip, hex_port = fields[1].split(":")
            ip = socket.inet_ntoa(bytes.fromhex(hex_ip)[::-1])
            if ip.startswith(cidr_prefix):
                found.append(f"{proto}:{ip}:{int(hex_port, 16)}")
    return sorted(found)


class UdpEcho:
    """UDP servers on the pods' bridge gateway that answer with their name: endpoints for the UDP Service
    (this busybox has no UDP server applet)."""

    def __init__(self, host: str, names: list[str]) -> None:
        self.socks = []
        for _ in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, 0))
            sock.settimeout(0.2)
            self.socks.append(sock)
        self.names = names
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._serve, args=(s, n), daemon=True) for s, n in
                        zip(self.socks, names, strict=True)]
        for t in self.threads:
            t.start()

    @property
    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self.socks]

    def _serve(self, sock: socket.socket, name: str) -> None:
        while not self.stop.is_set():
            try:
                _, addr = sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            sock.sendto(name.encode(), addr)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        for s in self.socks:
            s.close()


def udp_ask(ip: str, port: int) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"who", (ip, port))
        return sock.recv(2048).decode()


# ---------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def env(pki: TestPKI, etcd_url: str, workdir: Path, run_id: str, docker_client: docker.DockerClient) -> Iterator[Env]:
    seed = int(run_id, 16)
    cidr = f"10.{100 + seed % 12}.{(seed >> 8) % 256}.0/24"  # private to this run: other clusters use 10.96/16
    base = 30100 + (seed >> 16) % 64 * 40  # 40 node ports of its own: two runs at once rarely share them
    logs = workdir / "logs"
    flags = ["--service-cluster-ip-range", cidr, "--service-node-port-range", f"{base}-{base + 39}"]
    started: list[supervise.Daemon] = []
    node = f"svc-{run_id}"
    api = start_apiserver(pki, etcd_url, logs, f"svc-apiserver-{run_id}", flags)
    started.append(api.daemon)
    api_b = start_apiserver(pki, etcd_url, logs, f"svc-apiserver-b-{run_id}", flags)
    started.append(api_b.daemon)

    def launch(name: str, module: str, *args: str) -> None:
        started.append(supervise.start(f"svc-{name}-{run_id}", api.daemon_argv(module, *args), logs))

    e = Env(api.url, api_b.url, f"svc-{run_id}", node, cidr, (base, base + 39), f"KLT{run_id.upper()}",
            cidr.rsplit(".", 1)[0] + ".10", logs, docker_client, pki.http(), api)
    try:
        launch("controllers", "controllers", "--leader-elect", "false", "--controllers",
               "replicaset,endpoints,deployment,namespace,garbagecollector")
        launch("kubelet", "kubelet", "--node-name", node, "--cluster-dns", e.dns_ip)
        launch("dns", "proxy.dns", "--node-name", node, "--service-cluster-ip-range", cidr, "--port", "0",
               "--upstream", "127.0.0.1:9", "--healthz-bind-address", "127.0.0.1:0")  # nothing leaves this host
        supervise.wait_for(lambda: supervise.node_ready(api.credentials(), node), 60, f"node {node}", started[-2])
        e.call("POST", e.url("/api/v1/namespaces"), {"metadata": {"name": e.ns}})
        yield e
    finally:
        e.http.delete(e.url(f"/api/v1/namespaces/{e.ns}"), timeout=10)
        try:
            eventually(lambda: not docker_client.containers.list(all=True, filters={"label": f"{LABEL_NS}={e.ns}"}),
                       60, 0.5, "the namespace's containers to be removed")
        finally:
            for d in reversed(started):
                supervise.stop(d)
            for c in docker_client.containers.list(all=True, filters={"label": f"io.kubelite.node.name={node}"}):
                c.remove(force=True)
            e.http.close()


@pytest.fixture(scope="module")
def workload(env: Env) -> Iterator[Obj]:
    """web: a 3-replica Deployment; Services web (ClusterIP), web-np (NodePort), web-aff (ClientIP affinity),
    web-h (headless), udp (no selector, endpoints on the host), manual (no selector, endpoints = two web pods);
    a client pod (its resolv.conf and service variables written by the kubelet, pointed at the cluster DNS)."""
    ns = env.ns
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"terminationGracePeriodSeconds": 1, "nodeName": env.node, "containers": [{
                    "name": "main", "image": "busybox:latest", "command": ["sh", "-c", WEB_COMMAND],
                    "ports": [{"name": "http", "containerPort": 8080}]}]}}
    env.call("POST", env.url(f"/apis/apps/v1/namespaces/{ns}/deployments"), {
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template}})
    services = {
        "web": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        "web-np": {"type": "NodePort", "selector": {"app": "web"},
                   "ports": [{"port": 80, "targetPort": 8080, "nodePort": env.node_ports[0] + 8}]},
        "web-aff": {"selector": {"app": "web"}, "sessionAffinity": "ClientIP",
                    "ports": [{"port": 80, "targetPort": 8080}]},
        "web-h": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 8080}]},
        "udp": {"ports": [{"name": "echo", "port": 5300, "protocol": "UDP"}]},
        "manual": {"ports": [{"port": 80, "targetPort": 8080}]},
    }
    created = {name: env.call("POST", env.url(f"/api/v1/namespaces/{ns}/services"), {"metadata": {"name": name},
                                                                                 "spec": spec})
               for name, spec in services.items()}
    gateway = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "docker0"], capture_output=True,
                             text=True).stdout.split("inet ")[1].split("/")[0]
    echo = UdpEcho(gateway, ["udp-a", "udp-b", "udp-c"])
    env.call("POST", env.url(f"/api/v1/namespaces/{ns}/endpoints"), {
        "metadata": {"name": "udp"},
        "subsets": [{"addresses": [{"ip": gateway}], "ports": [{"name": "echo", "port": p, "protocol": "UDP"}]}
                    for p in echo.ports]})
    env.call("POST", env.url(f"/api/v1/namespaces/{ns}/pods"), {  # dnsPolicy ClusterFirst: the kubelet's resolv.conf
        "metadata": {"name": "client"},
        "spec": {"terminationGracePeriodSeconds": 1, "nodeName": env.node,
                 "containers": [{"name": "main", "image": "busybox:latest", "command": ["sleep", "3600"]}]}})
    eventually(lambda: len(ready_endpoints(env, "web")) == 3, 60, 0.3, "3 ready web endpoints")
    eventually(lambda: any(p["metadata"]["name"] == "client" and p["status"].get("phase") == "Running"
                           for p in pods(env, "")), 60, 0.3, "the client pod")
    web_ips = ready_endpoints(env, "web")
    env.call("POST", env.url(f"/api/v1/namespaces/{ns}/endpoints"), {
        "metadata": {"name": "manual"},
        "subsets": [{"addresses": [{"ip": ip} for ip in web_ips[:2]], "ports": [{"port": 8080}]}]})
    try:
        yield {name: svc["spec"] for name, svc in created.items()}
    finally:
        echo.close()


@pytest.fixture(scope="module", params=["iptables", "userspace"])
def proxy(request: pytest.FixtureRequest, env: Env, workload: Obj) -> Iterator[Callable[[], None]]:
    """The proxy in one mode; yields a restart function. Afterwards `--cleanup` must leave nothing."""
    mode = request.param
    argv = env.server.daemon_argv("proxy", "--node-name", env.node, "--mode", mode,
                                  "--service-cluster-ip-range", env.cidr, "--chain-prefix", env.prefix,
                                  "--healthz-bind-address", "127.0.0.1:0")
    current: list[supervise.Daemon] = []

    def start() -> None:
        current[:] = [supervise.start(f"svc-proxy-{mode}-{env.prefix}", argv, env.logs)]
        eventually(lambda: http_get(workload["web"]["clusterIP"], 80, timeout=0.5), 30, 0.2,
                   f"the {mode} proxy to serve web")

    def restart() -> None:
        supervise.stop(current[0])
        start()

    start()
    try:
        yield restart
    finally:
        supervise.stop(current[0])
        subprocess.run([*supervise.python_module("proxy"), "--cleanup", "--chain-prefix", env.prefix,
                        "--service-cluster-ip-range", env.cidr], check=True, capture_output=True, timeout=60)
        assert our_rules(env.prefix) == [] and our_addresses(env.prefix) == []
        routes = subprocess.run(["ip", "route", "show", env.cidr], capture_output=True, text=True).stdout
        assert "unreachable" not in routes


# ---------------------------------------------------------------- allocation (no proxy needed)


def svc_body(name: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], **spec}}


def test_cluster_ips_unique_across_apiservers_and_released_on_delete(env: Env) -> None:
    urls = [env.api, env.api_b]
    made = [env.call("POST", f"{urls[i % 2]}/api/v1/namespaces/{env.ns}/services", svc_body(f"alloc-{i}"))
            for i in range(12)]
    ips = [m["spec"]["clusterIP"] for m in made]
    assert len(set(ips)) == 12 and all(ip.startswith(env.cidr.rsplit(".", 1)[0] + ".") for ip in ips)
    assert all(m["spec"]["clusterIPs"] == [m["spec"]["clusterIP"]] for m in made)
    env.call("DELETE", env.url(f"/api/v1/namespaces/{env.ns}/services/alloc-0"))
    again = env.call("POST", f"{env.api_b}/api/v1/namespaces/{env.ns}/services",
                 svc_body("alloc-again", clusterIP=ips[0]))  # released: free to take explicitly
    assert again["spec"]["clusterIP"] == ips[0]
    for name in [f"alloc-{i}" for i in range(1, 12)] + ["alloc-again"]:
        env.call("DELETE", env.url(f"/api/v1/namespaces/{env.ns}/services/{name}"))


def test_explicit_cluster_ip_taken_or_outside_the_range_is_422(env: Env) -> None:
    ip = env.ip(200)
    env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"), svc_body("fixed", clusterIP=ip))
    resp = env.http.post(f"{env.api_b}/api/v1/namespaces/{env.ns}/services", json=svc_body("fixed2", clusterIP=ip))
    assert resp.status_code == 422
    status = resp.json()
    assert f'spec.clusterIPs: Invalid value: "{ip}": failed to allocate IP {ip}: provided IP is already ' \
           'allocated' in status["message"]
    assert status["details"]["causes"][0]["field"] == "spec.clusterIPs"
    resp = env.http.post(env.url(f"/api/v1/namespaces/{env.ns}/services"), json=svc_body("far", clusterIP="10.1.2.3"))
    assert resp.status_code == 422 and f"The range of valid IPs is {env.cidr}" in resp.json()["message"]
    resp = env.http.put(env.url(f"/api/v1/namespaces/{env.ns}/services/fixed"),
                     json=svc_body("fixed", clusterIP=env.ip(201)))
    assert resp.status_code == 422 and "may not change once set" in resp.json()["message"]
    headless = env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"), svc_body("hl", clusterIP="None"))
    assert headless["spec"]["clusterIP"] == "None"
    for name in ("fixed", "hl"):
        env.call("DELETE", env.url(f"/api/v1/namespaces/{env.ns}/services/{name}"))


def test_node_ports_taken_422_and_type_changes(env: Env) -> None:
    port = env.node_ports[0] + 3
    np = env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"),
              svc_body("np1", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
    assert np["spec"]["ports"][0]["nodePort"] == port
    resp = env.http.post(f"{env.api_b}/api/v1/namespaces/{env.ns}/services",
                      json=svc_body("np2", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
    assert resp.status_code == 422
    assert f"spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated" in \
           resp.json()["message"]
    resp = env.http.post(env.url(f"/api/v1/namespaces/{env.ns}/services"),
                      json=svc_body("np3", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert resp.status_code == 422 and "provided port is not in the valid range" in resp.json()["message"]
    # ClusterIP -> NodePort allocates; NodePort -> ClusterIP releases
    plain = env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"), svc_body("np4"))
    changed = env.call("PATCH", env.url(f"/api/v1/namespaces/{env.ns}/services/np4"), {"spec": {"type": "NodePort"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    given = changed["spec"]["ports"][0]["nodePort"]
    assert env.node_ports[0] <= given <= env.node_ports[1] and changed["spec"]["clusterIP"] == \
        plain["spec"]["clusterIP"]
    env.call("PATCH", env.url(f"/api/v1/namespaces/{env.ns}/services/np4"), {"spec": {"type": "ClusterIP"}},
         headers={"Content-Type": "application/merge-patch+json"})
    env.call("DELETE", env.url(f"/api/v1/namespaces/{env.ns}/services/np1"))
    for name, node_port in (("np5", given), ("np6", port)):  # both free again
        env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"),
             svc_body(name, type="NodePort", ports=[{"port": 80, "nodePort": node_port}]))
    for name in ("np4", "np5", "np6"):
        env.call("DELETE", env.url(f"/api/v1/namespaces/{env.ns}/services/{name}"))


# ---------------------------------------------------------------- traffic, in each proxy mode


def test_cluster_ip_balances_300_requests_from_the_host(env: Env, workload: Obj, proxy: Any) -> None:
    seen, failures = tally(workload["web"]["clusterIP"], 80, 300)
    names = {p["metadata"]["name"] for p in pods(env, "app=web")}
    assert failures == 0
    assert set(seen) == names and len(names) == 3
    assert max(seen.values()) <= 150, seen


def test_cluster_ip_balances_300_requests_from_a_pod(env: Env, workload: Obj, proxy: Any) -> None:
    ip = workload["web"]["clusterIP"]
    code, out = pod_exec(env, "client", f'for i in $(seq 300); do printf "GET / HTTP/1.0\\r\\n\\r\\n" | '
                                        f'nc -w 3 {ip} 80 | tail -n 1; echo; done', timeout=120)
    answers = [line.strip() for line in out.splitlines() if line.strip()]
    seen = collections.Counter(answers)
    names = {p["metadata"]["name"] for p in pods(env, "app=web")}
    assert code == 0 and len(answers) == 300, out[-500:]
    assert set(seen) == names and max(seen.values()) <= 150, seen


def test_a_pod_reaches_itself_through_its_service(env: Env, workload: Obj, proxy: Any) -> None:
    pod = pods(env, "app=web")[0]["metadata"]["name"]
    ip = workload["web"]["clusterIP"]
    _, out = pod_exec(env, pod, f'for i in $(seq 12); do printf "GET / HTTP/1.0\\r\\n\\r\\n" | '
                                f'nc -w 3 {ip} 80 | tail -n 1; echo; done')
    answers = [line.strip() for line in out.splitlines() if line.strip()]
    assert len(answers) == 12 and pod in answers, out  # hairpin: its own answers come back too


def test_node_port_on_the_node_address(env: Env, workload: Obj, proxy: Any) -> None:
    node_port = workload["web-np"]["ports"][0]["nodePort"]
    seen, failures = tally(node_address(), node_port, 30)
    assert failures == 0 and len(seen) == 3


def test_udp_through_a_service(env: Env, workload: Obj, proxy: Any) -> None:
    ip = workload["udp"]["clusterIP"]
    answers = collections.Counter(udp_ask(ip, 5300) for _ in range(60))
    assert set(answers) == {"udp-a", "udp-b", "udp-c"}, answers
    assert max(answers.values()) <= 30


def test_client_ip_affinity_sticks(env: Env, workload: Obj, proxy: Any) -> None:
    seen, failures = tally(workload["web-aff"]["clusterIP"], 80, 30)
    assert failures == 0 and len(seen) == 1, seen


def test_dns_from_inside_a_pod(env: Env, workload: Obj, proxy: Any) -> None:
    ns = env.ns
    code, out = pod_exec(env, "client", "cat /etc/resolv.conf")
    assert f"nameserver {env.dns_ip}" in out and f"search {ns}.svc.cluster.local svc.cluster.local" in out, out
    code, out = pod_exec(env, "client", f"nslookup web.{ns}.svc.cluster.local")
    assert code == 0 and workload["web"]["clusterIP"] in out, out
    code, out = pod_exec(env, "client", "nslookup web")  # the short name, through the search path
    assert workload["web"]["clusterIP"] in out, out
    code, out = pod_exec(env, "client", f"nslookup web-h.{ns}.svc.cluster.local")
    assert code == 0 and all(ip in out for ip in ready_endpoints(env, "web")), out
    code, out = pod_exec(env, "client", f"nslookup -type=srv _http._tcp.web.{ns}.svc.cluster.local")
    assert code == 0 and f"80 web.{ns}.svc.cluster.local" in out, out
    code, out = pod_exec(env, "client", f"nslookup nothere.{ns}.svc.cluster.local")
    assert code != 0 and "NXDOMAIN" in out, out


def test_service_variables_in_a_pod(env: Env, workload: Obj, proxy: Any) -> None:
    _, out = pod_exec(env, "client", "env")
    assert f"WEB_SERVICE_HOST={workload['web']['clusterIP']}" in out and "WEB_SERVICE_PORT_HTTP=80" in out, out
    assert f"WEB_NP_PORT_80_TCP=tcp://{workload['web-np']['clusterIP']}:80" in out, out


def test_not_ready_endpoint_gets_no_traffic(env: Env, workload: Obj, proxy: Any) -> None:
    ip = workload["manual"]["clusterIP"]
    url = env.url(f"/api/v1/namespaces/{env.ns}/endpoints/manual")
    by_ip = {p["status"]["podIP"]: p["metadata"]["name"] for p in pods(env, "app=web")}
    # two of today's web pods (scaling replaces them)
    current = env.call("PUT", url, {**env.call("GET", url), "subsets": [{
        "addresses": [{"ip": ip} for ip in sorted(by_ip)[:2]], "ports": [{"port": 8080}]}]})
    addresses = current["subsets"][0]["addresses"]

    def both_answer() -> bool:
        seen, failures = tally(ip, 80, 12)
        return failures == 0 and set(seen) == {by_ip[a["ip"]] for a in addresses}

    eventually(both_answer, 5, 0.1, "both endpoints to answer")
    updated = {**current, "subsets": [{"addresses": addresses[:1], "notReadyAddresses": addresses[1:],
                                       "ports": current["subsets"][0]["ports"]}]}
    env.call("PUT", url, updated)
    try:
        eventually(lambda: set(tally(ip, 80, 10)[0]) == {by_ip[addresses[0]["ip"]]}, 2, 0.1,
                   "traffic only to the ready endpoint")
    finally:
        env.call("PUT", url, {**env.call("GET", url), "subsets": current["subsets"]})


def test_a_pod_failing_its_readiness_probe_stops_getting_traffic(env: Env, proxy: Any) -> None:
    ns, names = env.ns, ["probe-a", "probe-b"]
    probe = {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}
    for name in names:
        env.call("POST", env.url(f"/api/v1/namespaces/{ns}/pods"), {
            "metadata": {"name": name, "labels": {"app": "probe"}},
            "spec": {"terminationGracePeriodSeconds": 1, "nodeName": env.node, "containers": [{
                "name": "main", "image": "busybox:latest", "readinessProbe": probe,
                "command": ["sh", "-c", f"touch /tmp/ready; {WEB_COMMAND}"]}]}})
    svc = env.call("POST", env.url(f"/api/v1/namespaces/{ns}/services"),
               svc_body("probe", selector={"app": "probe"}, ports=[{"port": 80, "targetPort": 8080}]))
    ip = svc["spec"]["clusterIP"]
    try:
        eventually(lambda: set(tally(ip, 80, 12)[0]) == set(names), 60, 0.3, "both probe pods to answer")
        pod_exec(env, "probe-a", "rm /tmp/ready")
        eventually(lambda: tally(ip, 80, 12) == (collections.Counter({"probe-b": 12}), 0), 10, 0.2,
                   "traffic only to the pod that is still ready")
    finally:
        env.http.delete(env.url(f"/api/v1/namespaces/{ns}/services/probe"))
        for name in names:
            env.http.delete(env.url(f"/api/v1/namespaces/{ns}/pods/{name}"))
        eventually(lambda: not pods(env, "app=probe") and not env.http.get(env.url(
            f"/api/v1/namespaces/{ns}/pods"), params={"labelSelector": "app=probe"}).json()["items"], 30, 0.3,
            "the probe pods to be gone")


def test_unprogrammed_addresses_fail_here(env: Env, workload: Obj, proxy: Any) -> None:
    assert connect_error(env.ip(250), 80) == "OSError"  # no route to host: never sent out
    assert connect_error(workload["web"]["clusterIP"], 81) == "ConnectionRefusedError"
    empty = env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"),
                 svc_body("empty", selector={"app": "nothing"}))
    try:
        eventually(lambda: connect_error(empty["spec"]["clusterIP"], 80) == "ConnectionRefusedError", 5, 0.1,
                   "a Service without endpoints to refuse connections")
    finally:
        env.call("DELETE", env.url(f"/api/v1/namespaces/{env.ns}/services/empty"))


def test_a_service_it_cannot_program_gets_an_event(env: Env, workload: Obj, proxy: Any,
                                                   request: pytest.FixtureRequest) -> None:
    if "userspace" not in request.node.callspec.id:
        pytest.skip("only userspace mode binds node ports; kernel mode has nothing that can fail per Service")
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = env.node_ports[0] + 12
    holder.bind(("0.0.0.0", port))
    holder.listen()
    try:
        env.call("POST", env.url(f"/api/v1/namespaces/{env.ns}/services"), svc_body(
            "clash", type="NodePort", selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080,
                                                                       "nodePort": port}]))

        def event() -> Obj | None:
            items = env.call("GET", env.url(f"/api/v1/namespaces/{env.ns}/events"))["items"]
            return next((e for e in items if e["involvedObject"].get("name") == "clash"
                         and e["reason"] == "FailedToProgram"), None)

        found = eventually(event, 10, 0.3, "a FailedToProgram event")
        assert f"{port}/TCP" in found["message"] and found["type"] == "Warning"
        assert http_get(workload["web"]["clusterIP"], 80)  # the others still work
    finally:
        holder.close()
        env.http.delete(env.url(f"/api/v1/namespaces/{env.ns}/services/clash"))


def test_restarted_proxy_writes_the_same_rules(env: Env, workload: Obj, proxy: Any) -> None:
    def steady() -> tuple[list[str], list[str], list[str]]:
        """What the proxy has programmed, once it stays the same for a second (earlier tests' changes done)."""
        last = None
        for _ in range(20):
            now = (our_rules(env.prefix), our_addresses(env.prefix), listeners(env.cidr.rsplit(".", 1)[0] + "."))
            if now == last:
                return now
            last = now
            time.sleep(1)
        raise AssertionError("the proxy's rules keep changing")

    before = steady()
    assert before[1], "no service address on lo"
    proxy()  # restart
    after = steady()
    assert len(after[0]) == len(before[0]) and after == before


def test_scale_to_one_moves_all_traffic_within_two_seconds(env: Env, workload: Obj, proxy: Any) -> None:
    ip = workload["web"]["clusterIP"]
    scale(env, 1)
    try:
        started = time.monotonic()
        survivor = eventually(lambda: [p for p in pods(env, "app=web")] if len(pods(env, "app=web")) == 1 else None,
                              10, 0.05, "one web pod left")[0]["metadata"]["name"]
        gone = time.monotonic()

        def only_survivor() -> bool:
            seen, _ = tally_quick(ip, 20)
            return set(seen) == {survivor}

        eventually(only_survivor, 2.0, 0.05, "every request to go to the remaining pod")
        assert time.monotonic() - gone <= 2.5, f"took {time.monotonic() - gone:.2f}s after scale ({started})"
    finally:
        scale(env, 3)
        eventually(lambda: len(ready_endpoints(env, "web")) == 3, 60, 0.3, "3 ready web endpoints again")
        eventually(lambda: len(tally(ip, 80, 30)[0]) == 3, 10, 0.3, "all three answering again")


def tally_quick(ip: str, n: int) -> tuple[collections.Counter[str], int]:
    seen: collections.Counter[str] = collections.Counter()
    failures = 0
    for _ in range(n):
        try:
            seen[http_get(ip, 80, timeout=0.3)] += 1
        except (OSError, AssertionError):
            failures += 1
            seen["<failed>"] += 1
    return seen, failures
