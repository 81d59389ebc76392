"""Objects come back exactly as Kubernetes stores and returns them.

Each test creates an object the way `kubectl create -f` does (a plain JSON POST of a minimal manifest,
`fieldManager=kubectl-create&fieldValidation=Strict`) against a real etcd and apiserver, and compares the answer
(and a later GET) with the object Kubernetes returns for the same request, written out literally. Ignored:
what differs on every run (uid, creationTimestamp, resourceVersion, managedFields) and allocated values
(a Service's ClusterIP and NodePorts). `metadata.generation` is compared by its own test below.

Where the expected dicts come from (kubernetes/kubernetes unless named):
  pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go, pkg/apis/batch/v1/defaults.go,
  pkg/apis/rbac/v1/defaults.go             the defaulting functions (SetDefaults_*)
  pkg/registry/*/*/strategy.go             PrepareForCreate (status reset, Pod status and generation)
  plugin/pkg/admission/serviceaccount, plugin/pkg/admission/priority,
  plugin/pkg/admission/defaulttolerationseconds    what a new Pod gets from admission
  k8s.io/api */types.go json tags          fields without omitempty and struct fields, which Go's
                                           encoding/json always writes (`status: {}`, `resources: {}`, ...)
  k8s.io/apimachinery resource.Quantity    quantities in canonical form ("0.5" -> "500m", "1024Mi" -> "1Gi")
  Go encoding/base64 StdEncoding           []byte fields decoded ignoring \\r and \\n, written back unwrapped
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]

CREATE = {"fieldManager": "kubectl-create", "fieldValidation": "Strict"}
VOLATILE_METADATA = ("uid", "creationTimestamp", "resourceVersion", "managedFields")

#: DefaultTolerationSeconds admission: every new Pod tolerates not-ready/unreachable nodes for 300 s.
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]
#: SetDefaults_Container: a container of a template or a Pod (`resources` is a struct: always written).
CONTAINER_DEFAULTS = {"resources": {}, "terminationMessagePath": "/dev/termination-log",
                      "terminationMessagePolicy": "File"}
#: SetDefaults_PodSpec: a template's spec, and a Pod's.
POD_SPEC_DEFAULTS = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "securityContext": {}, "terminationGracePeriodSeconds": 30}


def normalized(obj: Obj) -> Obj:
    meta = {k: v for k, v in obj["metadata"].items() if k not in (*VOLATILE_METADATA, "generation")}
    return {**obj, "metadata": meta}


@pytest.fixture
def http(async_http: httpx.AsyncClient) -> httpx.AsyncClient:
    """Raw requests as the admin (conftest's `async_http`: these tests are all async)."""
    return async_http


@pytest.fixture
async def ns(http: httpx.AsyncClient, run_id: str, request: pytest.FixtureRequest) -> str:
    name = f"shape-{request.node.name.removeprefix('test_')[:30].replace('_', '-').rstrip('-')}-{run_id}"
    reply = await http.post("/api/v1/namespaces", params=CREATE,
                            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert reply.status_code == 201, reply.text
    return name


async def create(http: httpx.AsyncClient, path: str, manifest: Obj) -> Obj:
    """POST as kubectl does; the answer must be 201 and what a GET then returns."""
    reply = await http.post(path, params=CREATE, json=manifest)
    assert reply.status_code == 201, reply.text
    created = reply.json()
    fetched = await http.get(f"{path}/{created['metadata']['name']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == created
    return created


def allocated_ip(value: str) -> str:
    ipaddress.IPv4Address(value)
    return "<allocated>"


# ---------------------------------------------------------------------------------------------- core/v1


async def test_pod(http: httpx.AsyncClient, ns: str) -> None:
    # automountServiceAccountToken: false, because otherwise the ServiceAccount admission plugin also adds a
    # projected kube-api-access-* volume and its mounts, which kubelite does not make (no token projection).
    created = await create(http, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"automountServiceAccountToken": False, "containers": [{
            "name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}}}]},
    })
    assert created["metadata"]["generation"] == 1  # pod strategy PrepareForCreate (PodObservedGenerationTracking)
    assert normalized(created) == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "web", "image": "nginx:1.25",
                "imagePullPolicy": "IfNotPresent",  # a tag other than latest
                "ports": [{"containerPort": 80, "protocol": "TCP"}],  # ContainerPort.Protocol +default="TCP"
                # SetDefaults_Pod copies limits into unset requests (a Pod only); quantities canonical
                "resources": {"limits": {"cpu": "500m", "memory": "1Gi"},
                              "requests": {"cpu": "500m", "memory": "1Gi"}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            }],
            **POD_SPEC_DEFAULTS,
            "enableServiceLinks": True,  # SetDefaults_Pod
            "serviceAccountName": "default", "serviceAccount": "default",  # ServiceAccount admission
            "priority": 0, "preemptionPolicy": "PreemptLowerPriority",  # Priority admission, no default class
            "tolerations": DEFAULT_TOLERATIONS,
        },
        "status": {"phase": "Pending", "qosClass": "Guaranteed"},  # PrepareForCreate: no conditions yet
    }


async def test_pod_spec_parts_get_their_own_defaults(http: httpx.AsyncClient, ns: str) -> None:
    created = await create(http, f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "parts"},
        "spec": {
            "automountServiceAccountToken": False, "hostNetwork": True, "serviceAccount": "builder",
            "volumes": [{"name": "scratch"}, {"name": "conf", "configMap": {"name": "conf"}},
                        {"name": "creds", "secret": {"secretName": "creds"}},
                        {"name": "host", "hostPath": {"path": "/tmp"}},
                        {"name": "info", "downwardAPI": {"items": [
                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "containers": [{
                "name": "app", "image": "registry.local:5000/app@sha256:" + "0" * 64,
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "livenessProbe": {"httpGet": {"port": "http"}},
                "readinessProbe": {"grpc": {"port": 9000}},
                "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2},
                "lifecycle": {"preStop": {"httpGet": {"port": 8080, "path": "/quit"}}},
            }],
        },
    })
    spec = created["spec"]
    assert spec["volumes"] == [
        {"name": "scratch", "emptyDir": {}},  # SetDefaults_Volume: no source is an emptyDir
        {"name": "conf", "configMap": {"name": "conf", "defaultMode": 420}},  # 0644
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 420}},
        {"name": "host", "hostPath": {"path": "/tmp", "type": ""}},  # HostPathUnset, a pointer to ""
        {"name": "info", "downwardAPI": {"defaultMode": 420, "items": [
            {"path": "name", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}]}},
    ]
    assert spec["initContainers"] == [{"name": "init", "image": "busybox", "command": ["true"],
                                       "imagePullPolicy": "Always", **CONTAINER_DEFAULTS}]  # no tag: latest
    probe = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert spec["containers"] == [{
        "name": "app", "image": "registry.local:5000/app@sha256:" + "0" * 64,
        "imagePullPolicy": "IfNotPresent",  # a digest and no tag
        # hostNetwork: SetDefaults_Pod sets each hostPort to its containerPort
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP", "hostPort": 8080}],
        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "livenessProbe": {"httpGet": {"port": "http", "path": "/", "scheme": "HTTP"}, **probe},
        "readinessProbe": {"grpc": {"port": 9000, "service": ""}, **probe},  # GRPCAction.Service +default=""
        "startupProbe": {"tcpSocket": {"port": 8080}, **probe, "periodSeconds": 2},
        "lifecycle": {"preStop": {"httpGet": {"port": 8080, "path": "/quit", "scheme": "HTTP"}}},
        **CONTAINER_DEFAULTS,
    }]
    # v1 conversion: the deprecated serviceAccount fills serviceAccountName, and mirrors it
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("builder", "builder")


async def test_service(http: httpx.AsyncClient, ns: str) -> None:
    created = await create(http, f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    })
    spec = created["spec"]
    spec["clusterIP"] = allocated_ip(spec["clusterIP"])
    spec["clusterIPs"] = [allocated_ip(ip) for ip in spec["clusterIPs"]]
    assert normalized(created) == {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],  # SetDefaults_Service
            "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
            "clusterIP": "<allocated>", "clusterIPs": ["<allocated>"],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",  # the Service REST storage
        },
        "status": {"loadBalancer": {}},  # ServiceStatus.LoadBalancer is a struct
    }


