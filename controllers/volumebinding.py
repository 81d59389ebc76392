"""PersistentVolume controller with a local-path provisioner: binds claims to volumes, provisions volumes
for claims of the `kubelite.io/local-path` class, and reclaims volumes whose claim is gone (Kubernetes'
`pkg/controller/volume/persistentvolume`, plus the volume-binding half of the scheduler).

Claims: one without `storageClassName` is given the default StorageClass by patching the claim here, which
Kubernetes' DefaultStorageClass admission plugin (or its retroactive assignment) does in the apiserver.
A claim takes the smallest Available volume that fits (class, capacity, access modes, volume mode,
selector, and node affinity for the consumer's node), else a provisioned one: PersistentVolume `pvc-<uid>`,
hostPath `/var/lib/kubelite/volumes/pvc-<uid>` (the kubelet creates the directory when it mounts it),
capacity as requested, pre-bound to the claim. For a WaitForFirstConsumer class nothing happens until a
pod using the claim is on a node (the `volume.kubernetes.io/selected-node` annotation, or the node of the
first scheduled consumer); the volume then gets node affinity to that node. Binding is four idempotent
writes: pv.spec.claimRef (guarded by resourceVersion, so two claims never take one volume), pv phase
Bound, pvc.spec.volumeName, pvc status (Bound, capacity, accessModes).

Volumes: no claimRef means Available; a claim gone (confirmed by a live GET) means reclaim: Retain marks
it Released, Delete deletes a volume this provisioner made (others are marked Failed: nothing here can
delete them). The default StorageClass `local-path` (WaitForFirstConsumer, reclaim Delete) is created at
start when the cluster has none.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import errors, labels, quantity, scheduling, timeutil
from kube.informer import Handler, object_key
from kube.resources import NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, STORAGECLASSES, ResourceType

__all__ = [
    "DEFAULT_CLASS", "PROVISIONER", "VolumeBindingController", "best_match", "default_class", "is_default",
    "new_volume", "volume_fits",
]

Obj = dict[str, Any]

PROVISIONER = "kubelite.io/local-path"
DEFAULT_CLASS = "local-path"
VOLUME_ROOT = "/var/lib/kubelite/volumes"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
HOSTNAME_LABEL = "kubernetes.io/hostname"


# ---------------------------------------------------------------------- pure logic


def is_default(sc: Obj) -> bool:
    annotations = sc["metadata"].get("annotations") or {}
    return "true" in (annotations.get(DEFAULT_CLASS_ANNOTATION), annotations.get(BETA_DEFAULT_CLASS_ANNOTATION))


def default_class(classes: list[Obj]) -> Obj | None:
    """The default StorageClass; with several, the newest (as Kubernetes picks since 1.26)."""
    defaults = [c for c in classes if is_default(c) and not c["metadata"].get("deletionTimestamp")]
    return max(defaults, key=lambda c: (c["metadata"].get("creationTimestamp") or "", c["metadata"]["name"]),
               default=None)


def _storage(resources: Obj | None) -> int:
    value = (resources or {}).get("storage")
    return quantity.memory_bytes(value) if value is not None else 0


def requested(pvc: Obj) -> int:
    return _storage(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))


def _bound_to(pv: Obj, pvc: Obj) -> bool:
    """The volume's claimRef names this claim (by uid, or by name alone when pre-bound by a user)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = pvc["metadata"]
    if ref.get("name") != meta["name"] or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref["uid"] == meta["uid"]


