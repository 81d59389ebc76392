"""The Pod Security Standards as pod-security-admission's policy package has them: levels (privileged, baseline,
restricted) at policy versions (v1.X or latest), the policy a namespace's labels ask for, and the checks, each
worded and ordered as Kubernetes' check_*.go files.

    check_pod(LevelVersion("restricted"), pod["metadata"], pod["spec"])  # [(reason, detail), ...]

Checks, in Kubernetes' order (baseline, then restricted; where restricted has a stricter one, baseline's is
evaluated for baseline only): appArmorProfile, capabilities (baseline), hostNamespaces, hostPath volumes,
hostPorts, probe and lifecycle hosts, privileged, procMount, seLinuxOptions, seccompProfile (baseline), sysctls,
windows hostProcess; allowPrivilegeEscalation, capabilities (restricted), restricted volume types, runAsNonRoot,
runAsUser, seccompProfile (restricted). Each applies from the policy version that introduced it, with the
versioned variants of sysctls, seLinuxOptions, seccomp and AppArmor, and the Windows relaxations of v1.25.
Pure functions over plain dicts; the admission plugin is podsecurity.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from apiserver import validation as v
from kube import errors
from kube.labels import go_quote

__all__ = ["BASELINE", "LABEL_PREFIX", "LATEST", "LEVELS", "PRIVILEGED", "RESTRICTED", "LevelVersion", "Policy",
           "check_pod", "forbidden_detail", "forbidden_reason", "policy_from_labels", "strictness"]

Obj = dict[str, Any]

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
LATEST = 10**6  # the minor version that stands for "latest"
LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


# ---------------------------------------------------------------------- policies


@dataclass(frozen=True)
class LevelVersion:
    level: str
    minor: int = LATEST

    def __str__(self) -> str:
        return f"{self.level}:{'latest' if self.minor == LATEST else f'v1.{self.minor}'}"


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = LevelVersion(PRIVILEGED)
    audit: LevelVersion = LevelVersion(PRIVILEGED)
    warn: LevelVersion = LevelVersion(PRIVILEGED)


def strictness(level: str) -> int:
    return LEVELS.index(level)


def policy_from_labels(labels: dict[str, str] | None) -> tuple[Policy, list[errors.Cause]]:
    """api.PolicyToEvaluate: the policy the labels ask for, and the causes of labels that do not parse (a bad
    level counts as restricted, a bad version as latest: failing closed)."""
    labels = labels or {}
    causes: list[errors.Cause] = []
    chosen: dict[str, LevelVersion] = {}
    valid_enforce = False
    for mode in MODES:
        level_key, version_key = f"{LABEL_PREFIX}{mode}", f"{LABEL_PREFIX}{mode}-version"
        level, minor = PRIVILEGED, LATEST
        if level_key in labels:
            level = labels[level_key]
            if level not in LEVELS:
                causes.append(v.invalid(f"metadata.labels[{level_key}]", level, f"must be one of {', '.join(LEVELS)}"))
                level = RESTRICTED
            elif mode == "enforce":
                valid_enforce = True
        if version_key in labels and labels[version_key] != "latest":
            match = _VERSION.match(labels[version_key])
            if match:
                minor = int(match.group(1))
            else:
                causes.append(v.invalid(f"metadata.labels[{version_key}]", labels[version_key],
                                        'must be "latest" or "v1.x"'))
        chosen[mode] = LevelVersion(level, minor)
    enforce, warn = chosen["enforce"], chosen["warn"]
    # an unlabelled warn follows an explicitly stricter enforce (and its version, unless warn has its own)
    if f"{LABEL_PREFIX}warn" not in labels and valid_enforce and strictness(enforce.level) > strictness(warn.level):
        own_version = f"{LABEL_PREFIX}warn-version" in labels
        chosen["warn"] = LevelVersion(enforce.level, warn.minor if own_version else enforce.minor)
    return Policy(chosen["enforce"], chosen["audit"], chosen["warn"]), causes


# ---------------------------------------------------------------------- helpers


def _join_quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _containers(spec: Obj) -> Iterator[Obj]:
    """visitContainers: init containers, containers, ephemeral containers."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(field) or []


