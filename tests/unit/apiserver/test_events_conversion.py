"""events.k8s.io/v1 over the core/v1 Events' storage: the conversion both ways (Kubernetes' conversion.go, field for
field), the registry table that says so, the stricter validation of writes through events.k8s.io/v1, and Tables
printed from the stored form."""

from __future__ import annotations

import copy
from typing import Any

from apiserver import tables
from apiserver.registry import conversion_for, storage_of, strategy_for
from apiserver.registry.events import from_core, to_core
from kube.resources import EVENTS, EVENTS_V1, PODS, RESOURCES

CORE: dict[str, Any] = {
    "kind": "Event", "apiVersion": "v1",
    "metadata": {"name": "p.1", "namespace": "default", "uid": "u", "resourceVersion": "7",
                 "creationTimestamp": "2026-12-02T10:00:00Z"},
    "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "fieldPath": "spec.containers{c}"},
    "reason": "Started", "message": "Started container c", "source": {"component": "kubelet", "host": "n1"},
    "firstTimestamp": "2026-12-02T10:00:00Z", "lastTimestamp": "2026-12-02T10:05:00Z", "count": 3,
    "type": "Normal", "eventTime": None, "reportingComponent": "", "reportingInstance": "",
}
NEW: dict[str, Any] = {
    "kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": {"name": "p.2", "namespace": "default"},
    "eventTime": "2026-12-02T10:00:00.000000Z", "series": {"count": 2, "lastObservedTime": "2026-12-02T10:01:00Z"},
    "reportingController": "example.com/ctl", "reportingInstance": "ctl-1", "action": "Pull", "reason": "Pulled",
    "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
    "related": {"kind": "Node", "name": "n1"}, "note": "pulled", "type": "Normal", "deprecatedSource": {},
    "deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None,
}


def test_a_core_event_in_events_k8s_io_form() -> None:
    before = copy.deepcopy(CORE)
    assert from_core(CORE) == {
        "kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": CORE["metadata"], "eventTime": None,
        "reason": "Started", "regarding": CORE["involvedObject"], "note": "Started container c", "type": "Normal",
        "deprecatedSource": {"component": "kubelet", "host": "n1"},
        "deprecatedFirstTimestamp": "2026-12-02T10:00:00Z", "deprecatedLastTimestamp": "2026-12-02T10:05:00Z",
        "deprecatedCount": 3,
    }
    assert before == CORE  # cached objects are shared: never changed in place
    assert list(from_core(CORE)) == ["kind", "apiVersion", "metadata", "eventTime", "reason", "regarding", "note",
                                     "type", "deprecatedSource", "deprecatedFirstTimestamp",
                                     "deprecatedLastTimestamp", "deprecatedCount"]  # k8s.io/api's field order


def test_the_conversion_round_trips_both_ways() -> None:
    assert to_core(from_core(CORE)) == CORE
    assert from_core(to_core(NEW)) == NEW
    core = to_core(NEW)
    assert (core["involvedObject"], core["message"], core["reportingComponent"], core["source"]) == (
        NEW["regarding"], "pulled", "example.com/ctl", {})
    assert core["firstTimestamp"] is None and "count" not in core and core["related"] == NEW["related"]


def test_the_registry_serves_one_storage_in_two_versions() -> None:
    assert storage_of(EVENTS_V1) is EVENTS and storage_of(EVENTS) is EVENTS and storage_of(PODS) is PODS
    assert conversion_for(EVENTS) is None and conversion_for(EVENTS_V1) is not None
    assert [r for r in RESOURCES if r.plural == "events"] == [EVENTS, EVENTS_V1]  # `events` names core/v1 first


def test_the_served_form_decodes_with_the_go_shape() -> None:
    decoded, _ = strategy_for(EVENTS_V1).decode({"metadata": {"name": "x", "namespace": "default"},
                                                 "regarding": {"kind": "Pod", "name": "p"}})
    assert decoded["deprecatedSource"] == {} and decoded["eventTime"] is None
    assert decoded["deprecatedFirstTimestamp"] is None and decoded["deprecatedLastTimestamp"] is None


def _causes(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    strategy = strategy_for(EVENTS_V1)
    found = strategy.validate(obj) if old is None else strategy.validate_update(obj, old)
    return [(c["field"], c["message"]) for c in found]


def test_writes_through_events_k8s_io_are_strict() -> None:
    assert _causes(to_core(NEW)) == []
    old_style = to_core({**NEW, "eventTime": None, "type": "Info", "deprecatedCount": 2,
                         "deprecatedSource": {"component": "kubelet"}, "series": {"count": 1}})
    assert _causes(old_style) == [
        ("series.count", 'Invalid value: "": should be at least 2'), ("series.lastObservedTime", "Required value"),
        ("eventTime", "Required value"), ("type", 'Invalid value: "": has invalid value: Info'),
        ("count", 'Invalid value: "": needs to be unset'), ("source", 'Invalid value: "": needs to be unset')]
    # core/v1 keeps taking the old-style event
    assert strategy_for(EVENTS).validate(to_core({**NEW, "eventTime": None, "type": "Info"})) == []


def test_an_events_k8s_io_update_changes_only_series_and_metadata() -> None:
    old = to_core(NEW)
    bumped = to_core({**NEW, "series": {"count": 3, "lastObservedTime": "2026-12-02T10:02:00Z"},
                      "metadata": {**NEW["metadata"], "labels": {"a": "b"}}})
    assert _causes(bumped, old) == []
    changed = to_core({**NEW, "note": "other", "regarding": {"kind": "Pod", "name": "q", "namespace": "default"}})
    assert _causes(changed, old) == [
        ("involvedObject", 'Invalid value: {"kind":"Pod","name":"q","namespace":"default"}: field is immutable'),
        ("message", 'Invalid value: "other": field is immutable')]
    renamed = to_core({**NEW, "reportingController": "example.com/other"})
    assert _causes(renamed, old) == [("reportingController", 'Invalid value: "example.com/other": field is immutable')]


def test_tables_print_the_stored_form_whatever_the_version() -> None:
    core_table = tables.table(EVENTS, [CORE])
    new_table = tables.table(EVENTS_V1, [from_core(CORE)], include_object="Object")
    assert new_table["rows"][0]["cells"] == core_table["rows"][0]["cells"]
    assert new_table["rows"][0]["object"]["apiVersion"] == "events.k8s.io/v1"  # the object as asked for
    columns = [c["name"] for c in new_table["columnDefinitions"]]
    assert columns == ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen",
                       "Count", "Name"]
    cells = dict(zip(columns, core_table["rows"][0]["cells"], strict=True))
    assert (cells["Type"], cells["Reason"], cells["Object"], cells["Subobject"], cells["Source"], cells["Count"],
            cells["Name"]) == ("Normal", "Started", "pod/p", "spec.containers{c}", "kubelet, n1", 3, "p.1")
    series = dict(zip(columns, tables.table(EVENTS_V1, [NEW])["rows"][0]["cells"], strict=True))
    assert (series["Source"], series["Count"], series["Object"]) == ("example.com/ctl, ctl-1", 2, "pod/p")