def volume_fits(pv: Obj, pvc: Obj, node: Obj | None = None) -> bool:
    """An unclaimed Available volume this claim may take (Kubernetes' findMatchingVolume filters)."""
    spec, claim_spec = pv.get("spec") or {}, pvc.get("spec") or {}
    if pv["metadata"].get("deletionTimestamp") or spec.get("claimRef"):
        return False
    if (pv.get("status") or {}).get("phase") != "Available":
        return False
    if (spec.get("storageClassName") or "") != (claim_spec.get("storageClassName") or ""):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (claim_spec.get("volumeMode") or "Filesystem"):
        return False
    if not set(claim_spec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    selector = claim_spec.get("selector")
    if selector and not labels.from_label_selector(selector).matches(pv["metadata"].get("labels")):
        return False
    if node is not None and not scheduling.node_selector_matches(
            ((spec.get("nodeAffinity") or {}).get("required")), node):
        return False
    return _storage(spec.get("capacity")) >= requested(pvc)


def best_match(volumes: list[Obj], pvc: Obj, node: Obj | None = None) -> Obj | None:
    """A volume already bound to the claim (if its node affinity allows `node`), else the smallest that fits."""
    for pv in volumes:
        if _bound_to(pv, pvc) and not pv["metadata"].get("deletionTimestamp"):
            affinity = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
            return pv if node is None or scheduling.node_selector_matches(affinity, node) else None
    fitting = [pv for pv in volumes if volume_fits(pv, pvc, node)]
    return min(fitting, key=lambda pv: (_storage(pv["spec"].get("capacity")), pv["metadata"]["name"]), default=None)


def claim_ref(pvc: Obj) -> Obj:
    meta = pvc["metadata"]
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}


def new_volume(pvc: Obj, sc: Obj, node: Obj | None) -> Obj:
    """The volume provisioned for `pvc`: hostPath under VOLUME_ROOT, pinned to `node` when given."""
    name = f"pvc-{pvc['metadata']['uid']}"
    claim_spec = pvc.get("spec") or {}
    storage = ((claim_spec.get("resources") or {}).get("requests") or {}).get("storage")
    spec: Obj = {
        "capacity": {"storage": storage},
        "accessModes": list(claim_spec.get("accessModes") or ["ReadWriteOnce"]),
        "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
        "storageClassName": sc["metadata"]["name"],
        "volumeMode": claim_spec.get("volumeMode") or "Filesystem",
        "hostPath": {"path": f"{VOLUME_ROOT}/{name}", "type": "DirectoryOrCreate"},
        "claimRef": claim_ref(pvc),
    }
    if sc.get("mountOptions"):
        spec["mountOptions"] = list(sc["mountOptions"])
    if node is not None:
        hostname = (node["metadata"].get("labels") or {}).get(HOSTNAME_LABEL)
        term = ({"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}
                if hostname else
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node["metadata"]["name"]]}]})
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}}, "spec": spec}


