"""Decoding the protobuf bodies of typed `kubectl create <kind>` commands into JSON objects.

`kubectl create deployment|namespace|configmap|secret|service|serviceaccount|job|cronjob|quota|
poddisruptionbudget|priorityclass|ingress|role|clusterrole|rolebinding|clusterrolebinding` and
`kubectl autoscale` POST `application/vnd.kubernetes.protobuf` only: the
bytes `k8s\\0` and a runtime.Unknown message {typeMeta{apiVersion, kind}, raw, contentEncoding,
contentType} whose `raw` is the object's own message. Messages are described below by their
field numbers (those of Kubernetes' generated.proto files). Go's protobuf encoding writes every
non-pointer field even when empty, so empty values are dropped as the JSON encoding's omitempty
would, except for the pointer fields marked KEEP, where an explicit zero means something
(`--replicas=0`).

Strict on purpose: a field number this table does not know, carrying a value, makes the request
fail (415) rather than silently lose what the learner asked for.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from engine import errors

MAGIC = b"k8s\x00"

# Field types.
S, INT, B, BYTES = "string", "int", "bool", "bytes"
SKIP = "skip"  # known and ignored (status on create)


class F:
    """One field: its JSON name, type (a scalar or a message name), and how it repeats."""

    __slots__ = ("name", "type", "repeated", "map_value", "keep", "inline")

    def __init__(self, name: str, type_: str, repeated: bool = False, map_value: str | None = None,
                 keep: bool = False, inline: bool = False):
        self.name, self.type, self.repeated, self.map_value = name, type_, repeated, map_value
        self.keep, self.inline = keep, inline


def _map(name: str, value: str = S) -> F:
    return F(name, "map", map_value=value)


def _list(name: str, type_: str) -> F:
    return F(name, type_, repeated=True)


def _keep(name: str, type_: str) -> F:
    return F(name, type_, keep=True)


def _object(spec: str) -> dict[int, F]:
    return {1: F("metadata", "ObjectMeta"), 2: F("spec", spec), 3: F("status", SKIP)}


MESSAGES: dict[str, dict[int, F]] = {
    # runtime and apimachinery
    "Unknown": {1: F("typeMeta", "TypeMeta"), 2: F("raw", BYTES), 3: F("contentEncoding", S), 4: F("contentType", S)},
    "TypeMeta": {1: F("apiVersion", S), 2: F("kind", S)},
    "ObjectMeta": {1: F("name", S), 2: F("generateName", S), 3: F("namespace", S), 4: F("selfLink", S),
                   5: F("uid", S), 6: F("resourceVersion", S), 7: F("generation", INT),
                   8: F("creationTimestamp", "Time"),
                   9: F("deletionTimestamp", "Time"), 10: F("deletionGracePeriodSeconds", INT),
                   11: _map("labels"), 12: _map("annotations"), 13: _list("ownerReferences", "OwnerReference"),
                   14: _list("finalizers", S), 17: F("managedFields", SKIP)},
    "OwnerReference": {1: F("kind", S), 3: F("name", S), 4: F("uid", S), 5: F("apiVersion", S),
                       6: _keep("controller", B), 7: _keep("blockOwnerDeletion", B)},
    "LabelSelector": {1: _map("matchLabels"), 2: _list("matchExpressions", "LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: F("key", S), 2: F("operator", S), 3: _list("values", S)},
    "LocalObjectReference": {1: F("name", S)},
    # apps/v1
    "Deployment": _object("DeploymentSpec"),
    "DeploymentSpec": {1: _keep("replicas", INT), 2: F("selector", "LabelSelector"),
                       3: F("template", "PodTemplateSpec"),
                       4: F("strategy", "DeploymentStrategy"), 5: F("minReadySeconds", INT),
                       6: _keep("revisionHistoryLimit", INT), 7: F("paused", B),
                       9: _keep("progressDeadlineSeconds", INT)},
    "DeploymentStrategy": {1: F("type", S), 2: F("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: F("maxUnavailable", "IntOrString"), 2: F("maxSurge", "IntOrString")},
    # core/v1
    "PodTemplateSpec": {1: F("metadata", "ObjectMeta"), 2: F("spec", "PodSpec")},
    "PodSpec": {1: F("volumes", SKIP), 2: _list("containers", "Container"), 3: F("restartPolicy", S),
                4: _keep("terminationGracePeriodSeconds", INT), 5: _keep("activeDeadlineSeconds", INT),
                6: F("dnsPolicy", S), 7: _map("nodeSelector"), 8: F("serviceAccountName", S),
                9: F("serviceAccount", S), 10: F("nodeName", S), 11: F("hostNetwork", B), 12: F("hostPID", B),
                13: F("hostIPC", B), 15: _list("imagePullSecrets", "LocalObjectReference"), 16: F("hostname", S),
                17: F("subdomain", S), 19: F("schedulerName", S), 20: _list("initContainers", "Container"),
                21: _keep("automountServiceAccountToken", B), 24: F("priorityClassName", S),
                30: _keep("enableServiceLinks", B)},
    "Container": {1: F("name", S), 2: F("image", S), 3: _list("command", S), 4: _list("args", S),
                  5: F("workingDir", S), 6: _list("ports", "ContainerPort"), 7: _list("env", "EnvVar"),
                  8: F("resources", "ResourceRequirements"), 13: F("terminationMessagePath", S),
                  14: F("imagePullPolicy", S), 16: F("stdin", B), 17: F("stdinOnce", B), 18: F("tty", B),
                  20: F("terminationMessagePolicy", S)},
    "ContainerPort": {1: F("name", S), 2: F("hostPort", INT), 3: F("containerPort", INT), 4: F("protocol", S),
                      5: F("hostIP", S)},
    "EnvVar": {1: F("name", S), 2: F("value", S)},
    "ResourceRequirements": {1: _map("limits", "Quantity"), 2: _map("requests", "Quantity")},
    "Namespace": {1: F("metadata", "ObjectMeta"), 2: F("spec", "NamespaceSpec"), 3: F("status", SKIP)},
    "NamespaceSpec": {1: _list("finalizers", S)},
    "ConfigMap": {1: F("metadata", "ObjectMeta"), 2: _map("data"), 3: _map("binaryData", BYTES),
                  4: _keep("immutable", B)},
    "Secret": {1: F("metadata", "ObjectMeta"), 2: _map("data", BYTES), 3: F("type", S), 4: _map("stringData"),
               5: _keep("immutable", B)},
    "ServiceAccount": {1: F("metadata", "ObjectMeta"), 3: _list("imagePullSecrets", "LocalObjectReference"),
                       4: _keep("automountServiceAccountToken", B)},
    "Service": _object("ServiceSpec"),
    "ServiceSpec": {1: _list("ports", "ServicePort"), 2: _map("selector"), 3: F("clusterIP", S), 4: F("type", S),
                    5: _list("externalIPs", S), 7: F("sessionAffinity", S), 8: F("loadBalancerIP", S),
                    9: _list("loadBalancerSourceRanges", S), 10: F("externalName", S),
                    11: F("externalTrafficPolicy", S), 12: F("healthCheckNodePort", INT),
                    13: F("publishNotReadyAddresses", B), 18: _list("clusterIPs", S), 19: _list("ipFamilies", S),
                    17: F("ipFamilyPolicy", S)},
    "ServicePort": {1: F("name", S), 2: F("protocol", S), 3: F("port", INT), 4: F("targetPort", "IntOrString"),
                    5: F("nodePort", INT), 6: F("appProtocol", S)},
    "ResourceQuota": {1: F("metadata", "ObjectMeta"), 2: F("spec", "ResourceQuotaSpec"), 3: F("status", SKIP)},
    "ResourceQuotaSpec": {1: _map("hard", "Quantity"), 2: _list("scopes", S)},
    # batch/v1
    "Job": _object("JobSpec"),
    "JobSpec": {1: _keep("parallelism", INT), 2: _keep("completions", INT), 3: _keep("activeDeadlineSeconds", INT),
                4: F("selector", "LabelSelector"), 5: _keep("manualSelector", B), 6: F("template", "PodTemplateSpec"),
                7: _keep("backoffLimit", INT), 8: _keep("ttlSecondsAfterFinished", INT), 9: F("completionMode", S),
                10: _keep("suspend", B)},
    "CronJob": _object("CronJobSpec"),
    "CronJobSpec": {1: F("schedule", S), 2: _keep("startingDeadlineSeconds", INT), 3: F("concurrencyPolicy", S),
                    4: _keep("suspend", B), 5: F("jobTemplate", "JobTemplateSpec"),
                    6: _keep("successfulJobsHistoryLimit", INT), 7: _keep("failedJobsHistoryLimit", INT),
                    8: F("timeZone", S)},
    "JobTemplateSpec": {1: F("metadata", "ObjectMeta"), 2: F("spec", "JobSpec")},
    # policy/v1
    "PodDisruptionBudget": _object("PodDisruptionBudgetSpec"),
    "PodDisruptionBudgetSpec": {1: F("minAvailable", "IntOrString"), 2: F("selector", "LabelSelector"),
                                3: F("maxUnavailable", "IntOrString"), 4: F("unhealthyPodEvictionPolicy", S)},
    # scheduling.k8s.io/v1
    "PriorityClass": {1: F("metadata", "ObjectMeta"), 2: _keep("value", INT), 3: F("globalDefault", B),
                      4: F("description", S), 5: F("preemptionPolicy", S)},
    # networking.k8s.io/v1
    "Ingress": _object("IngressSpec"),
    "IngressSpec": {1: F("defaultBackend", "IngressBackend"), 2: _list("tls", "IngressTLS"),
                    3: _list("rules", "IngressRule"), 4: F("ingressClassName", S)},
    "IngressBackend": {3: F("resource", SKIP), 4: F("service", "IngressServiceBackend")},
    "IngressServiceBackend": {1: F("name", S), 2: F("port", "ServiceBackendPort")},
    "ServiceBackendPort": {1: F("name", S), 2: F("number", INT)},
    "IngressTLS": {1: _list("hosts", S), 2: F("secretName", S)},
    # autoscaling/v1 (`kubectl autoscale`)
    "HorizontalPodAutoscaler": _object("HorizontalPodAutoscalerSpec"),
    "HorizontalPodAutoscalerSpec": {1: F("scaleTargetRef", "CrossVersionObjectReference"),
                                    2: _keep("minReplicas", INT), 3: F("maxReplicas", INT),
                                    4: _keep("targetCPUUtilizationPercentage", INT)},
    "CrossVersionObjectReference": {1: F("kind", S), 2: F("name", S), 3: F("apiVersion", S)},
    "IngressRule": {1: F("host", S), 2: F("ingressRuleValue", "IngressRuleValue", inline=True)},
    "IngressRuleValue": {1: F("http", "HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: _list("paths", "HTTPIngressPath")},
    "HTTPIngressPath": {1: F("path", S), 2: F("backend", "IngressBackend"), 3: F("pathType", S)},
    # rbac.authorization.k8s.io/v1 (`kubectl create role|clusterrole|rolebinding|clusterrolebinding`)
    "Role": {1: F("metadata", "ObjectMeta"), 2: _list("rules", "PolicyRule")},
    "ClusterRole": {1: F("metadata", "ObjectMeta"), 2: _list("rules", "PolicyRule"),
                    3: F("aggregationRule", "AggregationRule")},
    "PolicyRule": {1: _list("verbs", S), 2: _list("apiGroups", S), 3: _list("resources", S),
                   4: _list("resourceNames", S), 5: _list("nonResourceURLs", S)},
    "AggregationRule": {1: _list("clusterRoleSelectors", "LabelSelector")},
    "RoleBinding": {1: F("metadata", "ObjectMeta"), 2: _list("subjects", "Subject"), 3: F("roleRef", "RoleRef")},
    "Subject": {1: F("kind", S), 2: F("apiGroup", S), 3: F("name", S), 4: F("namespace", S)},
    "RoleRef": {1: F("apiGroup", S), 2: F("kind", S), 3: F("name", S)},
}

# (apiVersion, kind) -> the message of the object.
KINDS = {
    ("apps/v1", "Deployment"): "Deployment",
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "Service"): "Service",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "HorizontalPodAutoscaler",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "RoleBinding",
}


class DecodeError(ValueError):
    pass


def _unsupported(detail: str) -> errors.ApiError:
    return errors.ApiError(
        415, "UnsupportedMediaType",
        f"the body of the request was in an unknown format - {detail}; KubeDojo decodes protobuf only for the typed "
        "`kubectl create` commands: write a manifest and use `kubectl create -f` or `kubectl apply -f`")


def decode(data: bytes) -> dict:
    """The JSON object a typed create sent as protobuf; 400 when the bytes are broken, 415 when not understood."""
    if not data.startswith(MAGIC):
        raise errors.bad_request("provided data does not appear to be a protobuf message, expected prefix "
                                 "[107 56 115 0]")
    try:
        unknown = _message(data[len(MAGIC):], "Unknown", raw=True)
        type_meta = unknown.get("typeMeta") or {}
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        if unknown.get("contentEncoding"):
            raise _unsupported(f"content encoding {unknown['contentEncoding']!r}")
        message = KINDS.get((api_version, kind))
        if message is None:
            raise _unsupported(f"no protobuf decoding for {kind or 'an object'} in {api_version or 'no version'}")
        obj = _message(unknown.get("raw") or b"", message)
    except DecodeError as exc:
        raise errors.bad_request(f"unable to decode the protobuf body: {exc}") from None
    except UnknownField as exc:
        raise _unsupported(str(exc)) from None
    out = {"apiVersion": api_version, "kind": kind}
    out.update(obj)
    out.setdefault("metadata", {})
    return out


class UnknownField(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _fields(data: bytes):
    """(field number, wire type, value) for each field of a message: ints for varints, bytes otherwise."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise DecodeError("truncated field")
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise DecodeError("truncated field")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(type_: str, wire: int, value):
    if type_ in (S, BYTES):
        if wire != 2:
            raise DecodeError(f"a {type_} field with wire type {wire}")
        if type_ == BYTES:
            return bytes(value)
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("invalid UTF-8 in a string field") from None
    if wire != 0:
        raise DecodeError(f"an {type_} field with wire type {wire}")
    return bool(value) if type_ == B else _signed(value)


