"""Decode Kubernetes protobuf request bodies into the JSON-shaped dicts the rest of the apiserver handles.

Why: kubectl (1.3x+) sends every `kubectl create <generator>` (deployment, namespace, configmap, secret, service,
job, cronjob, serviceaccount, quota, priorityclass, role, clusterrole, rolebinding, clusterrolebinding, ...) as
`Content-Type: application/vnd.kubernetes.protobuf` and does not retry as JSON after a 415. The body is the
4-byte magic `k8s\\x00` followed by a `runtime.Unknown` envelope (typeMeta{apiVersion, kind}, raw,
contentEncoding, contentType) whose `raw` is the object's own protobuf encoding.

This module has three parts and no third-party protobuf code:

* a wire-format reader (`read_varint`, `iter_fields`): varint, 64-bit, length-delimited and 32-bit values;
* `SCHEMAS`, a declarative table of the Kubernetes messages kubelite understands: for each message, field
  number -> (JSON name, type). The numbers are the ones in Kubernetes' `generated.proto` files (k8s.io/api
  core/v1, apps/v1, batch/v1, rbac/v1, policy/v1, autoscaling/v1, scheduling/v1, storage/v1, coordination/v1;
  k8s.io/apimachinery meta/v1, runtime, util/intstr, api/resource), and `KINDS`, the kinds accepted at the top;
* `decode(body)`, which unwraps the envelope and walks the table, giving the dict a JSON client would send.

Fields the table does not know are skipped, never an error (newer clients may send newer fields). Go's
protobuf encoding writes every non-pointer field, even when empty; to match the JSON a client would have sent
(`omitempty`), empty scalars are dropped unless the table marks the field as a Go pointer (type suffix `?`),
whose zero value is meaningful (`replicas: 0`, `immutable: false`), or as a scalar whose JSON tag lacks
`omitempty` where zero is a real value the server needs (PriorityClass `value: 0`). Empty nested messages stay as
`{}`, as Go's JSON encoder keeps them too.

Neighbours: `apiserver.routes` reads request bodies and calls `decode` for the protobuf content type;
errors are `kube.errors` exceptions (BadRequest for a malformed body, UnsupportedMediaType for a kind the
table lacks), which the apiserver turns into `Status` replies.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kube import errors

__all__ = ["CONTENT_TYPE", "MAGIC", "SCHEMAS", "decode", "decode_message", "iter_fields", "read_varint"]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
_MAX_DEPTH = 100  # nesting guard: a hostile body must not exhaust the Python stack

# ---------------------------------------------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------------------------------------------


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read one base-128 varint at `pos`; return (unsigned value, next position). At most 10 bytes, 64 bits."""
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise errors.BadRequest("malformed protobuf body: truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise errors.BadRequest("malformed protobuf body: varint longer than 10 bytes")
    if result >> 64:
        raise errors.BadRequest("malformed protobuf body: varint overflows 64 bits")
    return result, pos


def _skip_group(buf: bytes, pos: int, number: int, depth: int) -> int:
    """Skip a (deprecated) group up to its matching end tag; only reached for unknown fields."""
    if depth > _MAX_DEPTH:
        raise errors.BadRequest("malformed protobuf body: nested too deeply")
    while True:
        key, pos = read_varint(buf, pos)
        inner, wire = key >> 3, key & 7
        if wire == EGROUP:
            if inner != number:
                raise errors.BadRequest("malformed protobuf body: mismatched end-group tag")
            return pos
        _, pos = _read_value(buf, pos, inner, wire, depth + 1)


def _read_value(buf: bytes, pos: int, number: int, wire: int, depth: int) -> tuple[int | bytes | None, int]:
    """Read the value of one field whose key was already read."""
    if wire == VARINT:
        return read_varint(buf, pos)
    if wire == I64:
        if pos + 8 > len(buf):
            raise errors.BadRequest("malformed protobuf body: truncated 64-bit field")
        return int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
    if wire == I32:
        if pos + 4 > len(buf):
            raise errors.BadRequest("malformed protobuf body: truncated 32-bit field")
        return int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
    if wire == LEN:
        length, pos = read_varint(buf, pos)
        if pos + length > len(buf):
            raise errors.BadRequest(f"malformed protobuf body: field {number} claims {length} bytes, "
                                    f"only {len(buf) - pos} remain")
        return buf[pos:pos + length], pos + length
    if wire == SGROUP:
        return None, _skip_group(buf, pos, number, depth)
    raise errors.BadRequest(f"malformed protobuf body: field {number} has invalid wire type {wire}")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, raw value) for each field of one message, in wire order.

    Varint and fixed-width values are unsigned ints, length-delimited ones are bytes; groups are skipped.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise errors.BadRequest("malformed protobuf body: field number 0")
        if wire == EGROUP:
            raise errors.BadRequest("malformed protobuf body: unexpected end-group tag")
        value, pos = _read_value(buf, pos, number, wire, 0)
        if value is not None:
            yield number, wire, value


def _signed64(value: int) -> int:
    """Two's complement: negative int32/int64 values travel as 10-byte varints."""
    return value - (1 << 64) if value >= 1 << 63 else value


# ---------------------------------------------------------------------------------------------------------------
# Schema table
#
# Type mini-language (kept as strings so the table reads like the .proto files):
#   string int32 int64 bool bytes        scalars (bytes -> base64 string, as in JSON)
#   Time MicroTime Quantity IntOrString   Kubernetes wrapper messages with a JSON scalar form
#   RawExtension                          runtime.RawExtension: embedded JSON (or an enveloped protobuf object)
#   Name                                  a nested message from SCHEMAS
#   []T                                   repeated T
#   {string} {bytes} {Quantity}           map<string, T>
#   ...Name                               a Go-embedded struct: its fields are inlined into the parent's JSON
#   T?                                    a Go pointer (or a scalar JSON writes without omitempty, whose zero
#                                         the server needs): the zero value is kept rather than dropped
# ---------------------------------------------------------------------------------------------------------------

Schema = dict[int, tuple[str, str]]

_OBJECT = {1: ("metadata", "ObjectMeta")}

