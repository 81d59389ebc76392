"""The host side both proxy modes share: Service addresses on `lo`, and the service range routed nowhere.

Each programmed ClusterIP is a /32 on `lo` with this proxy's own label (`lo:<prefix>`), so a restarted proxy
finds exactly its own addresses again; the whole service range gets an `unreachable` route with this proxy's
own metric. Local addresses win over that route (the kernel reads its local table first), so:
- a programmed ClusterIP is local: kernel rules DNAT it before routing, a userspace forwarder binds it;
- any other address of the range fails on this machine (no route to host), never leaves by the default route.
(Kubernetes' IPVS mode does the same with a dummy interface; this machine's kernel has no dummy driver.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import zlib
from pathlib import Path

__all__ = ["CommandError", "HostNetwork", "run_command"]

log = logging.getLogger("proxy.hostnet")

_ADDRESS = re.compile(r"\binet (\d+\.\d+\.\d+\.\d+)/32\b")


class CommandError(Exception):
    pass


async def run_command(argv: list[str], stdin: str | None = None, timeout: float = 30.0) -> str:
    """Run a command; its stdout, or CommandError with its stderr."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise CommandError(f"{argv[0]}: {exc}") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CommandError(f"{' '.join(argv[:3])} timed out after {timeout:.0f}s") from None
    if proc.returncode != 0:
        raise CommandError(f"{' '.join(argv[:3])} exited {proc.returncode}: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


class HostNetwork:
    def __init__(self, service_cidr: str, prefix: str) -> None:
        self.cidr = str(ipaddress.IPv4Network(service_cidr, strict=False))
        self.label = f"lo:{prefix.lower()}"[:15]
        self.metric = 1000 + zlib.crc32(prefix.encode()) % 30000  # our own route beside any other proxy's

    async def addresses(self) -> set[str]:
        out = await run_command(["ip", "-4", "-o", "addr", "show", "dev", "lo", "label", self.label])
        return set(_ADDRESS.findall(out))

    async def sync(self, ips: set[str]) -> set[str]:
        """Make `ips` exactly our addresses on lo and (re)assert the range route, in one `ip -batch`;
        the addresses now present."""
        current = await self.addresses()
        lines = [f"route replace unreachable {self.cidr} metric {self.metric}"]
        lines += [f"address del {ip}/32 dev lo" for ip in sorted(current - ips)]
        lines += [f"address add {ip}/32 dev lo label {self.label}" for ip in sorted(ips - current)]
        try:
            await run_command(["ip", "-force", "-batch", "-"], "\n".join(lines) + "\n")
        except CommandError as exc:  # -force carries on past a bad line: what did get done is read back
            log.warning("ip -batch reported: %s", exc)
        return await self.addresses()

    @staticmethod
    def hairpin(bridge: str) -> int:
        """Turn on hairpin mode on every port of the pods' bridge (a pod reaching itself through its Service
        gets its own packet back out the port it came in by), as the kubelet's hairpin-veth mode does.
        How many ports it changed."""
        changed = 0
        for flag in Path(f"/sys/class/net/{bridge}/brif").glob("*/hairpin_mode"):
            try:
                if flag.read_text().strip() != "1":
                    flag.write_text("1")
                    changed += 1
            except OSError:
                continue  # the port went away meanwhile
        return changed

    @staticmethod
    def bridge_netfilter() -> str | None:
        """Make bridged traffic pass iptables (replies between two pods on one bridge must meet conntrack
        to be un-NATed); None when so, else what is wrong."""
        flag = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
        try:
            if flag.read_text().strip() != "1":
                flag.write_text("1")
            return None
        except OSError as exc:
            return f"cannot enable bridge-nf-call-iptables ({exc}); load br_netfilter"

    async def cleanup(self) -> None:
        """Remove our addresses and our route (a missing one is fine)."""
        current = await self.addresses()
        lines = [f"address del {ip}/32 dev lo" for ip in sorted(current)]
        lines.append(f"route del unreachable {self.cidr} metric {self.metric}")
        try:
            await run_command(["ip", "-force", "-batch", "-"], "\n".join(lines) + "\n")
        except CommandError as exc:
            log.debug("cleanup: %s", exc)
