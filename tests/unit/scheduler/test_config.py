"""KubeSchedulerConfiguration: defaults, multiPoint and per-point enable/disable with weights, plugin args,
several profiles, leader election settings, and refusal of what is not understood."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.config import ConfigError, build_profiles, default_config, load, parse, parse_duration
from scheduler.framework import Handle
from scheduler.plugins import DEFAULT_FILTERS, DEFAULT_SCORES
from tests.unit.scheduler.factories import cluster


def test_defaults_match_kube_scheduler() -> None:
    cfg = default_config()
    profile = cfg.profiles[0]
    assert profile.scheduler_name == "default-scheduler"
    assert dict(profile.scores) == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
                                    "PodTopologySpread": 2, "InterPodAffinity": 2,
                                    "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    assert profile.filters == list(DEFAULT_FILTERS) and profile.preemption
    assert (cfg.pod_initial_backoff, cfg.pod_max_backoff, cfg.pod_max_in_unschedulable) == (1, 10, 60)


def test_disable_and_reweight() -> None:
    cfg = parse({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
                 "profiles": [{"schedulerName": "packer", "plugins": {
                     "score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}, {"name": "ImageLocality"}],
                               "enabled": [{"name": "NodeResourcesFit", "weight": 5}]},
                     "filter": {"disabled": [{"name": "NodePorts"}]},
                     "postFilter": {"disabled": [{"name": "DefaultPreemption"}]}},
                     "pluginConfig": [{"name": "NodeResourcesFit",
                                       "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}]})
    profile = cfg.profiles[0]
    assert profile.scheduler_name == "packer"
    assert dict(profile.scores)["NodeResourcesFit"] == 5
    assert "NodeResourcesBalancedAllocation" not in dict(profile.scores)
    assert "NodePorts" not in profile.filters and not profile.preemption
    built = build_profiles(cfg, Handle(cluster()))["packer"]
    fit = next(p for p, _ in built.scorers if p.name == "NodeResourcesFit")
    assert fit.strategy == "MostAllocated" and built.post_filter is None


def test_multipoint_star_then_a_chosen_few() -> None:
    cfg = parse({"profiles": [{"plugins": {"multiPoint": {
        "disabled": [{"name": "*"}],
        "enabled": [{"name": "NodeResourcesFit", "weight": 2}, {"name": "TaintToleration"},
                    {"name": "DefaultPreemption"}]}}}]})
    profile = cfg.profiles[0]
    assert profile.filters == ["NodeResourcesFit", "TaintToleration"]
    assert profile.scores == [("NodeResourcesFit", 2), ("TaintToleration", 3)]
    assert profile.preemption


def test_two_profiles() -> None:
    cfg = parse({"profiles": [{"schedulerName": "default-scheduler"}, {"schedulerName": "spreader"}]})
    assert [p.scheduler_name for p in cfg.profiles] == ["default-scheduler", "spreader"]
    with pytest.raises(ConfigError, match="duplicate"):
        parse({"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param({"profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]}, "unknown plugin",
                     id="unknown-plugin"),
        pytest.param({"profiles": [{"plugins": {"score": {"enabled": [{"name": "NodeAffinity", "weight": 500}]}}}]},
                     "weight", id="weight-too-big"),
        pytest.param({"profiles": [{"plugins": {"score": {"enabled": [{"name": "NodePorts"}]}}}]},
                     "no such extension point", id="not-a-score-plugin"),
        pytest.param({"profiles": [{"plugins": {"sideways": {}}}]}, "extension point", id="unknown-point"),
        pytest.param({"kind": "Pod"}, "KubeSchedulerConfiguration", id="wrong-kind"),
        pytest.param({"percentageOfNodesToScore": 150}, "percentageOfNodesToScore", id="percentage"),
        pytest.param({"podInitialBackoffSeconds": 5, "podMaxBackoffSeconds": 1}, "Backoff", id="backoff"),
    ],
)
def test_refused(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse(data)


def test_bad_plugin_args_are_refused_when_building() -> None:
    cfg = parse({"profiles": [{"pluginConfig": [{"name": "NodeResourcesFit",
                                                 "args": {"scoringStrategy": {"type": "Sideways"}}}]}]})
    with pytest.raises(ConfigError, match="NodeResourcesFit"):
        build_profiles(cfg, Handle(cluster()))


def test_leader_election_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                    "leaderElection:\n  leaderElect: true\n  leaseDuration: 4s\n  renewDeadline: 3s\n"
                    "  retryPeriod: 500ms\n  resourceName: my-scheduler\n")
    cfg = load(path)
    assert cfg.leader_election == {"leader_elect": True, "lease_duration": 4.0, "renew_deadline": 3.0,
                                   "retry_period": 0.5, "name": "my-scheduler"}
    assert parse_duration("1m30s") == 90 and parse_duration(2) == 2.0
    with pytest.raises(ConfigError):
        parse_duration("soon")


def test_default_scores_are_all_registered() -> None:
    built = build_profiles(default_config(), Handle(cluster()))["default-scheduler"]
    assert [(p.name, w) for p, w in built.scorers] == list(DEFAULT_SCORES)