SCHEMAS: dict[str, Schema] = {
    # k8s.io/apimachinery/pkg/runtime
    "runtime.TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "runtime.Unknown": {1: ("typeMeta", "runtime.TypeMeta"), 2: ("raw", "bytes"),
                        3: ("contentEncoding", "string"), 4: ("contentType", "string")},
    # k8s.io/apimachinery/pkg/apis/meta/v1
    "ObjectMeta": {
        1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
        4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
        7: ("generation", "int64"), 8: ("creationTimestamp", "Time"), 9: ("deletionTimestamp", "Time"),
        10: ("deletionGracePeriodSeconds", "int64?"), 11: ("labels", "{string}"),
        12: ("annotations", "{string}"), 13: ("ownerReferences", "[]OwnerReference"),
        14: ("finalizers", "[]string"),
    },
    "OwnerReference": {5: ("apiVersion", "string"), 1: ("kind", "string"), 3: ("name", "string"),
                       4: ("uid", "string"), 6: ("controller", "bool?"), 7: ("blockOwnerDeletion", "bool?")},
    "LabelSelector": {1: ("matchLabels", "{string}"), 2: ("matchExpressions", "[]LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "[]string")},
    "Condition": {1: ("type", "string"), 2: ("status", "string"), 3: ("observedGeneration", "int64"),
                  4: ("lastTransitionTime", "Time"), 5: ("reason", "string"), 6: ("message", "string")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int64?"), 2: ("preconditions", "Preconditions"),
                      3: ("orphanDependents", "bool?"), 4: ("propagationPolicy", "string?"),
                      5: ("dryRun", "[]string")},
    "Preconditions": {1: ("uid", "string?"), 2: ("resourceVersion", "string?")},
    # k8s.io/api/policy/v1
    "Eviction": {**_OBJECT, 2: ("deleteOptions", "DeleteOptions")},
    # k8s.io/api/core/v1: top-level kinds
    "Namespace": {**_OBJECT, 2: ("spec", "NamespaceSpec"), 3: ("status", "NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "[]string")},
    "NamespaceStatus": {1: ("phase", "string"), 2: ("conditions", "[]NamespaceCondition")},
    "NamespaceCondition": {1: ("type", "string"), 2: ("status", "string"), 4: ("lastTransitionTime", "Time"),
                           5: ("reason", "string"), 6: ("message", "string")},
    "ConfigMap": {**_OBJECT, 4: ("immutable", "bool?"), 2: ("data", "{string}"), 3: ("binaryData", "{bytes}")},
    "Secret": {**_OBJECT, 5: ("immutable", "bool?"), 2: ("data", "{bytes}"), 4: ("stringData", "{string}"),
               3: ("type", "string")},
    "Service": {**_OBJECT, 2: ("spec", "ServiceSpec"), 3: ("status", "ServiceStatus")},
    "ServiceSpec": {
        1: ("ports", "[]ServicePort"), 2: ("selector", "{string}"), 3: ("clusterIP", "string"),
        18: ("clusterIPs", "[]string"), 4: ("type", "string"), 5: ("externalIPs", "[]string"),
        7: ("sessionAffinity", "string"), 8: ("loadBalancerIP", "string"),
        9: ("loadBalancerSourceRanges", "[]string"), 10: ("externalName", "string"),
        11: ("externalTrafficPolicy", "string"), 12: ("healthCheckNodePort", "int32"),
        13: ("publishNotReadyAddresses", "bool"), 14: ("sessionAffinityConfig", "SessionAffinityConfig"),
        19: ("ipFamilies", "[]string"), 17: ("ipFamilyPolicy", "string?"),
        20: ("allocateLoadBalancerNodePorts", "bool?"), 21: ("loadBalancerClass", "string?"),
        22: ("internalTrafficPolicy", "string?"), 23: ("trafficDistribution", "string?"),
    },
    "ServicePort": {1: ("name", "string"), 2: ("protocol", "string"), 6: ("appProtocol", "string?"),
                    3: ("port", "int32"), 4: ("targetPort", "IntOrString"), 5: ("nodePort", "int32")},
    "SessionAffinityConfig": {1: ("clientIP", "ClientIPConfig")},
    "ClientIPConfig": {1: ("timeoutSeconds", "int32?")},
    "ServiceStatus": {1: ("loadBalancer", "LoadBalancerStatus"), 2: ("conditions", "[]Condition")},
    "LoadBalancerStatus": {1: ("ingress", "[]LoadBalancerIngress")},
    "LoadBalancerIngress": {1: ("ip", "string"), 2: ("hostname", "string"), 4: ("ports", "[]PortStatus")},
    "PortStatus": {1: ("port", "int32"), 2: ("protocol", "string"), 3: ("error", "string?")},
    "Pod": {**_OBJECT, 2: ("spec", "PodSpec"), 3: ("status", "PodStatus")},
    "PodStatus": {1: ("phase", "string"), 2: ("conditions", "[]PodCondition"), 3: ("message", "string"),
                  4: ("reason", "string"), 11: ("nominatedNodeName", "string"), 5: ("hostIP", "string"),
                  6: ("podIP", "string"), 12: ("podIPs", "[]PodIP"), 7: ("startTime", "Time"),
                  9: ("qosClass", "string")},
    "PodCondition": {1: ("type", "string"), 2: ("status", "string"), 3: ("lastProbeTime", "Time"),
                     4: ("lastTransitionTime", "Time"), 5: ("reason", "string"), 6: ("message", "string")},
    "PodIP": {1: ("ip", "string")},
    # k8s.io/api/core/v1: pod template and spec
    "PodTemplateSpec": {**_OBJECT, 2: ("spec", "PodSpec")},
    "PodSpec": {
        1: ("volumes", "[]Volume"), 20: ("initContainers", "[]Container"), 2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"), 4: ("terminationGracePeriodSeconds", "int64?"),
        5: ("activeDeadlineSeconds", "int64?"), 6: ("dnsPolicy", "string"), 7: ("nodeSelector", "{string}"),
        8: ("serviceAccountName", "string"), 9: ("serviceAccount", "string"),
        21: ("automountServiceAccountToken", "bool?"), 10: ("nodeName", "string"), 11: ("hostNetwork", "bool"),
        12: ("hostPID", "bool"), 13: ("hostIPC", "bool"), 27: ("shareProcessNamespace", "bool?"),
        14: ("securityContext", "PodSecurityContext"), 15: ("imagePullSecrets", "[]LocalObjectReference"),
        16: ("hostname", "string"), 17: ("subdomain", "string"), 18: ("affinity", "Affinity"),
        19: ("schedulerName", "string"), 22: ("tolerations", "[]Toleration"),
        23: ("hostAliases", "[]HostAlias"), 24: ("priorityClassName", "string"), 25: ("priority", "int32?"),
        26: ("dnsConfig", "PodDNSConfig"), 28: ("readinessGates", "[]PodReadinessGate"),
        29: ("runtimeClassName", "string?"), 30: ("enableServiceLinks", "bool?"),
        31: ("preemptionPolicy", "string?"), 32: ("overhead", "{Quantity}"),
        33: ("topologySpreadConstraints", "[]TopologySpreadConstraint"), 35: ("setHostnameAsFQDN", "bool?"),
        36: ("os", "PodOS"), 37: ("hostUsers", "bool?"), 38: ("schedulingGates", "[]PodSchedulingGate"),
    },
    "PodOS": {1: ("name", "string")},
    "PodSchedulingGate": {1: ("name", "string")},
    "PodReadinessGate": {1: ("conditionType", "string")},
    "HostAlias": {1: ("ip", "string"), 2: ("hostnames", "[]string")},
    "PodDNSConfig": {1: ("nameservers", "[]string"), 2: ("searches", "[]string"),
                     3: ("options", "[]PodDNSConfigOption")},
    "PodDNSConfigOption": {1: ("name", "string"), 2: ("value", "string?")},
    "Toleration": {1: ("key", "string"), 2: ("operator", "string"), 3: ("value", "string"),
                   4: ("effect", "string"), 5: ("tolerationSeconds", "int64?")},
    "TopologySpreadConstraint": {1: ("maxSkew", "int32"), 2: ("topologyKey", "string"),
                                 3: ("whenUnsatisfiable", "string"), 4: ("labelSelector", "LabelSelector"),
                                 5: ("minDomains", "int32?"), 6: ("nodeAffinityPolicy", "string?"),
                                 7: ("nodeTaintsPolicy", "string?"), 8: ("matchLabelKeys", "[]string")},
    "PodSecurityContext": {1: ("seLinuxOptions", "SELinuxOptions"), 2: ("runAsUser", "int64?"),
                           6: ("runAsGroup", "int64?"), 3: ("runAsNonRoot", "bool?"),
                           4: ("supplementalGroups", "[]int64"), 5: ("fsGroup", "int64?"),
                           7: ("sysctls", "[]Sysctl"), 9: ("fsGroupChangePolicy", "string?"),
                           10: ("seccompProfile", "SeccompProfile")},
    "SecurityContext": {1: ("capabilities", "Capabilities"), 2: ("privileged", "bool?"),
                        3: ("seLinuxOptions", "SELinuxOptions"), 4: ("runAsUser", "int64?"),
                        8: ("runAsGroup", "int64?"), 5: ("runAsNonRoot", "bool?"),
                        6: ("readOnlyRootFilesystem", "bool?"), 7: ("allowPrivilegeEscalation", "bool?"),
                        9: ("procMount", "string?"), 11: ("seccompProfile", "SeccompProfile")},
    "Capabilities": {1: ("add", "[]string"), 2: ("drop", "[]string")},
    "SELinuxOptions": {1: ("user", "string"), 2: ("role", "string"), 3: ("type", "string"), 4: ("level", "string")},
    "SeccompProfile": {1: ("type", "string"), 2: ("localhostProfile", "string?")},
    "Sysctl": {1: ("name", "string"), 2: ("value", "string")},
    "Affinity": {1: ("nodeAffinity", "NodeAffinity"), 2: ("podAffinity", "PodAffinity"),
                 3: ("podAntiAffinity", "PodAffinity")},
    "NodeAffinity": {1: ("requiredDuringSchedulingIgnoredDuringExecution", "NodeSelector"),
                     2: ("preferredDuringSchedulingIgnoredDuringExecution", "[]PreferredSchedulingTerm")},
    "NodeSelector": {1: ("nodeSelectorTerms", "[]NodeSelectorTerm")},
    "NodeSelectorTerm": {1: ("matchExpressions", "[]NodeSelectorRequirement"),
                         2: ("matchFields", "[]NodeSelectorRequirement")},
    "NodeSelectorRequirement": {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "[]string")},
    "PreferredSchedulingTerm": {1: ("weight", "int32"), 2: ("preference", "NodeSelectorTerm")},
    "PodAffinity": {1: ("requiredDuringSchedulingIgnoredDuringExecution", "[]PodAffinityTerm"),
                    2: ("preferredDuringSchedulingIgnoredDuringExecution", "[]WeightedPodAffinityTerm")},
    "PodAffinityTerm": {1: ("labelSelector", "LabelSelector"), 2: ("namespaces", "[]string"),
                        3: ("topologyKey", "string"), 4: ("namespaceSelector", "LabelSelector")},
    "WeightedPodAffinityTerm": {1: ("weight", "int32"), 2: ("podAffinityTerm", "PodAffinityTerm")},
    "LocalObjectReference": {1: ("name", "string")},
    # k8s.io/api/core/v1: containers
    "Container": {
        1: ("name", "string"), 2: ("image", "string"), 3: ("command", "[]string"), 4: ("args", "[]string"),
        5: ("workingDir", "string"), 6: ("ports", "[]ContainerPort"), 19: ("envFrom", "[]EnvFromSource"),
        7: ("env", "[]EnvVar"), 8: ("resources", "ResourceRequirements"), 9: ("volumeMounts", "[]VolumeMount"),
        21: ("volumeDevices", "[]VolumeDevice"), 10: ("livenessProbe", "Probe"), 11: ("readinessProbe", "Probe"),
        22: ("startupProbe", "Probe"), 12: ("lifecycle", "Lifecycle"), 13: ("terminationMessagePath", "string"),
        20: ("terminationMessagePolicy", "string"), 14: ("imagePullPolicy", "string"),
        15: ("securityContext", "SecurityContext"), 16: ("stdin", "bool"), 17: ("stdinOnce", "bool"),
        18: ("tty", "bool"), 23: ("resizePolicy", "[]ContainerResizePolicy"), 24: ("restartPolicy", "string?"),
    },
    "ContainerPort": {1: ("name", "string"), 2: ("hostPort", "int32"), 3: ("containerPort", "int32"),
                      4: ("protocol", "string"), 5: ("hostIP", "string")},
    "ContainerResizePolicy": {1: ("resourceName", "string"), 2: ("restartPolicy", "string")},
    "EnvVar": {1: ("name", "string"), 2: ("value", "string"), 3: ("valueFrom", "EnvVarSource")},
    "EnvVarSource": {1: ("fieldRef", "ObjectFieldSelector"), 2: ("resourceFieldRef", "ResourceFieldSelector"),
                     3: ("configMapKeyRef", "ConfigMapKeySelector"), 4: ("secretKeyRef", "SecretKeySelector")},
    "ObjectFieldSelector": {1: ("apiVersion", "string"), 2: ("fieldPath", "string")},
    "ResourceFieldSelector": {1: ("containerName", "string"), 2: ("resource", "string"),
                              3: ("divisor", "Quantity")},
    "ConfigMapKeySelector": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("key", "string"),
                             3: ("optional", "bool?")},
    "SecretKeySelector": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("key", "string"),
                          3: ("optional", "bool?")},
    "EnvFromSource": {1: ("prefix", "string"), 2: ("configMapRef", "ConfigMapEnvSource"),
                      3: ("secretRef", "SecretEnvSource")},
    "ConfigMapEnvSource": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("optional", "bool?")},
    "SecretEnvSource": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("optional", "bool?")},
    "ResourceRequirements": {1: ("limits", "{Quantity}"), 2: ("requests", "{Quantity}"),
                             3: ("claims", "[]ResourceClaim")},
    "ResourceClaim": {1: ("name", "string"), 2: ("request", "string")},
    "VolumeMount": {1: ("name", "string"), 2: ("readOnly", "bool"), 3: ("mountPath", "string"),
                    4: ("subPath", "string"), 5: ("mountPropagation", "string?"), 6: ("subPathExpr", "string")},
    "VolumeDevice": {1: ("name", "string"), 2: ("devicePath", "string")},
    "Probe": {1: ("handler", "...ProbeHandler"), 2: ("initialDelaySeconds", "int32"),
              3: ("timeoutSeconds", "int32"), 4: ("periodSeconds", "int32"), 5: ("successThreshold", "int32"),
              6: ("failureThreshold", "int32"), 7: ("terminationGracePeriodSeconds", "int64?")},
    "ProbeHandler": {1: ("exec", "ExecAction"), 2: ("httpGet", "HTTPGetAction"), 3: ("tcpSocket", "TCPSocketAction"),
                     4: ("grpc", "GRPCAction")},
    "Lifecycle": {1: ("postStart", "LifecycleHandler"), 2: ("preStop", "LifecycleHandler")},
    "LifecycleHandler": {1: ("exec", "ExecAction"), 2: ("httpGet", "HTTPGetAction"),
                         3: ("tcpSocket", "TCPSocketAction"), 4: ("sleep", "SleepAction")},
    "ExecAction": {1: ("command", "[]string")},
    "HTTPGetAction": {1: ("path", "string"), 2: ("port", "IntOrString"), 3: ("host", "string"),
                      4: ("scheme", "string"), 5: ("httpHeaders", "[]HTTPHeader")},
    "HTTPHeader": {1: ("name", "string"), 2: ("value", "string")},
    "TCPSocketAction": {1: ("port", "IntOrString"), 2: ("host", "string")},
    "GRPCAction": {1: ("port", "int32"), 2: ("service", "string?")},
    "SleepAction": {1: ("seconds", "int64")},
    # k8s.io/api/core/v1: volumes (the common sources; others are skipped like any unknown field)
    "Volume": {1: ("name", "string"), 2: ("volumeSource", "...VolumeSource")},
    "VolumeSource": {1: ("hostPath", "HostPathVolumeSource"), 2: ("emptyDir", "EmptyDirVolumeSource"),
                     6: ("secret", "SecretVolumeSource"), 7: ("nfs", "NFSVolumeSource"),
                     10: ("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
                     16: ("downwardAPI", "DownwardAPIVolumeSource"), 19: ("configMap", "ConfigMapVolumeSource"),
                     26: ("projected", "ProjectedVolumeSource")},
    "HostPathVolumeSource": {1: ("path", "string"), 2: ("type", "string?")},
    "EmptyDirVolumeSource": {1: ("medium", "string"), 2: ("sizeLimit", "Quantity")},
    "SecretVolumeSource": {1: ("secretName", "string"), 2: ("items", "[]KeyToPath"), 3: ("defaultMode", "int32?"),
                           4: ("optional", "bool?")},
    "ConfigMapVolumeSource": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("items", "[]KeyToPath"),
                              3: ("defaultMode", "int32?"), 4: ("optional", "bool?")},
    "KeyToPath": {1: ("key", "string"), 2: ("path", "string"), 3: ("mode", "int32?")},
    "NFSVolumeSource": {1: ("server", "string"), 2: ("path", "string"), 3: ("readOnly", "bool")},
    "PersistentVolumeClaimVolumeSource": {1: ("claimName", "string"), 2: ("readOnly", "bool")},
    "DownwardAPIVolumeSource": {1: ("items", "[]DownwardAPIVolumeFile"), 2: ("defaultMode", "int32?")},
    "DownwardAPIVolumeFile": {1: ("path", "string"), 2: ("fieldRef", "ObjectFieldSelector"),
                              3: ("resourceFieldRef", "ResourceFieldSelector"), 4: ("mode", "int32?")},
    "ProjectedVolumeSource": {1: ("sources", "[]VolumeProjection"), 2: ("defaultMode", "int32?")},
    "VolumeProjection": {1: ("secret", "SecretProjection"), 2: ("downwardAPI", "DownwardAPIProjection"),
                         3: ("configMap", "ConfigMapProjection"),
                         4: ("serviceAccountToken", "ServiceAccountTokenProjection")},
    "SecretProjection": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("items", "[]KeyToPath"),
                         4: ("optional", "bool?")},
    "ConfigMapProjection": {1: ("localObjectReference", "...LocalObjectReference"), 2: ("items", "[]KeyToPath"),
                            4: ("optional", "bool?")},
    "DownwardAPIProjection": {1: ("items", "[]DownwardAPIVolumeFile")},
    "ServiceAccountTokenProjection": {1: ("audience", "string"), 2: ("expirationSeconds", "int64?"),
                                      3: ("path", "string")},
    # k8s.io/api/core/v1: references
    "ObjectReference": {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
                        4: ("uid", "string"), 5: ("apiVersion", "string"), 6: ("resourceVersion", "string"),
                        7: ("fieldPath", "string")},
    "TypedLocalObjectReference": {1: ("apiGroup", "string?"), 2: ("kind", "string"), 3: ("name", "string")},
    "TypedObjectReference": {1: ("apiGroup", "string?"), 2: ("kind", "string"), 3: ("name", "string"),
                             4: ("namespace", "string?")},
    "SecretReference": {1: ("name", "string"), 2: ("namespace", "string")},
    # k8s.io/api/core/v1: service accounts, endpoints, quotas and limits
    "ServiceAccount": {**_OBJECT, 2: ("secrets", "[]ObjectReference"),
                       3: ("imagePullSecrets", "[]LocalObjectReference"),
                       4: ("automountServiceAccountToken", "bool?")},
    "Endpoints": {**_OBJECT, 2: ("subsets", "[]EndpointSubset")},
    "EndpointSubset": {1: ("addresses", "[]EndpointAddress"), 2: ("notReadyAddresses", "[]EndpointAddress"),
                       3: ("ports", "[]EndpointPort")},
    "EndpointAddress": {1: ("ip", "string"), 3: ("hostname", "string"), 4: ("nodeName", "string?"),
                        2: ("targetRef", "ObjectReference")},
    "EndpointPort": {1: ("name", "string"), 2: ("port", "int32"), 3: ("protocol", "string"),
                     4: ("appProtocol", "string?")},
    "ResourceQuota": {**_OBJECT, 2: ("spec", "ResourceQuotaSpec"), 3: ("status", "ResourceQuotaStatus")},
    "ResourceQuotaSpec": {1: ("hard", "{Quantity}"), 2: ("scopes", "[]string"), 3: ("scopeSelector", "ScopeSelector")},
    "ScopeSelector": {1: ("matchExpressions", "[]ScopedResourceSelectorRequirement")},
    "ScopedResourceSelectorRequirement": {1: ("scopeName", "string"), 2: ("operator", "string"),
                                          3: ("values", "[]string")},
    "ResourceQuotaStatus": {1: ("hard", "{Quantity}"), 2: ("used", "{Quantity}")},
    "LimitRange": {**_OBJECT, 2: ("spec", "LimitRangeSpec")},
    "LimitRangeSpec": {1: ("limits", "[]LimitRangeItem")},
    "LimitRangeItem": {1: ("type", "string"), 2: ("max", "{Quantity}"), 3: ("min", "{Quantity}"),
                       4: ("default", "{Quantity}"), 5: ("defaultRequest", "{Quantity}"),
                       6: ("maxLimitRequestRatio", "{Quantity}")},
    # k8s.io/api/core/v1: persistent volumes and claims (the common volume sources; others are skipped)
    "PersistentVolume": {**_OBJECT, 2: ("spec", "PersistentVolumeSpec"), 3: ("status", "PersistentVolumeStatus")},
    "PersistentVolumeSpec": {
        1: ("capacity", "{Quantity}"), 2: ("persistentVolumeSource", "...PersistentVolumeSource"),
        3: ("accessModes", "[]string"), 4: ("claimRef", "ObjectReference"),
        5: ("persistentVolumeReclaimPolicy", "string"), 6: ("storageClassName", "string"),
        7: ("mountOptions", "[]string"), 8: ("volumeMode", "string?"), 9: ("nodeAffinity", "VolumeNodeAffinity"),
        10: ("volumeAttributesClassName", "string?"),
    },
    "PersistentVolumeSource": {3: ("hostPath", "HostPathVolumeSource"), 5: ("nfs", "NFSVolumeSource"),
                               20: ("local", "LocalVolumeSource"), 22: ("csi", "CSIPersistentVolumeSource")},
    "LocalVolumeSource": {1: ("path", "string"), 2: ("fsType", "string?")},
    "CSIPersistentVolumeSource": {
        1: ("driver", "string"), 2: ("volumeHandle", "string"), 3: ("readOnly", "bool"), 4: ("fsType", "string"),
        5: ("volumeAttributes", "{string}"), 6: ("controllerPublishSecretRef", "SecretReference"),
        7: ("nodeStageSecretRef", "SecretReference"), 8: ("nodePublishSecretRef", "SecretReference"),
        9: ("controllerExpandSecretRef", "SecretReference"), 10: ("nodeExpandSecretRef", "SecretReference"),
    },
    "VolumeNodeAffinity": {1: ("required", "NodeSelector")},
    "PersistentVolumeStatus": {1: ("phase", "string"), 2: ("message", "string"), 3: ("reason", "string"),
                               4: ("lastPhaseTransitionTime", "Time")},
    "PersistentVolumeClaim": {**_OBJECT, 2: ("spec", "PersistentVolumeClaimSpec"),
                              3: ("status", "PersistentVolumeClaimStatus")},
    "PersistentVolumeClaimSpec": {
        1: ("accessModes", "[]string"), 4: ("selector", "LabelSelector"),
        2: ("resources", "VolumeResourceRequirements"), 3: ("volumeName", "string"),
        5: ("storageClassName", "string?"), 6: ("volumeMode", "string?"),
        7: ("dataSource", "TypedLocalObjectReference"), 8: ("dataSourceRef", "TypedObjectReference"),
        9: ("volumeAttributesClassName", "string?"),
    },
    "VolumeResourceRequirements": {1: ("limits", "{Quantity}"), 2: ("requests", "{Quantity}")},
    "PersistentVolumeClaimStatus": {
        1: ("phase", "string"), 2: ("accessModes", "[]string"), 3: ("capacity", "{Quantity}"),
        4: ("conditions", "[]PersistentVolumeClaimCondition"), 5: ("allocatedResources", "{Quantity}"),
        7: ("allocatedResourceStatuses", "{string}"), 8: ("currentVolumeAttributesClassName", "string?"),
        9: ("modifyVolumeStatus", "ModifyVolumeStatus"),
    },
    "PersistentVolumeClaimCondition": {1: ("type", "string"), 2: ("status", "string"), 3: ("lastProbeTime", "Time"),
                                       4: ("lastTransitionTime", "Time"), 5: ("reason", "string"),
                                       6: ("message", "string")},
    "ModifyVolumeStatus": {1: ("targetVolumeAttributesClassName", "string"), 2: ("status", "string")},
    # k8s.io/api/apps/v1
    "Deployment": {**_OBJECT, 2: ("spec", "DeploymentSpec"), 3: ("status", "DeploymentStatus")},
    "DeploymentSpec": {1: ("replicas", "int32?"), 2: ("selector", "LabelSelector"), 3: ("template", "PodTemplateSpec"),
                       4: ("strategy", "DeploymentStrategy"), 5: ("minReadySeconds", "int32"),
                       6: ("revisionHistoryLimit", "int32?"), 7: ("paused", "bool"),
                       9: ("progressDeadlineSeconds", "int32?"), 10: ("podReplacementPolicy", "string?")},
    "DeploymentStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "IntOrString"), 2: ("maxSurge", "IntOrString")},
    "DeploymentStatus": {1: ("observedGeneration", "int64"), 2: ("replicas", "int32"), 3: ("updatedReplicas", "int32"),
                         7: ("readyReplicas", "int32"), 4: ("availableReplicas", "int32"),
                         5: ("unavailableReplicas", "int32"), 9: ("terminatingReplicas", "int32?"),
                         6: ("conditions", "[]DeploymentCondition"), 8: ("collisionCount", "int32?")},
    "DeploymentCondition": {1: ("type", "string"), 2: ("status", "string"), 6: ("lastUpdateTime", "Time"),
                            7: ("lastTransitionTime", "Time"), 4: ("reason", "string"), 5: ("message", "string")},
    "ReplicaSet": {**_OBJECT, 2: ("spec", "ReplicaSetSpec"), 3: ("status", "ReplicaSetStatus")},
    "ReplicaSetSpec": {1: ("replicas", "int32?"), 4: ("minReadySeconds", "int32"), 2: ("selector", "LabelSelector"),
                       3: ("template", "PodTemplateSpec")},
    "ReplicaSetStatus": {1: ("replicas", "int32"), 2: ("fullyLabeledReplicas", "int32"), 4: ("readyReplicas", "int32"),
                         5: ("availableReplicas", "int32"), 7: ("terminatingReplicas", "int32?"),
                         3: ("observedGeneration", "int64"), 6: ("conditions", "[]ReplicaSetCondition")},
    "ReplicaSetCondition": {1: ("type", "string"), 2: ("status", "string"), 3: ("lastTransitionTime", "Time"),
                            4: ("reason", "string"), 5: ("message", "string")},
    "DaemonSet": {**_OBJECT, 2: ("spec", "DaemonSetSpec"), 3: ("status", "DaemonSetStatus")},
    "DaemonSetSpec": {1: ("selector", "LabelSelector"), 2: ("template", "PodTemplateSpec"),
                      3: ("updateStrategy", "DaemonSetUpdateStrategy"), 4: ("minReadySeconds", "int32"),
                      6: ("revisionHistoryLimit", "int32?")},
    "DaemonSetUpdateStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdateDaemonSet")},
    "RollingUpdateDaemonSet": {1: ("maxUnavailable", "IntOrString"), 2: ("maxSurge", "IntOrString")},
    "DaemonSetStatus": {1: ("currentNumberScheduled", "int32"), 2: ("numberMisscheduled", "int32"),
                        3: ("desiredNumberScheduled", "int32"), 4: ("numberReady", "int32"),
                        5: ("observedGeneration", "int64"), 6: ("updatedNumberScheduled", "int32"),
                        7: ("numberAvailable", "int32"), 8: ("numberUnavailable", "int32"),
                        9: ("collisionCount", "int32?"), 10: ("conditions", "[]DaemonSetCondition")},
    "DaemonSetCondition": {1: ("type", "string"), 2: ("status", "string"), 3: ("lastTransitionTime", "Time"),
                           4: ("reason", "string"), 5: ("message", "string")},
    "StatefulSet": {**_OBJECT, 2: ("spec", "StatefulSetSpec"), 3: ("status", "StatefulSetStatus")},
    "StatefulSetSpec": {
        1: ("replicas", "int32?"), 2: ("selector", "LabelSelector"), 3: ("template", "PodTemplateSpec"),
        4: ("volumeClaimTemplates", "[]PersistentVolumeClaim"), 5: ("serviceName", "string"),
        6: ("podManagementPolicy", "string"), 7: ("updateStrategy", "StatefulSetUpdateStrategy"),
        8: ("revisionHistoryLimit", "int32?"), 9: ("minReadySeconds", "int32"),
        10: ("persistentVolumeClaimRetentionPolicy", "StatefulSetPersistentVolumeClaimRetentionPolicy"),
        11: ("ordinals", "StatefulSetOrdinals"),
    },
    "StatefulSetUpdateStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdateStatefulSetStrategy")},
    "RollingUpdateStatefulSetStrategy": {1: ("partition", "int32?"), 2: ("maxUnavailable", "IntOrString")},
    "StatefulSetPersistentVolumeClaimRetentionPolicy": {1: ("whenDeleted", "string"), 2: ("whenScaled", "string")},
    "StatefulSetOrdinals": {1: ("start", "int32?")},  # json:"start" without omitempty
    "StatefulSetStatus": {1: ("observedGeneration", "int64"), 2: ("replicas", "int32"), 3: ("readyReplicas", "int32"),
                          4: ("currentReplicas", "int32"), 5: ("updatedReplicas", "int32"),
                          6: ("currentRevision", "string"), 7: ("updateRevision", "string"),
                          9: ("collisionCount", "int32?"), 10: ("conditions", "[]StatefulSetCondition"),
                          11: ("availableReplicas", "int32")},
    "StatefulSetCondition": {1: ("type", "string"), 2: ("status", "string"), 3: ("lastTransitionTime", "Time"),
                             4: ("reason", "string"), 5: ("message", "string")},
    "ControllerRevision": {**_OBJECT, 2: ("data", "RawExtension"),
                           3: ("revision", "int64?")},  # json:"revision" without omitempty; 0 is valid
    # k8s.io/api/autoscaling/v1
    "Scale": {**_OBJECT, 2: ("spec", "ScaleSpec"), 3: ("status", "ScaleStatus")},
    "ScaleSpec": {1: ("replicas", "int32")},  # omitempty in JSON: an absent replicas means 0
    "ScaleStatus": {1: ("replicas", "int32"), 2: ("selector", "string")},
    # k8s.io/api/batch/v1
    "Job": {**_OBJECT, 2: ("spec", "JobSpec"), 3: ("status", "JobStatus")},
    "JobSpec": {
        1: ("parallelism", "int32?"), 2: ("completions", "int32?"), 3: ("activeDeadlineSeconds", "int64?"),
        11: ("podFailurePolicy", "PodFailurePolicy"), 16: ("successPolicy", "SuccessPolicy"),
        7: ("backoffLimit", "int32?"), 12: ("backoffLimitPerIndex", "int32?"), 13: ("maxFailedIndexes", "int32?"),
        4: ("selector", "LabelSelector"), 5: ("manualSelector", "bool?"), 6: ("template", "PodTemplateSpec"),
        8: ("ttlSecondsAfterFinished", "int32?"), 9: ("completionMode", "string?"), 10: ("suspend", "bool?"),
        14: ("podReplacementPolicy", "string?"), 15: ("managedBy", "string?"),
    },
    "PodFailurePolicy": {1: ("rules", "[]PodFailurePolicyRule")},
    "PodFailurePolicyRule": {1: ("action", "string"), 2: ("onExitCodes", "PodFailurePolicyOnExitCodesRequirement"),
                             3: ("onPodConditions", "[]PodFailurePolicyOnPodConditionsPattern")},
    "PodFailurePolicyOnExitCodesRequirement": {1: ("containerName", "string?"), 2: ("operator", "string"),
                                               3: ("values", "[]int32")},
    "PodFailurePolicyOnPodConditionsPattern": {1: ("type", "string"), 2: ("status", "string")},
    "SuccessPolicy": {1: ("rules", "[]SuccessPolicyRule")},
    "SuccessPolicyRule": {1: ("succeededIndexes", "string?"), 2: ("succeededCount", "int32?")},
    "JobStatus": {1: ("conditions", "[]JobCondition"), 2: ("startTime", "Time"), 3: ("completionTime", "Time"),
                  4: ("active", "int32"), 5: ("succeeded", "int32"), 6: ("failed", "int32"),
                  11: ("terminating", "int32?"), 7: ("completedIndexes", "string"), 10: ("failedIndexes", "string?"),
                  8: ("uncountedTerminatedPods", "UncountedTerminatedPods"), 9: ("ready", "int32?")},
    "JobCondition": {1: ("type", "string"), 2: ("status", "string"), 3: ("lastProbeTime", "Time"),
                     4: ("lastTransitionTime", "Time"), 5: ("reason", "string"), 6: ("message", "string")},
    "UncountedTerminatedPods": {1: ("succeeded", "[]string"), 2: ("failed", "[]string")},
    "JobTemplateSpec": {**_OBJECT, 2: ("spec", "JobSpec")},
    "CronJob": {**_OBJECT, 2: ("spec", "CronJobSpec"), 3: ("status", "CronJobStatus")},
    "CronJobSpec": {1: ("schedule", "string"), 8: ("timeZone", "string?"), 2: ("startingDeadlineSeconds", "int64?"),
                    3: ("concurrencyPolicy", "string"), 4: ("suspend", "bool?"), 5: ("jobTemplate", "JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", "int32?"), 7: ("failedJobsHistoryLimit", "int32?")},
    "CronJobStatus": {1: ("active", "[]ObjectReference"), 4: ("lastScheduleTime", "Time"),
                      5: ("lastSuccessfulTime", "Time")},
    # k8s.io/api/rbac/v1
    "PolicyRule": {1: ("verbs", "[]string"), 2: ("apiGroups", "[]string"), 3: ("resources", "[]string"),
                   4: ("resourceNames", "[]string"), 5: ("nonResourceURLs", "[]string")},
    "Subject": {1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"), 4: ("namespace", "string")},
    "RoleRef": {1: ("apiGroup", "string?"), 2: ("kind", "string"), 3: ("name", "string")},  # json:"apiGroup"
    "AggregationRule": {1: ("clusterRoleSelectors", "[]LabelSelector")},
    "Role": {**_OBJECT, 2: ("rules", "[]PolicyRule")},
    "ClusterRole": {**_OBJECT, 2: ("rules", "[]PolicyRule"), 3: ("aggregationRule", "AggregationRule")},
    "RoleBinding": {**_OBJECT, 2: ("subjects", "[]Subject"), 3: ("roleRef", "RoleRef")},
    "ClusterRoleBinding": {**_OBJECT, 2: ("subjects", "[]Subject"), 3: ("roleRef", "RoleRef")},
    # k8s.io/api/scheduling/v1
    "PriorityClass": {**_OBJECT, 2: ("value", "int32?"),  # json:"value" without omitempty; 0 is a valid priority
                      3: ("globalDefault", "bool"), 4: ("description", "string"),
                      5: ("preemptionPolicy", "string?")},
    # k8s.io/api/storage/v1
    "StorageClass": {**_OBJECT, 2: ("provisioner", "string"), 3: ("parameters", "{string}"),
                     4: ("reclaimPolicy", "string?"), 5: ("mountOptions", "[]string"),
                     6: ("allowVolumeExpansion", "bool?"), 7: ("volumeBindingMode", "string?"),
                     8: ("allowedTopologies", "[]TopologySelectorTerm")},
    "TopologySelectorTerm": {1: ("matchLabelExpressions", "[]TopologySelectorLabelRequirement")},
    "TopologySelectorLabelRequirement": {1: ("key", "string"), 2: ("values", "[]string")},
    # k8s.io/api/coordination/v1
    "Lease": {**_OBJECT, 2: ("spec", "LeaseSpec")},
    "LeaseSpec": {1: ("holderIdentity", "string?"), 2: ("leaseDurationSeconds", "int32?"),
                  3: ("acquireTime", "MicroTime"), 4: ("renewTime", "MicroTime"), 5: ("leaseTransitions", "int32?"),
                  6: ("strategy", "string?"), 7: ("preferredHolder", "string?")},
    # k8s.io/api/certificates/v1 (kubectl certificate approve|deny); spec.extra is the server's to set
    "CertificateSigningRequest": {**_OBJECT, 2: ("spec", "CertificateSigningRequestSpec"),
                                  3: ("status", "CertificateSigningRequestStatus")},
    "CertificateSigningRequestSpec": {1: ("request", "bytes"), 7: ("signerName", "string"),
                                      8: ("expirationSeconds", "int32?"), 5: ("usages", "[]string"),
                                      2: ("username", "string"), 3: ("uid", "string"), 4: ("groups", "[]string")},
    "CertificateSigningRequestStatus": {1: ("conditions", "[]CertificateSigningRequestCondition"),
                                        2: ("certificate", "bytes")},
    "CertificateSigningRequestCondition": {1: ("type", "string"), 6: ("status", "string"), 2: ("reason", "string"),
                                           3: ("message", "string"), 4: ("lastUpdateTime", "Time"),
                                           5: ("lastTransitionTime", "Time")},
    # k8s.io/api/authorization/v1 (kubectl auth can-i sends its reviews as protobuf)
    "ResourceAttributes": {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                           4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
                           7: ("name", "string")},
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "SelfSubjectAccessReview": {**_OBJECT, 2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                    2: ("nonResourceAttributes", "NonResourceAttributes")},
    "SubjectAccessReview": {**_OBJECT, 2: ("spec", "SubjectAccessReviewSpec")},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                2: ("nonResourceAttributes", "NonResourceAttributes"), 3: ("user", "string"),
                                4: ("groups", "[]string"), 6: ("uid", "string")},
    "SelfSubjectRulesReview": {**_OBJECT, 2: ("spec", "SelfSubjectRulesReviewSpec")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string")},
    # k8s.io/api/authentication/v1
    "SelfSubjectReview": {**_OBJECT},
    "TokenReview": {**_OBJECT, 2: ("spec", "TokenReviewSpec")},
    "TokenReviewSpec": {1: ("token", "string"), 2: ("audiences", "[]string")},
    "TokenRequest": {**_OBJECT, 2: ("spec", "TokenRequestSpec")},
    "TokenRequestSpec": {1: ("audiences", "[]string"), 4: ("expirationSeconds", "int64?"),
                         3: ("boundObjectRef", "BoundObjectReference")},
    "BoundObjectReference": {1: ("kind", "string"), 2: ("apiVersion", "string"), 3: ("name", "string"),
                             4: ("uid", "string")},
}