def claims_of(pod: Obj) -> list[str]:
    """The claim keys (`namespace/name`) a pod's volumes use."""
    ns = pod["metadata"].get("namespace", "")
    return [f"{ns}/{v['persistentVolumeClaim']['claimName']}" for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


# ---------------------------------------------------------------------- the controller


class VolumeBindingController(Controller):
    name: ClassVar[str] = "volumebinding"
    watches: ClassVar[tuple[ResourceType, ...]] = (PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES,
                                                   PODS, NODES)
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        inf = ctx.informers
        self.claims, self.volumes = inf.informer(PERSISTENTVOLUMECLAIMS), inf.informer(PERSISTENTVOLUMES)
        self.classes, self.pods, self.nodes = inf.informer(STORAGECLASSES), inf.informer(PODS), inf.informer(NODES)
        self.pods.add_indexer("claims", claims_of)
        self.claims.add_handler(Handler(on_add=self._claim_changed, on_update=lambda _o, n: self._claim_changed(n),
                                        on_delete=self._claim_deleted))
        self.volumes.add_handler(Handler(on_add=self._volume_changed, on_update=self._volume_updated,
                                         on_delete=self._volume_changed))
        self.classes.add_handler(Handler(on_add=lambda _: self._unbound_claims(),
                                         on_update=lambda _o, _n: self._unbound_claims()))
        self.pods.add_handler(Handler(on_add=self._pod_changed, on_update=lambda _o, n: self._pod_changed(n)))
        self._told: dict[str, str] = {}  # claim uid -> reason of the last Pending event (no repeats)

    # ------------------------------------------------------------------ events -> keys

    def _claim_changed(self, pvc: Obj) -> None:
        self.queue.add(f"claim:{object_key(pvc)}")

    def _claim_deleted(self, pvc: Obj) -> None:
        self._told.pop(pvc["metadata"].get("uid", ""), None)
        for pv in self.volumes.list():
            if _bound_to(pv, pvc) or pv["metadata"]["name"] == (pvc.get("spec") or {}).get("volumeName"):
                self.queue.add(f"volume:{pv['metadata']['name']}")

    def _volume_changed(self, pv: Obj) -> None:
        self.queue.add(f"volume:{pv['metadata']['name']}")
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and ref.get("namespace") and ref.get("name"):
            self.queue.add(f"claim:{ref['namespace']}/{ref['name']}")

    def _volume_updated(self, old: Obj, new: Obj) -> None:
        self._volume_changed(new)
        phases = ((old.get("status") or {}).get("phase"), (new.get("status") or {}).get("phase"))
        if phases[1] == "Available" and phases[0] != "Available":
            self._unbound_claims()  # a volume came free: pending claims may take it

    def _unbound_claims(self) -> None:
        for pvc in self.claims.list():
            if not (pvc.get("spec") or {}).get("volumeName"):
                self._claim_changed(pvc)

    def _pod_changed(self, pod: Obj) -> None:
        if not (pod.get("spec") or {}).get("nodeName"):
            return
        for key in claims_of(pod):
            pvc = self.claims.get(key)
            if pvc is not None and not (pvc.get("spec") or {}).get("volumeName"):
                self.queue.add(f"claim:{key}")

    def initial_keys(self) -> list[str]:
        claims, volumes = self.claims.keys(), self.volumes.keys()  # Informer.keys(): a list, not a dict view
        return [f"claim:{k}" for k in claims] + [f"volume:{k}" for k in volumes]

    async def run(self) -> None:
        await self.ctx.informers.wait_synced(STORAGECLASSES)
        try:
            await self._ensure_default_class()
        except errors.ApiError as exc:
            self.log.warning("could not create the default StorageClass %s: %s", DEFAULT_CLASS, exc)
        await super().run()

    async def _ensure_default_class(self) -> None:
        if self.classes.get(DEFAULT_CLASS) is not None or default_class(self.classes.list()) is not None:
            return
        body = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
                "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}
        try:
            await self.client.create(STORAGECLASSES, body)
            self.log.info("created the default StorageClass %s", DEFAULT_CLASS)
        except errors.AlreadyExists:
            pass

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        kind, _, name = key.partition(":")
        if kind == "claim":
            pvc = self.claims.get(name)
            if pvc is not None:
                await self._sync_claim(pvc)
        elif kind == "volume":
            pv = self.volumes.get(name)
            if pv is not None:
                await self._sync_volume(pv)

    async def _tell(self, pvc: Obj, event_type: str, reason: str, message: str) -> None:
        uid = pvc["metadata"]["uid"]
        if self._told.get(uid) != reason:
            self._told[uid] = reason
            await self.recorder.record(pvc, event_type, reason, message)

    def _consumer_node(self, pvc: Obj) -> str | None:
        selected = (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        if selected:
            return selected
        users = [p for p in self.pods.by_index("claims", object_key(pvc))
                 if (p.get("spec") or {}).get("nodeName") and not p["metadata"].get("deletionTimestamp")]
        users.sort(key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))
        return users[0]["spec"]["nodeName"] if users else None

    async def _sync_claim(self, pvc: Obj) -> None:
        spec = pvc.get("spec") or {}
        if spec.get("volumeName"):
            await self._sync_bound_claim(pvc)
            return
        if spec.get("storageClassName") is None:
            default = default_class(self.classes.list())
            if default is not None:  # the DefaultStorageClass admission, done late
                meta = pvc["metadata"]
                await self.client.patch(PERSISTENTVOLUMECLAIMS, meta["name"], {
                    "metadata": {"uid": meta["uid"]}, "spec": {"storageClassName": default["metadata"]["name"]}},
                    meta["namespace"], patch_type="merge")
                return
        class_name = spec.get("storageClassName") or ""
        sc = self.classes.get(class_name) if class_name else None
        delayed = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        node: Obj | None = None
        if delayed:
            node_name = self._consumer_node(pvc)
            if node_name is None:
                if not any(_bound_to(pv, pvc) for pv in self.volumes.list()):  # else: finish that binding
                    await self._tell(pvc, "Normal", "WaitForFirstConsumer",
                                     "waiting for first consumer to be created before binding")
                    return
            else:
                node = self.nodes.get(node_name)
                if node is None:
                    return  # the node object is not (yet) in our cache; its add event brings us back
        pv = best_match(self.volumes.list(), pvc, node)
        if pv is not None:
            await self._bind(pv, pvc)
            return
        if sc is not None and sc.get("provisioner") == PROVISIONER:
            await self._provision(pvc, sc, node)
            return
        if sc is None and class_name:
            await self._tell(pvc, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" '
                                                                   "not found")
        elif sc is None:
            await self._tell(pvc, "Normal", "FailedBinding",
                             "no persistent volumes available for this claim and no storage class is set")
        else:
            await self._tell(pvc, "Normal", "ExternalProvisioning",
                             f"Waiting for a volume to be created either by the external provisioner "
                             f"'{sc.get('provisioner')}' or manually by the system administrator. If volume "
                             "creation is delayed, please verify that the provisioner is running and correctly "
                             "registered.")

    async def _sync_bound_claim(self, pvc: Obj) -> None:
        """A claim with spec.volumeName: finish the binding, or mark it Lost if its volume went away."""
        name = pvc["spec"]["volumeName"]
        phase = (pvc.get("status") or {}).get("phase")
        pv = self.volumes.get(name)
        if pv is not None and (not pv["spec"].get("claimRef") or _bound_to(pv, pvc)):
            await self._bind(pv, pvc)
            return
        if phase == "Bound":
            await self._claim_status(pvc, {"phase": "Lost"})
            reason = "volume is bound to another claim" if pv is not None else "volume does not exist"
            await self.recorder.record(pvc, "Warning", "ClaimLost", f"Bound claim has lost its PersistentVolume. "
                                                                    f"Data on the volume is lost! ({reason})")
        elif pv is not None:
            await self._tell(pvc, "Warning", "FailedBinding", f"volume {name!r} already bound to a different claim.")

    async def _provision(self, pvc: Obj, sc: Obj, node: Obj | None) -> None:
        body = new_volume(pvc, sc, node)
        try:
            await self.client.create(PERSISTENTVOLUMES, body)
        except errors.AlreadyExists:
            return
        self._told.pop(pvc["metadata"]["uid"], None)
        await self.recorder.record(pvc, "Normal", "ProvisioningSucceeded",
                                   f"Successfully provisioned volume {body['metadata']['name']}")

    async def _bind(self, pv: Obj, pvc: Obj) -> None:
        """Both halves of a binding; every step skipped when already done, so a retry finishes the job."""
        pv_name = pv["metadata"]["name"]
        ref = pv["spec"].get("claimRef") or {}
        if ref.get("uid") != pvc["metadata"]["uid"]:
            new = copy.deepcopy(pv)
            new["spec"]["claimRef"] = claim_ref(pvc)
            if not ref:
                new["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            pv = await self.client.replace(PERSISTENTVOLUMES, new)  # a Conflict means another claim was first
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = await self._volume_status(pv, {"phase": "Bound"})
        annotations = pvc["metadata"].get("annotations") or {}
        if pvc["spec"].get("volumeName") != pv_name or annotations.get(BIND_COMPLETED) != "yes":
            new = copy.deepcopy(pvc)
            new_annotations = new["metadata"].setdefault("annotations", {})
            new_annotations[BIND_COMPLETED] = "yes"
            if not pvc["spec"].get("volumeName"):
                new_annotations[BOUND_BY_CONTROLLER] = "yes"
                new["spec"]["volumeName"] = pv_name
            pvc = await self.client.replace(PERSISTENTVOLUMECLAIMS, new)
        wanted = {"phase": "Bound", "accessModes": list(pv["spec"].get("accessModes") or []),
                  "capacity": dict(pv["spec"].get("capacity") or {})}
        status = pvc.get("status") or {}
        if any(status.get(k) != v for k, v in wanted.items()):
            await self._claim_status(pvc, wanted)
        self._told.pop(pvc["metadata"]["uid"], None)

    async def _sync_volume(self, pv: Obj) -> None:
        if pv["metadata"].get("deletionTimestamp"):
            return
        ref = pv["spec"].get("claimRef")
        phase = (pv.get("status") or {}).get("phase")
        if not ref:
            if phase != "Available":
                await self._volume_status(pv, {"phase": "Available"})
            return
        pvc = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if pvc is not None and _bound_to(pv, pvc):
            bound_elsewhere = pvc["spec"].get("volumeName") not in (None, "", pv["metadata"]["name"])
            if not bound_elsewhere:
                if pvc["spec"].get("volumeName") == pv["metadata"]["name"] and phase != "Bound":
                    await self._volume_status(pv, {"phase": "Bound"})
                elif not pvc["spec"].get("volumeName") and phase not in ("Available", "Bound"):
                    await self._volume_status(pv, {"phase": "Available"})  # pre-bound, binding under way
                return
            if (pv["metadata"].get("annotations") or {}).get(BOUND_BY_CONTROLLER) == "yes":
                new = copy.deepcopy(pv)  # we took it for a claim that ended up elsewhere: let it go
                new["spec"].pop("claimRef", None)
                new["metadata"]["annotations"].pop(BOUND_BY_CONTROLLER, None)
                await self.client.replace(PERSISTENTVOLUMES, new)
                return
            if not self._provisioned_for(pv, ref):
                return  # a user's pre-binding: left as it is
        elif ref.get("uid") is None or ref.get("uid") == "":
            if phase != "Available":  # pre-bound by a user to a claim not created yet
                await self._volume_status(pv, {"phase": "Available"})
            return
        elif await self._claim_exists(ref):
            self.queue.add(f"claim:{ref['namespace']}/{ref['name']}")  # our cache is behind
            return
        await self._reclaim(pv, phase)

    @staticmethod
    def _provisioned_for(pv: Obj, ref: Obj) -> bool:
        return (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER and \
            pv["metadata"]["name"] == f"pvc-{ref.get('uid')}"

    async def _claim_exists(self, ref: Obj) -> bool:
        try:
            live = await self.client.get(PERSISTENTVOLUMECLAIMS, ref["name"], ref["namespace"])
        except errors.NotFound:
            return False
        return live["metadata"].get("uid") == ref.get("uid")

    async def _reclaim(self, pv: Obj, phase: str | None) -> None:
        """The claim is gone: Retain keeps the data (Released), Delete removes what this provisioner made."""
        policy = pv["spec"].get("persistentVolumeReclaimPolicy") or "Retain"
        meta = pv["metadata"]
        if policy == "Delete" and (meta.get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER:
            try:
                await self.client.delete(PERSISTENTVOLUMES, meta["name"], preconditions={"uid": meta["uid"]})
            except (errors.NotFound, errors.Conflict):
                return
            self.log.info("deleted volume %s: its claim is gone", meta["name"])
            return
        if policy == "Retain":
            if phase != "Released":
                await self._volume_status(pv, {"phase": "Released"})
            return
        if phase != "Failed":
            message = ("Recycle is not supported" if policy == "Recycle"
                       else f"no deleter for volume {meta['name']}: it was not provisioned by {PROVISIONER}")
            await self._volume_status(pv, {"phase": "Failed", "message": message})
            await self.recorder.record(pv, "Warning", "VolumeFailedDelete", message)

    # ------------------------------------------------------------------ status writes

    async def _volume_status(self, pv: Obj, status: Obj) -> Obj:
        if status.get("phase") != (pv.get("status") or {}).get("phase"):
            status = {**status, "lastPhaseTransitionTime": timeutil.now()}
        return await self.client.patch(PERSISTENTVOLUMES, pv["metadata"]["name"], {"status": status},
                                       patch_type="merge", subresource="status")

    async def _claim_status(self, pvc: Obj, status: Obj) -> Obj:
        meta = pvc["metadata"]
        return await self.client.patch(PERSISTENTVOLUMECLAIMS, meta["name"], {"status": status}, meta["namespace"],
                                       patch_type="merge", subresource="status")
