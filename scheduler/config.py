"""Scheduler configuration: kube-scheduler's KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), the
parts kubelite implements, with the same defaults when there is no file.

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 0          # 0: adaptive
    podInitialBackoffSeconds: 1
    podMaxBackoffSeconds: 10
    podMaxInUnschedulablePodsSeconds: 60  # kubelite: kube-scheduler's --pod-max-in-unschedulable-pods-duration
    leaderElection: {leaderElect: true, leaseDuration: 15s, renewDeadline: 10s, retryPeriod: 2s,
                     resourceNamespace: kube-system, resourceName: kube-scheduler}
    profiles:
    - schedulerName: default-scheduler
      plugins:
        multiPoint: {enabled: [{name: X, weight: N}], disabled: [{name: "*"}]}
        filter: {...}           # also preFilter (same list here)
        score: {...}            # also preScore; enabled entries carry weights
        postFilter: {...}       # DefaultPreemption
      pluginConfig:
      - {name: NodeResourcesFit, args: {scoringStrategy: {type: MostAllocated}}}

Unknown plugin names, bad weights and unsupported fields of the above are errors (ConfigError), reported at
start-up rather than half applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kube import timeutil
from scheduler.framework import Handle
from scheduler.plugins import DEFAULT_FILTERS, DEFAULT_SCORES, REGISTRY, names
from scheduler.preemption import DefaultPreemption
from scheduler.profile import Profile
from scheduler.queue import Nominator

__all__ = [
    "ConfigError", "ProfileConfig", "SchedulerConfig", "build_profiles", "default_config", "load", "parse",
    "parse_duration",
]

_NO_OPS = {names.PRIORITY_SORT, names.DEFAULT_BINDER}


class ConfigError(ValueError):
    pass


@dataclass
class ProfileConfig:
    scheduler_name: str = "default-scheduler"
    filters: list[str] = field(default_factory=lambda: list(DEFAULT_FILTERS))
    scores: list[tuple[str, int]] = field(default_factory=lambda: list(DEFAULT_SCORES))
    preemption: bool = True
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None


@dataclass
class SchedulerConfig:
    profiles: list[ProfileConfig] = field(default_factory=lambda: [ProfileConfig()])
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0
    pod_max_in_unschedulable: float = 60.0
    leader_election: dict[str, Any] = field(default_factory=dict)


def default_config(scheduler_name: str = "default-scheduler") -> SchedulerConfig:
    return SchedulerConfig(profiles=[ProfileConfig(scheduler_name=scheduler_name)])


def parse_duration(value: Any) -> float:
    """`15s`, `1m30s`, `500ms` (metav1.Duration) or a plain number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return timeutil.go_duration_seconds(str(value).strip())
    except ValueError:
        raise ConfigError(f"invalid duration {value!r}") from None


def load(path: str | Path) -> SchedulerConfig:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse(data or {})


def _names(entries: Any, where: str) -> list[dict[str, Any]]:
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) and e.get("name") for e in entries):
        raise ConfigError(f"{where}: expected a list of {{name: ...}}")
    for entry in entries:
        if entry["name"] != "*" and entry["name"] not in REGISTRY and entry["name"] not in _NO_OPS | {
                names.DEFAULT_PREEMPTION}:
            raise ConfigError(f"{where}: unknown plugin {entry['name']!r}; known: {', '.join(sorted(REGISTRY))}")
    return entries


def _weight(entry: dict[str, Any], where: str) -> int | None:
    if "weight" not in entry or entry["weight"] in (None, 0):
        return None
    weight = entry["weight"]
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        raise ConfigError(f"{where}: weight of {entry['name']} must be an integer in [1, 100], got {weight!r}")
    return weight


def _has(name: str, method: str) -> bool:
    return hasattr(REGISTRY.get(name), method)


