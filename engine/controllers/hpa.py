"""The HorizontalPodAutoscaler controller (pkg/controller/podautoscaler: horizontal.go, replica_calculator.go).

Every 15 seconds (--horizontal-pod-autoscaler-sync-period) each HPA reads its
target's scale, asks the metrics (simulated: engine.kubelet.usage) how busy
the target's pods are, and proposes

    desired = ceil(current pods * current utilisation / target utilisation)

leaving the size alone when the ratio is within the 10 % tolerance. Pods that
are still starting (Pending, or ready for less than a metrics window within
their first 5 minutes) and pods without metrics are handled as Kubernetes
handles them: on a scale-up they count as idle, on a scale-down as fully busy,
and a result that would reverse the direction is dropped.

The proposal is then normalised:

- without `spec.behavior`: scaled down only to the highest recommendation of the
  last 5 minutes (the downscale stabilisation window), scaled up at most to
  max(2 x current, 4), and kept within min/max replicas;
- with `spec.behavior`: its stabilisation windows and its Pods/Percent policies per period.

The conditions AbleToScale, ScalingActive and ScalingLimited and the Events
(SuccessfulRescale "New size: 4; reason: cpu resource utilization (percentage
of request) above target", FailedGetResourceMetric, FailedComputeMetricsReplicas,
FailedGetScale) are worded as Kubernetes words them.
"""

from __future__ import annotations

import math

from engine import errors
from engine.apiserver import patch as patching
from engine.clock import format_rfc3339, parse_rfc3339
from engine.controllers.base import Controller, Key
from engine.controllers.replicaset import workload_selector
from engine.events import NORMAL, WARNING
from engine.kubelet import usage
from engine.resources import registry
from engine.resources.quantity import cpu_millis, format_cpu, memory_bytes
from engine.store import DELETED, Change, copy_json

EVENT_COMPONENT = "horizontal-pod-autoscaler"
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
METRIC_WINDOW = 15.0  # the window metrics-server averages a sample over
SCALE_UP_LIMIT_FACTOR, SCALE_UP_LIMIT_MINIMUM = 2.0, 4.0


class MetricError(Exception):
    pass


# --- conditions -------------------------------------------------------------------------------------

def set_condition(status: dict, ctype: str, value: str, reason: str, message: str, now: float) -> None:
    """setConditionInList: update in place (the transition time only moves when the status flips) or append."""
    conditions = status.setdefault("conditions", [])
    for cond in conditions:
        if cond.get("type") == ctype:
            if cond.get("status") != value:
                cond["lastTransitionTime"] = format_rfc3339(now)
            cond.update(status=value, reason=reason, message=message)
            return
    conditions.append({"type": ctype, "status": value, "lastTransitionTime": format_rfc3339(now), "reason": reason,
                       "message": message})


# --- the replica calculator -----------------------------------------------------------------------

def _condition(pod: dict, ctype: str) -> dict | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == ctype), None)


def group_pods(pods: list[dict], metrics: dict[str, int], resource: str, now: float):
    """groupPods: (ready count, unready, missing, ignored) pod names."""
    ready = 0
    unready, missing, ignored = set(), set(), set()
    for pod in pods:
        name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        if name not in metrics:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = _condition(pod, "Ready")
            start = parse_rfc3339((pod.get("status") or {}).get("startTime"))
            if cond is None or start is None:
                not_ready = True
            else:
                changed = parse_rfc3339(cond.get("lastTransitionTime")) or start
                if start + CPU_INITIALIZATION_PERIOD > now:
                    not_ready = cond.get("status") == "False" or now < changed + METRIC_WINDOW
                else:
                    not_ready = cond.get("status") == "False" and start + INITIAL_READINESS_DELAY > changed
            if not_ready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: list[dict], resource: str, container: str = "") -> dict[str, int]:
    """calculatePodRequests: each pod's request of the resource (milli-units); a container without one is an error."""
    parse = cpu_millis if resource == "cpu" else (lambda v: memory_bytes(v) * 1000)
    out = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise MetricError(f"missing request for {resource} in container {c.get('name')} of Pod "
                                  f"{pod['metadata']['name']}")
            total += parse(request)
        out[pod["metadata"]["name"]] = total
    return out