#: kind -> (message in SCHEMAS, the apiVersions it is accepted under; None = any, as DeleteOptions is
#: registered in every group version and the client stamps the request's own).
KINDS: dict[str, tuple[str, frozenset[str] | None]] = {
    "Namespace": ("Namespace", frozenset({"v1"})),
    "ConfigMap": ("ConfigMap", frozenset({"v1"})),
    "Secret": ("Secret", frozenset({"v1"})),
    "Service": ("Service", frozenset({"v1"})),
    "Pod": ("Pod", frozenset({"v1"})),
    "Deployment": ("Deployment", frozenset({"apps/v1"})),
    "ReplicaSet": ("ReplicaSet", frozenset({"apps/v1"})),
    "Eviction": ("Eviction", frozenset({"policy/v1", "policy/v1beta1"})),
    "ServiceAccount": ("ServiceAccount", frozenset({"v1"})),
    "Endpoints": ("Endpoints", frozenset({"v1"})),
    "ResourceQuota": ("ResourceQuota", frozenset({"v1"})),
    "LimitRange": ("LimitRange", frozenset({"v1"})),
    "PersistentVolume": ("PersistentVolume", frozenset({"v1"})),
    "PersistentVolumeClaim": ("PersistentVolumeClaim", frozenset({"v1"})),
    "DaemonSet": ("DaemonSet", frozenset({"apps/v1"})),
    "StatefulSet": ("StatefulSet", frozenset({"apps/v1"})),
    "ControllerRevision": ("ControllerRevision", frozenset({"apps/v1"})),
    "Scale": ("Scale", frozenset({"autoscaling/v1"})),
    "Job": ("Job", frozenset({"batch/v1"})),
    "CronJob": ("CronJob", frozenset({"batch/v1"})),
    "Role": ("Role", frozenset({"rbac.authorization.k8s.io/v1"})),
    "ClusterRole": ("ClusterRole", frozenset({"rbac.authorization.k8s.io/v1"})),
    "RoleBinding": ("RoleBinding", frozenset({"rbac.authorization.k8s.io/v1"})),
    "ClusterRoleBinding": ("ClusterRoleBinding", frozenset({"rbac.authorization.k8s.io/v1"})),
    "PriorityClass": ("PriorityClass", frozenset({"scheduling.k8s.io/v1"})),
    "StorageClass": ("StorageClass", frozenset({"storage.k8s.io/v1"})),
    "Lease": ("Lease", frozenset({"coordination.k8s.io/v1"})),
    "CertificateSigningRequest": ("CertificateSigningRequest", frozenset({"certificates.k8s.io/v1"})),
    "SelfSubjectAccessReview": ("SelfSubjectAccessReview", frozenset({"authorization.k8s.io/v1"})),
    "SubjectAccessReview": ("SubjectAccessReview", frozenset({"authorization.k8s.io/v1"})),
    "LocalSubjectAccessReview": ("SubjectAccessReview", frozenset({"authorization.k8s.io/v1"})),
    "SelfSubjectRulesReview": ("SelfSubjectRulesReview", frozenset({"authorization.k8s.io/v1"})),
    "SelfSubjectReview": ("SelfSubjectReview", frozenset({"authentication.k8s.io/v1"})),
    "TokenReview": ("TokenReview", frozenset({"authentication.k8s.io/v1"})),
    "TokenRequest": ("TokenRequest", frozenset({"authentication.k8s.io/v1"})),
    "DeleteOptions": ("DeleteOptions", None),
}