def _sc(container: Obj) -> Obj:
    return container.get("securityContext") or {}


def _pod_sc(spec: Obj) -> Obj:
    return spec.get("securityContext") or {}


def _windows(spec: Obj) -> bool:
    return ((spec.get("os") or {}).get("name")) == "windows"


def _setters(pod: bool, containers: list[str]) -> list[str]:
    out = ["pod"] if pod else []
    if containers:
        out.append(f"{_plural('container', 'containers', len(containers))} {_join_quote(containers)}")
    return out


Result = tuple[str, str]  # (forbidden reason, forbidden detail)


# ---------------------------------------------------------------------- baseline checks


def _app_armor(meta: Obj, spec: Obj, minor: int) -> Result | None:
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    bad_annotations = sorted(f"{k}={go_quote(str(value))}" for k, value in (meta.get("annotations") or {}).items()
                             if k.startswith(prefix) and value and value != "runtime/default"
                             and not str(value).startswith("localhost/"))
    if minor < 30:
        if not bad_annotations:
            return None
        return (_plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad_annotations)),
                ", ".join(bad_annotations))

    def bad(profile: Obj | None) -> bool:
        return profile is not None and profile.get("type") not in ("RuntimeDefault", "Localhost")

    values: set[str] = set()
    pod_bad = bad(_pod_sc(spec).get("appArmorProfile"))
    if pod_bad:
        values.add(str(_pod_sc(spec)["appArmorProfile"].get("type")))
    containers = []
    for c in _containers(spec):
        if bad(_sc(c).get("appArmorProfile")):
            containers.append(c.get("name", ""))
            values.add(str(_sc(c)["appArmorProfile"].get("type")))
    setters = _setters(pod_bad, containers)
    listed = sorted(values)
    if bad_annotations:
        listed += bad_annotations
        setters.append(_plural("annotation", "annotations", len(bad_annotations)))
    if not setters:
        return None
    return (_plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(listed)}")


_DEFAULT_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def _capabilities_baseline(meta: Obj, spec: Obj, minor: int) -> Result | None:
    containers, added = [], set()
    for c in _containers(spec):
        extra = [str(cap) for cap in (_sc(c).get("capabilities") or {}).get("add") or []
                 if cap not in _DEFAULT_CAPABILITIES]
        if extra:
            containers.append(c.get("name", ""))
            added.update(extra)
    if not containers:
        return None
    return ("non-default capabilities",
            f"{_plural('container', 'containers', len(containers))} {_join_quote(containers)} must not include "
            f"{_join_quote(sorted(added))} in securityContext.capabilities.add")


def _host_namespaces(meta: Obj, spec: Obj, minor: int) -> Result | None:
    shared = sorted(f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field))
    return ("host namespaces", ", ".join(shared)) if shared else None


def _host_path_volumes(meta: Obj, spec: Obj, minor: int) -> Result | None:
    names = [vol.get("name", "") for vol in spec.get("volumes") or [] if vol.get("hostPath") is not None]
    if not names:
        return None
    return "hostPath volumes", f"{_plural('volume', 'volumes', len(names))} {_join_quote(names)}"


