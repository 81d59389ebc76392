"""Hand-made bad requests, as hypothesis strategies around the inputs issue 10 found harmful: each sent through the
probe (no 5xx, an answer on an intact connection, nothing stored when refused or on a dry run), plus what each case
must do besides (refuse with 400, leave the other objects alone, never leak another namespace's objects).

The examples the issue names are always tried first (explicit examples); hypothesis then varies around them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st

from kube.resources import CONFIGMAPS, DEPLOYMENTS, EVENTS, NAMESPACES, PODS, SECRETS, SERVICES, ResourceType
from tests.fuzz import objects
from tests.fuzz.conftest import Cluster, Knobs, Outcome, Probe, running_cluster

pytestmark = pytest.mark.fuzz


def explore(knobs: Knobs, strategy: st.SearchStrategy[Any], check: Callable[[Any], None],
            examples: Sequence[Any] = ()) -> None:
    """Run `check` on the explicit examples, then on `knobs.handmade` generated ones; no shrinking (each example is
    real HTTP), the first failing example is reported."""
    @hypothesis.settings(max_examples=knobs.handmade, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(strategy)
    def run(value: Any) -> None:
        check(value)

    for example in reversed(examples):
        run = hypothesis.example(example)(run)
    if knobs.seed is not None:
        run = hypothesis.seed(knobs.seed)(run)
    run()


def clean(outcome: Outcome) -> None:
    """The probe's contract held for this request."""
    assert not outcome.failures, f"{outcome.failures}: {outcome.describe()}"


def refused(outcome: Outcome, *codes: int) -> None:
    """Refused with one of `codes` (any 4xx when none are given), and nothing stored (the probe checked etcd)."""
    clean(outcome)
    assert outcome.status is not None
    if codes:
        assert outcome.status in codes, outcome.describe()
    else:
        assert 400 <= outcome.status < 500, outcome.describe()


def make_namespace(cluster: Cluster, name: str) -> str:
    assert cluster.create("/api/v1/namespaces", objects.manifest(NAMESPACES, name)) == 201
    return name


def make(cluster: Cluster, rt: ResourceType, name: str, namespace: str | None = None, **changes: Any) -> dict:
    obj = {**objects.manifest(rt, name, namespace), **changes}
    resp = cluster.http.post(rt.collection_path(namespace), json=obj)
    assert resp.status_code == 201, resp.text
    return resp.json()


def exists(cluster: Cluster, rt: ResourceType, name: str, namespace: str | None = None) -> bool:
    return cluster.http.get(rt.object_path(name, namespace)).status_code == 200


# ---------------------------------------------------------------- names in paths


_WHITESPACE = " \t\n\r\x0b\x0c\x85\xa0\u2028\u3000"
_BAD_SEGMENTS = ["%0A", "%20", "%09", "%0D%0A", "%0B", "%C2%85", "", "%2E%2E", "..", ".", "%2E", "%00", "%20%20",
                 "%E2%80%A8"]
bad_segments = st.one_of(
    st.sampled_from(_BAD_SEGMENTS),
    st.text(alphabet=_WHITESPACE, min_size=1, max_size=4).map(lambda s: quote(s, safe="")),
)


@pytest.mark.parametrize("method", ["DELETE", "GET", "PUT"])
def test_names_that_are_not_names_never_reach_the_collection(cluster: Cluster, probe: Probe, knobs: Knobs,
                                                              unique: str, method: str) -> None:
    ns = make_namespace(cluster, f"names-{method.lower()}-{unique}")
    victims = [make(cluster, CONFIGMAPS, f"victim-{i}", ns)["metadata"]["name"] for i in range(3)]
    collection = CONFIGMAPS.collection_path(ns)

    def check(segment: str) -> None:
        body = json.dumps(objects.manifest(CONFIGMAPS, "victim-0", ns)) if method == "PUT" else None
        outcome = probe.send(f"configmaps/{{name}} {method}", method, f"{collection}/{segment}", body=body)
        clean(outcome)
        answer = outcome.json()
        assert not (isinstance(answer, dict) and answer.get("kind") == "ConfigMapList"), outcome.describe()
        assert outcome.status is not None and 400 <= outcome.status < 500, outcome.describe()
        assert all(exists(cluster, CONFIGMAPS, v, ns) for v in victims), f"a victim is gone: {outcome.describe()}"

    explore(knobs, bad_segments, check, examples=["%0A", "", "%20", "%2E%2E", ".."])


