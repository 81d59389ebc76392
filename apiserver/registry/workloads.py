"""apps/v1 and batch/v1 workloads: defaults and validation of Deployments, ReplicaSets, DaemonSets,
StatefulSets, Jobs and CronJobs, whose pod templates follow the Pod rules (`podspec`)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from apiserver.registry.podspec import default_pod_spec, validate_pod_spec
from apiserver.registry.storage import default_claim_spec
from kube import errors, labels
from kube.models import KubeModel
from kube.models import apps as apps_models
from kube.models import batch as batch_models
from kube.models.apps import PodTemplateSpec

__all__ = [
    "CronJobStrategy", "DaemonSetStrategy", "DeploymentStrategy", "JobStrategy", "ReplicaSetStrategy",
    "StatefulSetStrategy",
]

Obj = dict[str, Any]
Causes = list[errors.Cause]

_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"]
_PERCENT = re.compile(r"^[0-9]+%$")


def _default_template(template: PodTemplateSpec | None) -> None:
    """A pod template gets SetDefaults_PodSpec and the nested defaults, not what only a Pod gets (requests
    copied from limits, enableServiceLinks): the generated SetObjectDefaults_<Kind> of apps/v1 and batch/v1."""
    if template is not None and template.spec is not None:
        default_pod_spec(template.spec)


#: What Go's encoding/json writes for each kind's empty status struct (k8s.io/api apps/v1 and batch/v1
#: types.go: the fields without `omitempty`). A new object is stored with it (PrepareForCreate resets the
#: status to the zero struct), and every status keeps those fields.
ZERO_STATUS: dict[str, Obj] = {
    "Deployment": {},
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                  "numberReady": 0},
    "Job": {},
    "CronJob": {},
}


def _template_metadata(template: Any) -> None:
    """PodTemplateSpec.metadata is a struct, never omitted by Go: `{}` when empty."""
    if isinstance(template, dict):
        template.setdefault("metadata", {})


class _GoShape(Strategy):
    """Decoded objects with the fields Go always writes: the status struct's non-omitempty fields, and the
    `metadata: {}` of pod templates."""

    tracks_generation = True

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        decoded, warnings = super().decode(obj, field_validation)
        decoded["status"] = {**ZERO_STATUS[self.resource.kind], **(decoded.get("status") or {})}
        self.shape(decoded.get("spec") or {})
        return decoded, warnings

    def shape(self, spec: Obj) -> None:
        _template_metadata(spec.get("template"))

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = dict(ZERO_STATUS[self.resource.kind])


def validate_selector(selector: Obj | None, path: str) -> Causes:
    causes: Causes = []
    for key, value in (selector or {}).get("matchLabels", {}).items():
        causes += v.label_key(key, f"{path}.matchLabels")
        causes += v.label_value(value, f"{path}.matchLabels")
    for i, expr in enumerate((selector or {}).get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator")
        if op not in _OPERATORS:
            causes.append(v.not_supported(f"{p}.operator", op, _OPERATORS))
        elif op in ("In", "NotIn") and not expr.get("values"):
            causes.append(v.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and expr.get("values"):
            causes.append(v.forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or "
                                                     "'DoesNotExist'"))
    return causes


def validate_template(spec: Obj, *, selector_required: bool = True, template_required: bool = True,
                      restart_policies: tuple[str, ...] = ("Always",)) -> Causes:
    """The selector/template pair every controller-owned pod set has: the selector must select the
    template's labels, and the template must be a valid Pod."""
    causes: Causes = []
    selector = spec.get("selector")
    template = spec.get("template")
    if selector_required and not selector:
        causes.append(v.required("spec.selector"))
    elif selector is not None:
        causes += validate_selector(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(v.invalid("spec.selector", selector, "empty selector is invalid: it would select every pod"))
    if template is None:
        if template_required:
            causes.append(v.required("spec.template"))
        return causes
    template_labels = (template.get("metadata") or {}).get("labels") or {}
    for key, value in template_labels.items():
        causes += v.label_key(key, "spec.template.metadata.labels")
        causes += v.label_value(value, "spec.template.metadata.labels")
    if selector and not causes and not labels.from_label_selector(selector).matches(template_labels):
        causes.append(v.invalid("spec.template.metadata.labels", template_labels,
                                "`selector` does not match template `labels`"))
    if template.get("spec") is None:
        causes.append(v.required("spec.template.spec"))
        return causes
    causes += validate_pod_spec(template["spec"], "spec.template.spec")
    policy = template["spec"].get("restartPolicy")
    if policy not in restart_policies:
        causes.append(v.not_supported("spec.template.spec.restartPolicy", policy, list(restart_policies)))
    return causes


def _non_negative(spec: Obj, fields: tuple[str, ...]) -> Causes:
    return [v.invalid(f"spec.{f}", spec[f], "must be greater than or equal to 0")
            for f in fields if isinstance(spec.get(f), int) and spec[f] < 0]


def _int_or_percent(value: Any, path: str) -> Causes:
    if value is None or (isinstance(value, int) and value >= 0):
        return []
    if isinstance(value, str) and _PERCENT.match(value):
        return [] if int(value[:-1]) <= 100 else [v.invalid(path, value, "must not be greater than 100%")]
    return [v.invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                                   "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]


class _TemplateOwner(_GoShape):
    """A kind with spec.selector + spec.template and a status written by its controller."""

    status_subresource = True
    restart_policies: ClassVar[tuple[str, ...]] = ("Always",)

    def validate(self, obj: Obj) -> Causes:
        return self.validate_metadata(obj) + validate_template(obj.get("spec") or {},
                                                                restart_policies=self.restart_policies)

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        if new["spec"].get("selector") != old["spec"].get("selector"):
            causes.append(v.invalid("spec.selector", new["spec"].get("selector"), "field is immutable"))
        return causes


class DeploymentStrategy(_TemplateOwner):
    model: ClassVar[type[KubeModel] | None] = apps_models.Deployment

    def default(self, d: apps_models.Deployment) -> None:
        spec = d.spec
        spec.replicas = 1 if spec.replicas is None else spec.replicas
        spec.strategy = spec.strategy or apps_models.DeploymentStrategy()
        spec.strategy.type = spec.strategy.type or "RollingUpdate"
        if spec.strategy.type == "RollingUpdate":
            ru = spec.strategy.rolling_update = spec.strategy.rolling_update or apps_models.RollingUpdateDeployment()
            ru.max_unavailable = "25%" if ru.max_unavailable is None else ru.max_unavailable
            ru.max_surge = "25%" if ru.max_surge is None else ru.max_surge
        spec.revision_history_limit = 10 if spec.revision_history_limit is None else spec.revision_history_limit
        if spec.progress_deadline_seconds is None:
            spec.progress_deadline_seconds = 600
        _default_template(spec.template)

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj)
        spec = obj.get("spec") or {}
        causes += _non_negative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
        strategy = spec.get("strategy") or {}
        kind = strategy.get("type")
        if kind not in ("RollingUpdate", "Recreate"):
            causes.append(v.not_supported("spec.strategy.type", kind, ["Recreate", "RollingUpdate"]))
        elif kind == "Recreate" and strategy.get("rollingUpdate"):
            causes.append(v.forbidden("spec.strategy.rollingUpdate",
                                      "may not be specified when strategy `type` is 'Recreate'"))
        ru = strategy.get("rollingUpdate") or {}
        path = "spec.strategy.rollingUpdate"
        causes += _int_or_percent(ru.get("maxUnavailable"), f"{path}.maxUnavailable")
        causes += _int_or_percent(ru.get("maxSurge"), f"{path}.maxSurge")
        if kind == "RollingUpdate" and ru.get("maxUnavailable") in (0, "0%") and ru.get("maxSurge") in (0, "0%"):
            causes.append(v.invalid(f"{path}.maxUnavailable", ru.get("maxUnavailable"),
                                    "may not be 0 when `maxSurge` is 0"))
        deadline = spec.get("progressDeadlineSeconds")
        if deadline is not None and deadline <= (spec.get("minReadySeconds") or 0):
            causes.append(v.invalid("spec.progressDeadlineSeconds", deadline,
                                    "must be greater than minReadySeconds"))
        return causes


class ReplicaSetStrategy(_TemplateOwner):
    model: ClassVar[type[KubeModel] | None] = apps_models.ReplicaSet

    def default(self, rs: apps_models.ReplicaSet) -> None:
        rs.spec.replicas = 1 if rs.spec.replicas is None else rs.spec.replicas
        _default_template(rs.spec.template)

    def validate(self, obj: Obj) -> Causes:
        spec = obj.get("spec") or {}
        causes = self.validate_metadata(obj) + validate_template(spec, template_required=bool(spec.get("replicas")))
        return causes + _non_negative(spec, ("replicas", "minReadySeconds"))


class DaemonSetStrategy(_TemplateOwner):
    model: ClassVar[type[KubeModel] | None] = apps_models.DaemonSet

    def default(self, ds: apps_models.DaemonSet) -> None:
        spec = ds.spec
        strategy = spec.update_strategy = spec.update_strategy or apps_models.DaemonSetUpdateStrategy()
        strategy.type = strategy.type or "RollingUpdate"
        if strategy.type == "RollingUpdate":
            ru = strategy.rolling_update = strategy.rolling_update or apps_models.RollingUpdateDaemonSet()
            ru.max_unavailable = 1 if ru.max_unavailable is None else ru.max_unavailable
            ru.max_surge = 0 if ru.max_surge is None else ru.max_surge
        spec.revision_history_limit = 10 if spec.revision_history_limit is None else spec.revision_history_limit
        _default_template(spec.template)

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj)
        kind = ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type")
        if kind not in ("RollingUpdate", "OnDelete"):
            causes.append(v.not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
        return causes


def _with_claim_volumes(obj: Obj) -> Obj:
    """The set as its pods will be: each volumeClaimTemplate is a volume the containers may mount."""
    spec = obj.get("spec") or {}
    template = spec.get("template")
    claims = [(c.get("metadata") or {}).get("name") for c in spec.get("volumeClaimTemplates") or []]
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict) or not claims:
        return obj
    volumes = list(template["spec"].get("volumes") or [])
    have = {vol.get("name") for vol in volumes}
    volumes += [{"name": name, "persistentVolumeClaim": {"claimName": name}}
                for name in claims if name and name not in have]
    return {**obj, "spec": {**spec, "template": {**template, "spec": {**template["spec"], "volumes": volumes}}}}


