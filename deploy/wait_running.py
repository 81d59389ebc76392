"""Wait for the demo (used by `make up` after applying it). Usage: NAMESPACE NAME SECONDS

For a Deployment NAME: until all its replicas are available and the Service NAME answers on its ClusterIP
(through this node's proxy); prints `... at CLUSTER_IP` (port 80: `curl http://CLUSTER_IP/`). For a bare
Pod NAME (older demos): until it is Running; prints `... at POD_IP`. Exit 1 after SECONDS.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from kube import errors
from kube.client import ApiClient
from kube.resources import DEPLOYMENTS, PODS, SERVICES


def _answers(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


async def wait(namespace: str, name: str, seconds: float) -> int:
    client, _ = ApiClient.from_kubeconfig()
    async with client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        state = "absent"
        while loop.time() < deadline:
            try:
                deployment = await client.get(DEPLOYMENTS, name, namespace)
            except errors.NotFound:
                deployment = None
            if deployment is not None:
                want = deployment["spec"].get("replicas", 1)
                available = (deployment.get("status") or {}).get("availableReplicas", 0)
                state = f"{available}/{want} available"
                if available >= want:
                    try:
                        spec = (await client.get(SERVICES, name, namespace))["spec"]
                    except errors.NotFound:
                        spec = {}
                    ip, port = spec.get("clusterIP"), (spec.get("ports") or [{}])[0].get("port", 80)
                    if ip and ip != "None" and await asyncio.to_thread(_answers, ip, port):
                        print(f"deployment {namespace}/{name}: {state}; service {namespace}/{name} at {ip}")
                        return 0
                    state += f", service {ip or 'missing'} not answering yet"
            else:
                try:
                    pod = await client.get(PODS, name, namespace)
                    state = (pod.get("status") or {}).get("phase", "?")
                    if state == "Running":
                        print(f"pod {namespace}/{name} is Running at {pod['status'].get('podIP')}")
                        return 0
                except errors.NotFound:
                    state = "absent"
            await asyncio.sleep(0.5)
        print(f"{namespace}/{name} is still {state} after {seconds:.0f}s", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(wait(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