def _profile(data: dict[str, Any], index: int) -> ProfileConfig:
    where = f"profiles[{index}]"
    profile = ProfileConfig(scheduler_name=data.get("schedulerName") or "default-scheduler")
    if data.get("percentageOfNodesToScore") is not None:
        profile.percentage_of_nodes_to_score = int(data["percentageOfNodesToScore"])
    plugins = data.get("plugins") or {}
    known = {"multiPoint", "queueSort", "preFilter", "filter", "postFilter", "preScore", "score", "reserve",
             "permit", "preBind", "bind", "postBind", "preEnqueue"}
    unknown = set(plugins) - known
    if unknown:
        raise ConfigError(f"{where}.plugins: unknown extension point(s) {sorted(unknown)}")
    filters = list(profile.filters)
    scores = dict(profile.scores)

    def disable(entries: list[dict[str, Any]], points: set[str]) -> None:
        nonlocal filters
        for entry in entries:
            name = entry["name"]
            if "filter" in points:
                filters = [] if name == "*" else [f for f in filters if f != name]
            if "score" in points:
                if name == "*":
                    scores.clear()
                else:
                    scores.pop(name, None)
            if "postFilter" in points and name in ("*", names.DEFAULT_PREEMPTION):
                profile.preemption = False

    def enable(entries: list[dict[str, Any]], points: set[str], point_where: str) -> None:
        for entry in entries:
            name = entry["name"]
            if name == "*":
                raise ConfigError(f"{point_where}: '*' can only be disabled")
            weight = _weight(entry, point_where)
            if name == names.DEFAULT_PREEMPTION:
                if points & {"postFilter", "multiPoint"}:
                    profile.preemption = True
                    continue
                raise ConfigError(f"{point_where}: {name} is a postFilter plugin")
            if name in _NO_OPS:
                continue
            placed = False
            if "filter" in points and _has(name, "filter"):
                if name not in filters:
                    filters.append(name)
                placed = True
            if "score" in points and _has(name, "score"):
                scores[name] = weight or scores.get(name) or dict(DEFAULT_SCORES).get(name, 1)
                placed = True
            if not placed:
                raise ConfigError(f"{point_where}: plugin {name} has no such extension point")

    multi = plugins.get("multiPoint") or {}
    disable(_names(multi.get("disabled"), f"{where}.plugins.multiPoint.disabled"),
            {"filter", "score", "postFilter"})
    enable(_names(multi.get("enabled"), f"{where}.plugins.multiPoint.enabled"),
           {"filter", "score", "multiPoint"}, f"{where}.plugins.multiPoint.enabled")
    for point, covers in (("preFilter", {"filter"}), ("filter", {"filter"}), ("preScore", {"score"}),
                          ("score", {"score"}), ("postFilter", {"postFilter"})):
        section = plugins.get(point) or {}
        disable(_names(section.get("disabled"), f"{where}.plugins.{point}.disabled"), covers)
        enable(_names(section.get("enabled"), f"{where}.plugins.{point}.enabled"), covers,
               f"{where}.plugins.{point}.enabled")
    for point in ("queueSort", "bind"):
        for entry in _names((plugins.get(point) or {}).get("enabled"), f"{where}.plugins.{point}.enabled"):
            if entry["name"] not in _NO_OPS:
                raise ConfigError(f"{where}.plugins.{point}: only the default plugin is supported")
    profile.filters = filters
    profile.scores = list(scores.items())
    for i, entry in enumerate(data.get("pluginConfig") or []):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ConfigError(f"{where}.pluginConfig[{i}]: expected {{name, args}}")
        if entry["name"] not in REGISTRY and entry["name"] != names.DEFAULT_PREEMPTION:
            raise ConfigError(f"{where}.pluginConfig[{i}]: unknown plugin {entry['name']!r}")
        profile.plugin_args[entry["name"]] = entry.get("args") or {}
    return profile


def parse(data: dict[str, Any]) -> SchedulerConfig:
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping")
    kind = data.get("kind", "KubeSchedulerConfiguration")
    if kind != "KubeSchedulerConfiguration":
        raise ConfigError(f"kind: expected KubeSchedulerConfiguration, got {kind!r}")
    cfg = SchedulerConfig()
    try:
        cfg.percentage_of_nodes_to_score = int(data.get("percentageOfNodesToScore") or 0)
        cfg.pod_initial_backoff = float(data.get("podInitialBackoffSeconds", 1))
        cfg.pod_max_backoff = float(data.get("podMaxBackoffSeconds", 10))
        cfg.pod_max_in_unschedulable = float(data.get("podMaxInUnschedulablePodsSeconds", 60))
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc
    if not 0 <= cfg.percentage_of_nodes_to_score <= 100:
        raise ConfigError("percentageOfNodesToScore: must be in [0, 100]")
    if cfg.pod_initial_backoff <= 0 or cfg.pod_max_backoff < cfg.pod_initial_backoff:
        raise ConfigError("podMaxBackoffSeconds must be >= podInitialBackoffSeconds > 0")
    le = data.get("leaderElection") or {}
    out: dict[str, Any] = {}
    if "leaderElect" in le:
        out["leader_elect"] = bool(le["leaderElect"])
    for key, name in (("leaseDuration", "lease_duration"), ("renewDeadline", "renew_deadline"),
                      ("retryPeriod", "retry_period")):
        if key in le:
            out[name] = parse_duration(le[key])
    for key, name in (("resourceNamespace", "namespace"), ("resourceName", "name")):
        if le.get(key):
            out[name] = str(le[key])
    cfg.leader_election = out
    profiles = data.get("profiles")
    if profiles:
        cfg.profiles = [_profile(p or {}, i) for i, p in enumerate(profiles)]
    names_seen = [p.scheduler_name for p in cfg.profiles]
    if len(set(names_seen)) != len(names_seen):
        raise ConfigError(f"profiles: duplicate schedulerName in {names_seen}")
    return cfg


def build_profiles(cfg: SchedulerConfig, handle: Handle, nominator: Nominator | None = None) -> dict[str, Profile]:
    """One Profile per schedulerName; a plugin used at several extension points is one instance."""
    out: dict[str, Profile] = {}
    for pc in cfg.profiles:
        instances: dict[str, Any] = {}

        def get(name: str, pc: ProfileConfig = pc, instances: dict[str, Any] = instances) -> Any:
            if name not in instances:
                try:
                    instances[name] = REGISTRY[name](pc.plugin_args.get(name), handle)
                except (ValueError, TypeError) as exc:
                    raise ConfigError(f"{pc.scheduler_name}: plugin {name}: {exc}") from exc
            return instances[name]

        percentage = pc.percentage_of_nodes_to_score
        profile = Profile(
            pc.scheduler_name, handle.cache, [get(n) for n in pc.filters], [(get(n), w) for n, w in pc.scores],
            nominator=nominator,
            percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score if percentage is None else percentage,
        )
        if pc.preemption:
            profile.post_filter = DefaultPreemption(pc.plugin_args.get(names.DEFAULT_PREEMPTION), profile)
        out[pc.scheduler_name] = profile
    return out