async def test_external_name_and_load_balancer_services(http: httpx.AsyncClient, ns: str) -> None:
    external = await create(http, f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    })
    # SetDefaults_Service defaults sessionAffinity for every type; no ClusterIP, no IP families
    assert external["spec"] == {"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"}
    balanced = await create(http, f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "front"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "front"}, "ports": [{"port": 443, "targetPort": "https"}]},
    })
    spec = balanced["spec"]
    assert 30000 <= spec["ports"][0].pop("nodePort") <= 32767
    spec["clusterIP"] = allocated_ip(spec["clusterIP"])
    spec["clusterIPs"] = [allocated_ip(ip) for ip in spec["clusterIPs"]]
    assert spec == {
        "type": "LoadBalancer", "selector": {"app": "front"},
        "ports": [{"port": 443, "targetPort": "https", "protocol": "TCP"}],
        "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
        "externalTrafficPolicy": "Cluster",  # externally accessible
        "allocateLoadBalancerNodePorts": True,  # SetDefaults_Service, LoadBalancer only
        "clusterIP": "<allocated>", "clusterIPs": ["<allocated>"],
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
    }
    assert balanced["status"] == {"loadBalancer": {}}


async def test_node(http: httpx.AsyncClient, run_id: str) -> None:
    name = f"shape-node-{run_id}"
    created = await create(http, "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    try:
        assert normalized(created) == {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            # NodeSpec, NodeStatus, NodeDaemonEndpoints, DaemonEndpoint, NodeSystemInfo: structs, and DaemonEndpoint
            # Port and every NodeSystemInfo string have no omitempty
            "spec": {},
            "status": {
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "",
                             "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "",
                             "operatingSystem": "", "architecture": ""},
            },
        }
        capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
        registered = await create(http, "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                          "metadata": {"name": f"{name}-k"},
                                                          "status": {"capacity": capacity}})
        assert registered["status"]["allocatable"] == capacity  # SetDefaults_NodeStatus
    finally:
        for node in (name, f"{name}-k"):
            await http.delete(f"/api/v1/nodes/{node}")


