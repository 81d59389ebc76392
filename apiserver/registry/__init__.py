"""The registry: a Strategy for every served resource type (see `kube.resources.RESOURCES`)."""

from __future__ import annotations

from apiserver.registry.base import Strategy
from apiserver.registry.generic import EventStrategy, LeaseStrategy
from apiserver.registry.namespaces import NamespaceStrategy
from apiserver.registry.nodes import NodeStrategy
from apiserver.registry.pods import PodStrategy
from kube.resources import EVENTS, LEASES, NAMESPACES, NODES, PODS, ResourceType

__all__ = ["STRATEGIES", "Strategy", "strategy_for"]

STRATEGIES: dict[ResourceType, Strategy] = {
    PODS: PodStrategy(PODS),
    NODES: NodeStrategy(NODES),
    NAMESPACES: NamespaceStrategy(NAMESPACES),
    EVENTS: EventStrategy(EVENTS),
    LEASES: LeaseStrategy(LEASES),
}


def strategy_for(resource: ResourceType) -> Strategy:
    return STRATEGIES[resource]