def utilization_ratio(metrics: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio to target, utilisation %, average raw value)."""
    metrics_total = requests_total = entities = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        metrics_total += value
        requests_total += requests[name]
        entities += 1
    if requests_total == 0:
        raise MetricError("no metrics returned matched known pods")
    current = int(metrics_total * 100 / requests_total)
    return current / target, current, metrics_total // entities


def resource_replicas(current: int, target: int, pods: list[dict], metrics: dict[str, int], resource: str,
                      now: float, container: str = "", utilization: bool = True) -> tuple[int, int, int]:
    """GetResourceReplicas (utilization) / GetRawResourceReplicas (average value): (replicas, utilisation %, raw)."""
    if not metrics:
        raise MetricError(f"unable to get metrics for resource {resource}: no metrics returned from resource metrics "
                          "API")
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    if utilization:
        requests = pod_requests(pods, resource, container)
        ratio, percent, raw = utilization_ratio(metrics, requests, target)
    else:
        raw = sum(metrics.values()) // len(metrics)
        ratio, percent = raw / target, 0
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, percent, raw
        return int(math.ceil(ratio * ready)), percent, raw
    if missing:
        if ratio < 1.0:
            for name in missing:
                if utilization:
                    metrics[name] = requests.get(name, 0) * max(100, target) // 100
                else:
                    metrics[name] = target
        elif ratio > 1.0:
            for name in missing:
                metrics[name] = 0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0
    if utilization:
        new_ratio, _, _ = utilization_ratio(metrics, requests, target)
    else:
        new_ratio = (sum(metrics.values()) / len(metrics)) / target
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, percent, raw
    proposed = int(math.ceil(new_ratio * len(metrics)))
    if (new_ratio < 1.0 and proposed > current) or (new_ratio > 1.0 and proposed < current):
        return current, percent, raw
    return proposed, percent, raw


# --- behaviors ------------------------------------------------------------------------------------

def _changes_in_period(period: float, events: list[tuple[int, float]], now: float) -> int:
    return sum(change for change, when in events if when > now - period)


def scale_up_limit(current: int, ups: list, downs: list, rules: dict, now: float) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    result = None
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changes_in_period(period, ups, now) + _changes_in_period(period, downs, now)
        value = int(policy.get("value") or 0)
        proposed = start + value if policy.get("type") == "Pods" else int(math.ceil(start * (1 + value / 100)))
        result = proposed if result is None else (min(result, proposed) if select == "Min" else max(result, proposed))
    return current if result is None else result


def scale_down_limit(current: int, ups: list, downs: list, rules: dict, now: float) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    result = None
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changes_in_period(period, ups, now) + _changes_in_period(period, downs, now)
        value = int(policy.get("value") or 0)
        proposed = start - value if policy.get("type") == "Pods" else int(start * (1 - value / 100))
        result = proposed if result is None else (max(result, proposed) if select == "Min" else min(result, proposed))
    return current if result is None else result


def _scalable(kind: str, api_version: str) -> registry.KindInfo:
    """The RESTMapping of a scale target, or the error the HPA reports."""
    group, _, _version = (api_version or "").rpartition("/")
    try:
        info = registry.by_kind(kind)
    except registry.UnknownKind:
        raise MetricError(f'no matches for kind "{kind}" in group "{group}"') from None
    if info.group != group or "scale" not in info.subresources:
        raise MetricError(f'no matches for kind "{kind}" in group "{group}"')
    return info


# --- the controller -------------------------------------------------------------------------------

class HorizontalPodAutoscalerController(Controller):
    name = "horizontal-pod-autoscaler"
    primary_kind = "HorizontalPodAutoscaler"

    def __init__(self, sim):
        super().__init__(sim)
        self.client = sim.client(self.component)
        self.recommendations: dict[Key, list[tuple[int, float]]] = {}
        self.scale_ups: dict[Key, list[tuple[int, float]]] = {}
        self.scale_downs: dict[Key, list[tuple[int, float]]] = {}
        self._wake: dict[Key, float] = {}

    def handle(self, change: Change) -> None:
        if change.kind != "HorizontalPodAutoscaler":
            return
        key = ("HorizontalPodAutoscaler", change.namespace, change.name)
        if change.type == DELETED:
            for memory in (self.recommendations, self.scale_ups, self.scale_downs, self._wake):
                memory.pop(key, None)
            return
        # The HPA queue is rate limited to one look per sync period, even for a new or changed HPA.
        self.schedule(key)

    def resync(self) -> None:
        for hpa in self.sim.cache.list("HorizontalPodAutoscaler"):
            self.schedule(("HorizontalPodAutoscaler", hpa["metadata"]["namespace"], hpa["metadata"]["name"]))

    def schedule(self, key: Key) -> None:
        """Look at the HPA one sync period from now, unless a look is already due by then."""
        now = self.sim.clock.now()
        due = self._wake.get(key)
        if due is not None and due > now - 1e-9:
            return
        self._wake[key] = now + SYNC_PERIOD
        self.enqueue_after(key, SYNC_PERIOD)

    def sync(self, key: Key) -> None:
        _, namespace, name = key
        hpa = self.sim.cache.get("HorizontalPodAutoscaler", namespace, name)
        if hpa is None:
            return
        now = self.sim.clock.now()
        due = self._wake.get(key)
        if due is not None and due > now + 1e-9:
            return  # an early nudge: the timer comes
        self._wake.pop(key, None)
        self.schedule(key)
        self.reconcile(key, hpa, now)

    # --- reconcile ------------------------------------------------------------------------------
    def reconcile(self, key: Key, shared: dict, now: float) -> None:
        hpa = copy_json(shared)
        spec = hpa.get("spec") or {}
        status = hpa.setdefault("status", {})
        ref = spec.get("scaleTargetRef") or {}
        namespace = hpa["metadata"]["namespace"]
        try:
            info = _scalable(ref.get("kind", ""), ref.get("apiVersion", ""))
            target = self.sim.cache.get(info.kind, namespace, ref.get("name", ""))
            if target is None:
                raise MetricError(errors.not_found(info.plural, ref.get("name", ""), info.group).message)
        except MetricError as exc:
            self.sim.events.record(hpa, WARNING, "FailedGetScale", str(exc), EVENT_COMPONENT)
            set_condition(status, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {exc}", now)
            self.write_status(shared, hpa)
            return
        set_condition(status, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        target_spec = target.get("spec") or {}
        current = 1 if target_spec.get("replicas") is None else int(target_spec["replicas"])
        self.recommendations.setdefault(key, [(current, now)])
        min_replicas = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        max_replicas = int(spec.get("maxReplicas") or 0)
        statuses: list[dict] = []
        rescale, reason, desired = True, "", 0
        if current == 0 and min_replicas != 0:
            rescale = False
            set_condition(status, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            proposed, metric_name, statuses, failure = self.compute_replicas_for_metrics(hpa, target, current, now)
            if failure is not None and proposed == -1:
                self.set_current(status, current, statuses)
                self.write_status(shared, hpa)
                self.sim.events.record(hpa, WARNING, "FailedComputeMetricsReplicas", failure, EVENT_COMPONENT)
                return
            desired = max(0, proposed)
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            if spec.get("behavior") is None:
                desired = self.normalize(key, status, current, desired, min_replicas, max_replicas, now)
            else:
                desired = self.normalize_with_behaviors(key, hpa, current, desired, min_replicas, max_replicas, now)
            rescale = desired != current
        if rescale:
            try:
                self.client.patch(info.kind, namespace, target["metadata"]["name"], {"spec": {"replicas": desired}},
                                  patching.MERGE)
            except errors.ApiError as exc:
                self.sim.events.record(hpa, WARNING, "FailedRescale",
                                       f"New size: {desired}; reason: {reason}; error: {exc.message}", EVENT_COMPONENT)
                set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {exc.message}", now)
                self.set_current(status, current, statuses)
                self.write_status(shared, hpa)
                return
            set_condition(status, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.sim.events.record(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}",
                                   EVENT_COMPONENT)
            if spec.get("behavior") is not None:
                events = self.scale_ups if desired > current else self.scale_downs
                events.setdefault(key, []).append((abs(desired - current), now))
        else:
            desired = current
        self.set_current(status, current, statuses)
        status["desiredReplicas"] = desired
        if rescale:
            status["lastScaleTime"] = format_rfc3339(now)
        self.write_status(shared, hpa)

    @staticmethod
    def set_current(status: dict, current: int, statuses: list[dict]) -> None:
        status["currentReplicas"] = current
        status.setdefault("desiredReplicas", 0)
        if statuses:
            status["currentMetrics"] = statuses
        else:
            status.pop("currentMetrics", None)

    def write_status(self, shared: dict, hpa: dict) -> None:
        status = hpa["status"]
        if not status.get("currentReplicas"):
            status.pop("currentReplicas", None)
        if (shared.get("status") or {}) == status:
            return
        self.client.update_status(hpa)

    # --- metrics --------------------------------------------------------------------------------
    def compute_replicas_for_metrics(self, hpa: dict, target: dict, current: int,
                                     now: float) -> tuple[int, str, list[dict], str | None]:
        """computeReplicasForMetrics: (replicas, metric name, statuses, error) over every metric of the spec."""
        status = hpa["status"]
        specs = (hpa.get("spec") or {}).get("metrics") or []
        selector = workload_selector(target)
        namespace = hpa["metadata"]["namespace"]
        pods = [p for p in self.sim.cache.list("Pod", namespace) if selector.matches(p["metadata"].get("labels"))]
        services = self.sim.cache.list("Service", namespace)
        statuses: list[dict] = [{"type": ""} for _ in specs]
        replicas, name = 0, ""
        invalid = 0
        first_error: str | None = None
        invalid_condition: tuple[str, str] | None = None
        for i, metric in enumerate(specs):
            try:
                proposed, metric_status, metric_name = self.compute_metric(metric, namespace, pods, services, current,
                                                                           now)
            except MetricError as exc:
                invalid += 1
                kind = metric.get("type", "")
                reason = {"Resource": "FailedGetResourceMetric", "ContainerResource": "FailedGetContainerResourceMetric",
                          "Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                          "External": "FailedGetExternalMetric"}.get(kind, "InvalidMetricSourceType")
                self.sim.events.record(hpa, WARNING, reason, str(exc), EVENT_COMPONENT)
                if invalid_condition is None:
                    invalid_condition = (reason, f"the HPA was unable to compute the replica count: {exc}")
                    resource = ((metric.get("resource") or metric.get("containerResource") or {}).get("name")
                                or kind.lower())
                    first_error = (f"failed to get {resource} resource metric value: {exc}"
                                   if kind in ("Resource", "ContainerResource") else str(exc))
                continue
            statuses[i] = metric_status
            if replicas == 0 or proposed > replicas:
                replicas, name = proposed, metric_name
        if invalid >= len(specs) or (invalid and replicas < current):
            set_condition(status, "ScalingActive", "False", invalid_condition[0], invalid_condition[1], now)
            return -1, "", statuses, f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: " \
                                     f"{first_error}"
        set_condition(status, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {name}", now)
        return replicas, name, statuses, first_error

    def compute_metric(self, metric: dict, namespace: str, pods: list[dict], services: list[dict], current: int,
                       now: float) -> tuple[int, dict, str]:
        kind = metric.get("type")
        if kind not in ("Resource", "ContainerResource"):
            metric_name = ((metric.get(kind[:1].lower() + kind[1:] if kind else "") or {}).get("metric") or {}).get(
                "name", "")
            if kind == "External":
                raise MetricError(f"unable to get external metric {namespace}/{metric_name}/nil: unable to "
                                  "fetch metrics from external metrics API: no external metrics API "
                                  "(external.metrics.k8s.io) registered")
            raise MetricError(f"unable to get metric {metric_name}: unable to fetch metrics from custom metrics API: "
                              "no custom metrics API (custom.metrics.k8s.io) registered")
        key = "resource" if kind == "Resource" else "containerResource"
        source = metric.get(key) or {}
        resource = source.get("name", "cpu")
        container = source.get("container", "") if kind == "ContainerResource" else ""
        target = source.get("target") or {}
        metrics = self.pod_metrics(pods, services, resource, container, now)
        if target.get("averageValue") is not None:
            wanted = cpu_millis(target["averageValue"]) if resource == "cpu" else memory_bytes(target["averageValue"]) * 1000
            try:
                replicas, _, raw = resource_replicas(current, max(1, wanted), pods, metrics, resource, now, container,
                                                     utilization=False)
            except MetricError as exc:
                raise MetricError(f"failed to get {resource} usage: {exc}") from None
            return replicas, {"type": kind, key: {"name": resource, **({"container": container} if container else {}),
                                                  "current": {"averageValue": format_cpu(raw)}}}, f"{resource} resource"
        if target.get("averageUtilization") is None:
            raise MetricError("invalid resource metric source: neither an average utilization target nor an average "
                              "value (usage) target was set")
        try:
            replicas, percent, raw = resource_replicas(current, int(target["averageUtilization"]), pods, metrics,
                                                       resource, now, container)
        except MetricError as exc:
            raise MetricError(f"failed to get {resource} utilization: {exc}") from None
        name = (f"{resource} container resource utilization (percentage of request)" if container
                else f"{resource} resource utilization (percentage of request)")
        current_value = {"averageUtilization": percent, "averageValue": format_cpu(raw)}
        return replicas, {"type": kind, key: {"name": resource, **({"container": container} if container else {}),
                                              "current": current_value}}, name

    @staticmethod
    def pod_metrics(pods: list[dict], services: list[dict], resource: str, container: str, now: float) -> dict[str, int]:
        """Pod name -> usage in milli-units, for the pods metrics-server would report."""
        if resource == "cpu":
            shares = usage.service_load_shares(pods, services)
            out = {}
            for pod in pods:
                if container:
                    per = usage.container_cpu_millis(pod) if usage.has_metrics(pod) else {}
                    if container in per:
                        out[pod["metadata"]["name"]] = per[container]
                    continue
                key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
                value = usage.pod_cpu_usage_millis(pod, now, shares.get(key, 0.0))
                if value is not None:
                    out[pod["metadata"]["name"]] = value
            return out
        out = {}
        for pod in pods:
            value = usage.pod_memory_usage_bytes(pod, now)
            if value is not None:
                out[pod["metadata"]["name"]] = value * 1000
        return out

    # --- normalisation --------------------------------------------------------------------------
    def stabilize(self, key: Key, proposed: int, now: float) -> int:
        """stabilizeRecommendation: the highest recommendation of the last 5 minutes (this one included)."""
        recs = self.recommendations.setdefault(key, [])
        highest = proposed
        old_index = None
        for i, (value, when) in enumerate(recs):
            if when < now - DOWNSCALE_STABILIZATION:
                old_index = i
            elif value > highest:
                highest = value
        if old_index is not None:
            recs[old_index] = (proposed, now)
        else:
            recs.append((proposed, now))
        return highest

    def normalize(self, key: Key, status: dict, current: int, proposed: int, min_replicas: int, max_replicas: int,
                  now: float) -> int:
        stabilized = self.stabilize(key, proposed, now)
        if stabilized != proposed:
            set_condition(status, "AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation", now)
        else:
            set_condition(status, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size",
                          now)
        limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
        if max_replicas > limit:
            maximum, limited_reason = limit, ("ScaleUpLimit", "the desired replica count is increasing faster than "
                                                              "the maximum scale rate")
        else:
            maximum, limited_reason = max_replicas, ("TooManyReplicas", "the desired replica count is more than the "
                                                                        "maximum replica count")
        if stabilized < min_replicas:
            desired, limited_reason = min_replicas, ("TooFewReplicas", "the desired replica count is less than the "
                                                                       "minimum replica count")
        elif stabilized > maximum:
            desired = maximum
        else:
            desired, limited_reason = stabilized, ("DesiredWithinRange", "the desired count is within the acceptable "
                                                                         "range")
        set_condition(status, "ScalingLimited", "False" if desired == stabilized else "True", *limited_reason, now)
        return desired

    def normalize_with_behaviors(self, key: Key, hpa: dict, current: int, proposed: int, min_replicas: int,
                                 max_replicas: int, now: float) -> int:
        status = hpa["status"]
        behavior = (hpa.get("spec") or {}).get("behavior") or {}
        up = behavior.get("scaleUp") or {}
        down = behavior.get("scaleDown") or {}
        up_window = float(up.get("stabilizationWindowSeconds") or 0)
        down_window = down.get("stabilizationWindowSeconds")
        down_window = DOWNSCALE_STABILIZATION if down_window is None else float(down_window)
        recs = self.recommendations.setdefault(key, [])
        up_rec, down_rec = proposed, proposed
        old_index = None
        for i, (value, when) in enumerate(recs):
            if when > now - up_window:
                up_rec = min(value, up_rec)
            if when > now - down_window:
                down_rec = max(value, down_rec)
            if when < now - up_window and when < now - down_window:
                old_index = i
        stabilized = max(current, up_rec)
        stabilized = min(stabilized, down_rec)
        if old_index is not None:
            recs[old_index] = (proposed, now)
        else:
            recs.append((proposed, now))
        if stabilized != proposed:
            if proposed >= current:
                set_condition(status, "AbleToScale", "True", "ScaleUpStabilized", "recent recommendations were lower "
                              "than current one, applying the lowest recent recommendation", now)
            else:
                set_condition(status, "AbleToScale", "True", "ScaleDownStabilized", "recent recommendations were "
                              "higher than current one, applying the highest recent recommendation", now)
        else:
            set_condition(status, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size",
                          now)
        ups, downs = self._recent_events(key, up, down, now)
        desired, reason, message = stabilized, "DesiredWithinRange", "the desired count is within the acceptable range"
        if stabilized > current:
            limit = max(current, scale_up_limit(current, ups, downs, up, now))
            if max_replicas > limit:
                maximum, why = limit, ("ScaleUpLimit", "the desired replica count is increasing faster than the "
                                                       "maximum scale rate")
            else:
                maximum, why = max_replicas, ("TooManyReplicas", "the desired replica count is more than the maximum "
                                                                 "replica count")
            if stabilized > maximum:
                desired, (reason, message) = maximum, why
        elif stabilized < current:
            limit = min(current, scale_down_limit(current, ups, downs, down, now))
            if min_replicas < limit:
                minimum, why = limit, ("ScaleDownLimit", "the desired replica count is decreasing faster than the "
                                                         "maximum scale rate")
            else:
                minimum, why = min_replicas, ("TooFewReplicas", "the desired replica count is less than the minimum "
                                                                "replica count")
            if stabilized < minimum:
                desired, (reason, message) = minimum, why
        set_condition(status, "ScalingLimited", "False" if desired == stabilized else "True", reason, message, now)
        return desired

    def _recent_events(self, key: Key, up: dict, down: dict, now: float) -> tuple[list, list]:
        def longest(rules: dict) -> float:
            return max((float(p.get("periodSeconds") or 0) for p in rules.get("policies") or []), default=0.0)

        ups = [e for e in self.scale_ups.get(key, []) if e[1] > now - longest(up)]
        downs = [e for e in self.scale_downs.get(key, []) if e[1] > now - longest(down)]
        self.scale_ups[key], self.scale_downs[key] = ups, downs
        return ups, downs


__all__ = ["HorizontalPodAutoscalerController", "resource_replicas", "scale_down_limit", "scale_up_limit"]