async def test_namespace(http: httpx.AsyncClient, run_id: str) -> None:
    name = f"shape-ns-{run_id}"
    created = await create(http, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": name}})
    assert normalized(created) == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},  # SetDefaults_Namespace
        "spec": {"finalizers": ["kubernetes"]},  # namespace strategy PrepareForCreate
        "status": {"phase": "Active"},
    }


async def test_configmap_secret_and_serviceaccount(http: httpx.AsyncClient, ns: str) -> None:
    configmap = await create(http, f"/api/v1/namespaces/{ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"},
        "data": {"a": "1"}, "binaryData": {"blob": "AAEC\nAw=="},
    })
    assert normalized(configmap) == {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "conf", "namespace": ns},
                                     "data": {"a": "1"}, "binaryData": {"blob": "AAECAw=="}}
    # base64 wrapped across lines (as `base64` and openssl write it): Go's decoder skips \r and \n, and the
    # bytes are written back on one line
    wrapped = "TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsIGNvbnNlY3RldHVyIGFkaXBpc2NpbmcgZWxpdCwgc2Vk\r\nIGRvIGVpdXNtb2Q=\n"
    secret = await create(http, f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
        "data": {"text": wrapped}, "stringData": {"user": "admin"},
    })
    assert normalized(secret) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": ns},
        "data": {"text": wrapped.replace("\r\n", "").replace("\n", ""), "user": "YWRtaW4="},
        "type": "Opaque",  # SetDefaults_Secret; stringData is write-only
    }
    account = await create(http, f"/api/v1/namespaces/{ns}/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"}})
    assert normalized(account) == {"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": "builder", "namespace": ns}}


async def test_undecodable_base64_is_a_bad_request_as_kubernetes_decodes_it(http: httpx.AsyncClient,
                                                                            ns: str) -> None:
    reply = await http.post(f"/api/v1/namespaces/{ns}/secrets", params=CREATE, json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": {"k": "aGVsbG8"}})
    assert reply.status_code == 400
    status = reply.json()
    assert (status["reason"], status["message"]) == (
        "BadRequest", 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4')
    assert (await http.get(f"/api/v1/namespaces/{ns}/secrets/bad")).status_code == 404


async def test_persistent_volume_and_claim(http: httpx.AsyncClient, ns: str, run_id: str) -> None:
    claim = await create(http, f"/api/v1/namespaces/{ns}/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}},
    })
    assert normalized(claim) == {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "volumeMode": "Filesystem"},  # SetDefaults_PersistentVolumeClaimSpec
        "status": {"phase": "Pending"},  # SetDefaults_PersistentVolumeClaim
    }
    name = f"shape-pv-{run_id}"
    try:
        volume = await create(http, "/api/v1/persistentvolumes", {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/tmp/{name}"}},
        })
        assert normalized(volume) == {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/tmp/{name}", "type": ""},
                     "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},  # SetDefaults_PV
            "status": {"phase": "Pending"},
        }
    finally:
        await http.delete(f"/api/v1/persistentvolumes/{name}")