def _host_ports(meta: Obj, spec: Obj, minor: int) -> Result | None:
    containers: list[str] = []
    ports: set[str] = set()
    for c in _containers(spec):
        used = [int(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if used:
            containers.append(c.get("name", ""))
            ports.update(str(p) for p in used)
    if not containers:
        return None
    return ("hostPort", f"{_plural('container', 'containers', len(containers))} {_join_quote(containers)} "
                        f"{_plural('uses', 'use', len(containers))} {_plural('hostPort', 'hostPorts', len(ports))} "
                        f"{', '.join(sorted(ports))}")


def _probe_hosts(meta: Obj, spec: Obj, minor: int) -> Result | None:
    containers, hosts = set(), set()
    for c in _containers(spec):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        handlers += [(c.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")]
        for handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = ((handler or {}).get(action) or {}).get("host")
                if host:
                    containers.add(c.get("name", ""))
                    hosts.add(host)
    if not containers:
        return None
    return ("probe or lifecycle host",
            f"{_plural('container', 'containers', len(containers))} {_join_quote(sorted(containers))} "
            f"{_plural('uses', 'use', len(containers))} "
            f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
            f"{_join_quote(sorted(hosts))}")


def _privileged(meta: Obj, spec: Obj, minor: int) -> Result | None:
    containers = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    if not containers:
        return None
    return ("privileged", f"{_plural('container', 'containers', len(containers))} {_join_quote(containers)} must "
                          "not set securityContext.privileged=true")


def _proc_mount(meta: Obj, spec: Obj, minor: int) -> Result | None:
    containers, kinds = [], set()
    for c in _containers(spec):
        mount = _sc(c).get("procMount")
        if mount is not None and mount != "Default":
            containers.append(c.get("name", ""))
            kinds.add(str(mount))
    if not containers:
        return None
    return ("procMount", f"{_plural('container', 'containers', len(containers))} {_join_quote(containers)} must "
                         f"not set securityContext.procMount to {_join_quote(sorted(kinds))}")


def _se_linux(meta: Obj, spec: Obj, minor: int) -> Result | None:
    allowed = {"", "container_t", "container_init_t", "container_kvm_t"}
    if minor >= 31:
        allowed.add("container_engine_t")
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(options: Obj | None) -> bool:
        if options is None:
            return True
        ok = True
        if (options.get("type") or "") not in allowed:
            ok = False
            bad_types.add(options.get("type") or "")
        for field in ("user", "role"):
            if options.get(field):
                ok = False
                flags[field] = True
        return ok

    pod_bad = not valid(_pod_sc(spec).get("seLinuxOptions"))
    containers = [c.get("name", "") for c in _containers(spec) if not valid(_sc(c).get("seLinuxOptions"))]
    setters = _setters(pod_bad, containers)
    if not setters:
        return None
    data = []
    if bad_types:  # user and role are named only beside a bad type, as upstream's braces have it
        data.append(f"{_plural('type', 'types', len(bad_types))} {_join_quote(sorted(bad_types))}")
        data += [f"{field} may not be set" for field in ("user", "role") if flags[field]]
    return ("seLinuxOptions", f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: "
                              f"{'; '.join(data)}")


def _seccomp_valid(profile: Obj) -> bool:
    return profile.get("type") in ("RuntimeDefault", "Localhost")


def _seccomp_baseline(meta: Obj, spec: Obj, minor: int) -> Result | None:
    if minor < 19:  # the alpha annotations, before the fields existed
        annotations = meta.get("annotations") or {}

        def ok(value: str) -> bool:
            return value in ("runtime/default", "docker/default") or value.startswith("localhost/")

        keys = ["seccomp.security.alpha.kubernetes.io/pod",
                *(f"container.seccomp.security.alpha.kubernetes.io/{c.get('name', '')}" for c in _containers(spec))]
        bad = sorted({f"{k}={go_quote(str(annotations[k]))}" for k in keys
                      if k in annotations and not ok(str(annotations[k]))})
        if not bad:
            return None
        return "seccompProfile", f"forbidden {_plural('annotation', 'annotations', len(bad))} {', '.join(bad)}"
    values: set[str] = set()
    pod_profile = _pod_sc(spec).get("seccompProfile")
    pod_bad = pod_profile is not None and not _seccomp_valid(pod_profile)
    if pod_profile is not None and pod_bad:
        values.add(str(pod_profile.get("type")))
    containers = []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if profile is not None and not _seccomp_valid(profile):
            containers.append(c.get("name", ""))
            values.add(str(profile.get("type")))
    setters = _setters(pod_bad, containers)
    if not setters:
        return None
    return ("seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
                              f"{_join_quote(sorted(values))}")


_SAFE_SYSCTLS = [
    (0, {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
         "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}),
    (27, {"net.ipv4.ip_local_reserved_ports"}),
    (29, {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
          "net.ipv4.tcp_keepalive_probes"}),
    (32, {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}),
]


def _sysctls(meta: Obj, spec: Obj, minor: int) -> Result | None:
    allowed = set().union(*(names for since, names in _SAFE_SYSCTLS if minor >= since))
    bad = [str(s.get("name")) for s in _pod_sc(spec).get("sysctls") or [] if s.get("name") not in allowed]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


def _windows_host_process(meta: Obj, spec: Obj, minor: int) -> Result | None:
    def host(sc: Obj) -> bool:
        return (sc.get("windowsOptions") or {}).get("hostProcess") is True

    containers = [c.get("name", "") for c in _containers(spec) if host(_sc(c))]
    setters = _setters(host(_pod_sc(spec)), containers)
    if not setters:
        return None
    return "hostProcess", f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"


# ---------------------------------------------------------------------- restricted checks


def _allow_privilege_escalation(meta: Obj, spec: Obj, minor: int) -> Result | None:
    if minor >= 25 and _windows(spec):
        return None
    containers = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if not containers:
        return None
    return ("allowPrivilegeEscalation != false",
            f"{_plural('container', 'containers', len(containers))} {_join_quote(containers)} must set "
            "securityContext.allowPrivilegeEscalation=false")


def _capabilities_restricted(meta: Obj, spec: Obj, minor: int) -> Result | None:
    if minor >= 25 and _windows(spec):
        return None
    missing_drop, adding, forbidden = [], [], set()
    for c in _containers(spec):
        capabilities = _sc(c).get("capabilities")
        if capabilities is None:
            missing_drop.append(c.get("name", ""))
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing_drop.append(c.get("name", ""))
        extra = [str(cap) for cap in capabilities.get("add") or [] if cap != "NET_BIND_SERVICE"]
        if extra:
            adding.append(c.get("name", ""))
            forbidden.update(extra)
    details = []
    if missing_drop:
        details.append(f"{_plural('container', 'containers', len(missing_drop))} {_join_quote(missing_drop)} must "
                       'set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_plural('container', 'containers', len(adding))} {_join_quote(adding)} must not include "
                       f"{_join_quote(sorted(forbidden))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                    "secret")
_RESTRICTED_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                       "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                       "vsphereVolume", "quobyte", "azureDisk", "portworxVolume", "photonPersistentDisk", "scaleIO",
                       "storageos")


def _restricted_volumes(meta: Obj, spec: Obj, minor: int) -> Result | None:
    names, kinds = [], set()
    for vol in spec.get("volumes") or []:
        if any(vol.get(kind) is not None for kind in _ALLOWED_VOLUMES):
            continue
        names.append(vol.get("name", ""))
        kinds.add(next((kind for kind in _RESTRICTED_VOLUMES if vol.get(kind) is not None), "unknown"))
    if not names:
        return None
    return ("restricted volume types",
            f"{_plural('volume', 'volumes', len(names))} {_join_quote(names)} {_plural('uses', 'use', len(names))} "
            f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} {_join_quote(sorted(kinds))}")


def _run_as_non_root(meta: Obj, spec: Obj, minor: int) -> Result | None:
    pod_value = _pod_sc(spec).get("runAsNonRoot")
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c.get("name", ""))
        elif value is None and pod_value is not True:
            implicit.append(c.get("name", ""))
    setters = _setters(pod_value is False, explicit)
    if setters:
        return "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return ("runAsNonRoot != true",
                f"pod or {_plural('container', 'containers', len(implicit))} {_join_quote(implicit)} must set "
                "securityContext.runAsNonRoot=true")
    return None


def _run_as_user(meta: Obj, spec: Obj, minor: int) -> Result | None:
    containers = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    setters = _setters(_pod_sc(spec).get("runAsUser") == 0, containers)
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def _seccomp_restricted(meta: Obj, spec: Obj, minor: int) -> Result | None:
    if minor >= 25 and _windows(spec):
        return None
    values: set[str] = set()
    pod_profile = _pod_sc(spec).get("seccompProfile")
    pod_bad = pod_profile is not None and not _seccomp_valid(pod_profile)
    pod_set = pod_profile is not None and not pod_bad
    if pod_profile is not None and pod_bad:
        values.add(str(pod_profile.get("type")))
    explicit, implicit = [], []
    for c in _containers(spec):
        profile = _sc(c).get("seccompProfile")
        if profile is not None:
            if not _seccomp_valid(profile):
                explicit.append(c.get("name", ""))
                values.add(str(profile.get("type")))
        elif not pod_set:
            implicit.append(c.get("name", ""))
    setters = _setters(pod_bad, explicit)
    if setters:
        return ("seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
                                  f"{_join_quote(sorted(values))}")
    if implicit:
        return ("seccompProfile", f"pod or {_plural('container', 'containers', len(implicit))} "
                                  f"{_join_quote(implicit)} must set securityContext.seccompProfile.type to "
                                  '"RuntimeDefault" or "Localhost"')
    return None


# ---------------------------------------------------------------------- the registry of checks

CheckFn = Callable[[Obj, Obj, int], "Result | None"]


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    since: int  # the first policy minor version it belongs to
    fn: CheckFn
    overlap: bool = False  # a baseline check that restricted replaces with a stricter one


#: in Kubernetes' order (its check_*.go files, baseline then restricted)
CHECKS = (
    Check("appArmorProfile", BASELINE, 0, _app_armor),
    Check("capabilities_baseline", BASELINE, 0, _capabilities_baseline, overlap=True),
    Check("hostNamespaces", BASELINE, 0, _host_namespaces),
    Check("hostPathVolumes", BASELINE, 0, _host_path_volumes, overlap=True),
    Check("hostPorts", BASELINE, 0, _host_ports),
    Check("hostProbesAndHostLifecycle", BASELINE, 34, _probe_hosts),
    Check("privileged", BASELINE, 0, _privileged),
    Check("procMount", BASELINE, 0, _proc_mount),
    Check("seLinuxOptions", BASELINE, 0, _se_linux),
    Check("seccompProfile_baseline", BASELINE, 0, _seccomp_baseline, overlap=True),
    Check("sysctls", BASELINE, 0, _sysctls),
    Check("windowsHostProcess", BASELINE, 0, _windows_host_process),
    Check("allowPrivilegeEscalation", RESTRICTED, 8, _allow_privilege_escalation),
    Check("capabilities_restricted", RESTRICTED, 22, _capabilities_restricted),
    Check("restrictedVolumes", RESTRICTED, 0, _restricted_volumes),
    Check("runAsNonRoot", RESTRICTED, 0, _run_as_non_root),
    Check("runAsUser", RESTRICTED, 23, _run_as_user),
    Check("seccompProfile_restricted", RESTRICTED, 19, _seccomp_restricted),
)


def check_pod(lv: LevelVersion, meta: Obj, spec: Obj) -> list[Result]:
    """EvaluatePod: the failed checks of the level at the version, in order: baseline's, then baseline's
    overlapping ones (baseline) or restricted's (restricted)."""
    if lv.level == PRIVILEGED:
        return []
    chosen = [c for c in CHECKS if c.level == BASELINE and not c.overlap]
    if lv.level == BASELINE:
        chosen += [c for c in CHECKS if c.overlap]
    else:
        chosen += [c for c in CHECKS if c.level == RESTRICTED]
    out = []
    for check in chosen:
        if check.since <= lv.minor and (result := check.fn(meta or {}, spec or {}, lv.minor)) is not None:
            out.append(result)
    return out


def forbidden_detail(results: list[Result]) -> str:
    """AggregateCheckResult.ForbiddenDetail: `reason (detail), reason, ...`."""
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in results)


def forbidden_reason(results: list[Result]) -> str:
    return ", ".join(reason for reason, _ in results)
