"""Timestamps in the RFC 3339 form the API uses ("2026-11-22T10:00:00Z"), and Go's durations ("1m30s")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["after", "age", "go_duration_seconds", "human_duration", "now", "now_micro", "parse", "seconds_between",
           "seconds_since"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def go_duration_seconds(text: str) -> float:
    """Seconds in a Go duration as flags and metav1.Duration take it ("5m", "1m30s", "500ms", "8760h0m0s"); a
    plain number is seconds. ValueError for anything else."""
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r} (e.g. 30s, 5m, 1m30s)")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def after(seconds: float) -> str:
    """The time `seconds` from now, e.g. a deletionTimestamp at the end of a grace period."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """MicroTime, as Lease renewTime and Event eventTime use."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def age(text: str | None, *, at: datetime | None = None) -> str:
    """Age the way kubectl prints it (its HumanDuration): 45s, 7m12s, 25m, 5h30m, 20h, 3d4h, 40d, 2y."""
    if not text:
        return "<unknown>"
    return human_duration(((at or datetime.now(UTC)) - parse(text)).total_seconds())


def human_duration(seconds_f: float) -> str:
    seconds = int(seconds_f)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def seconds_between(start: str, end: str) -> float:
    return (parse(end) - parse(start)).total_seconds()


def seconds_since(start: str) -> float:
    return (datetime.now(UTC) - parse(start)).total_seconds()