async def test_limitrange_resourcequota_event_and_lease(http: httpx.AsyncClient, ns: str) -> None:
    limits = await create(http, f"/api/v1/namespaces/{ns}/limitranges", {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "0.5Mi"}}]},
    })
    # SetDefaults_LimitRangeItem: default from max, defaultRequest from default, then from min
    assert limits["spec"] == {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "512Ki"},
                                          "default": {"cpu": "2"},
                                          "defaultRequest": {"cpu": "2", "memory": "512Ki"}}]}
    quota = await create(http, f"/api/v1/namespaces/{ns}/resourcequotas", {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "quota"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "1000m"}},
    })
    assert normalized(quota) == {"apiVersion": "v1", "kind": "ResourceQuota",
                                 "metadata": {"name": "quota", "namespace": ns},
                                 "spec": {"hard": {"pods": "10", "requests.cpu": "1"}},
                                 "status": {}}  # resourcequota PrepareForCreate: the zero status
    event = await create(http, f"/api/v1/namespaces/{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": "web"},
        "reason": "Started", "message": "Started container web", "type": "Normal", "count": 1,
    })
    assert normalized(event) == {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": "web"},
        "reason": "Started", "message": "Started container web", "type": "Normal", "count": 1,
        # reportingComponent/reportingInstance have no omitempty; the times and source are structs
        "reportingComponent": "", "reportingInstance": "", "source": {},
        "firstTimestamp": None, "lastTimestamp": None, "eventTime": None,
    }
    lease = await create(http, f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "lock"}})
    assert normalized(lease) == {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                 "metadata": {"name": "lock", "namespace": ns}, "spec": {}}


async def test_rolebinding(http: httpx.AsyncClient, ns: str) -> None:
    binding = await create(http, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "readers"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default",
                                                         "namespace": ns}],
    })
    assert normalized(binding) == {  # SetDefaults_RoleBinding, SetDefaults_Subject
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "readers", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                     {"kind": "ServiceAccount", "name": "default", "namespace": ns}],
    }


# ---------------------------------------------------------------------------------------------- workloads

def template(app: str, **spec: Any) -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": app, "image": "nginx:1.25",
                                     "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}}], **spec}}


def defaulted_template(app: str, **spec: Any) -> Obj:
    """A template as Kubernetes stores it: SetDefaults_PodSpec and the container defaults, but not what only a
    Pod gets (requests copied from limits, enableServiceLinks) nor what admission gives a Pod."""
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": app, "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                                     **CONTAINER_DEFAULTS,
                                     "resources": {"limits": {"cpu": "250m", "memory": "64Mi"}}}],
                     **POD_SPEC_DEFAULTS, **spec}}


async def test_deployment(http: httpx.AsyncClient, ns: str) -> None:
    created = await create(http, f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("web")},
    })
    assert created["metadata"]["generation"] == 1
    assert normalized(created) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
        "spec": {  # SetDefaults_Deployment
            "replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": defaulted_template("web"),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        },
        "status": {},  # deployment PrepareForCreate: the zero DeploymentStatus, every field omitempty
    }


async def test_replicaset_daemonset_statefulset(http: httpx.AsyncClient, ns: str) -> None:
    selector = {"matchLabels": {"app": "web"}}
    replicaset = await create(http, f"/apis/apps/v1/namespaces/{ns}/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"selector": selector, "template": template("web")}})
    assert normalized(replicaset) == {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 1, "selector": selector, "template": defaulted_template("web")},
        "status": {"replicas": 0},  # ReplicaSetStatus.Replicas has no omitempty
    }
    daemonset = await create(http, f"/apis/apps/v1/namespaces/{ns}/daemonsets", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": selector, "template": template("web")}})
    assert normalized(daemonset) == {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns},
        "spec": {"selector": selector, "template": defaulted_template("web"),  # SetDefaults_DaemonSet
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                 "revisionHistoryLimit": 10},
        "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                   "numberReady": 0},  # the DaemonSetStatus counts without omitempty
    }
    statefulset = await create(http, f"/apis/apps/v1/namespaces/{ns}/statefulsets", {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"selector": selector, "template": template("web"),
                 "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                     "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    assert normalized(statefulset) == {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns},
        "spec": {  # SetDefaults_StatefulSet
            "replicas": 1, "selector": selector, "template": defaulted_template("web"),
            "serviceName": "",  # a string without omitempty
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            # each claim template is defaulted as a PersistentVolumeClaim
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                      "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "1Gi"}},
                                               "volumeMode": "Filesystem"},
                                      "status": {"phase": "Pending"}}],
        },
        "status": {"replicas": 0, "availableReplicas": 0},  # StatefulSetStatus fields without omitempty
    }