def _is_empty(value) -> bool:
    return value in ("", 0, False, None, b"") or (isinstance(value, (dict, list)) and not value)


def _message(data: bytes, name: str, raw: bool = False) -> dict:
    spec = MESSAGES[name]
    out: dict = {}
    for number, wire, value in _fields(data):
        field = spec.get(number)
        if field is None:
            if not _is_empty(value):
                raise UnknownField(f"field {number} of {name} is not decoded yet")
            continue
        if field.type == SKIP:
            continue
        decoded = _value(field, wire, value)
        if field.type == "map":
            out.setdefault(field.name, {}).update(decoded)
        elif field.repeated:
            out.setdefault(field.name, []).extend(decoded if isinstance(decoded, list) else [decoded])
        else:
            out[field.name] = decoded
    result = {}
    for field in spec.values():
        if field.name not in out:
            continue
        value = out[field.name]
        if field.type == BYTES and not raw:
            value = base64.b64encode(value).decode()
        if _is_empty(value) and not (field.keep and value is not None and not isinstance(value, (dict, list))):
            continue
        if field.inline and isinstance(value, dict):
            result.update(value)
        else:
            result[field.name] = value
    return result


def _value(field: F, wire: int, value):
    if field.type == "map":
        if wire != 2:
            raise DecodeError(f"map field {field.name} with wire type {wire}")
        key, item = "", None
        for number, item_wire, item_value in _fields(value):
            if number == 1:
                key = _scalar(S, item_wire, item_value)
            elif number == 2:
                item = _typed(field.map_value or S, item_wire, item_value)
        if item is None:
            item = "" if field.map_value in (S, "Quantity") else b""
        if field.map_value == BYTES:
            item = base64.b64encode(item).decode()
        return {key: item}
    if field.repeated and field.type in (INT, B) and wire == 2:  # packed
        items, pos = [], 0
        while pos < len(value):
            number, pos = _varint(value, pos)
            items.append(_scalar(field.type, 0, number))
        return items
    return _typed(field.type, wire, value)


def _typed(type_: str, wire: int, value):
    if type_ in (S, INT, B, BYTES):
        return _scalar(type_, wire, value)
    if wire != 2:
        raise DecodeError(f"message {type_} with wire type {wire}")
    if type_ == "Quantity":
        return _quantity(value)
    if type_ == "IntOrString":
        return _int_or_string(value)
    if type_ == "Time":
        return _time(value)
    return _message(value, type_)


def _quantity(data: bytes) -> str:
    text = ""
    for number, wire, value in _fields(data):
        if number == 1:
            text = _scalar(S, wire, value)
    return text


def _int_or_string(data: bytes):
    kind, int_val, str_val = 0, 0, ""
    for number, wire, value in _fields(data):
        if number == 1:
            kind = _scalar(INT, wire, value)
        elif number == 2:
            int_val = _scalar(INT, wire, value)
        elif number == 3:
            str_val = _scalar(S, wire, value)
    return str_val if kind == 1 else int_val


def _time(data: bytes):
    seconds = nanos = 0
    for number, wire, value in _fields(data):
        if number == 1:
            seconds = _scalar(INT, wire, value)
        elif number == 2:
            nanos = _scalar(INT, wire, value)
    if not seconds and not nanos:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
