"""Where a bench's time goes: CPU seconds per process over a phase, and py-spy samples of it.

    with profiling.Phase("secured-gets", {"apiserver": pid, "bench": os.getpid()}, profile_dir) as phase:
        ...  # the load
    phase.cpu  # {"apiserver": seconds, "bench": seconds}

`Phase` reads each process's CPU time (all its threads, from /proc) before and after; with a profile directory it
also runs `py-spy record` (PyPI `py-spy`, as root) on the first process for the phase and writes
`PHASE.txt` (collapsed stacks, py-spy's raw format), `PHASE.svg` (a flame graph drawn from them, see
`flamegraph_svg`) and `PHASE.top.txt` (the frames with the most samples, self and total, see `top_frames`).
Native frames (OpenSSL, the JSON and HTTP parsers' C code) are sampled too, so TLS shows as what it costs.

Neighbours: api.py (its `--profile DIR` flag), the Makefile's `profile` target.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from types import TracebackType

__all__ = ["Phase", "cpu_seconds", "flamegraph_svg", "top_frames"]

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` and all its threads so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of stat(5))


class Phase:
    """CPU seconds of `pids` ({label: pid}) over the `with` block; py-spy samples of the first when `profile_dir`."""

    def __init__(self, name: str, pids: dict[str, int], profile_dir: Path | None = None, rate: int = 100,
                 native: bool = False) -> None:
        self.name = name
        self.pids = pids
        self.profile_dir = profile_dir
        self.rate = rate
        self.native = native
        self.cpu: dict[str, float] = {}
        self.wall = 0.0
        self._start: dict[str, float] = {}
        self._t0 = 0.0
        self._spy: subprocess.Popen[bytes] | None = None

    @property
    def raw_path(self) -> Path:
        assert self.profile_dir is not None
        return self.profile_dir / f"{self.name}.txt"

    def __enter__(self) -> Phase:
        if self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            spy = shutil.which("py-spy")
            if spy is None:
                raise RuntimeError("--profile needs py-spy (pip install py-spy)")
            pid = next(iter(self.pids.values()))
            # Native frames need the process stopped at each sample (it runs far slower then); Python frames alone
            # are read while it runs.
            how = ["--native"] if self.native else ["--nonblocking"]
            self._spy = subprocess.Popen(
                [spy, "record", "--pid", str(pid), "--rate", str(self.rate), "--format", "raw", *how, "--nolineno",
                 "--output", str(self.raw_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # py-spy attaches before the load starts
        self._start = {label: cpu_seconds(pid) for label, pid in self.pids.items()}
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.wall = time.perf_counter() - self._t0
        self.cpu = {label: cpu_seconds(pid) - self._start[label] for label, pid in self.pids.items()}
        if self._spy is None:
            return
        self._spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        try:
            self._spy.wait(30)
        except subprocess.TimeoutExpired:
            self._spy.kill()
            self._spy.wait()
        if exc_type is None and self.raw_path.exists():
            stacks = read_stacks(self.raw_path)
            assert self.profile_dir is not None
            (self.profile_dir / f"{self.name}.svg").write_text(flamegraph_svg(stacks, self.name))
            (self.profile_dir / f"{self.name}.top.txt").write_text(top_frames(stacks))

    def utilisation(self) -> dict[str, float]:
        """Each process's CPU over the phase, in cores (1.0: one core busy all along)."""
        return {label: round(seconds / self.wall, 2) for label, seconds in self.cpu.items()} if self.wall else {}


#: leaves of a thread waiting, which py-spy counts as running when it samples native frames
_WAITING = ("epoll_wait ", "epoll_pwait ", "poll ", "select ", "__futex_abstimed_wait", "pthread_cond_wait",
            "pthread_cond_timedwait", "syscall (libc")


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw output: one `frame;frame;...;leaf COUNT` per line, root first; waiting threads left out."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = tuple(stack.split(";"))
            if not frames[-1].startswith(_WAITING):
                stacks[frames] += int(count)
    return stacks


def top_frames(stacks: Counter[tuple[str, ...]], n: int = 25) -> str:
    """The frames with the most samples where they run themselves (self) and under them (total), as `py-spy top`
    lists them, in percent of all samples."""
    total = sum(stacks.values()) or 1
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    for stack, count in stacks.items():
        own[stack[-1]] += count
        for frame in set(stack):
            under[frame] += count
    lines = [f"{total} samples", "", "  self%  total%  frame (by self)"]
    lines += [f"{100 * c / total:7.1f} {100 * under[f] / total:7.1f}  {f}" for f, c in own.most_common(n)]
    lines += ["", "  self%  total%  frame (by total)"]
    lines += [f"{100 * own[f] / total:7.1f} {100 * c / total:7.1f}  {f}" for f, c in under.most_common(n)]
    return "\n".join(lines) + "\n"


_WIDTH, _ROW = 1600, 16


def flamegraph_svg(stacks: Counter[tuple[str, ...]], title: str) -> str:
    """A flame graph (root at the bottom, width = samples) of collapsed stacks, hover titles giving each frame's
    samples; drawn here so that no other tool is needed."""
    tree: dict[str, list] = {}  # frame -> [count, children]
    total = 0
    for stack, count in stacks.items():
        total += count
        level = tree
        for frame in stack:
            node = level.setdefault(frame, [0, {}])
            node[0] += count
            level = node[1]
    depth = max((len(s) for s in stacks), default=0)
    height = (depth + 2) * _ROW + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           f'<text x="4" y="16">{html.escape(title)}: {total} samples (hover a frame)</text>']
    scale = _WIDTH / (total or 1)

    def draw(level: dict[str, list], x: float, row: int) -> None:
        for frame, (count, children) in sorted(level.items()):
            w = count * scale
            if w >= 0.5:
                y = height - (row + 1) * _ROW
                hue = 20 + (hash(frame) % 40)
                label = html.escape(frame)
                out.append(f'<g><title>{label} ({count} samples, {100 * count / total:.1f}%)</title>'
                           f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_ROW - 1}" '
                           f'fill="hsl({hue},90%,60%)"/>')
                chars = int(w / 6.6)
                if chars >= 3:
                    text = frame if len(frame) <= chars else frame[:chars - 2] + ".."
                    out.append(f'<text x="{x + 2:.1f}" y="{y + 11}">{html.escape(text)}</text>')
                out.append("</g>")
                draw(children, x, row + 1)
            x += w

    with contextlib.suppress(RecursionError):
        draw(tree, 0.0, 0)
    out.append("</svg>")
    return "\n".join(out) + "\n"