# ---------------------------------------------------------------------------------------------------------------
# Compiled fields
# ---------------------------------------------------------------------------------------------------------------

_SCALARS = {"string", "int32", "int64", "bool", "bytes"}
_WRAPPERS = {"Time", "MicroTime", "Quantity", "IntOrString", "RawExtension"}
_ZERO: dict[str, Any] = {"string": "", "int32": 0, "int64": 0, "bool": False, "bytes": ""}


@dataclass(frozen=True, slots=True)
class _Field:
    """One compiled table entry: how to read a field number and where it goes in the JSON."""

    name: str
    type: str  # scalar, wrapper or message name (without the [] / {} / ... / ? decorations)
    repeated: bool = False
    map: bool = False
    inline: bool = False
    keep_zero: bool = False


def _compile(spec: str, name: str) -> _Field:
    keep_zero = spec.endswith("?")
    spec = spec.rstrip("?")
    if spec.startswith("[]"):
        return _Field(name, spec[2:], repeated=True)
    if spec.startswith("{") and spec.endswith("}"):
        return _Field(name, spec[1:-1], map=True)
    if spec.startswith("..."):
        return _Field(name, spec[3:], inline=True)
    return _Field(name, spec, keep_zero=keep_zero)


def _compile_all() -> dict[str, dict[int, _Field]]:
    compiled = {msg: {num: _compile(spec, name) for num, (name, spec) in fields.items()}
                for msg, fields in SCHEMAS.items()}
    for msg, fields in compiled.items():
        for num, field in fields.items():
            if field.type not in _SCALARS | _WRAPPERS and field.type not in compiled:
                raise AssertionError(f"protobuf table: {msg} field {num} refers to unknown message {field.type}")
            if field.inline and field.type in _SCALARS | _WRAPPERS:
                raise AssertionError(f"protobuf table: {msg} field {num} inlines a non-message")
    return compiled