def test_a_namespace_name_that_is_not_a_name_never_reaches_all_namespaces(fuzz_workdir: Any, recorder: Any,
                                                                         knobs: Knobs) -> None:
    """On a cluster of its own: if this reaches the namespace collection, it takes every namespace with it."""
    with running_cluster(fuzz_workdir, "namespaces") as own:
        probe = Probe(own, recorder, "test_handmade")
        victims = [make_namespace(own, f"victim-{i}") for i in range(2)]

        def check(segment: str) -> None:
            outcome = probe.send("namespaces/{name} DELETE", "DELETE", f"/api/v1/namespaces/{segment}")
            refused(outcome)
            for ns in (*victims, "default", "kube-system"):
                answer = own.http.get(f"/api/v1/namespaces/{ns}").json()
                assert not answer["metadata"].get("deletionTimestamp"), f"{ns} is being deleted: " \
                                                                        f"{outcome.describe()}"

        try:
            explore(knobs, bad_segments, check, examples=["%0A", "", "%20"])
        finally:
            probe.close()


# ---------------------------------------------------------------- continue tokens


def _token(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode()


def test_a_continue_token_never_crosses_namespaces(cluster: Cluster, probe: Probe, knobs: Knobs,
                                                   unique: str) -> None:
    a, b = make_namespace(cluster, f"cont-a-{unique}"), make_namespace(cluster, f"cont-b-{unique}")
    mine = {make(cluster, CONFIGMAPS, f"a-{i}", a)["metadata"]["uid"] for i in range(3)}
    for i in range(2):
        make(cluster, CONFIGMAPS, f"b-{i}", b)
        make(cluster, SECRETS, f"b-{i}", b)
    first = cluster.http.get(CONFIGMAPS.collection_path(a), params={"limit": 1}).json()
    token = first["metadata"]["continue"]
    # (Not the cluster-wide configmaps list: A's objects belong in it.)
    uses = st.tuples(st.sampled_from([CONFIGMAPS.collection_path(b), SECRETS.collection_path(b),
                                      SECRETS.collection_path(), SECRETS.collection_path(a)]),
                     st.sampled_from(["GET", "DELETE"]), st.sampled_from([None, 1, 2, 500]))

    def check(use: tuple[str, str, int | None]) -> None:
        path, method, limit = use
        params: dict[str, Any] = {"continue": token, **({"limit": limit} if limit else {})}
        if method == "DELETE":
            params["dryRun"] = "All"  # a delete-collection lists the same way; whatever it lists, keep B's objects
        outcome = probe.send(f"continue token of {a} on {method} {path}", method, path, params=params)
        clean(outcome)
        answer = outcome.json() or {}
        leaked = {i["metadata"].get("uid") for i in answer.get("items") or []} & mine
        assert not leaked, f"{len(leaked)} objects of {a} answered: {outcome.describe()}"
        if path.startswith(f"/api/v1/namespaces/{b}/") and outcome.status == 200:
            assert all(i["metadata"]["namespace"] == b for i in answer.get("items") or []), outcome.describe()

    explore(knobs, uses, check, examples=[(CONFIGMAPS.collection_path(b), "GET", None),
                                          (CONFIGMAPS.collection_path(b), "DELETE", None)])
    assert len(cluster.http.get(CONFIGMAPS.collection_path(a)).json()["items"]) == 3


_not_an_rv = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63, max_value=10**40), st.text(max_size=8),
                       st.floats(allow_nan=True), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
bad_tokens = st.one_of(
    st.fixed_dictionaries({"rv": _not_an_rv, "start": st.one_of(st.text(max_size=10), st.integers(), st.none())},
                          optional={"v": st.sampled_from(["meta.k8s.io/v1", 1, None])}).map(_token),
    st.fixed_dictionaries({"start": st.text(max_size=10)}).map(_token),
    st.lists(st.integers(), max_size=3).map(_token),
    st.binary(max_size=20).map(_token),
    st.text(max_size=20),
)


def test_malformed_continue_tokens_are_refused(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str) -> None:
    ns = make_namespace(cluster, f"tokens-{unique}")
    make(cluster, CONFIGMAPS, "kept", ns)

    def check(value: tuple[str, str]) -> None:
        token, method = value
        if not token:
            return
        outcome = probe.send("malformed continue token", method, CONFIGMAPS.collection_path(ns),
                             params={"continue": token, "limit": 1})
        refused(outcome, 400, 410)
        assert exists(cluster, CONFIGMAPS, "kept", ns)

    explore(knobs, st.tuples(bad_tokens, st.sampled_from(["GET", "DELETE"])), check, examples=[
        (_token({"rv": 10**30, "start": "x"}), "GET"), (_token({"rv": -5, "start": "x"}), "GET"),
        (_token({"rv": "abc", "start": "x"}), "GET"), (_token({"rv": 1, "start": 5}), "GET"),
        (_token({"rv": 10**30, "start": "x"}), "DELETE")])


