# ruff: noqa: F401, F811 (pytest fixtures imported from test_kubelet and test_kubelet_pods, then named as parameters)
"""`kubectl debug` with the real kubectl, through a real apiserver, kubelet and Docker: an ephemeral container
added through pods/ephemeralcontainers (kubectl's strategic merge patch) runs in the target container's PID
namespace, so `ps` shows the target's processes (read back with `kubectl logs -c`, or streamed by `kubectl
debug -i`, which attaches); `kubectl attach` reaches an ephemeral container's stdin; the pod keeps running and
its ephemeral containers are never restarted. `--copy-to` makes a copy with the debug container and a shared
process namespace, which a scheduler places and the kubelet runs. The subresource's refusals (changing or
removing an ephemeral container, ports on one) are checked through the API.

Uses the `node` fixture of tests/e2e/test_kubelet.py (its own kubelet and namespace per test).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kube import errors
from kube.resources import PODS
from tests.e2e.test_kubelet import (
    Node,
    kubectl_binary,
    kubelet_apiserver,
    node,
    phase,
    sleeper,
    statuses,
    token_file,
    wait_until,
)
from tests.e2e.test_kubelet_pods import kubeconfig_file, kubectl

pytestmark = pytest.mark.e2e

#: what the target runs, to be found by `ps` in the debug container
TARGET_MARK = "sleep 3600"
#: what only the pod's sandbox runs: seen by `ps` only in the sandbox's PID namespace
PAUSE_MARK = "sleep 2147483647"


def ephemeral(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}


async def running_target(node: Node, name: str, **spec: Any) -> None:
    await node.run_pod(name, sleeper("app"), **spec)
    await node.wait_pod(name, lambda p: phase(p) == "Running" and statuses(p)["app"]["ready"], "Running")


async def debug(config: Path, *args: str, stdin: str | None = "", timeout: float = 60) -> str:
    done = await asyncio.to_thread(kubectl, config, "debug", *args, stdin=stdin, timeout=timeout)
    assert done.returncode == 0, f"kubectl debug {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def attached(config: Path, *args: str, typed: bytes = b"", timeout: float = 60) -> str:
    """kubectl attaching (`debug -i`, `attach -i`) with a stdin that stays open, as a terminal's would, after
    `typed`: a client's stdin EOF ends an attach to a container without stdinOnce (Docker and containerd both
    detach its output then)."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen([kubectl_binary(), *args], stdin=read_end, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "KUBECONFIG": str(config)})
        os.close(read_end)
        os.write(write_end, typed)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.close(write_end)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{out}\n{err}"
    return out


async def logs_of(node: Node, config: Path, pod: str, container: str, mark: str) -> str:
    async def ended() -> str:
        got = await asyncio.to_thread(kubectl, config, "logs", pod, "-c", container, "-n", node.namespace)
        return got.stdout if got.returncode == 0 and mark in got.stdout else ""

    return await wait_until(ended, 30, f"{mark!r} in the log of {pod}/{container}")


async def test_debug_targets_a_containers_processes(node: Node, kubeconfig_file: Path) -> None:
    await running_target(node, "target")
    ns = ["-n", node.namespace]
    shown = await debug(kubeconfig_file, "target", *ns, "--image=busybox:latest", "--target=app", "--", "ps")
    name = re.search(r"Defaulting debug container name to (debugger-\w+)\.", shown)
    assert name, shown
    assert 'Targeting container "app"' in shown
    debugger = name.group(1)
    listed = await logs_of(node, kubeconfig_file, "target", debugger, TARGET_MARK)
    assert PAUSE_MARK not in listed  # the target's PID namespace, not the sandbox's
    assert listed.splitlines()[1].split()[0] == "1"  # the target's own process is PID 1 there

    pod = await node.wait_pod("target", lambda p: "terminated" in ephemeral(p).get(debugger, {}).get("state", {}),
                              "the debugger terminated")
    status = ephemeral(pod)[debugger]
    assert status["state"]["terminated"]["reason"] == "Completed" and status["ready"] is False
    assert status["restartCount"] == 0 and status["containerID"].startswith("docker://")
    [spec] = pod["spec"]["ephemeralContainers"]
    assert spec["targetContainerName"] == "app" and spec["command"] == ["ps"]
    assert spec["securityContext"]["capabilities"]["add"] == ["SYS_PTRACE"]  # kubectl's general profile
    assert phase(pod) == "Running" and statuses(pod)["app"]["restartCount"] == 0

    # -i: kubectl waits for the container, then attaches (or reads its log once it has ended).
    shown = await asyncio.to_thread(attached, kubeconfig_file, "debug", "target", *ns, "-i", "--image=busybox:latest",
                                    "--target=app", "-c", "second", "--", "sh", "-c", "sleep 2; ps")
    assert TARGET_MARK in shown and PAUSE_MARK not in shown
    await asyncio.sleep(2)  # a few syncs: a finished ephemeral container stays finished
    pod = await node.wait_pod("target", lambda p: "terminated" in ephemeral(p).get("second", {}).get("state", {}),
                              "the second debugger terminated")
    assert len([c for c in node.containers("target") if c.labels["io.kubelite.container.name"] == "second"]) == 1
    assert statuses(pod)["app"]["restartCount"] == 0