_COMPILED = _compile_all()

# ---------------------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------------------


def _expect(field: _Field, wire: int, want: int) -> None:
    if wire != want:
        raise errors.BadRequest(f"malformed protobuf body: field {field.name!r} has wire type {wire}, expected {want}")


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.BadRequest(f"malformed protobuf body: {what} is not valid UTF-8") from None


def _format_time(buf: bytes, micro: bool) -> str | None:
    """metav1.Time/MicroTime {seconds, nanos} -> RFC 3339 (seconds, or microseconds for MicroTime).

    Kubernetes encodes the zero time as an empty message (and reads seconds == nanos == 0 back as zero), which
    JSON writes as null: None here, so the caller drops the field.
    """
    seconds = nanos = 0
    for number, wire, value in iter_fields(buf):
        if number in (1, 2) and wire != VARINT:
            raise errors.BadRequest("malformed protobuf body: a timestamp field is not a varint")
        if number == 1:
            seconds = _signed64(int(value))  # type: ignore[arg-type]
        elif number == 2:
            nanos = _signed64(int(value))  # type: ignore[arg-type]
    if seconds == 0 and nanos == 0:
        return None
    if not 0 <= nanos < 1_000_000_000:
        raise errors.BadRequest(f"malformed protobuf body: timestamp nanos {nanos} out of range")
    try:
        when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise errors.BadRequest(f"malformed protobuf body: timestamp {seconds}s out of range") from None
    if when.year == 1 and when.month == 1 and when.day == 1 and not when.hour | when.minute | when.second:
        return None  # Go's zero time, encoded explicitly
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_or_string(buf: bytes) -> int | str:
    """intstr.IntOrString {type, intVal, strVal} -> the JSON int or string."""
    kind, int_val, str_val = 0, 0, ""
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == VARINT:
            kind = _signed64(int(value))  # type: ignore[arg-type]
        elif number == 2 and wire == VARINT:
            int_val = _signed64(int(value))  # type: ignore[arg-type]
        elif number == 3 and wire == LEN:
            str_val = _text(value, "an IntOrString string")  # type: ignore[arg-type]
    if kind == 0:
        return int_val
    if kind == 1:
        return str_val
    raise errors.BadRequest(f"malformed protobuf body: IntOrString type {kind} is neither 0 (int) nor 1 (string)")


