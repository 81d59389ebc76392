# ruff: noqa: F401, F811 (pytest fixtures imported from test_kubelet, then named as test parameters)
"""The kubelet's pod features against a real apiserver and Docker: init containers, volumes (emptyDir,
configMap/secret with live updates, downwardAPI, hostPath, subPath), probes (liveness, readiness,
startup), lifecycle hooks and grace periods, OOMKilled and termination messages, activeDeadlineSeconds,
DNS files and service variables, security context and host ports, and `kubectl exec` (also `-it` on a pty),
`kubectl run -i` (attach), `kubectl logs -f` and `kubectl port-forward` through the apiserver with the
kubelet token.

Uses the `node` fixture of tests/e2e/test_kubelet.py (its own kubelet and namespace per test, fast intervals).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli import supervise
from kube import errors
from kube.resources import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, SECRETS, SERVICES
from tests.e2e.test_kubelet import (  # the fixtures node, kubelet_apiserver, token_file too
    Node,
    kubectl_binary,
    kubelet_apiserver,
    node,
    phase,
    sleeper,
    statuses,
    token_file,
)
from tests.support.secured import Apiserver

pytestmark = pytest.mark.e2e


def app(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", script],
            **extra}


def kubectl(config: Path, *args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl_binary(), *args], capture_output=True, text=True, timeout=timeout, input=stdin,
                          env={**os.environ, "KUBECONFIG": str(config)})


def interactive(config: Path, args: list[str], keys: bytes, timeout: float = 20) -> tuple[int, bytes]:
    """Run kubectl on a pseudo-terminal (as `-it` wants), type `keys`, collect what it shows until it exits."""
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen([kubectl_binary(), *args], stdin=child_fd, stdout=child_fd, stderr=child_fd,
                            env={**os.environ, "KUBECONFIG": str(config)}, close_fds=True)
    os.close(child_fd)
    output = bytearray()
    deadline = time.monotonic() + timeout
    typed = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.2)
            if ready:
                try:
                    output += os.read(main_fd, 4096)
                except OSError:
                    break
            if not typed and (b"#" in output or time.monotonic() > deadline - timeout + 3):
                os.write(main_fd, keys)  # after the shell's prompt
                typed = True
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main_fd)
    return proc.returncode, bytes(output)


@pytest.fixture
def kubeconfig_file(kubelet_apiserver: Apiserver) -> Path:
    """The admin's kubeconfig for the kubelets' apiserver (the one that holds the kubelet token)."""
    return kubelet_apiserver.kubeconfig(embed=True)


async def test_kubectl_exec_and_logs_follow(node: Node, kubeconfig_file: Path) -> None:
    talk = app("talk", "trap 'exit 0' TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.3; done")
    await node.run_pod("shell", sleeper(), talk)
    await node.wait_pod("shell", lambda p: phase(p) == "Running" and all(s["ready"] for s in statuses(p).values())
                        and len(statuses(p)) == 2, "Running")
    ns = ["-n", node.namespace]
    done = await asyncio.to_thread(kubectl, kubeconfig_file, "exec", "shell", "-c", "main", *ns, "--", "echo", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hi\n"
    failed = await asyncio.to_thread(kubectl, kubeconfig_file, "exec", "shell", "-c", "main", *ns, "--",
                                     "sh", "-c", "echo out; echo err >&2; exit 3")
    assert failed.returncode == 3, failed.stderr
    assert failed.stdout == "out\n" and "err" in failed.stderr
    piped = await asyncio.to_thread(kubectl, kubeconfig_file, "exec", "-i", "shell", "-c", "main", *ns, "--",
                                    "sh", "-c", "tr a-z A-Z; echo done", stdin="hello stdin\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "HELLO STDIN\ndone\n"
    wrong = await asyncio.to_thread(kubectl, kubeconfig_file, "exec", "shell", "-c", "nope", *ns, "--", "true")
    assert wrong.returncode != 0 and "nope" in wrong.stderr
    code, output = await asyncio.to_thread(interactive, kubeconfig_file, ["exec", "-it", "shell", "-c", "main", *ns,
                                                                          "--", "sh"], b"echo $((6*7)); tty; exit 5\n")
    assert code == 5, output
    assert b"42" in output and b"/dev/pts/" in output  # a terminal inside, and the exit code outside

    # kubectl run -i: the pod is made, then attached to; its own process reads what kubectl sends.
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 1}})
    ran = await asyncio.to_thread(kubectl, kubeconfig_file, "run", "once", "--image=busybox", "--restart=Never",
                                  "--image-pull-policy=IfNotPresent", "-i", "--rm", f"--overrides={overrides}",
                                  *ns, "--", "sh", "-c", "read line; echo got $line", stdin="hello\n", timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "got hello" in ran.stdout

    proc = subprocess.Popen([kubectl_binary(), "logs", "-f", "shell", "-c", "talk", *ns], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "KUBECONFIG": str(kubeconfig_file)})
    try:
        assert proc.stdout is not None
        lines = [await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 15) for _ in range(8)]
    finally:
        proc.kill()
        proc.wait()
    assert lines[0] == "line 0\n" and lines[7] == "line 7\n"  # the later lines arrived as they were written


def container(node: Node, pod: str, name: str) -> Any:
    return next(c for c in node.containers(pod) if c.labels["io.kubelite.container.name"] == name
                and c.status == "running")


def sh(node: Node, pod: str, name: str, script: str) -> tuple[int, str]:
    result = container(node, pod, name).exec_run(["sh", "-c", script])
    return result.exit_code, result.output.decode()


def state_reason(status: dict[str, Any]) -> str:
    state = status.get("state") or {}
    return next((v.get("reason", "") for v in state.values() if isinstance(v, dict)), "")


async def test_init_containers_run_in_order_before_the_app(node: Node, kubeconfig_file: Path) -> None:
    share = [{"name": "work", "mountPath": "/work"}]
    first = app("first", "echo one >> /work/log", volumeMounts=share)
    second = app("second", "sleep 2; echo two >> /work/log", volumeMounts=share)
    main = app("main", "trap 'exit 0' TERM; cat /work/log; echo main >> /work/log; sleep 3600 & wait",
               volumeMounts=share)
    await node.run_pod("inits", main, initContainers=[first, second], volumes=[{"name": "work", "emptyDir": {}}])
    fail = app("fail", "echo broken; exit 2")
    await node.run_pod("badinit", app("main", "sleep 1"), initContainers=[fail], restartPolicy="Never")
    await node.run_pod("retryinit", app("main", "sleep 3600"), initContainers=[fail])

    def init_statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in (pod.get("status") or {}).get("initContainerStatuses") or []}

    def conditions(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}

    def initializing(pod: dict[str, Any]) -> bool:
        inits = init_statuses(pod)
        return "running" in (inits.get("second") or {}).get("state", {})

    pod = await node.wait_pod("inits", initializing, "the second init container running")
    assert phase(pod) == "Pending"
    assert init_statuses(pod)["first"]["state"]["terminated"]["reason"] == "Completed"
    assert state_reason(statuses(pod)["main"]) == "PodInitializing"
    assert conditions(pod)["Initialized"]["status"] == "False"
    assert conditions(pod)["Initialized"]["reason"] == "ContainersNotInitialized"

    pod = await node.wait_pod("inits", lambda p: phase(p) == "Running" and statuses(p)["main"]["ready"], "Running")
    assert conditions(pod)["Initialized"]["status"] == "True"
    assert all(s["state"]["terminated"]["exitCode"] == 0 for s in init_statuses(pod).values())
    assert sh(node, "inits", "main", "cat /work/log") == (0, "one\ntwo\nmain\n")

    failed = await node.wait_pod("badinit", lambda p: phase(p) == "Failed", "Failed after its init container failed")
    assert init_statuses(failed)["fail"]["state"]["terminated"]["exitCode"] == 2
    assert not [c for c in node.containers("badinit") if c.labels["io.kubelite.container.name"] == "main"]

    def retried(pod: dict[str, Any]) -> bool:
        s = init_statuses(pod).get("fail") or {}
        return s.get("restartCount", 0) >= 1 and phase(pod) == "Pending"

    await node.wait_pod("retryinit", retried, "the failed init container retried")
    shown = await asyncio.to_thread(kubectl, kubeconfig_file, "get", "pod", "retryinit", "-n", node.namespace)
    assert "Init:" in shown.stdout, shown.stdout + shown.stderr


async def test_empty_dirs_are_shared_and_memory_backed_on_request(node: Node) -> None:
    mounts = [{"name": "disk", "mountPath": "/disk"}, {"name": "mem", "mountPath": "/mem"}]
    writer = app("writer", "trap 'exit 0' TERM; echo hello > /disk/f; echo fast > /mem/f; sleep 3600 & wait",
                 volumeMounts=mounts)
    reader = app("reader", "trap 'exit 0' TERM; sleep 3600 & wait", volumeMounts=[
        {"name": "disk", "mountPath": "/shared", "readOnly": True}, {"name": "mem", "mountPath": "/mem"}])
    await node.run_pod("pair", writer, reader, volumes=[
        {"name": "disk", "emptyDir": {}}, {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}])
    pod = await node.wait_pod("pair", lambda p: phase(p) == "Running" and len(statuses(p)) == 2
                              and all(s["ready"] for s in statuses(p).values()), "Running")
    assert sh(node, "pair", "reader", "cat /shared/f /mem/f") == (0, "hello\nfast\n")
    code, _ = sh(node, "pair", "reader", "echo no > /shared/g")
    assert code != 0  # mounted readOnly
    code, mounts_text = sh(node, "pair", "reader", "grep ' /mem ' /proc/mounts")
    assert code == 0 and mounts_text.startswith("tmpfs ") and "size=8192k" in mounts_text

    # The pod's directory (volumes, hosts, resolv.conf) goes with the pod.
    uid = pod["metadata"]["uid"]
    root = next(Path(m["Source"]) for m in container(node, "pair", "writer").attrs["Mounts"]
                if m["Destination"] == "/disk")
    pod_dir = root.parents[2]
    assert pod_dir.name == uid and (pod_dir / "etc-hosts").exists()
    await node.api.delete(PODS, "pair", node.namespace)

    async def gone() -> bool:
        return not pod_dir.exists()

    await wait_until(gone, 20, "the pod's directory to be removed")


async def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.2)


async def test_config_map_secret_and_downward_api_files_follow_their_sources(node: Node) -> None:
    await node.api.create(CONFIGMAPS, {"metadata": {"name": "cfg"}, "data": {"color": "blue", "size": "L"}},
                          node.namespace)
    await node.api.create(SECRETS, {"metadata": {"name": "creds"}, "data": {"user": "YWRtaW4="}}, node.namespace)
    mounts = [{"name": "cfg", "mountPath": "/etc/cfg"}, {"name": "picked", "mountPath": "/etc/picked"},
              {"name": "creds", "mountPath": "/etc/creds"}, {"name": "info", "mountPath": "/etc/info"},
              {"name": "all", "mountPath": "/etc/all"}, {"name": "maybe", "mountPath": "/etc/maybe"},
              {"name": "cfg", "mountPath": "/etc/color", "subPath": "color"}]
    main = sleeper(volumeMounts=mounts, resources={"limits": {"memory": "32Mi"}})
    volumes = [
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "picked", "configMap": {"name": "cfg", "items": [{"key": "size", "path": "sub/size.txt",
                                                                   "mode": 0o600}]}},
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "main", "resource": "limits.memory",
                                                 "divisor": "1Mi"}}]}},
        {"name": "all", "projected": {"sources": [
            {"configMap": {"name": "cfg", "items": [{"key": "color", "path": "color"}]}},
            {"secret": {"name": "creds"}},
            {"downwardAPI": {"items": [{"path": "pod", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
        {"name": "maybe", "configMap": {"name": "absent", "optional": True}},
    ]
    body = {"metadata": {"name": "files", "labels": {"app": "files", "tier": "web"}},
            "spec": {"nodeName": node.name, "containers": [main], "volumes": volumes,
                     "terminationGracePeriodSeconds": 2}}
    await node.api.create(PODS, body, node.namespace)
    await node.run_pod("nomount", sleeper(volumeMounts=[{"name": "x", "mountPath": "/x"}]),
                       volumes=[{"name": "x", "configMap": {"name": "does-not-exist"}}])
    await node.wait_pod("files", lambda p: phase(p) == "Running" and statuses(p)["main"]["ready"], "Running")

    script = ("cat /etc/cfg/color /etc/picked/sub/size.txt /etc/creds/user; echo; cat /etc/info/name; echo; "
              "cat /etc/info/namespace; echo; cat /etc/info/mem; echo; cat /etc/all/color /etc/all/user /etc/all/pod;"
              " echo; ls /etc/maybe | wc -l; cat /etc/color")
    code, out = sh(node, "files", "main", script)
    assert code == 0, out
    assert out.split("\n") == ["blueLadmin", "files", node.namespace, "32", "blueadminfiles", "0", "blue"]
    _, labels = sh(node, "files", "main", "cat /etc/info/labels")
    assert labels == 'app="files"\ntier="web"'
    _, modes = sh(node, "files", "main", "stat -L -c '%a' /etc/creds/user /etc/picked/sub/size.txt /etc/cfg/color")
    assert modes.split() == ["400", "600", "644"]
    _, links = sh(node, "files", "main", "readlink /etc/cfg/color; readlink /etc/cfg/..data")
    assert links.split("\n")[0] == "..data/color" and links.split("\n")[1].startswith("..20")
    code, _ = sh(node, "files", "main", "echo x > /etc/cfg/new")
    assert code != 0  # API data volumes are read-only

    # Updates reach the files (not the subPath mount, as on Kubernetes), and labels the downward API.
    await node.api.patch(CONFIGMAPS, "cfg", {"data": {"color": "green", "shape": "round"}}, node.namespace)
    await node.api.patch(PODS, "files", {"metadata": {"labels": {"tier": "db"}}}, node.namespace)

    async def updated() -> bool:
        code, out = sh(node, "files", "main", "cat /etc/cfg/color /etc/cfg/shape /etc/all/color; echo; "
                                              "cat /etc/info/labels")
        return code == 0 and out == 'greenroundgreen\napp="files"\ntier="db"'

    await wait_until(updated, 15, "the new ConfigMap data and labels in the files")
    assert sh(node, "files", "main", "cat /etc/color") == (0, "blue")

    pod = await node.wait_pod("nomount", lambda p: statuses(p).get("main", {}).get("state", {}).get("waiting"),
                              "waiting")
    assert state_reason(statuses(pod)["main"]) == "ContainerCreating"
    mount_failures = [e for e in await node.events("FailedMount") if e["involvedObject"]["name"] == "nomount"]
    assert mount_failures and 'configmap "does-not-exist" not found' in mount_failures[0]["message"]


async def test_host_path_sub_path_and_claims(node: Node, workdir: Path) -> None:
    host = workdir / f"hostpath-{node.name}"
    claim_dir = workdir / f"claim-{node.name}"
    await node.api.create(PERSISTENTVOLUMES, {
        "metadata": {"name": f"pv-{node.name}"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": str(claim_dir)}, "storageClassName": "manual"}})
    await node.api.create(PERSISTENTVOLUMECLAIMS, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "manual", "volumeName": f"pv-{node.name}"}}, node.namespace)
    # No controller-manager runs here: the claim is marked Bound by hand, as the binder would.
    await node.api.patch(PERSISTENTVOLUMECLAIMS, "data", {"status": {"phase": "Bound"}}, node.namespace,
                         subresource="status")
    try:
        mounts = [{"name": "host", "mountPath": "/host"}, {"name": "host", "mountPath": "/sub", "subPath": "a/b"},
                  {"name": "claim", "mountPath": "/claim"}]
        await node.run_pod("paths", app("main", "trap 'exit 0' TERM; echo root > /host/r; echo deep > /sub/d; "
                                                "echo kept > /claim/k; sleep 3600 & wait", volumeMounts=mounts),
                           volumes=[{"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
                                    {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}}])
        await node.run_pod("typed", sleeper(volumeMounts=[{"name": "f", "mountPath": "/f"}]),
                           volumes=[{"name": "f", "hostPath": {"path": str(host / "missing"), "type": "File"}}])
        await node.wait_pod("paths", lambda p: phase(p) == "Running" and statuses(p)["main"]["ready"], "Running")

        async def written() -> bool:
            return (host / "r").exists() and (host / "a" / "b" / "d").exists() and (claim_dir / "k").exists()

        await wait_until(written, 10, "files written through hostPath, subPath and the claim")
        assert (host / "a" / "b" / "d").read_text() == "deep\n"
        assert (claim_dir / "k").read_text() == "kept\n"

        async def refused() -> list[dict[str, Any]]:
            return [e for e in await node.events("FailedMount") if e["involvedObject"]["name"] == "typed"]

        failures = await wait_until(refused, 10, "a FailedMount event for the missing file")
        assert "hostPath type check failed" in failures[0]["message"] and "is not a file" not in failures[0]["message"]
    finally:
        await node.api.delete(PODS, "paths", node.namespace, grace_period_seconds=0)
        with contextlib.suppress(errors.ApiError):
            await node.api.delete(PERSISTENTVOLUMECLAIMS, "data", node.namespace)
        with contextlib.suppress(errors.ApiError):
            await node.api.delete(PERSISTENTVOLUMES, f"pv-{node.name}")


def conditions(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}


async def test_liveness_failure_restarts_the_container(node: Node) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}
    sick = app("main", "trap 'exit 0' TERM; touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600 & wait",
               livenessProbe=probe)
    await node.run_pod("sick", sick)

    def restarted(pod: dict[str, Any]) -> bool:
        s = statuses(pod).get("main") or {}
        return s.get("restartCount", 0) >= 1 and "running" in s.get("state", {})

    pod = await node.wait_pod("sick", restarted, "restarted after failing its liveness probe", timeout=30)
    assert phase(pod) == "Running"
    assert statuses(pod)["main"]["lastState"]["terminated"]["exitCode"] == 0  # it honoured SIGTERM
    unhealthy = await node.events("Unhealthy")
    assert unhealthy and unhealthy[0]["message"].startswith("Liveness probe failed: ")
    assert unhealthy[0]["involvedObject"]["fieldPath"] == "spec.containers{main}"
    killing = [e for e in await node.events("Killing") if "liveness" in e["message"]]
    assert killing and killing[0]["message"] == "Container main failed liveness probe, will be restarted"


async def test_readiness_and_startup_probes_gate_ready(node: Node) -> None:
    readiness = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1, "failureThreshold": 1}
    web = app("web", "mkdir -p /www; sleep 2; exec httpd -f -p 8080 -h /www", readinessProbe=readiness,
              ports=[{"name": "http", "containerPort": 8080}],
              startupProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 10})
    await node.run_pod("gated", web)

    pod = await node.wait_pod("gated", lambda p: "running" in statuses(p).get("web", {}).get("state", {}), "running")
    assert not statuses(pod)["web"]["ready"]
    await node.wait_pod("gated", lambda p: statuses(p)["web"]["started"], "started (the startup probe passed)")
    pod = await node.pod("gated")
    assert pod is not None and not statuses(pod)["web"]["ready"]  # no /ready yet: 404
    assert conditions(pod)["Ready"]["status"] == "False" and conditions(pod)["ContainersReady"]["status"] == "False"

    sh(node, "gated", "web", "echo ok > /www/ready")
    pod = await node.wait_pod("gated", lambda p: conditions(p)["Ready"]["status"] == "True", "Ready")
    became_ready = conditions(pod)["Ready"]["lastTransitionTime"]
    assert statuses(pod)["web"]["ready"] and conditions(pod)["ContainersReady"]["status"] == "True"

    sh(node, "gated", "web", "rm /www/ready")
    pod = await node.wait_pod("gated", lambda p: conditions(p)["Ready"]["status"] == "False", "not Ready again")
    assert conditions(pod)["Ready"]["lastTransitionTime"] >= became_ready
    assert statuses(pod)["web"]["restartCount"] == 0  # readiness never restarts
    messages = [e["message"] for e in await node.events("Unhealthy")]
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in messages


async def test_pre_stop_runs_before_sigterm_and_grace_ends_in_sigkill(node: Node, workdir: Path) -> None:
    trace = workdir / f"trace-{node.name}"
    trace.mkdir()
    log_mount = [{"name": "trace", "mountPath": "/trace"}]
    polite = app("main", "trap 'echo term >> /trace/order; exit 0' TERM; echo start >> /trace/order; "
                         "sleep 3600 & wait", volumeMounts=log_mount,
                 lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "echo poststart >> /trace/hooks"]}},
                            "preStop": {"exec": {"command": ["sh", "-c", "echo prestop >> /trace/order"]}}})
    stubborn = app("main", "trap '' TERM; sleep 3600 & while true; do wait; done")
    volumes = [{"name": "trace", "hostPath": {"path": str(trace)}}]
    await node.run_pod("polite", polite, volumes=volumes, terminationGracePeriodSeconds=10)
    await node.run_pod("stubborn", stubborn, terminationGracePeriodSeconds=3)
    for name in ("polite", "stubborn"):
        await node.wait_pod(name, lambda p: phase(p) == "Running" and statuses(p)["main"]["ready"], "Running")
    assert (trace / "hooks").read_text() == "poststart\n"

    await node.api.delete(PODS, "polite", node.namespace)
    started = time.monotonic()
    await node.api.delete(PODS, "stubborn", node.namespace)

    async def gone(name: str) -> bool:
        return await node.pod(name) is None

    await wait_until(lambda: gone("polite"), 20, "polite to go")
    assert (trace / "order").read_text() == "start\nprestop\nterm\n"
    await wait_until(lambda: gone("stubborn"), 20, "stubborn to go")
    took = time.monotonic() - started
    assert 2.5 <= took <= 9, f"SIGTERM ignored: killed after {took:.1f}s with a 3 s grace period"


async def test_oom_killed_termination_messages_and_active_deadline(node: Node) -> None:
    # The pause first: Docker 20.10 drops the OOM flag of a process killed within microseconds of its start
    # (its exit is handled before the start completes); a real workload runs a while before it overgrows.
    hog = app("main", "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1",
              resources={"limits": {"memory": "16Mi"}})
    await node.run_pod("hog", hog, restartPolicy="Never")
    said = app("main", "echo 'gone fishing' > /dev/termination-log; exit 4")
    await node.run_pod("said", said, restartPolicy="Never")
    logged = app("main", "echo from the log; exit 5", terminationMessagePolicy="FallbackToLogsOnError",
                 terminationMessagePath="/tmp/msg")
    await node.run_pod("logged", logged, restartPolicy="Never")
    await node.run_pod("deadline", sleeper(), activeDeadlineSeconds=2)

    def oom_killed(p: dict) -> bool:
        # Docker may report the exit before the OOM notification: the kubelet corrects the reason then.
        term = ((statuses(p).get("main") or {}).get("state") or {}).get("terminated") or {}
        return phase(p) == "Failed" and term.get("reason") == "OOMKilled"

    pod = await node.wait_pod("hog", oom_killed, "Failed, OOMKilled")
    assert statuses(pod)["main"]["state"]["terminated"]["exitCode"] == 137
    pod = await node.wait_pod("said", lambda p: phase(p) == "Failed", "Failed")
    assert statuses(pod)["main"]["state"]["terminated"]["message"] == "gone fishing\n"
    pod = await node.wait_pod("logged", lambda p: phase(p) == "Failed", "Failed")
    assert statuses(pod)["main"]["state"]["terminated"]["message"] == "from the log\n"

    pod = await node.wait_pod("deadline", lambda p: phase(p) == "Failed", "Failed by its deadline", timeout=15)
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert "deadline" in pod["status"]["message"]
    assert "terminated" in statuses(pod)["main"]["state"]
    assert await node.events("DeadlineExceeded")


async def test_dns_files_hostname_and_service_variables(node: Node) -> None:
    svc = await node.api.create(SERVICES, {"metadata": {"name": "web-svc"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080},
                                              {"name": "dns", "port": 53, "protocol": "UDP"}]}}, node.namespace)
    ip = svc["spec"].get("clusterIP")
    await asyncio.sleep(0.5)  # the kubelet's Services informer sees it
    await node.run_pod("named", sleeper(), hostname="box", subdomain="grp")
    await node.run_pod("custom", sleeper(), dnsPolicy="None", enableServiceLinks=False, dnsConfig={
        "nameservers": ["192.0.2.53"], "searches": ["example.test"], "options": [{"name": "ndots", "value": "2"}]})
    for name in ("named", "custom"):
        await node.wait_pod(name, lambda p: phase(p) == "Running" and statuses(p)["main"]["ready"], "Running")
    pod = await node.pod("named")
    assert pod is not None

    _, resolv = sh(node, "named", "main", "cat /etc/resolv.conf")
    lines = resolv.splitlines()
    assert lines[0].startswith(f"search {node.namespace}.svc.cluster.local svc.cluster.local cluster.local")
    assert "nameserver 10.96.0.10" in lines and lines[-1] == "options ndots:5"
    _, hosts = sh(node, "named", "main", "cat /etc/hosts; hostname")
    assert f"{pod['status']['podIP']}\tbox.grp.{node.namespace}.svc.cluster.local\tbox" in hosts
    assert hosts.endswith("box\n")
    assert sh(node, "custom", "main", "cat /etc/resolv.conf") == (
        0, "search example.test\nnameserver 192.0.2.53\noptions ndots:2\n")

    env = dict(e.split("=", 1) for e in container(node, "named", "main").attrs["Config"]["Env"])
    custom_env = dict(e.split("=", 1) for e in container(node, "custom", "main").attrs["Config"]["Env"])
    assert not any(k.startswith("WEB_SVC_") for k in custom_env)  # enableServiceLinks: false
    assert ip and ip != "None"  # the apiserver allocated one
    assert env["WEB_SVC_SERVICE_HOST"] == ip and env["WEB_SVC_SERVICE_PORT"] == "80"
    assert env["WEB_SVC_SERVICE_PORT_HTTP"] == "80" and env["WEB_SVC_PORT"] == f"tcp://{ip}:80"
    assert env["WEB_SVC_PORT_53_UDP"] == f"udp://{ip}:53" and env["WEB_SVC_PORT_53_UDP_PROTO"] == "udp"
    assert env["WEB_SVC_PORT_80_TCP_ADDR"] == ip and env["WEB_SVC_PORT_80_TCP_PORT"] == "80"


async def test_security_context_and_host_ports(node: Node) -> None:
    port = supervise.free_port()
    locked = sleeper(securityContext={"runAsUser": 1000, "runAsGroup": 3000, "readOnlyRootFilesystem": True,
                                      "allowPrivilegeEscalation": False,
                                      "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})
    web = app("web", "mkdir -p /tmp/www; echo served > /tmp/www/index.html; exec httpd -f -p 8080 -h /tmp/www",
              ports=[{"containerPort": 8080, "hostPort": port}])
    await node.run_pod("locked", locked)
    await node.run_pod("published", web)
    await node.run_pod("privileged", sleeper(securityContext={"privileged": True}))
    for name in ("locked", "published"):
        await node.wait_pod(name, lambda p: phase(p) == "Running" and len(statuses(p)) == 1
                            and all(s["ready"] for s in statuses(p).values()), "Running")
    assert sh(node, "locked", "main", "id -u; id -g") == (0, "1000\n3000\n")
    code, _ = sh(node, "locked", "main", "touch /new-file")
    assert code != 0  # read-only root filesystem
    _, caps = sh(node, "locked", "main", "grep CapBnd /proc/self/status")
    assert caps.split()[1] == "0000000000000400"  # only NET_BIND_SERVICE (bit 10)
    config = container(node, "locked", "main").attrs["HostConfig"]
    assert config["SecurityOpt"] == ["no-new-privileges"] and config["CpuShares"] == 2

    async def served() -> bool:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
            try:
                return (await http.get(f"http://127.0.0.1:{port}/")).text == "served\n"
            except httpx.HTTPError:
                return False

    await wait_until(served, 15, "the web page on the host port")

    async def refused() -> list[dict[str, Any]]:
        return [e for e in await node.events("Failed") if e["involvedObject"]["name"] == "privileged"
                and "privileged" in e["message"]]

    privileged_failures = await wait_until(refused, 20, "the privileged container refused with a clear event")
    assert privileged_failures[0]["involvedObject"]["fieldPath"] == "spec.containers{main}"


async def test_kubectl_port_forward_reaches_the_pods_localhost(node: Node, kubeconfig_file: Path) -> None:
    # httpd listens on the pod's 127.0.0.1 only: reachable through port-forward, not through the pod IP.
    web = app("web", "mkdir -p /www; echo forwarded > /www/index.html; head -c 3000000 /dev/urandom > /www/big; "
                     "exec httpd -f -p 127.0.0.1:8080 -h /www")
    await node.run_pod("local", web)
    await node.wait_pod("local", lambda p: phase(p) == "Running" and statuses(p)["web"]["ready"], "Running")
    _, digest = sh(node, "local", "web", "md5sum /www/big")
    proc = subprocess.Popen([kubectl_binary(), "port-forward", "pod/local", ":8080", "-n", node.namespace],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "KUBECONFIG": str(kubeconfig_file)})
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 15)
        match = re.search(r"127\.0\.0\.1:(\d+) -> 8080", line)
        assert match, line
        local = f"http://127.0.0.1:{match.group(1)}"
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            assert (await http.get(f"{local}/")).text == "forwarded\n"
            big = await http.get(f"{local}/big")
            assert hashlib.md5(big.content).hexdigest() == digest.split()[0]
            assert (await http.get(f"{local}/")).text == "forwarded\n"  # a second connection on the session
    finally:
        proc.kill()
        proc.wait()