async def test_job_and_cronjob(http: httpx.AsyncClient, ns: str) -> None:
    job = await create(http, f"/apis/batch/v1/namespaces/{ns}/jobs", {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"metadata": {"labels": {"app": "batch"}}, "spec": {
            "restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]}}},
    })
    uid = job["metadata"]["uid"]
    generated = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                 "batch.kubernetes.io/job-name": "once", "job-name": "once"}
    assert normalized(job) == {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "once", "namespace": ns, "labels": {"app": "batch"}},  # copied from the template
        "spec": {  # SetDefaults_Job; the selector and its labels from job strategy generateSelector
            "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "suspend": False, "manualSelector": False, "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": {"metadata": {"labels": {"app": "batch", **generated}}, "spec": {
                "containers": [{"name": "main", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent",
                                **CONTAINER_DEFAULTS}],
                **POD_SPEC_DEFAULTS, "restartPolicy": "Never"}},
        },
        "status": {},
    }
    cronjob = await create(http, f"/apis/batch/v1/namespaces/{ns}/cronjobs", {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "main", "image": "busybox:1.36"}]}}}}},
    })
    assert normalized(cronjob) == {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": ns},
        "spec": {  # SetDefaults_CronJob; the job template is a JobSpec, which SetDefaults_Job does not reach
            "schedule": "0 3 * * *", "concurrencyPolicy": "Allow", "suspend": False,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": {
                "containers": [{"name": "main", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent",
                                **CONTAINER_DEFAULTS}],
                **POD_SPEC_DEFAULTS, "restartPolicy": "OnFailure"}}}},
        },
        "status": {},
    }


# ---------------------------------------------------------------------------------------------- admission


async def test_priority_comes_from_the_priority_class(http: httpx.AsyncClient, ns: str, run_id: str) -> None:
    classes = "/apis/scheduling.k8s.io/v1/priorityclasses"
    high, fallback = f"shape-high-{run_id}", f"shape-default-{run_id}"
    pods = f"/api/v1/namespaces/{ns}/pods"
    spec = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    await create(http, classes, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                 "metadata": {"name": high}, "value": 1000, "preemptionPolicy": "Never"})
    try:
        named = await create(http, pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "named"},
                                          "spec": {**spec, "priorityClassName": high}})
        assert (named["spec"]["priority"], named["spec"]["preemptionPolicy"]) == (1000, "Never")
        critical = await create(http, pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "critical"},
                                             "spec": {**spec, "priorityClassName": "system-node-critical"}})
        assert critical["spec"]["priority"] == 2000001000
        for body, message in (
            ({"priorityClassName": f"missing-{run_id}"},
             f'pods "bad" is forbidden: no PriorityClass with name missing-{run_id} was found'),
            ({"priorityClassName": high, "priority": 7},
             'pods "bad" is forbidden: the integer value of priority (7) must not be provided in pod spec; '
             "priority admission controller computed 1000 from the given PriorityClass name"),
        ):
            reply = await http.post(pods, params=CREATE, json={"apiVersion": "v1", "kind": "Pod",
                                                               "metadata": {"name": "bad"}, "spec": {**spec, **body}})
            assert (reply.status_code, reply.json()["reason"], reply.json()["message"]) == (403, "Forbidden", message)
        # the global default class names itself on pods without one
        await create(http, classes, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                     "metadata": {"name": fallback}, "value": 5, "globalDefault": True})
        plain = await create(http, pods, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
                                          "spec": spec})
        assert (plain["spec"]["priorityClassName"], plain["spec"]["priority"],
                plain["spec"]["preemptionPolicy"]) == (fallback, 5, "PreemptLowerPriority")
    finally:
        for name in (fallback, high):
            await http.delete(f"{classes}/{name}")


# ---------------------------------------------------------------------------------------------- generation


async def test_generation_only_on_kinds_kubernetes_tracks(http: httpx.AsyncClient, ns: str) -> None:
    configmap = await create(http, f"/api/v1/namespaces/{ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gen"}, "data": {"a": "1"}})
    assert "generation" not in configmap["metadata"]  # configmap strategy has no generation
