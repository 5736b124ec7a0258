"""The eviction subresource (pkg/registry/core/pod/storage/eviction.go): a delete that respects PodDisruptionBudgets.

`kubectl drain` (and the node-pressure eviction a learner reads about) POSTs
an Eviction for each pod. The API server:

- deletes at once a pod that cannot hurt a budget: finished, Pending, or already
  being deleted;
- refuses (500) a pod matched by more than one PodDisruptionBudget;
- with one budget: a pod that is not Ready may go without spending the budget if
  the budget is met (or its unhealthyPodEvictionPolicy is AlwaysAllow); otherwise
  the budget must have been processed (observedGeneration) and allow a
  disruption. Then `disruptionsAllowed` is decremented and the pod recorded in
  `disruptedPods`, else the answer is 429 TooManyRequests "Cannot evict pod as
  it would violate the pod's disruption budget.";
- marks the pod with the DisruptionTarget condition (EvictionByEvictionAPI) and
  deletes it gracefully.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine import errors
from engine.clock import format_rfc3339
from engine.labels import from_label_selector
from engine.store import copy_json

if TYPE_CHECKING:
    from engine.apiserver.server import ApiServer, RequestContext

VIOLATION_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS_MESSAGE = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
MAX_DISRUPTED_POD_SIZE = 2000


def _too_many_requests(cause: str, retry_after: int | None = None) -> errors.ApiError:
    return errors.ApiError(429, "TooManyRequests", VIOLATION_MESSAGE, causes=[errors.Cause(DISRUPTION_BUDGET_CAUSE, cause)],
                           retry_after=retry_after)


def success_status() -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def can_ignore_budget(pod: dict) -> bool:
    """canIgnorePDB: finished, Pending, or already being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def matching_budgets(api: ApiServer, pod: dict) -> list[dict]:
    namespace = pod["metadata"].get("namespace", "")
    budgets, _ = api.store.list("PodDisruptionBudget", namespace)
    labels = pod["metadata"].get("labels")
    return [b for b in budgets if from_label_selector((b.get("spec") or {}).get("selector")).matches(labels)]


def check_and_decrement(api: ApiServer, pdb: dict, pod_name: str, dry_run: bool) -> None:
    """Spend one disruption of the budget, or refuse with the error Kubernetes gives."""
    status = pdb.get("status") or {}
    name = pdb["metadata"]["name"]
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
        raise _too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise errors.forbidden("poddisruptionbudget", name, "policy", "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        raise errors.forbidden("poddisruptionbudget", name, "policy",
                               "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
    if allowed == 0:
        raise _too_many_requests(f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
                                 f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently")
    if dry_run:
        return
    updated = copy_json(pdb)
    new_status = updated.setdefault("status", {})
    new_status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        for cond in new_status.get("conditions") or []:
            if cond.get("type") == "DisruptionAllowed" and cond.get("status") != "False":
                cond.update(status="False", reason="InsufficientPods", message="",
                            lastTransitionTime=format_rfc3339(api.now()))
    new_status.setdefault("disruptedPods", {})[pod_name] = format_rfc3339(api.now())
    api.update(updated, subresource="status")


def _mark_and_delete(api: ApiServer, pod: dict, grace_period_seconds: int | None, ctx: RequestContext) -> None:
    """addConditionAndDeletePod: the DisruptionTarget condition first, then a graceful delete."""
    from engine.apiserver.server import set_condition

    if not ctx.dry_run:
        marked = copy_json(pod)
        set_condition(marked.setdefault("status", {}), "DisruptionTarget", "True", api.now(), "EvictionByEvictionAPI",
                      "Eviction API: evicting")
        pod = api.update(marked, subresource="status", ctx=ctx)
    meta = pod["metadata"]
    api.delete("Pod", meta["namespace"], meta["name"], grace_period_seconds=grace_period_seconds,
               preconditions={"uid": meta["uid"]}, ctx=ctx)


def evict(api: ApiServer, namespace: str, name: str, grace_period_seconds: int | None = None,
          ctx: RequestContext | None = None) -> dict:
    """POST pods/<name>/eviction: returns a Success Status, or raises the ApiError the API server answers."""
    from engine.apiserver.server import RequestContext

    ctx = ctx or RequestContext()
    with api.store.atomic():
        pod = api.get("Pod", namespace, name)
        if can_ignore_budget(pod):
            _mark_and_delete(api, pod, grace_period_seconds, ctx)
            return success_status()
        budgets = matching_budgets(api, pod)
        if len(budgets) > 1:
            raise errors.ApiError(500, "InternalError", MULTIPLE_BUDGETS_MESSAGE)
        if budgets:
            pdb = budgets[0]
            status = pdb.get("status") or {}
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
            unhealthy_may_go = not _ready(pod) and (
                policy == "AlwaysAllow"
                or (int(status.get("currentHealthy") or 0) >= int(status.get("desiredHealthy") or 0)
                    and int(status.get("desiredHealthy") or 0) > 0))
            if not unhealthy_may_go:
                check_and_decrement(api, pdb, name, ctx.dry_run)
        _mark_and_delete(api, pod, grace_period_seconds, ctx)
    return success_status()


__all__ = ["MULTIPLE_BUDGETS_MESSAGE", "VIOLATION_MESSAGE", "can_ignore_budget", "evict", "matching_budgets"]