@pytest.mark.parametrize("watch", [pytest.param(False, id="list"), pytest.param(True, id="watch")])
def test_out_of_range_limit_and_timeout_are_refused(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str,
                                                    watch: bool) -> None:
    ns = make_namespace(cluster, f"params-{'w' if watch else 'l'}-{unique}")
    huge = st.one_of(st.integers(min_value=2**63, max_value=10**30), st.integers(max_value=-(2**63) - 1))
    not_ints = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e400", "1.5", "abc", " 1", "0x1", "1_000", "\u0661"])
    cases = st.one_of(st.tuples(st.just("limit"), huge.map(str)), st.tuples(st.just("limit"), not_ints),
                      st.tuples(st.just("timeoutSeconds"), not_ints), st.tuples(st.just("timeoutSeconds"),
                                                                                huge.map(str)))

    def check(case: tuple[str, str]) -> None:
        name, value = case
        params = {name: value, **({"watch": "true"} if watch else {})}
        outcome = probe.send(f"{name}={value!r}{' watch' if watch else ''}", "GET", CONFIGMAPS.collection_path(ns),
                             params=params)
        refused(outcome, 400)

    explore(knobs, cases, check, examples=[("limit", str(10**20)), ("timeoutSeconds", "nan"),
                                           ("limit", "\u0661"), ("timeoutSeconds", "\u0661")])


# ---------------------------------------------------------------- bodies


_ODD = ["\r", "\n", "\r\n", "\x85", "\u2028", "ключ", "é", "\x00", "\U0001f600", "\t", "\x7f"]
odd_field_names = st.tuples(st.text(max_size=4), st.sampled_from(_ODD), st.text(max_size=4)).map("".join)


@pytest.mark.parametrize("validation", ["", "Ignore", "Warn", "Strict"])
def test_unknown_fields_with_odd_names(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str,
                                       validation: str) -> None:
    ns = make_namespace(cluster, f"fields-{validation.lower() or 'default'}-{unique}")
    counter = iter(range(10**6))

    def check(field: str) -> None:
        name = f"odd-{next(counter)}"
        body = {**objects.manifest(CONFIGMAPS, name, ns), field: "x"}
        params = {"fieldValidation": validation} if validation else {}
        outcome = probe.send(f"unknown field fieldValidation={validation or '-'}", "POST",
                             CONFIGMAPS.collection_path(ns), params=params, body=json.dumps(body))
        clean(outcome)
        if validation == "Strict":
            refused(outcome, 400)
            assert not exists(cluster, CONFIGMAPS, name, ns)
            return
        assert outcome.status == 201, outcome.describe()
        warning = outcome.headers.get("warning", "")
        assert "\r" not in warning and "\n" not in warning
        assert exists(cluster, CONFIGMAPS, name, ns)

    explore(knobs, odd_field_names, check, examples=["ключ", "a\rb", "a\nb", "a\x85b"])


def _deep(kind: str, depth: int, name: str, ns: str) -> tuple[str, str, str]:
    """(method-and-path suffix, content type, body) nesting `depth` levels."""
    wrap = '{"a":' * depth + "1" + "}" * depth
    if kind == "json-object":
        return "create", "application/json", wrap
    if kind == "json-array":
        return "create", "application/json", "[" * depth + "]" * depth
    if kind == "json-in-object":
        head = json.dumps(objects.manifest(CONFIGMAPS, name, ns))[:-1]
        return "create", "application/json", f'{head},"extra":{wrap}}}'
    if kind == "yaml-flow":
        return "create", "application/yaml", "[" * depth + "]" * depth
    if kind == "yaml-map":
        return "create", "application/yaml", "{a: " * depth + "1" + "}" * depth
    if kind == "merge-patch":
        return "patch", "application/merge-patch+json", '{"metadata":{"annotations":' + wrap + "}}"
    if kind == "strategic-merge-patch":
        return "patch", "application/strategic-merge-patch+json", '{"data":' + wrap + "}"
    if kind == "json-patch":
        return "patch", "application/json-patch+json", '[{"op":"add","path":"/data/x","value":' + wrap + "}]"
    return "apply", "application/apply-patch+yaml", "[" * depth + "]" * depth