def _quantity(buf: bytes) -> str:
    """resource.Quantity is a message whose field 1 is the canonical string."""
    text = ""
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == LEN:
            text = _text(value, "a quantity")  # type: ignore[arg-type]
    return text


def _raw_extension(buf: bytes, depth: int) -> Any:
    """runtime.RawExtension {raw} -> the embedded object, as JSON writes it (the raw bytes verbatim).

    `raw` is JSON in practice (controllers marshal their state so); an enveloped protobuf object (`k8s\\x00...`)
    is decoded too. An empty `raw` is JSON's null: None here, so the caller drops the field.
    """
    raw = b""
    for number, wire, value in iter_fields(buf):
        if number == 1 and wire == LEN:
            raw = value  # type: ignore[assignment]
    if not raw.strip():
        return None
    if raw.startswith(MAGIC):
        return _decode_envelope(raw, depth + 1)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.BadRequest(f"malformed protobuf body: an embedded object (RawExtension) is neither JSON nor "
                                f"enveloped protobuf: {exc}") from exc


def _scalar(field: _Field, wire: int, value: int | bytes) -> Any:
    kind = field.type
    if kind == "string":
        _expect(field, wire, LEN)
        return _text(value, f"field {field.name!r}")  # type: ignore[arg-type]
    if kind == "bytes":
        _expect(field, wire, LEN)
        return base64.b64encode(value).decode("ascii")  # type: ignore[arg-type]
    _expect(field, wire, VARINT)
    if kind == "bool":
        return value != 0
    number = _signed64(int(value))  # type: ignore[arg-type]
    if kind == "int32":
        number = ((number + (1 << 31)) % (1 << 32)) - (1 << 31)  # protobuf truncates int32 to 32 bits
    return number


