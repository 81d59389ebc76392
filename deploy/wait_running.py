"""Wait until a pod is Running (used by `make up` after applying the demo). Usage: NAMESPACE NAME SECONDS"""

from __future__ import annotations

import asyncio
import sys

from kube import errors
from kube.client import ApiClient
from kube.resources import PODS


async def wait(namespace: str, name: str, seconds: float) -> int:
    client, _ = ApiClient.from_kubeconfig()
    async with client:
        deadline = asyncio.get_running_loop().time() + seconds
        phase = "?"
        while asyncio.get_running_loop().time() < deadline:
            try:
                pod = await client.get(PODS, name, namespace)
                phase = (pod.get("status") or {}).get("phase", "?")
                if phase == "Running":
                    print(f"pod {namespace}/{name} is Running at {pod['status'].get('podIP')}")
                    return 0
            except errors.NotFound:
                phase = "absent"
            await asyncio.sleep(0.5)
        print(f"pod {namespace}/{name} is still {phase} after {seconds:.0f}s", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(wait(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