@pytest.mark.parametrize("kind", ["json-object", "json-array", "json-in-object", "yaml-flow", "yaml-map",
                                  "merge-patch", "strategic-merge-patch", "json-patch", "apply-yaml"])
def test_deeply_nested_bodies_are_a_400(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str,
                                        kind: str) -> None:
    ns = make_namespace(cluster, f"deep-{kind}-{unique}")
    make(cluster, CONFIGMAPS, "target", ns)

    def check(depth: int) -> None:
        verb, content_type, body = _deep(kind, depth, "deep", ns)
        if verb == "create":
            path, method, params = CONFIGMAPS.collection_path(ns), "POST", {}
        else:
            path, method = CONFIGMAPS.object_path("target", ns), "PATCH"
            params = {"fieldManager": "fuzz"} if verb == "apply" else {}
        outcome = probe.send(f"{depth}-deep {kind}", method, path, params=params,
                             headers={"Content-Type": content_type}, body=body)
        refused(outcome, 400)

    explore(knobs, st.sampled_from([2_000, 10_000, 50_000]), check, examples=[10_000])


# Kubernetes' YAML decoder (sigs.k8s.io/yaml) turns int, float and bool keys into strings; null, list and map keys
# it cannot, and refuses. Dates (a datetime for PyYAML) must not break the server either.
_STRINGIFIED_KEYS = ["1", "true", "1.5", "0x1F", "-7", ".inf", "no", "2026-01-01"]
_UNUSABLE_KEYS = ["null", "~", "[a, b]", "{a: b}"]


@pytest.mark.parametrize("where", ["data", "labels", "top", "annotations"])
def test_apply_yaml_with_non_string_keys(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str,
                                         where: str) -> None:
    ns = make_namespace(cluster, f"yaml-{where}-{unique}")
    make(cluster, CONFIGMAPS, "applied", ns)

    def check(case: tuple[str, bool]) -> None:
        key, existing = case
        name = "applied" if existing else "fresh"
        lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {name}", f"  namespace: {ns}"]
        if where in ("labels", "annotations"):
            lines += [f"  {where}:", f"    {key}: x"]
        elif where == "data":
            lines += ["data:", f"  {key}: x"]
        else:
            lines += [f"{key}: x"]
        outcome = probe.send(f"apply yaml key {key} in {where}", "PATCH", CONFIGMAPS.object_path(name, ns),
                             params={"fieldManager": "fuzz"}, headers={"Content-Type": "application/apply-patch+yaml"},
                             body="\n".join(lines) + "\n")
        if key in _UNUSABLE_KEYS:
            refused(outcome, 400, 422)
        else:
            clean(outcome)

    explore(knobs, st.tuples(st.sampled_from(_STRINGIFIED_KEYS + _UNUSABLE_KEYS), st.booleans()), check,
            examples=[("null", True), ("[a, b]", False), ("1", True), ("2026-01-01", False)])


_not_a_list = st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.none(),
                        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


@pytest.mark.parametrize(("section", "directive"), [
    ("metadata", "$deleteFromPrimitiveList/finalizers"), ("spec", "$deleteFromPrimitiveList/imagePullSecrets"),
    ("spec", "$setElementOrder/containers"),
    ("spec", "$retainKeys"),
])
def test_list_directives_with_a_non_list(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str, section: str,
                                         directive: str) -> None:
    ns = make_namespace(cluster, f"directives-{unique}-{directive.strip('$').split('/')[0].lower()}")
    make(cluster, PODS, "target", ns)

    def check(value: Any) -> None:
        outcome = probe.send(f"strategic patch {directive}", "PATCH", PODS.object_path("target", ns),
                             headers={"Content-Type": "application/strategic-merge-patch+json"},
                             body=json.dumps({section: {directive: value}}))
        refused(outcome, 400, 422)

    explore(knobs, _not_a_list, check, examples=["x", 5, None])


def test_patch_directive_with_an_unknown_patch_type(cluster: Cluster, probe: Probe, knobs: Knobs,
                                                    unique: str) -> None:
    """`$patch` is replace, merge or delete; Kubernetes refuses anything else ("unknown patch type")."""
    ns = make_namespace(cluster, f"patchtype-{unique}")
    make(cluster, PODS, "target", ns)
    values = st.one_of(st.integers(), st.booleans(), st.text(max_size=5).filter(
        lambda s: s not in ("replace", "merge", "delete")))

    def check(value: Any) -> None:
        outcome = probe.send("strategic patch $patch", "PATCH", PODS.object_path("target", ns),
                             headers={"Content-Type": "application/strategic-merge-patch+json"},
                             body=json.dumps({"metadata": {"$patch": value}}))
        refused(outcome, 400, 422)

    explore(knobs, values, check, examples=["bogus", 5])