def _single(field: _Field, wire: int, value: int | bytes, depth: int) -> Any:
    """Decode one (non-repeated) value of `field`; None means "absent" (a zero Time)."""
    kind = field.type
    if kind in _SCALARS:
        return _scalar(field, wire, value)
    _expect(field, wire, LEN)
    assert isinstance(value, bytes)
    if kind == "Time":
        return _format_time(value, micro=False)
    if kind == "MicroTime":
        return _format_time(value, micro=True)
    if kind == "Quantity":
        return _quantity(value)
    if kind == "IntOrString":
        return _int_or_string(value)
    if kind == "RawExtension":
        return _raw_extension(value, depth)
    return _decode(value, kind, depth + 1)


def _repeated(field: _Field, wire: int, value: int | bytes, depth: int) -> list[Any]:
    """Repeated fields: one element per occurrence, or a packed run of varints (proto3 style)."""
    if field.type in ("int32", "int64", "bool") and wire == LEN:
        assert isinstance(value, bytes)
        out, pos = [], 0
        while pos < len(value):
            item, pos = read_varint(value, pos)
            out.append(_scalar(field, VARINT, item))
        return out
    item = _single(field, wire, value, depth)
    return [] if item is None else [item]


def _map_entry(field: _Field, wire: int, value: int | bytes, depth: int) -> tuple[str, Any]:
    """A map entry is a message {1: key, 2: value}; missing parts take their zero values."""
    _expect(field, wire, LEN)
    assert isinstance(value, bytes)
    key = ""
    val: Any = _ZERO.get(field.type, "")
    value_field = _Field(f"{field.name} value", field.type)
    for number, entry_wire, entry_value in iter_fields(value):
        if number == 1:
            if entry_wire != LEN:
                raise errors.BadRequest(f"malformed protobuf body: a {field.name!r} map key is not a string")
            key = _text(entry_value, f"a {field.name!r} map key")  # type: ignore[arg-type]
        elif number == 2:
            val = _single(value_field, entry_wire, entry_value, depth)
    return key, val