async def test_attach_reaches_an_ephemeral_containers_stdin(node: Node, kubeconfig_file: Path) -> None:
    await running_target(node, "talk")
    ns = ["-n", node.namespace]
    await debug(kubeconfig_file, "talk", *ns, "-i", "--attach=false", "--image=busybox:latest", "-c", "reader",
                "--", "sh", "-c", "read line; echo got $line")
    await node.wait_pod("talk", lambda p: "running" in ephemeral(p).get("reader", {}).get("state", {}),
                        "the reader running")
    shown = await asyncio.to_thread(attached, kubeconfig_file, "attach", "talk", "-c", "reader", "-i", *ns,
                                    typed=b"hello\n")
    assert "got hello" in shown
    await logs_of(node, kubeconfig_file, "talk", "reader", "got hello")


async def test_the_subresource_only_adds(node: Node) -> None:
    await running_target(node, "strict")
    added = {"name": "dbg", "image": "busybox:latest", "command": ["true"]}
    pod = await node.api.patch(PODS, "strict", {"spec": {"ephemeralContainers": [added]}}, node.namespace,
                               patch_type="strategic", subresource="ephemeralcontainers")
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["dbg"]
    got = await node.api.request_object("GET", PODS.object_path("strict", node.namespace, "ephemeralcontainers"))
    assert got["kind"] == "Pod" and got["spec"]["ephemeralContainers"][0]["name"] == "dbg"
    for patch, message in [
        ({"spec": {"ephemeralContainers": [{**added, "command": ["false"]}]}}, 'ephemeral containers "dbg" may not be'
                                                                               " changed"),
        ({"spec": {"ephemeralContainers": [{"name": "p", "image": "busybox:latest",
                                            "ports": [{"containerPort": 80}]}]}}, "cannot be set for an Ephemeral"),
        ({"spec": {"ephemeralContainers": [{"name": "app", "image": "busybox:latest"}]}}, "Duplicate value"),
        ({"spec": {"$patch": "replace", "containers": pod["spec"]["containers"]}}, '"dbg" may not be removed'),
    ]:
        with pytest.raises(errors.Invalid) as refused:
            await node.api.patch(PODS, "strict", patch, node.namespace, patch_type="strategic",
                                 subresource="ephemeralcontainers")
        assert message in str(refused.value)
    with pytest.raises(errors.Invalid):  # not through the pod itself
        await node.api.patch(PODS, "strict", {"spec": {"ephemeralContainers": [{**added, "name": "other"}]}},
                             node.namespace, patch_type="strategic")
    await node.wait_pod("strict", lambda p: "terminated" in ephemeral(p).get("dbg", {}).get("state", {}), "dbg ran")


async def test_copy_to_runs_a_copy_with_the_debug_container(node: Node, kubeconfig_file: Path, daemons) -> None:
    # The copy loses spec.nodeName (no --same-node): the scheduler places it, on this node by its selector.
    await running_target(node, "orig", nodeSelector={"kubernetes.io/hostname": node.name})
    daemons("scheduler")
    ns = ["-n", node.namespace]
    node.pods.append("orig-copy")
    shown = await debug(kubeconfig_file, "orig", *ns, "--copy-to=orig-copy", "--image=busybox:latest",
                        "--share-processes", "--", "sleep", "1000")
    debugger = re.search(r"Defaulting debug container name to (debugger-\w+)\.", shown)
    assert debugger, shown
    copy = await node.wait_pod("orig-copy", lambda p: phase(p) == "Running" and len(statuses(p)) == 2
                               and all(s["ready"] for s in statuses(p).values()), "the copy Running", timeout=60)
    assert copy["spec"]["nodeName"] == node.name and copy["spec"]["shareProcessNamespace"] is True
    assert [c["command"] for c in copy["spec"]["containers"]][1] == ["sleep", "1000"]
    listed = await asyncio.to_thread(kubectl, kubeconfig_file, "exec", "orig-copy", "-c", debugger.group(1), *ns,
                                     "--", "ps")
    assert listed.returncode == 0, listed.stderr
    assert TARGET_MARK in listed.stdout and "sleep 1000" in listed.stdout  # one PID namespace for the pod
    assert phase(await node.api.get(PODS, "orig", node.namespace)) == "Running"  # the original is left alone
