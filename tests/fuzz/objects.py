"""A small valid object of every served kind: the seeds the fuzzer's requests find, and the bases the hand-made
cases spoil one field of."""

from __future__ import annotations

import base64
import copy
from typing import Any

from kube import pki
from kube.resources import ResourceType

Obj = dict[str, Any]

_TEMPLATE = {"metadata": {"labels": {"app": "fuzz"}},
             "spec": {"containers": [{"name": "main", "image": "busybox:latest",
                                      "ports": [{"containerPort": 80}]}]}}
_JOB_TEMPLATE = {"metadata": {"labels": {"app": "fuzz"}},
                 "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:latest"}]}}
_SELECTOR = {"matchLabels": {"app": "fuzz"}}
_CSR_REQUEST = base64.b64encode(pki.certificate_request(pki.new_private_key_pem(), "fuzz", ["fuzzers"])).decode()

_BODIES: dict[str, Obj] = {
    "Namespace": {},
    "Node": {"spec": {}},
    "Pod": {"spec": _TEMPLATE["spec"]},
    "Event": {"involvedObject": {"kind": "Pod", "name": "seed-0", "namespace": "NS", "apiVersion": "v1"},
              "reason": "Fuzzed", "message": "seed", "type": "Normal", "count": 1,
              "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
              "source": {"component": "fuzz"}},
    "Service": {"spec": {"selector": {"app": "fuzz"}, "ports": [{"port": 80, "targetPort": 80}]}},
    "Endpoints": {"subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]},
    "ConfigMap": {"data": {"key": "value"}},
    "Secret": {"type": "Opaque", "data": {"key": "dmFsdWU="}},
    "ServiceAccount": {},
    "PersistentVolume": {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                  "hostPath": {"path": "/tmp/kubelite-fuzz"}}},
    "PersistentVolumeClaim": {"spec": {"accessModes": ["ReadWriteOnce"],
                                       "resources": {"requests": {"storage": "1Gi"}}}},
    "LimitRange": {"spec": {"limits": [{"type": "Container", "default": {"cpu": "100m"}}]}},
    "ResourceQuota": {"spec": {"hard": {"pods": "100"}}},
    "Deployment": {"spec": {"replicas": 0, "selector": _SELECTOR, "template": _TEMPLATE}},
    "ReplicaSet": {"spec": {"replicas": 0, "selector": _SELECTOR, "template": _TEMPLATE}},
    "DaemonSet": {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}},
    "StatefulSet": {"spec": {"replicas": 0, "serviceName": "fuzz", "selector": _SELECTOR, "template": _TEMPLATE}},
    "ControllerRevision": {"revision": 1, "data": {}},
    "Job": {"spec": {"suspend": True, "template": _JOB_TEMPLATE}},
    "CronJob": {"spec": {"schedule": "0 0 1 1 *", "suspend": True,
                         "jobTemplate": {"spec": {"template": _JOB_TEMPLATE}}}},
    "Lease": {"spec": {"holderIdentity": "fuzz", "leaseDurationSeconds": 15}},
    "StorageClass": {"provisioner": "kubernetes.io/no-provisioner"},
    "CSIStorageCapacity": {"storageClassName": "seed-0", "capacity": "1Gi"},
    "Ingress": {"spec": {"rules": [{"host": "fuzz.example.com", "http": {"paths": [{
        "path": "/", "pathType": "Prefix", "backend": {"service": {"name": "seed-0", "port": {"number": 80}}}}]}}]}},
    "IngressClass": {"spec": {"controller": "example.com/fuzz"}},
    "NetworkPolicy": {"spec": {"podSelector": _SELECTOR, "policyTypes": ["Ingress"]}},
    "PriorityClass": {"value": 1000},
    "CertificateSigningRequest": {"spec": {"request": _CSR_REQUEST, "signerName": "example.com/fuzz",
                                           "usages": ["client auth"]}},
    "Role": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    "ClusterRole": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    "RoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "seed-0"},
                    "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "NS"}]},
    "ClusterRoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                       "name": "seed-0"},
                           "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]},
}


def manifest(rt: ResourceType, name: str, namespace: str | None = None) -> Obj:
    """A valid `rt` named `name` (in `namespace` when the kind is namespaced)."""
    body = copy.deepcopy(_BODIES[rt.kind])
    for ref in (body.get("involvedObject"), *(body.get("subjects") or [])):
        if ref and ref.get("namespace") == "NS":
            ref["namespace"] = namespace or "default"
    metadata: Obj = {"name": name, "labels": {"fuzz": "seed"}}
    if rt.namespaced and namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": metadata, **body}