class StatefulSetStrategy(_TemplateOwner):
    model: ClassVar[type[KubeModel] | None] = apps_models.StatefulSet

    def default(self, sts: apps_models.StatefulSet) -> None:
        spec = sts.spec
        spec.replicas = 1 if spec.replicas is None else spec.replicas
        spec.pod_management_policy = spec.pod_management_policy or "OrderedReady"
        strategy = spec.update_strategy = spec.update_strategy or apps_models.StatefulSetUpdateStrategy()
        strategy.type = strategy.type or "RollingUpdate"
        if strategy.type == "RollingUpdate":
            ru = strategy.rolling_update = strategy.rolling_update or apps_models.RollingUpdateStatefulSetStrategy()
            ru.partition = 0 if ru.partition is None else ru.partition
        spec.revision_history_limit = 10 if spec.revision_history_limit is None else spec.revision_history_limit
        spec.persistent_volume_claim_retention_policy = {
            "whenDeleted": "Retain", "whenScaled": "Retain", **(spec.persistent_volume_claim_retention_policy or {})}
        if spec.service_name is None:
            spec.service_name = ""  # a plain string without omitempty: Go writes ""
        for claim in spec.volume_claim_templates:
            default_claim_spec(claim.spec)
        _default_template(spec.template)

    def shape(self, spec: Obj) -> None:
        """A volumeClaimTemplate is a whole PersistentVolumeClaim to Go: SetDefaults_PersistentVolumeClaim
        gives it `status.phase: Pending`, and its metadata and `spec.resources` structs are always written."""
        super().shape(spec)
        for claim in spec.get("volumeClaimTemplates") or []:
            claim.setdefault("metadata", {})
            claim.setdefault("spec", {}).setdefault("resources", {})
            claim["status"] = {"phase": "Pending", **(claim.get("status") or {})}

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(_with_claim_volumes(obj))
        spec = obj.get("spec") or {}
        causes += _non_negative(spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"))
        policy = spec.get("podManagementPolicy")
        if policy not in ("OrderedReady", "Parallel"):
            causes.append(v.not_supported("spec.podManagementPolicy", policy, ["OrderedReady", "Parallel"]))
        kind = (spec.get("updateStrategy") or {}).get("type")
        if kind not in ("RollingUpdate", "OnDelete"):
            causes.append(v.not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
        for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
            causes += v.dns1123_subdomain((claim.get("metadata") or {}).get("name") or "",
                                          f"spec.volumeClaimTemplates[{i}].metadata.name")
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        mutable = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                   "persistentVolumeClaimRetentionPolicy", "revisionHistoryLimit")
        if {k: x for k, x in new["spec"].items() if k not in mutable} != {
                k: x for k, x in old["spec"].items() if k not in mutable}:
            causes.append(v.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', "
                                              "'ordinals', 'template', 'updateStrategy', "
                                              "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                                              "are forbidden"))
        return causes


JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


INT32_MAX = 2**31 - 1


def default_job(job: batch_models.Job) -> None:
    """SetDefaults_Job (pkg/apis/batch/v1/defaults.go), then the pod template's defaults."""
    spec = job.spec
    if spec.completions is None and spec.parallelism is None:
        spec.completions = 1
    spec.parallelism = 1 if spec.parallelism is None else spec.parallelism
    if spec.backoff_limit is None:
        spec.backoff_limit = INT32_MAX if spec.backoff_limit_per_index is not None else 6
    template_labels = spec.template.metadata.labels
    if template_labels and not job.metadata.labels:
        job.metadata.labels = dict(template_labels)
    spec.completion_mode = spec.completion_mode or "NonIndexed"
    spec.suspend = bool(spec.suspend)
    for rule in (spec.pod_failure_policy or {}).get("rules") or []:
        for pattern in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"
    if spec.pod_replacement_policy is None:
        spec.pod_replacement_policy = "Failed" if spec.pod_failure_policy is not None else "TerminatingOrFailed"
    if spec.manual_selector is None:
        spec.manual_selector = False
    _default_template(spec.template)


def validate_job_spec(spec: Obj, path: str = "spec") -> Causes:
    causes = _non_negative(spec, ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds",
                                  "ttlSecondsAfterFinished"))
    if path != "spec":
        causes = [{**c, "field": c["field"].replace("spec.", f"{path}.", 1)} for c in causes]
    if spec.get("completionMode") not in ("NonIndexed", "Indexed", None):  # None: a CronJob's template
        causes.append(v.not_supported(f"{path}.completionMode", spec.get("completionMode"), ["Indexed", "NonIndexed"]))
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        causes.append(v.required(f"{path}.completions", "when completion mode is Indexed"))
    return causes


class JobStrategy(_GoShape):
    model: ClassVar[type[KubeModel] | None] = batch_models.Job
    status_subresource = True

    def default(self, job: batch_models.Job) -> None:
        default_job(job)

    def prepare_for_create(self, obj: Obj) -> None:
        """Without a manual selector, a Job selects its pods by its own uid (labels added to the template)."""
        super().prepare_for_create(obj)
        spec, uid = obj["spec"], obj["metadata"]["uid"]
        if spec.get("manualSelector"):
            return
        template_meta = spec["template"].setdefault("metadata", {})
        template_meta["labels"] = {**template_meta.get("labels", {}), JOB_UID_LABEL: uid, "controller-uid": uid,
                                   JOB_NAME_LABEL: obj["metadata"]["name"], "job-name": obj["metadata"]["name"]}
        spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}

    def validate(self, obj: Obj) -> Causes:
        spec = obj.get("spec") or {}
        manual = bool(spec.get("manualSelector"))
        causes = self.validate_metadata(obj) + validate_job_spec(spec)
        if spec.get("selector") and not manual:
            causes.append(v.invalid("spec.selector", spec["selector"], "`selector` will be auto-generated"))
            spec = {k: x for k, x in spec.items() if k != "selector"}
        causes += validate_template(spec, selector_required=manual, restart_policies=("OnFailure", "Never"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate_metadata(new) + validate_job_spec(new.get("spec") or {})
        for field in ("selector", "template", "completions", "completionMode"):
            if field == "template" and new["spec"].get("suspend"):
                continue
            if new["spec"].get(field) != old["spec"].get(field):
                causes.append(v.invalid(f"spec.{field}", new["spec"].get(field), "field is immutable"))
        return causes


_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_TERM = r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
_CRON_FIELD = re.compile(rf"^{_CRON_TERM}(,{_CRON_TERM})*$")


def cron_schedule_error(schedule: str) -> str | None:
    """A readable reason when `schedule` is not a 5-field cron expression or a macro; None when it is."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text in _CRON_MACROS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: {schedule!r}"
    bad = [f for f in fields if not _CRON_FIELD.match(f)]
    return f"unparseable field {bad[0]!r}" if bad else None


class CronJobStrategy(_GoShape):
    model: ClassVar[type[KubeModel] | None] = batch_models.CronJob
    status_subresource = True

    def default(self, cj: batch_models.CronJob) -> None:
        """SetDefaults_CronJob. The job template's spec is a JobSpec, not a Job: SetDefaults_Job does not
        reach it (the Job made from it is defaulted when created); only its pod template is defaulted."""
        spec = cj.spec
        spec.concurrency_policy = spec.concurrency_policy or "Allow"
        spec.suspend = bool(spec.suspend)
        if spec.successful_jobs_history_limit is None:
            spec.successful_jobs_history_limit = 3
        if spec.failed_jobs_history_limit is None:
            spec.failed_jobs_history_limit = 1
        _default_template(spec.job_template.spec.template)

    def shape(self, spec: Obj) -> None:
        job_template = spec.get("jobTemplate")
        if isinstance(job_template, dict):
            job_template.setdefault("metadata", {})
            _template_metadata((job_template.get("spec") or {}).get("template"))

    def validate(self, obj: Obj) -> Causes:
        spec = obj.get("spec") or {}
        causes = self.validate_metadata(obj)
        if len(obj["metadata"].get("name") or "") > 52:
            causes.append(v.invalid("metadata.name", obj["metadata"]["name"], "must be no more than 52 characters"))
        problem = cron_schedule_error(spec.get("schedule") or "")
        if problem:
            causes.append(v.invalid("spec.schedule", spec.get("schedule"), problem))
        policy = spec.get("concurrencyPolicy")
        if policy not in ("Allow", "Forbid", "Replace"):
            causes.append(v.not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
        causes += _non_negative(spec, ("startingDeadlineSeconds", "successfulJobsHistoryLimit",
                                       "failedJobsHistoryLimit"))
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        nested = validate_job_spec(job_spec, "spec.jobTemplate.spec")
        nested += [{**c, "field": c["field"].replace("spec.", "spec.jobTemplate.spec.", 1)}
                   for c in validate_template(job_spec, selector_required=False,
                                              restart_policies=("OnFailure", "Never"))]
        return causes + nested