def _decode(buf: bytes, message: str, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise errors.BadRequest("malformed protobuf body: messages nested too deeply")
    fields = _COMPILED[message]
    out: dict[str, Any] = {}
    for number, wire, value in iter_fields(buf):
        field = fields.get(number)
        if field is None:
            continue  # unknown to the table: skipped, as newer clients may send newer fields
        if field.map:
            key, val = _map_entry(field, wire, value, depth)
            out.setdefault(field.name, {})[key] = val
        elif field.repeated:
            out.setdefault(field.name, []).extend(_repeated(field, wire, value, depth))
        elif field.inline:
            _expect(field, wire, LEN)
            out.update(_decode(value, field.type, depth + 1))  # type: ignore[arg-type]
        else:
            val = _single(field, wire, value, depth)
            if val is None or (field.type in _SCALARS and not field.keep_zero and val == _ZERO[field.type]):
                out.pop(field.name, None)  # JSON's omitempty; last occurrence wins, as in protobuf
            else:
                out[field.name] = val
    return out


def decode_message(buf: bytes, message: str) -> dict[str, Any]:
    """Decode one message of the table (no envelope) into its JSON-shaped dict."""
    if message not in _COMPILED:
        raise KeyError(f"no protobuf schema for message {message!r}")
    return _decode(buf, message, 0)


def decode(body: bytes) -> dict[str, Any]:
    """Decode a `application/vnd.kubernetes.protobuf` request body into the dict a JSON client would send.

    The result carries `apiVersion` and `kind` from the envelope. Raises `kube.errors.BadRequest` for a
    malformed body and `kube.errors.UnsupportedMediaType` for a kind the table lacks.
    """
    return _decode_envelope(body, 0)


def _decode_envelope(body: bytes, depth: int) -> dict[str, Any]:
    """`decode` at a nesting depth (a RawExtension may embed another enveloped object)."""
    if depth > _MAX_DEPTH:
        raise errors.BadRequest("malformed protobuf body: messages nested too deeply")
    if not body.startswith(MAGIC):
        raise errors.BadRequest("malformed protobuf body: it does not start with the magic bytes 'k8s\\x00'")
    envelope = _decode(body[len(MAGIC):], "runtime.Unknown", depth)
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    content_encoding, content_type = envelope.get("contentEncoding", ""), envelope.get("contentType", "")
    raw = base64.b64decode(envelope.get("raw", ""))
    if not kind:
        raise errors.BadRequest("malformed protobuf body: the runtime.Unknown envelope names no kind")
    if content_encoding:
        raise errors.UnsupportedMediaType(
            f"protobuf body for {kind} uses contentEncoding {content_encoding!r}, which is not supported; "
            "send the object as application/json")
    base_type = content_type.split(";")[0].strip().lower()
    if base_type == "application/json":
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise errors.BadRequest(f"malformed protobuf body: its JSON payload does not parse: {exc}") from exc
        if not isinstance(obj, dict):
            raise errors.BadRequest("malformed protobuf body: its JSON payload is not an object")
        return {"apiVersion": api_version, "kind": kind, **obj}
    if base_type not in ("", CONTENT_TYPE):
        raise errors.UnsupportedMediaType(
            f"protobuf body for {kind} carries a payload of type {content_type!r}; send the object as application/json")
    entry = KINDS.get(kind)
    if entry is None or (entry[1] is not None and api_version not in entry[1]):
        what = f"{api_version} {kind}" if api_version else kind
        raise errors.UnsupportedMediaType(
            f"kubelite cannot decode {what} from protobuf (application/vnd.kubernetes.protobuf); "
            "send it as application/json instead (for example kubectl create -f with a manifest)")
    obj = _decode(raw, entry[0], depth)
    return {"apiVersion": api_version, "kind": kind, **obj}