_not_an_int32 = st.one_of(
    st.integers(min_value=0, max_value=1000).map(str), st.booleans(), st.integers(min_value=2**31, max_value=2**70),
    st.integers(max_value=-(2**31) - 1), st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _with(obj: dict, path: Sequence[str | int], value: Any) -> dict:
    copy = json.loads(json.dumps(obj))
    node: Any = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


_INT_FIELDS = {
    "deployment replicas": (DEPLOYMENTS, ["spec", "replicas"]),
    "deployment containerPort": (DEPLOYMENTS, ["spec", "template", "spec", "containers", 0, "ports", 0,
                                               "containerPort"]),
    "pod containerPort": (PODS, ["spec", "containers", 0, "ports", 0, "containerPort"]),
    "pod terminationGracePeriodSeconds": (PODS, ["spec", "terminationGracePeriodSeconds"]),
    "service port": (SERVICES, ["spec", "ports", 0, "port"]),
}


@pytest.mark.parametrize("verb", ["create", "update", "merge-patch"])
@pytest.mark.parametrize("field", list(_INT_FIELDS))
def test_integer_fields_take_integers_in_range(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str,
                                               field: str, verb: str) -> None:
    rt, path = _INT_FIELDS[field]
    ns = make_namespace(cluster, f"ints-{unique}-{verb}-{field.replace(' ', '-').lower()}"[:63].rstrip("-"))
    current = make(cluster, rt, "target", ns)
    counter = iter(range(10**6))

    def check(value: Any) -> None:
        if field.endswith("terminationGracePeriodSeconds") and isinstance(value, int) and not isinstance(value, bool) \
                and -(2**63) <= value < 2**63:
            return  # an int64 field: these are in range
        if verb == "create":
            body = _with(objects.manifest(rt, f"new-{next(counter)}", ns), path, value)
            outcome = probe.send(f"{field} on create", "POST", rt.collection_path(ns), body=json.dumps(body))
        elif verb == "update":
            body = _with(cluster.http.get(rt.object_path("target", ns)).json(), path, value)
            outcome = probe.send(f"{field} on update", "PUT", rt.object_path("target", ns), body=json.dumps(body))
        else:
            if 0 in path:  # a merge patch replaces lists whole: send the spec with the bad value in its list
                patch: Any = {"spec": _with(current, path, value)["spec"]}
            else:
                patch = value
                for part in reversed(path):
                    patch = {part: patch}
            outcome = probe.send(f"{field} on merge patch", "PATCH", rt.object_path("target", ns),
                                 headers={"Content-Type": "application/merge-patch+json"}, body=json.dumps(patch))
        # Go's decoder refuses the body (400) before validation; a patch's result that does not decode is 422
        # Invalid on `patch` (handlers/patch.go)
        refused(outcome, 422 if verb == "merge-patch" else 400)

    examples = {"deployment replicas": ["3", 2**40], "deployment containerPort": [True, "80"],
                "pod containerPort": [True, "80"], "pod terminationGracePeriodSeconds": [2**63, "30"],
                "service port": ["80", 2**40]}[field]
    explore(knobs, _not_an_int32, check, examples=examples)


@pytest.mark.parametrize("field", list(_INT_FIELDS))
def test_integer_fields_refuse_integral_floats(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str,
                                               field: str) -> None:
    rt, path = _INT_FIELDS[field]
    ns = make_namespace(cluster, f"floats-{unique}-{field.replace(' ', '-').lower()}"[:63].rstrip("-"))
    counter = iter(range(10**6))

    def check(value: float) -> None:
        body = _with(objects.manifest(rt, f"new-{next(counter)}", ns), path, value)
        outcome = probe.send(f"{field} as a float", "POST", rt.collection_path(ns), body=json.dumps(body))
        refused(outcome, 400)  # "json: cannot unmarshal number 3.0 into Go struct field ... of type int32"

    explore(knobs, st.integers(min_value=1, max_value=100).map(float), check, examples=[3.0, 80.0])


def test_strict_field_validation_refuses_duplicate_keys(cluster: Cluster, probe: Probe, knobs: Knobs,
                                                        unique: str) -> None:
    ns = make_namespace(cluster, f"dups-{unique}")
    make(cluster, CONFIGMAPS, "target", ns)
    placements = st.sampled_from(["top", "metadata", "data", "labels"])

    def check(case: tuple[str, str]) -> None:
        where, method = case
        name = "target" if method == "PUT" else "dup"
        labels = '"labels":{"a":"1","a":"2"},' if where == "labels" else ""
        meta = f'"name":"{name}",' + ('"name":"other",' if where == "metadata" else "") + labels + f'"namespace":"{ns}"'
        data = '"data":{"k":"1","k":"2"}' if where == "data" else '"data":{"k":"1"}'
        top = '"kind":"ConfigMap",' if where == "top" else ""
        body = f'{{"apiVersion":"v1","kind":"ConfigMap",{top}"metadata":{{{meta}}},{data}}}'
        path = CONFIGMAPS.object_path(name, ns) if method == "PUT" else CONFIGMAPS.collection_path(ns)
        outcome = probe.send(f"duplicate {where} key, Strict {method}", method, path,
                             params={"fieldValidation": "Strict"}, body=body)
        refused(outcome, 400)

    explore(knobs, st.tuples(placements, st.sampled_from(["POST", "PUT"])), check,
            examples=[("metadata", "POST"), ("data", "PUT")])


_DRY_KINDS = [CONFIGMAPS, DEPLOYMENTS, PODS, SERVICES, SECRETS]


def test_dry_run_stores_nothing(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str) -> None:
    ns = make_namespace(cluster, f"dry-{unique}")
    for rt in _DRY_KINDS:
        make(cluster, rt, "existing", ns)
    counter = iter(range(10**6))

    def check(case: tuple[ResourceType, str]) -> None:
        rt, verb = case
        path, body, headers = rt.object_path("existing", ns), None, {}
        if verb == "create":
            method, path = "POST", rt.collection_path(ns)
            name = f"dry-{next(counter)}"
            body = json.dumps(objects.manifest(rt, name, ns))
        elif verb == "update":
            method = "PUT"
            current = cluster.http.get(path).json()
            current["metadata"].setdefault("labels", {})["dry"] = "run"
            body = json.dumps(current)
        elif verb == "patch":
            method, headers = "PATCH", {"Content-Type": "application/merge-patch+json"}
            body = json.dumps({"metadata": {"labels": {"dry": "run"}}})
        elif verb == "delete":
            method = "DELETE"
            body = json.dumps({"gracePeriodSeconds": 0}) if rt is PODS else None
        else:
            method, path = "DELETE", rt.collection_path(ns)
        outcome = probe.send(f"dryRun=All {verb} {rt.plural}", method, path, params={"dryRun": "All"},
                             headers=headers, body=body, dry_run=True)
        clean(outcome)
        assert outcome.status is not None and outcome.status < 300, outcome.describe()
        assert exists(cluster, rt, "existing", ns)
        if verb == "create":
            assert not exists(cluster, rt, name, ns)

    explore(knobs, st.tuples(st.sampled_from(_DRY_KINDS), st.sampled_from(["create", "update", "patch", "delete",
                                                                           "deletecollection"])), check,
            examples=[(SERVICES, "create"), (PODS, "delete"), (CONFIGMAPS, "deletecollection")])


_rfc3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def test_event_timestamps_are_timestamps(cluster: Cluster, probe: Probe, knobs: Knobs, unique: str) -> None:
    ns = make_namespace(cluster, f"events-{unique}")
    counter = iter(range(10**6))
    make(cluster, EVENTS, "base", ns)  # the unspoilt Event is taken
    garbage = st.one_of(st.text(max_size=12).filter(lambda s: not re.match(_rfc3339, s)),
                        st.integers(), st.booleans(), st.lists(st.text(max_size=2), max_size=2))

    def check(case: tuple[str, Any]) -> None:
        field, value = case
        name = f"ev-{next(counter)}"
        body = {**objects.manifest(EVENTS, name, ns), field: value}
        outcome = probe.send(f"Event {field}", "POST", EVENTS.collection_path(ns), body=json.dumps(body))
        refused(outcome, 400)  # metav1.Time's UnmarshalJSON refuses it while the body is decoded
        assert not exists(cluster, EVENTS, name, ns)

    explore(knobs, st.tuples(st.sampled_from(["lastTimestamp", "firstTimestamp", "eventTime"]), garbage), check,
            examples=[("lastTimestamp", "garbage"), ("eventTime", "yesterday")])
