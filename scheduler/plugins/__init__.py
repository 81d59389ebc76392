"""Scheduler plugins, one module each, and the registry that maps names to them.

A plugin is a class with `name`, `events` (the cluster events that may make a pod it rejected schedulable) and
any of these methods, found by name when a profile is built:

    pre_filter(state, pod) -> Status | None          SKIP: its filter is not run for this pod
    filter(state, pod, node) -> Status | None        None means the node fits
    add_pod / remove_pod(state, pod, other, node)    keep pre_filter state right when pods are added or
                                                     removed in a what-if (nominated pods, preemption)
    pre_score(state, pod, nodes) -> Status | None    SKIP: its score is not run for this pod
    score(state, pod, node) -> int
    normalize_score(state, pod, scores, nodes)       in place, to 0-100

Constructors take `(args, handle)`: the plugin's `pluginConfig` args and a `framework.Handle`.
"""

from __future__ import annotations

from typing import Any

from scheduler.plugins import names
from scheduler.plugins.imagelocality import ImageLocality
from scheduler.plugins.interpodaffinity import InterPodAffinity
from scheduler.plugins.nodeaffinity import NodeAffinity
from scheduler.plugins.nodename import NodeName
from scheduler.plugins.nodeports import NodePorts
from scheduler.plugins.noderesources import BalancedAllocation, NodeResourcesFit
from scheduler.plugins.nodeunschedulable import NodeReady, NodeUnschedulable
from scheduler.plugins.podtopologyspread import PodTopologySpread
from scheduler.plugins.tainttoleration import TaintToleration
from scheduler.plugins.volumebinding import VolumeBinding

__all__ = ["DEFAULT_FILTERS", "DEFAULT_SCORES", "REGISTRY", "names"]

REGISTRY: dict[str, Any] = {
    names.NODE_UNSCHEDULABLE: NodeUnschedulable,
    names.NODE_READY: NodeReady,
    names.NODE_NAME: NodeName,
    names.TAINT_TOLERATION: TaintToleration,
    names.NODE_AFFINITY: NodeAffinity,
    names.NODE_PORTS: NodePorts,
    names.NODE_RESOURCES_FIT: NodeResourcesFit,
    names.NODE_RESOURCES_BALANCED_ALLOCATION: BalancedAllocation,
    names.POD_TOPOLOGY_SPREAD: PodTopologySpread,
    names.INTER_POD_AFFINITY: InterPodAffinity,
    names.IMAGE_LOCALITY: ImageLocality,
    names.VOLUME_BINDING: VolumeBinding,
}

# The default profile, in kube-scheduler's order. Filters run in this order and stop at the first failure, so
# the order decides which reason a node reports.
DEFAULT_FILTERS: tuple[str, ...] = (
    names.NODE_UNSCHEDULABLE,
    names.NODE_NAME,
    names.TAINT_TOLERATION,
    names.NODE_READY,
    names.NODE_AFFINITY,
    names.NODE_PORTS,
    names.NODE_RESOURCES_FIT,
    names.VOLUME_BINDING,
    names.POD_TOPOLOGY_SPREAD,
    names.INTER_POD_AFFINITY,
)
DEFAULT_SCORES: tuple[tuple[str, int], ...] = (
    (names.TAINT_TOLERATION, 3),
    (names.NODE_AFFINITY, 2),
    (names.NODE_RESOURCES_FIT, 1),
    (names.POD_TOPOLOGY_SPREAD, 2),
    (names.INTER_POD_AFFINITY, 2),
    (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
    (names.IMAGE_LOCALITY, 1),
)
