"""Validation with Kubernetes' own messages and field paths (pkg/apis/*/validation, 1.32).

`validate(obj, info, old)` returns the causes of a 422 Invalid: the object has
already passed the structural check (schema.py) and been defaulted, exactly
the order the real apiserver follows, so what is checked here is what
Kubernetes checks after defaulting. An empty list means the object is valid.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from engine.errors import Cause, duplicate, forbidden_field, format_value, invalid_value, required, unsupported
from engine.resources import crd, gofmt, names
from engine.resources.quantity import parse as parse_quantity
from engine.resources.registry import KindInfo

Causes = list[Cause]

FIELD_IMMUTABLE = "field is immutable"
NONNEGATIVE = "must be greater than or equal to 0"
ANNOTATIONS_MAX_BYTES = 256 * 1024
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)
STATEFULSET_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
SUPPORTED_PROTOCOLS = ["SCTP", "TCP", "UDP"]
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
STANDARD_RESOURCES = STANDARD_CONTAINER_RESOURCES + (
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
    "services.nodeports", "services.loadbalancers",
)


def validate(obj: dict, info: KindInfo, old: dict | None = None) -> Causes:
    """Every reason Kubernetes would reject this create (old is None) or update, in its order."""
    causes = validate_object_meta(obj, info)
    if old is not None:
        causes += validate_object_meta_update(obj, old)
    check = _VALIDATORS.get(info.kind)
    if check is not None:
        causes += check(obj)
    if old is not None:
        check_update = _UPDATE_VALIDATORS.get(info.kind)
        if check_update is not None:
            causes += check_update(obj, old)
    return causes


# --- helpers -----------------------------------------------------------------------------------


def _invalid_raw(path: str, rendered: str, detail: str) -> Cause:
    """Invalid with a value already rendered the Go way (maps, structs, Stringer types)."""
    return Cause("FieldValueInvalid", f"Invalid value: {rendered}: {detail}", path)


def _not_found(path: str, value) -> Cause:
    return Cause("FieldValueNotFound", f"Not found: {format_value(value)}", path)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _nonnegative(value, path: str) -> Causes:
    number = _int(value)
    if number is not None and number < 0:
        return [invalid_value(path, number, NONNEGATIVE)]
    return []


def _spec(obj: dict) -> dict:
    return _dict(obj.get("spec"))


# --- metadata ----------------------------------------------------------------------------------


def name_checker(kind: str) -> Callable[[str], list[str]]:
    """The name rule of a kind: DNS-1123 label for namespaces, DNS-1035 label for services, else subdomain."""
    if kind == "Namespace":
        return names.is_dns1123_label
    if kind == "Service":
        return names.is_dns1035_label
    if kind in RBAC_KINDS:
        return rbac_name_errors
    return names.is_dns1123_subdomain


RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def rbac_name_errors(name: str) -> list[str]:
    """path.IsValidPathSegmentName: RBAC names may hold `:` (system:node), just not `/`, `%`, `.` or `..`."""
    if name in (".", ".."):
        return [f'may not be \'{name}\'']
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def validate_object_meta(obj: dict, info: KindInfo) -> Causes:
    meta = _dict(obj.get("metadata"))
    causes: Causes = []
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            causes.append(required("metadata.name", "name or generateName is required"))
    else:
        causes += [invalid_value("metadata.name", name, msg) for msg in name_checker(info.kind)(name)]
        if info.kind == "CronJob" and len(name) > 52:
            causes.append(invalid_value("metadata.name", name, names.max_len_error(52)))
    namespace = meta.get("namespace")
    if info.namespaced:
        if not namespace:
            causes.append(required("metadata.namespace"))
        else:
            causes += [invalid_value("metadata.namespace", namespace, msg) for msg in names.is_dns1123_label(namespace)]
    elif namespace:
        causes.append(forbidden_field("metadata.namespace", "not allowed on this type"))
    causes += validate_labels(meta.get("labels"), "metadata.labels")
    causes += validate_annotations(meta.get("annotations"), "metadata.annotations")
    for finalizer in _list(meta.get("finalizers")):
        causes += validate_finalizer_name(finalizer, "metadata.finalizers")
    return causes


def validate_object_meta_update(new: dict, old: dict) -> Causes:
    new_meta, old_meta = _dict(new.get("metadata")), _dict(old.get("metadata"))
    causes: Causes = []
    for key in ("name", "namespace"):
        if old_meta.get(key) and new_meta.get(key) != old_meta.get(key):
            causes.append(invalid_value(f"metadata.{key}", new_meta.get(key, ""), FIELD_IMMUTABLE))
    return causes


def validate_labels(labels, path: str) -> Causes:
    causes: Causes = []
    for key, value in _dict(labels).items():
        causes += [invalid_value(path, key, msg) for msg in names.is_qualified_name(key)]
        causes += [invalid_value(path, value, msg) for msg in names.is_valid_label_value(str(value))]
    return causes


def validate_annotations(annotations, path: str) -> Causes:
    causes: Causes = []
    total = 0
    for key, value in _dict(annotations).items():
        causes += [invalid_value(path, key, msg) for msg in names.is_qualified_name(key.lower())]
        total += len(key) + len(str(value))
    if total > ANNOTATIONS_MAX_BYTES:
        causes.append(Cause("FieldValueTooLong", f"Too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes", path))
    return causes


def validate_finalizer_name(name: str, path: str) -> Causes:
    causes = [invalid_value(path, name, msg) for msg in names.is_qualified_name(name)]
    if not causes and "/" not in name and name not in ("kubernetes", "orphan", "foregroundDeletion"):
        causes.append(invalid_value(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return causes


def validate_dns1123_label(value: str, path: str) -> Causes:
    return [invalid_value(path, value, msg) for msg in names.is_dns1123_label(value)]


def validate_dns1123_subdomain(value: str, path: str) -> Causes:
    return [invalid_value(path, value, msg) for msg in names.is_dns1123_subdomain(value)]


# --- label selectors ---------------------------------------------------------------------------


def validate_label_selector(selector, path: str) -> Causes:
    selector = _dict(selector)
    causes = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(_list(selector.get("matchExpressions"))):
        epath = f"{path}.matchExpressions[{i}]"
        expr = _dict(expr)
        operator = expr.get("operator")
        values = _list(expr.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(forbidden_field(f"{epath}.values",
                                              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(invalid_value(f"{epath}.operator", operator or "", "not a valid selector operator"))
        causes += [invalid_value(f"{epath}.key", expr.get("key", ""), msg)
                   for msg in names.is_qualified_name(str(expr.get("key", "")))]
    return causes


def selector_is_empty(selector) -> bool:
    selector = _dict(selector)
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def selector_matches(selector, labels) -> bool:
    """LabelSelectorAsSelector(selector).Matches(labels); an empty selector matches everything."""
    selector, labels = _dict(selector), _dict(labels)
    for key, value in _dict(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expr in _list(selector.get("matchExpressions")):
        expr = _dict(expr)
        key, operator, values = expr.get("key"), expr.get("operator"), _list(expr.get("values"))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# --- pods --------------------------------------------------------------------------------------


def validate_pod(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = validate_pod_spec(spec, "spec")
    for group in ("initContainers", "containers"):
        for i, container in enumerate(_list(spec.get(group))):
            image = _dict(container).get("image")
            if isinstance(image, str) and image and image != image.strip():
                causes.append(invalid_value(f"spec.{group}[{i}].image", image, "must not have leading or trailing whitespace"))
    return causes


def validate_pod_template(template, path: str) -> Causes:
    """ValidatePodTemplateSpec: note Kubernetes reports the template's labels at `<path>.labels`."""
    template = _dict(template)
    meta = _dict(template.get("metadata"))
    causes = validate_labels(meta.get("labels"), f"{path}.labels")
    causes += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    spec = _dict(template.get("spec"))
    causes += validate_pod_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        causes.append(forbidden_field(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return causes


def validate_pod_spec(spec: dict, path: str) -> Causes:
    volume_names, causes = _validate_volumes(_list(spec.get("volumes")), f"{path}.volumes")
    all_names: set[str] = set()
    causes += _validate_containers(_list(spec.get("containers")), f"{path}.containers", volume_names, all_names)
    causes += _validate_init_containers(_list(spec.get("initContainers")), f"{path}.initContainers", volume_names,
                                        all_names)
    causes += _validate_restart_policy(spec.get("restartPolicy"), f"{path}.restartPolicy")
    causes += _validate_dns_policy(spec.get("dnsPolicy"), f"{path}.dnsPolicy")
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for key in ("serviceAccountName", "nodeName"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            causes += [invalid_value(f"{path}.{key}", value, msg) for msg in names.is_dns1123_subdomain(value)]
    deadline = _int(spec.get("activeDeadlineSeconds"))
    if deadline is not None and not 1 <= deadline <= 2147483647:
        causes.append(invalid_value(f"{path}.activeDeadlineSeconds", deadline, names.inclusive_range_error(1, 2147483647)))
    for key in ("hostname", "subdomain"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            causes += validate_dns1123_label(value, f"{path}.{key}")
    causes += validate_tolerations(_list(spec.get("tolerations")), f"{path}.tolerations")
    policy = spec.get("preemptionPolicy")
    if policy is not None and policy not in ("PreemptLowerPriority", "Never"):
        causes.append(unsupported(f"{path}.preemptionPolicy", policy, ["PreemptLowerPriority", "Never"]))
    grace = _int(spec.get("terminationGracePeriodSeconds"))
    if grace is not None and grace < 0:
        causes.append(invalid_value(f"{path}.terminationGracePeriodSeconds", grace, NONNEGATIVE))
    return causes


def _validate_restart_policy(policy, path: str) -> Causes:
    if policy in ("Always", "OnFailure", "Never"):
        return []
    if not policy:
        return [required(path)]
    return [unsupported(path, policy, ["Always", "OnFailure", "Never"])]


def _validate_dns_policy(policy, path: str) -> Causes:
    valid = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
    if policy in valid:
        return []
    if not policy:
        return [required(path)]
    return [unsupported(path, policy, valid)]


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)
# The one required field of the sources learners use, by source.
_VOLUME_SOURCE_REQUIRED = {
    "secret": "secretName", "configMap": "name", "persistentVolumeClaim": "claimName", "hostPath": "path", "nfs": "path",
}


def _validate_volumes(volumes: list, path: str) -> tuple[set[str], Causes]:
    causes: Causes = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        volume = _dict(volume)
        vpath = f"{path}[{i}]"
        sources = [s for s in _VOLUME_SOURCES if volume.get(s) is not None]
        if not sources:
            causes.append(required(vpath, "must specify a volume type"))
        elif len(sources) > 1:
            causes.append(forbidden_field(f"{vpath}.{sources[1]}", "may not specify more than 1 volume type"))
        for source in sources[:1]:
            key = _VOLUME_SOURCE_REQUIRED.get(source)
            if key and not _dict(volume.get(source)).get(key):
                causes.append(required(f"{vpath}.{source}.{key}"))
        name = volume.get("name")
        if not name:
            causes.append(required(f"{vpath}.name"))
        else:
            causes += validate_dns1123_label(name, f"{vpath}.name")
        if name in seen:
            causes.append(duplicate(f"{vpath}.name", name))
        seen.add(name or "")
    return seen, causes


def _validate_containers(containers: list, path: str, volumes: set[str], all_names: set[str]) -> Causes:
    if not containers:
        return [required(path)]
    causes: Causes = []
    for i, container in enumerate(containers):
        container = _dict(container)
        cpath = f"{path}[{i}]"
        causes += _validate_container_common(container, cpath, volumes)
        name = container.get("name", "")
        if name in all_names:
            causes.append(duplicate(f"{cpath}.name", name))
        else:
            all_names.add(name)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(probe) is not None:
                causes += _validate_probe(_dict(container[probe]), f"{cpath}.{probe}", probe)
        if container.get("restartPolicy") is not None:
            causes.append(forbidden_field(f"{cpath}.restartPolicy", "may not be set for non-init containers"))
    causes += _host_port_conflicts(containers, path)
    return causes


def _validate_init_containers(containers: list, path: str, volumes: set[str], all_names: set[str]) -> Causes:
    causes: Causes = []
    for i, container in enumerate(containers):
        container = _dict(container)
        cpath = f"{path}[{i}]"
        causes += _validate_container_common(container, cpath, volumes)
        name = container.get("name", "")
        if name in all_names:
            causes.append(duplicate(f"{cpath}.name", name))
        else:
            all_names.add(name)
        restart = container.get("restartPolicy")
        if restart is not None and restart != "Always":
            causes.append(unsupported(f"{cpath}.restartPolicy", restart, ["Always"]))
        if restart != "Always":  # only sidecars (restartable init containers) may have probes
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(probe) is not None:
                    causes.append(forbidden_field(f"{cpath}.{probe}", "may not be set for init containers without restartPolicy=Always"))
    causes += _host_port_conflicts(containers, path)
    return causes


def _validate_container_common(container: dict, path: str, volumes: set[str]) -> Causes:
    causes: Causes = []
    name = container.get("name")
    if not name:
        causes.append(required(f"{path}.name"))
    else:
        causes += validate_dns1123_label(name, f"{path}.name")
    if not container.get("image"):
        causes.append(required(f"{path}.image"))
    policy = container.get("terminationMessagePolicy")
    if not policy:
        causes.append(required(f"{path}.terminationMessagePolicy"))
    elif policy not in ("File", "FallbackToLogsOnError"):
        causes.append(unsupported(f"{path}.terminationMessagePolicy", policy, ["File", "FallbackToLogsOnError"]))
    causes += _validate_container_ports(_list(container.get("ports")), f"{path}.ports")
    causes += _validate_env(_list(container.get("env")), f"{path}.env")
    causes += _validate_volume_mounts(_list(container.get("volumeMounts")), f"{path}.volumeMounts", volumes)
    pull = container.get("imagePullPolicy")
    if not pull:
        causes.append(required(f"{path}.imagePullPolicy"))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        causes.append(unsupported(f"{path}.imagePullPolicy", pull, ["Always", "IfNotPresent", "Never"]))
    causes += validate_resource_requirements(_dict(container.get("resources")), f"{path}.resources")
    return causes


def _validate_container_ports(ports: list, path: str) -> Causes:
    causes: Causes = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port = _dict(port)
        ppath = f"{path}[{i}]"
        name = port.get("name")
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                causes += [invalid_value(f"{ppath}.name", name, msg) for msg in msgs]
            elif name in seen:
                causes.append(duplicate(f"{ppath}.name", name))
            else:
                seen.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            causes.append(required(f"{ppath}.containerPort"))
        else:
            causes += [invalid_value(f"{ppath}.containerPort", container_port, msg)
                       for msg in names.is_valid_port_num(container_port)]
        host_port = port.get("hostPort")
        if host_port:
            causes += [invalid_value(f"{ppath}.hostPort", host_port, msg) for msg in names.is_valid_port_num(host_port)]
        protocol = port.get("protocol")
        if not protocol:
            causes.append(required(f"{ppath}.protocol"))
        elif protocol not in SUPPORTED_PROTOCOLS:
            causes.append(unsupported(f"{ppath}.protocol", protocol, SUPPORTED_PROTOCOLS))
    return causes


def _host_port_conflicts(containers: list, path: str) -> Causes:
    causes: Causes = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        for j, port in enumerate(_list(_dict(container).get("ports"))):
            port = _dict(port)
            if not port.get("hostPort"):
                continue
            key = f"{port.get('hostIP', '')}/{port.get('protocol', '')}/{port['hostPort']}"
            if key in seen:
                causes.append(duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
            seen.add(key)
    return causes


def _validate_env(env: list, path: str) -> Causes:
    causes: Causes = []
    for i, var in enumerate(env):
        var = _dict(var)
        epath = f"{path}[{i}]"
        name = var.get("name")
        if not name:
            causes.append(required(f"{epath}.name"))
        elif any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in name):
            causes.append(invalid_value(f"{epath}.name", name, "a valid environment variable name must consist only of "
                                        "printable ASCII characters other than '='"))
        if var.get("valueFrom") is not None and var.get("value"):
            causes.append(invalid_value(f"{epath}.valueFrom", "", "may not be specified when `value` is not empty"))
    return causes


def _validate_volume_mounts(mounts: list, path: str, volumes: set[str]) -> Causes:
    causes: Causes = []
    mount_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        mount = _dict(mount)
        mpath = f"{path}[{i}]"
        name = mount.get("name", "")
        if not name:
            causes.append(required(f"{mpath}.name"))
        if name not in volumes:
            causes.append(_not_found(f"{mpath}.name", name))
        mount_path = mount.get("mountPath")
        if not mount_path:
            causes.append(required(f"{mpath}.mountPath"))
        if mount_path in mount_paths:
            causes.append(invalid_value(f"{mpath}.mountPath", mount_path, "must be unique"))
        mount_paths.add(mount_path)
    return causes


def _validate_probe(probe: dict, path: str, kind: str) -> Causes:
    causes: Causes = []
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(h) is not None]
    if not handlers:
        causes.append(required(path, "must specify a handler type"))
    elif len(handlers) > 1:
        causes.append(forbidden_field(f"{path}.{handlers[1]}", "may not specify more than 1 handler type"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        causes += _nonnegative(probe.get(key), f"{path}.{key}")
    if kind in ("livenessProbe", "startupProbe") and _int(probe.get("successThreshold")) not in (None, 1):
        causes.append(invalid_value(f"{path}.successThreshold", probe["successThreshold"], "must be 1"))
    for handler in ("httpGet", "tcpSocket"):
        body = probe.get(handler)
        if isinstance(body, dict):
            causes += validate_port_num_or_name(body.get("port"), f"{path}.{handler}.port")
    return causes


def validate_port_num_or_name(port, path: str) -> Causes:
    if isinstance(port, str):
        return [invalid_value(path, port, msg) for msg in names.is_valid_port_name(port)]
    return [invalid_value(path, port if port is not None else 0, msg) for msg in names.is_valid_port_num(port)]


def validate_tolerations(tolerations: list, path: str) -> Causes:
    causes: Causes = []
    for i, toleration in enumerate(tolerations):
        toleration = _dict(toleration)
        tpath = f"{path}[{i}]"
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or "Equal"
        if key:
            causes += [invalid_value(f"{tpath}.key", key, msg) for msg in names.is_qualified_name(key)]
        elif operator != "Exists":
            causes.append(invalid_value(f"{tpath}.operator", operator,
                                        'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if toleration.get("tolerationSeconds") is not None and toleration.get("effect") != "NoExecute":
            causes.append(invalid_value(f"{tpath}.effect", toleration.get("effect") or "",
                                        "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator == "Equal":
            causes += [invalid_value(f"{tpath}.value", toleration.get("value"), msg)
                       for msg in names.is_valid_label_value(str(toleration.get("value") or ""))]
        elif operator == "Exists":
            if toleration.get("value"):
                causes.append(invalid_value(f"{tpath}.operator", toleration["value"],
                                            "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(unsupported(f"{tpath}.operator", operator, ["Equal", "Exists"]))
        effect = toleration.get("effect")
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            causes.append(unsupported(f"{tpath}.effect", effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return causes


# --- resources ---------------------------------------------------------------------------------


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _validate_container_resource_name(name: str, path: str) -> Causes:
    # ResourceName is a Stringer in Go, so its value is printed unquoted.
    causes = [_invalid_raw(path, name, msg) for msg in names.is_qualified_name(name)]
    if causes:
        return causes
    if "/" not in name:
        if name not in STANDARD_RESOURCES and not name.startswith("hugepages-"):
            causes.append(_invalid_raw(path, name, "must be a standard resource type or fully qualified"))
        if name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            causes.append(_invalid_raw(path, name, "must be a standard resource for containers"))
    return causes


def validate_resource_requirements(resources: dict, path: str) -> Causes:
    """Names, non-negative quantities and requests <= limits (equal for extended resources)."""
    causes: Causes = []
    limits = _dict(resources.get("limits"))
    requests = _dict(resources.get("requests"))
    parsed_limits = {}
    for name, value in limits.items():
        qpath = f"{path}.limits[{name}]"
        causes += _validate_container_resource_name(name, qpath)
        quantity = _quantity(value)
        if quantity is not None:
            parsed_limits[name] = quantity
            if quantity.value < 0:
                causes.append(invalid_value(qpath, str(quantity), NONNEGATIVE))
    for name, value in requests.items():
        qpath = f"{path}.requests[{name}]"
        causes += _validate_container_resource_name(name, qpath)
        quantity = _quantity(value)
        if quantity is None:
            continue
        if quantity.value < 0:
            causes.append(invalid_value(qpath, str(quantity), NONNEGATIVE))
        limit = parsed_limits.get(name)
        if limit is not None:
            if quantity.value != limit.value and not _overcommit_allowed(name):
                causes.append(invalid_value(f"{path}.requests", str(quantity), f"must be equal to {name} limit of {limit}"))
            elif quantity.value > limit.value:
                causes.append(invalid_value(f"{path}.requests", str(quantity),
                                            f"must be less than or equal to {name} limit of {limit}"))
        elif not _overcommit_allowed(name):
            causes.append(required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    return causes


def _quantity(value):
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


# --- pod updates -------------------------------------------------------------------------------


def validate_pod_update(new: dict, old: dict) -> Causes:
    new_spec, old_spec = _spec(new), _spec(old)
    causes: Causes = []
    for group in ("containers", "initContainers"):
        new_containers, old_containers = _list(new_spec.get(group)), _list(old_spec.get(group))
        if len(new_containers) != len(old_containers):
            return causes + [forbidden_field(f"spec.{group}", "pod updates may not add or remove containers")]
        for i, container in enumerate(new_containers):
            if not _dict(container).get("image"):
                causes.append(required(f"spec.{group}[{i}].image"))
    new_deadline, old_deadline = _int(new_spec.get("activeDeadlineSeconds")), _int(old_spec.get("activeDeadlineSeconds"))
    if new_deadline is not None:
        if not 0 <= new_deadline <= 2147483647:
            return causes + [invalid_value("spec.activeDeadlineSeconds", new_deadline, names.inclusive_range_error(0, 2147483647))]
        if old_deadline is not None and old_deadline < new_deadline:
            return causes + [invalid_value("spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value")]
    elif old_deadline is not None:
        causes.append(invalid_value("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    causes += _only_added_tolerations(_list(new_spec.get("tolerations")), _list(old_spec.get("tolerations")))
    if new_spec == old_spec:
        return causes
    munged = _munge_pod_spec(new_spec, old_spec)
    if munged != old_spec:
        causes.append(forbidden_field("spec", POD_UPDATE_FORBIDDEN + "\n" + _spec_diff(old_spec, munged)))
    return causes


def _munge_pod_spec(new_spec: dict, old_spec: dict) -> dict:
    """The new spec with every updatable field set back to its old value."""
    munged = dict(new_spec)
    for group in ("containers", "initContainers"):
        if group in new_spec:
            old_containers = _list(old_spec.get(group))
            merged = []
            for i, container in enumerate(_list(new_spec[group])):
                container = dict(_dict(container))
                old_image = _dict(old_containers[i]).get("image") if i < len(old_containers) else None
                if old_image is None:
                    container.pop("image", None)
                else:
                    container["image"] = old_image
                merged.append(container)
            munged[group] = merged
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if key in old_spec:
            munged[key] = old_spec[key]
        else:
            munged.pop(key, None)
    old_grace = _int(old_spec.get("terminationGracePeriodSeconds"))
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _spec_diff(old: dict, new: dict) -> str:
    """A short cmp.Diff-like view of what changed (Kubernetes prints a full Go diff here)."""
    lines = ["  core.PodSpec{"]
    for key in list(old) + [k for k in new if k not in old]:
        if old.get(key) == new.get(key):
            continue
        field_name = key[:1].upper() + key[1:]
        if key in old:
            lines.append(f"- \t{field_name}: {gofmt.struct('', old[key]) if isinstance(old[key], (dict, list)) else format_value(old[key])},")
        if key in new:
            lines.append(f"+ \t{field_name}: {gofmt.struct('', new[key]) if isinstance(new[key], (dict, list)) else format_value(new[key])},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def _only_added_tolerations(new: list, old: list) -> Causes:
    causes: Causes = []
    for old_toleration in old:
        match = next((t for t in new if _same_toleration_ignoring_seconds(t, old_toleration)), None)
        if match is None:
            causes.append(forbidden_field("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
            return causes
        old_seconds, new_seconds = _int(_dict(old_toleration).get("tolerationSeconds")), _int(_dict(match).get("tolerationSeconds"))
        if old_seconds is not None and (new_seconds is None or new_seconds > old_seconds):
            causes.append(forbidden_field("spec.tolerations",
                                          "existing toleration can not be modified except its tolerationSeconds"))
            return causes
    return causes


def _same_toleration_ignoring_seconds(a, b) -> bool:
    a, b = _dict(a), _dict(b)
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))


# --- workloads ---------------------------------------------------------------------------------


def _validate_selector_and_template(spec: dict, owner: str, validate_pod_spec_too: bool = True) -> Causes:
    """The selector / template checks shared by Deployment, ReplicaSet and DaemonSet."""
    causes: Causes = []
    selector = spec.get("selector")
    if selector is None:
        causes.append(required("spec.selector"))
    else:
        causes += validate_label_selector(selector, "spec.selector")
        if selector_is_empty(selector):
            causes.append(_invalid_raw("spec.selector", gofmt.label_selector(selector), f"empty selector is invalid for {owner}"))
    template = _dict(spec.get("template"))
    labels = _dict(template.get("metadata")).get("labels")
    if selector is not None and not selector_is_empty(selector) and not selector_matches(selector, labels):
        causes.append(_invalid_raw("spec.template.metadata.labels", gofmt.string_map(labels),
                                   "`selector` does not match template `labels`"))
    if validate_pod_spec_too:
        causes += validate_pod_template(template, "spec.template")
    return causes


def _restart_always_and_no_deadline(spec: dict, kind: str) -> Causes:
    pod_spec = _dict(_dict(spec.get("template")).get("spec"))
    causes: Causes = []
    policy = pod_spec.get("restartPolicy")
    if policy != "Always":
        causes.append(unsupported("spec.template.spec.restartPolicy", policy or "", ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(forbidden_field("spec.template.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {kind} is not Supported"))
    return causes


def validate_deployment(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _validate_selector_and_template(spec, "deployment")
    causes += _restart_always_and_no_deadline(spec, "ReplicaSet")
    causes += _validate_deployment_strategy(_dict(spec.get("strategy")), "spec.strategy")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += _nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = _int(spec.get("progressDeadlineSeconds"))
    if deadline is not None:
        causes += _nonnegative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= (_int(spec.get("minReadySeconds")) or 0):
            causes.append(invalid_value("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return causes


def _validate_deployment_strategy(strategy: dict, path: str) -> Causes:
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [forbidden_field(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return validate_rolling_update(_dict(rolling), f"{path}.rollingUpdate")
    return [unsupported(f"{path}.type", kind or "", ["Recreate", "RollingUpdate"])]


def validate_rolling_update(rolling: dict, path: str) -> Causes:
    """maxUnavailable / maxSurge: ints >= 0 or percentages, not both zero, maxUnavailable at most 100%."""
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = validate_positive_int_or_percent(unavailable, f"{path}.maxUnavailable")
    causes += validate_positive_int_or_percent(surge, f"{path}.maxSurge")
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        causes.append(_invalid_raw(f"{path}.maxUnavailable", gofmt.int_or_string(unavailable), "may not be 0 when `maxSurge` is 0"))
    percent = _percent_value(unavailable)
    if percent is not None and percent > 100:
        causes.append(_invalid_raw(f"{path}.maxUnavailable", gofmt.int_or_string(unavailable), "must not be greater than 100%"))
    return causes


def validate_positive_int_or_percent(value, path: str) -> Causes:
    if isinstance(value, str):
        return [_invalid_raw(path, gofmt.int_or_string(value), msg) for msg in names.is_valid_percent(value)]
    return _nonnegative(value, path)


def _percent_value(value) -> int | None:
    if isinstance(value, str) and not names.is_valid_percent(value):
        return int(value[:-1])
    return None


def _int_or_percent_value(value) -> int:
    percent = _percent_value(value)
    if percent is not None:
        return percent
    if isinstance(value, str):
        try:
            return int(value)  # IntOrString.IntValue() of a non-percent string
        except ValueError:
            return 0
    return _int(value) or 0


def validate_deployment_update(new: dict, old: dict) -> Causes:
    return _immutable_selector(new, old)


def _immutable_selector(new: dict, old: dict) -> Causes:
    new_selector, old_selector = _spec(new).get("selector"), _spec(old).get("selector")
    if new_selector != old_selector:
        return [_invalid_raw("spec.selector", gofmt.label_selector(new_selector), FIELD_IMMUTABLE)]
    return []


def validate_replica_set(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    # Kubernetes says "deployment" here too.
    causes += _validate_selector_and_template(spec, "deployment")
    causes += _restart_always_and_no_deadline(spec, "ReplicaSet")
    return causes


def validate_replication_controller(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = _dict(spec.get("selector"))
    if not selector:
        causes.append(required("spec.selector"))
    else:
        causes += validate_labels(selector, "spec.selector")
    template = spec.get("template")
    if template is None:
        causes.append(required("spec.template"))
        return causes
    labels = _dict(_dict(template).get("metadata")).get("labels")
    if selector and any(_dict(labels).get(k) != v for k, v in selector.items()):
        causes.append(_invalid_raw("spec.template.metadata.labels", gofmt.string_map(labels),
                                   "`selector` does not match template `labels`"))
    causes += validate_pod_template(template, "spec.template")
    causes += _restart_always_and_no_deadline(spec, "ReplicationController")
    return causes


def validate_daemon_set(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = _validate_selector_and_template(spec, "daemonset")
    causes += _restart_always_and_no_deadline(spec, "DaemonSet")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += _nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    strategy = _dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if kind == "RollingUpdate":
        causes += validate_rolling_update(_dict(strategy.get("rollingUpdate")), "spec.updateStrategy.rollingUpdate")
    elif kind != "OnDelete":
        causes.append(unsupported("spec.updateStrategy.type", kind or "", ["RollingUpdate", "OnDelete"]))
    return causes


def validate_stateful_set(obj: dict) -> Causes:
    spec = _spec(obj)
    causes: Causes = []
    policy = spec.get("podManagementPolicy")
    if not policy:
        causes.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        causes.append(invalid_value("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = _dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if not kind:
        causes.append(required("spec.updateStrategy"))
    elif kind == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            causes.append(_invalid_raw("spec.updateStrategy.rollingUpdate", gofmt.struct("apps.RollingUpdateStatefulSetStrategy",
                                       strategy["rollingUpdate"]), "only allowed for updateStrategy 'RollingUpdate'"))
    elif kind == "RollingUpdate":
        causes += _nonnegative(_dict(strategy.get("rollingUpdate")).get("partition"), "spec.updateStrategy.rollingUpdate.partition")
    else:
        causes.append(_invalid_raw("spec.updateStrategy", gofmt.struct("apps.StatefulSetUpdateStrategy", strategy),
                                   "must be 'RollingUpdate' or 'OnDelete'"))
    causes += _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = spec.get("selector")
    if selector is None:
        causes.append(required("spec.selector"))
    else:
        causes += validate_label_selector(selector, "spec.selector")
        if selector_is_empty(selector):
            causes.append(_invalid_raw("spec.selector", gofmt.label_selector(selector), "empty selector is invalid for statefulset"))
    template = _dict(spec.get("template"))
    meta = _dict(template.get("metadata"))
    if selector is not None and not selector_is_empty(selector) and not selector_matches(selector, meta.get("labels")):
        causes.append(_invalid_raw("spec.template.metadata.labels", gofmt.string_map(meta.get("labels")),
                                   "`selector` does not match template `labels`"))
    # Kubernetes does not validate a StatefulSet's pod spec here (its volumes may be claim templates).
    causes += validate_labels(meta.get("labels"), "spec.template.labels")
    causes += validate_annotations(meta.get("annotations"), "spec.template.annotations")
    causes += _restart_always_and_no_deadline(spec, "StatefulSet")
    return causes


_STATEFULSET_MUTABLE = ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                        "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy")


def validate_stateful_set_update(new: dict, old: dict) -> Causes:
    new_rest = {k: v for k, v in _spec(new).items() if k not in _STATEFULSET_MUTABLE}
    old_rest = {k: v for k, v in _spec(old).items() if k not in _STATEFULSET_MUTABLE}
    if new_rest != old_rest:
        return [forbidden_field("spec", STATEFULSET_UPDATE_FORBIDDEN)]
    return []


def validate_daemon_set_update(new: dict, old: dict) -> Causes:
    return _immutable_selector(new, old)


# --- batch -------------------------------------------------------------------------------------


def _validate_job_spec(spec: dict, path: str) -> Causes:
    causes: Causes = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        causes += _nonnegative(spec.get(key), f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(unsupported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(required(f"{path}.completions", "when completion mode is Indexed"))
    template = _dict(spec.get("template"))
    selector = spec.get("selector")
    if selector is not None:
        causes += validate_label_selector(selector, f"{path}.selector")
        labels = _dict(template.get("metadata")).get("labels")
        if not selector_is_empty(selector) and not selector_matches(selector, labels):
            causes.append(_invalid_raw(f"{path}.template.metadata.labels", gofmt.string_map(labels),
                                       "`selector` does not match template `labels`"))
    causes += validate_pod_template(template, f"{path}.template")
    policy = _dict(template.get("spec")).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        causes.append(required(f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    return causes


def validate_job(obj: dict) -> Causes:
    return _validate_job_spec(_spec(obj), "spec") + _validate_generated_selector(obj)


def _validate_generated_selector(obj: dict) -> Causes:
    """Without manualSelector the selector must be the generated one, selecting this Job's uid only."""
    spec = _spec(obj)
    uid = _dict(obj.get("metadata")).get("uid")
    selector = spec.get("selector")
    if spec.get("manualSelector") or selector is None or not uid:
        return []  # the apiserver generates the selector (with the uid) before validating
    if selector_matches(selector, {"batch.kubernetes.io/controller-uid": uid}):
        return []
    return [_invalid_raw("spec.selector", gofmt.label_selector(selector), "`selector` not auto-generated")]


def validate_job_update(new: dict, old: dict) -> Causes:
    new_spec, old_spec = _spec(new), _spec(old)
    causes: Causes = []
    if new_spec.get("selector") != old_spec.get("selector"):
        causes.append(_invalid_raw("spec.selector", gofmt.label_selector(new_spec.get("selector")), FIELD_IMMUTABLE))
    if new_spec.get("template") != old_spec.get("template"):
        causes.append(_invalid_raw("spec.template", gofmt.struct("core.PodTemplateSpec", new_spec.get("template")), FIELD_IMMUTABLE))
    for key in ("completions", "completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        if new_spec.get(key) != old_spec.get(key):
            value = new_spec.get(key)
            causes.append(invalid_value(f"spec.{key}", value, FIELD_IMMUTABLE) if not isinstance(value, (dict, list))
                          else _invalid_raw(f"spec.{key}", gofmt.struct("", value), FIELD_IMMUTABLE))
    return causes


def validate_cron_job(obj: dict) -> Causes:
    spec = _spec(obj)
    causes: Causes = []
    schedule = spec.get("schedule")
    if not schedule:
        causes.append(required("spec.schedule"))
    else:
        problem = cron_schedule_error(schedule)
        if problem:
            causes.append(invalid_value("spec.schedule", schedule, problem))
    policy = spec.get("concurrencyPolicy")
    if policy not in ("Allow", "Forbid", "Replace"):
        if not policy:
            causes.append(required("spec.concurrencyPolicy"))
        else:
            causes.append(unsupported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += _nonnegative(spec.get(key), f"spec.{key}")
    job_template = _dict(spec.get("jobTemplate"))
    causes += validate_labels(_dict(job_template.get("metadata")).get("labels"), "spec.jobTemplate.metadata.labels")
    causes += _validate_job_spec(_dict(job_template.get("spec")), "spec.jobTemplate.spec")
    return causes


_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def cron_schedule_error(schedule: str) -> str | None:
    """The robfig/cron parse error Kubernetes reports for a bad schedule, or None."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text in _CRON_MACROS or text.startswith("@every "):
        return None
    if text.startswith("@"):
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    try:
        from croniter import croniter

        if not croniter.is_valid(text):
            return f"failed to parse schedule: {text}"
    except ImportError:
        return None
    return None


# --- services ----------------------------------------------------------------------------------

SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def validate_service(obj: dict) -> Causes:
    spec = _spec(obj)
    causes: Causes = []
    svc_type = spec.get("type")
    cluster_ips = _list(spec.get("clusterIPs")) or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    headless = bool(cluster_ips) and cluster_ips[0] == "None"
    ports = _list(spec.get("ports"))
    if not ports and not headless and svc_type != "ExternalName":
        causes.append(required("spec.ports"))
    if svc_type == "LoadBalancer" and headless:
        causes.append(invalid_value("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
    elif svc_type == "NodePort" and headless:
        causes.append(invalid_value("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif svc_type == "ExternalName":
        if cluster_ips:
            causes.append(forbidden_field("spec.clusterIPs", "may not be set for ExternalName services"))
        external = str(spec.get("externalName") or "").removesuffix(".")
        if external:
            causes += validate_dns1123_subdomain(external, "spec.externalName")
        else:
            causes.append(required("spec.externalName"))
    if svc_type != "ExternalName":
        for i, ip in enumerate(cluster_ips):
            if ip == "None" and i == 0:
                continue
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                causes.append(invalid_value(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    seen_names: set[str] = set()
    for i, port in enumerate(ports):
        causes += _validate_service_port(_dict(port), f"spec.ports[{i}]", len(ports) > 1, seen_names)
    causes += validate_labels(spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if not affinity:
        causes.append(required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        causes.append(unsupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    if not svc_type:
        causes.append(required("spec.type"))
    elif svc_type not in SERVICE_TYPES:
        causes.append(unsupported("spec.type", svc_type, SERVICE_TYPES))
    if svc_type == "ClusterIP":
        for i, port in enumerate(ports):
            if _dict(port).get("nodePort"):
                causes.append(forbidden_field(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple] = set()
    for i, port in enumerate(ports):
        port = _dict(port)
        node_port = port.get("nodePort")
        if not node_port:
            continue
        causes += [invalid_value(f"spec.ports[{i}].nodePort", node_port, msg) for msg in names.is_valid_port_num(node_port)]
        key = (port.get("protocol"), node_port)
        if key in node_ports:
            causes.append(duplicate(f"spec.ports[{i}].nodePort", node_port))
        node_ports.add(key)
    port_keys: set[tuple] = set()
    for i, port in enumerate(ports):
        port = _dict(port)
        key = (port.get("protocol") or "", _int(port.get("port")) or 0)
        if key in port_keys:
            causes.append(Cause("FieldValueDuplicate", f"Duplicate value: {gofmt.service_port(*key)}", f"spec.ports[{i}]"))
        port_keys.add(key)
    policy = spec.get("externalTrafficPolicy")
    if policy and svc_type not in ("NodePort", "LoadBalancer"):
        causes.append(invalid_value("spec.externalTrafficPolicy", policy,
                                    "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
    elif policy and policy not in ("Cluster", "Local"):
        causes.append(unsupported("spec.externalTrafficPolicy", policy, ["Cluster", "Local"]))
    internal = spec.get("internalTrafficPolicy")
    if internal and internal not in ("Cluster", "Local"):
        causes.append(unsupported("spec.internalTrafficPolicy", internal, ["Cluster", "Local"]))
    return causes


def _validate_service_port(port: dict, path: str, require_name: bool, seen: set[str]) -> Causes:
    causes: Causes = []
    name = port.get("name")
    if require_name and not name:
        causes.append(required(f"{path}.name"))
    elif name:
        causes += validate_dns1123_label(name, f"{path}.name")
        if name in seen:
            causes.append(duplicate(f"{path}.name", name))
        seen.add(name)
    causes += [invalid_value(f"{path}.port", port.get("port", 0), msg) for msg in names.is_valid_port_num(port.get("port"))]
    protocol = port.get("protocol")
    if not protocol:
        causes.append(required(f"{path}.protocol"))
    elif protocol not in SUPPORTED_PROTOCOLS:
        causes.append(unsupported(f"{path}.protocol", protocol, SUPPORTED_PROTOCOLS))
    causes += validate_port_num_or_name(port.get("targetPort"), f"{path}.targetPort")
    return causes


def validate_service_update(new: dict, old: dict) -> Causes:
    new_spec, old_spec = _spec(new), _spec(old)
    if "ExternalName" in (new_spec.get("type"), old_spec.get("type")):
        return []  # switching to or from ExternalName releases or allocates the IP
    old_ip, new_ip = old_spec.get("clusterIP"), new_spec.get("clusterIP")
    if old_ip and new_ip and new_ip != old_ip:
        return [invalid_value("spec.clusterIPs[0]", new_ip, "may not change once set")]
    return []


def node_port_range_causes(obj: dict, low: int = 30000, high: int = 32767) -> Causes:
    """The NodePort allocator's check (admission, not validation): ports outside the service-node-port-range."""
    causes: Causes = []
    for i, port in enumerate(_list(_spec(obj).get("ports"))):
        node_port = _dict(port).get("nodePort")
        if node_port and not low <= node_port <= high:
            causes.append(invalid_value(f"spec.ports[{i}].nodePort", node_port,
                                        f"provided port is not in the valid range. The range of valid ports is {low}-{high}"))
    return causes


# --- config ------------------------------------------------------------------------------------


def validate_config_map(obj: dict) -> Causes:
    causes: Causes = []
    data, binary = _dict(obj.get("data")), _dict(obj.get("binaryData"))
    for key in data:
        causes += [invalid_value(f"data[{key}]", key, msg) for msg in names.is_config_map_key(key)]
    for key in binary:
        causes += [invalid_value(f"binaryData[{key}]", key, msg) for msg in names.is_config_map_key(key)]
        if key in data:
            causes.append(invalid_value(f"binaryData[{key}]", key, "duplicate of key present in data"))
    return causes


def validate_config_map_update(new: dict, old: dict) -> Causes:
    return _immutable_data(new, old, ("data", "binaryData"))


def _immutable_data(new: dict, old: dict, keys: tuple[str, ...]) -> Causes:
    if not old.get("immutable"):
        return []
    causes: Causes = []
    for key in keys:
        if (new.get(key) or {}) != (old.get(key) or {}):
            causes.append(forbidden_field(key, "field is immutable when `immutable` is set"))
    if not new.get("immutable"):
        causes.append(forbidden_field("immutable", "field is immutable when `immutable` is set"))
    return causes


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/basic-auth": (),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(obj: dict) -> Causes:
    causes: Causes = []
    data = _dict(obj.get("data"))
    for key in data:
        causes += [invalid_value(f"data[{key}]", key, msg) for msg in names.is_config_map_key(key)]
    secret_type = obj.get("type")
    for key in _SECRET_REQUIRED_KEYS.get(secret_type, ()):
        if key not in data:
            causes.append(required(f"data[{key}]"))
    if secret_type == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes.append(required("data[username]"))
        causes.append(required("data[password]"))
    if secret_type == "kubernetes.io/service-account-token":
        annotations = _dict(_dict(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    return causes


def validate_secret_update(new: dict, old: dict) -> Causes:
    causes: Causes = []
    if new.get("type") != old.get("type"):
        causes.append(invalid_value("type", new.get("type", ""), FIELD_IMMUTABLE))
    return causes + _immutable_data(new, old, ("data",))


# --- cluster objects ---------------------------------------------------------------------------


def validate_namespace(obj: dict) -> Causes:
    causes: Causes = []
    for finalizer in _list(_spec(obj).get("finalizers")):
        causes += validate_finalizer_name(finalizer, "spec.finalizers")
    return causes


def validate_node(obj: dict) -> Causes:
    causes: Causes = []
    seen: dict[str, set[str]] = {}
    for i, taint in enumerate(_list(_spec(obj).get("taints"))):
        taint = _dict(taint)
        tpath = f"spec.taints[{i}]"
        key = taint.get("key") or ""
        causes += [invalid_value(f"{tpath}.key", key, msg) for msg in names.is_qualified_name(key)]
        if taint.get("value"):
            causes += [invalid_value(f"{tpath}.value", taint["value"], msg) for msg in names.is_valid_label_value(taint["value"])]
        effect = taint.get("effect")
        if not effect:
            causes.append(required(f"{tpath}.effect"))
        elif effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            causes.append(unsupported(f"{tpath}.effect", effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
        if key in seen.get(effect or "", set()):
            causes.append(Cause("FieldValueDuplicate", f"Duplicate value: {gofmt.taint(taint)}: taints must be unique by key and effect pair", tpath))
            continue
        seen.setdefault(effect or "", set()).add(key)
    return causes


_ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]


def _validate_access_modes(modes, path: str) -> Causes:
    modes = _list(modes)
    if not modes:
        return [required(path, "at least 1 access mode is required")]
    return [unsupported(path, m, _ACCESS_MODES) for m in modes if m not in _ACCESS_MODES]


def validate_persistent_volume_claim(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = _validate_access_modes(spec.get("accessModes"), "spec.accessModes")
    if spec.get("selector") is not None:
        causes += validate_label_selector(spec["selector"], "spec.selector")
    requests = _dict(_dict(spec.get("resources")).get("requests"))
    storage = requests.get("storage")
    if storage is None:
        causes.append(required("spec.resources[storage]"))
    else:
        quantity = _quantity(storage)
        if quantity is not None and quantity.value <= 0:
            causes.append(invalid_value("spec.resources[storage]", str(quantity), "must be greater than zero"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        causes.append(unsupported("spec.volumeMode", mode, ["Block", "Filesystem"]))
    return causes


def validate_persistent_volume_claim_update(new: dict, old: dict) -> Causes:
    new_spec, old_spec = dict(_spec(new)), dict(_spec(old))
    if not old_spec.get("volumeName"):
        new_spec.pop("volumeName", None)  # binding sets it once
        old_spec.pop("volumeName", None)
    for spec in (new_spec, old_spec):
        resources = dict(_dict(spec.get("resources")))
        resources.pop("requests", None)
        spec["resources"] = resources
    if new_spec != old_spec:
        return [forbidden_field("spec", "spec is immutable after creation except resources.requests for bound claims")]
    return []


def validate_persistent_volume(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = _validate_access_modes(spec.get("accessModes"), "spec.accessModes")
    capacity = _dict(spec.get("capacity"))
    if not capacity:
        causes.append(required("spec.capacity"))
    elif "storage" not in capacity:
        causes.append(unsupported("spec.capacity", next(iter(capacity)), ["storage"]))
    sources = [s for s in _VOLUME_SOURCES if spec.get(s) is not None] + (["local"] if spec.get("local") is not None else [])
    if not sources:
        causes.append(required("spec", "must specify a volume type"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in ("Delete", "Recycle", "Retain"):
        causes.append(unsupported("spec.persistentVolumeReclaimPolicy", policy, ["Delete", "Recycle", "Retain"]))
    return causes


def validate_hpa(obj: dict) -> Causes:
    spec = _spec(obj)
    causes: Causes = []
    ref = _dict(spec.get("scaleTargetRef"))
    if not ref.get("kind"):
        causes.append(required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        causes.append(required("spec.scaleTargetRef.name"))
    min_replicas, max_replicas = _int(spec.get("minReplicas")), _int(spec.get("maxReplicas"))
    if min_replicas is not None and min_replicas < 1:
        causes.append(invalid_value("spec.minReplicas", min_replicas, "must be greater than or equal to 1"))
    if max_replicas is None or max_replicas < 1:
        causes.append(invalid_value("spec.maxReplicas", max_replicas or 0, "must be greater than or equal to 1"))
    elif min_replicas is not None and max_replicas < min_replicas:
        causes.append(invalid_value("spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"))
    for i, metric in enumerate(_list(spec.get("metrics"))):
        for source in ("resource", "containerResource", "pods", "object", "external"):
            utilization = _int(_dict(_dict(_dict(metric).get(source)).get("target")).get("averageUtilization"))
            if utilization is not None and utilization < 1:
                causes.append(invalid_value(f"spec.metrics[{i}].{source}.target.averageUtilization", utilization,
                                            "must be greater than 0"))
    return causes


def validate_ingress(obj: dict) -> Causes:
    spec = _spec(obj)
    causes: Causes = []
    rules = _list(spec.get("rules"))
    if not rules and spec.get("defaultBackend") is None:
        causes.append(invalid_value("spec.rules", [], "either `defaultBackend` or `rules` must be specified"))
    for i, rule in enumerate(rules):
        rule = _dict(rule)
        host = rule.get("host")
        if host:
            check = host[2:] if host.startswith("*.") else host
            causes += [invalid_value(f"spec.rules[{i}].host", host, msg) for msg in names.is_dns1123_subdomain(check)]
        for j, path_rule in enumerate(_list(_dict(rule.get("http")).get("paths"))):
            path_rule = _dict(path_rule)
            ppath = f"spec.rules[{i}].http.paths[{j}]"
            path_type = path_rule.get("pathType")
            if not path_type:
                causes.append(required(f"{ppath}.pathType", "pathType must be specified"))
            elif path_type not in ("Exact", "Prefix", "ImplementationSpecific"):
                causes.append(unsupported(f"{ppath}.pathType", path_type, ["Exact", "ImplementationSpecific", "Prefix"]))
            elif path_type in ("Exact", "Prefix") and not str(path_rule.get("path", "")).startswith("/"):
                causes.append(invalid_value(f"{ppath}.path", path_rule.get("path", ""), "must be an absolute path"))
            backend = _dict(path_rule.get("backend"))
            service = backend.get("service")
            if service is None and backend.get("resource") is None:
                causes.append(invalid_value(f"{ppath}.backend", "", "one backend must be specified"))
            elif isinstance(service, dict):
                if not service.get("name"):
                    causes.append(required(f"{ppath}.backend.service.name"))
                port = _dict(service.get("port"))
                if not port.get("name") and not port.get("number"):
                    causes.append(required(f"{ppath}.backend.service.port", "port name or number is required"))
    return causes


def validate_pdb(obj: dict) -> Causes:
    spec = _spec(obj)
    causes: Causes = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(_invalid_raw("spec", gofmt.struct("policy.PodDisruptionBudgetSpec", spec),
                                   "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if value is not None:
            causes += validate_positive_int_or_percent(value, f"spec.{key}")
            percent = _percent_value(value)
            if percent is not None and percent > 100:
                causes.append(_invalid_raw(f"spec.{key}", gofmt.int_or_string(value), "must not be greater than 100%"))
    if spec.get("selector") is not None:
        causes += validate_label_selector(spec["selector"], "spec.selector")
    return causes


def validate_priority_class(obj: dict) -> Causes:
    value = _int(obj.get("value"))
    name = _dict(obj.get("metadata")).get("name", "")
    if value is not None and value > 1_000_000_000 and not name.startswith("system-"):
        return [forbidden_field("value", "maximum allowed value of a user defined priority is 1000000000")]
    if name.startswith("system-") and name not in ("system-node-critical", "system-cluster-critical"):
        return [forbidden_field("metadata.name", "priority class names with 'system-' prefix are reserved for system use only")]
    return []


def validate_storage_class(obj: dict) -> Causes:
    causes: Causes = []
    if not obj.get("provisioner"):
        causes.append(required("provisioner"))
    policy = obj.get("reclaimPolicy")
    if policy and policy not in ("Delete", "Retain"):
        causes.append(unsupported("reclaimPolicy", policy, ["Delete", "Retain"]))
    mode = obj.get("volumeBindingMode")
    if mode and mode not in ("Immediate", "WaitForFirstConsumer"):
        causes.append(unsupported("volumeBindingMode", mode, ["Immediate", "WaitForFirstConsumer"]))
    return causes


def validate_storage_class_update(new: dict, old: dict) -> Causes:
    causes: Causes = []
    for key in ("parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"):
        if new.get(key) != old.get(key):
            causes.append(forbidden_field(key, "updates to " + key + " are forbidden."))
    return causes


def validate_network_policy(obj: dict) -> Causes:
    spec = _spec(obj)
    causes = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for kind in _list(spec.get("policyTypes")):
        if kind not in ("Ingress", "Egress"):
            causes.append(unsupported("spec.policyTypes", kind, ["Ingress", "Egress"]))
    return causes


# --- rbac.authorization.k8s.io ------------------------------------------------------------------


def _validate_policy_rule(rule: dict, namespaced: bool, path: str) -> Causes:
    """ValidatePolicyRule."""
    causes: Causes = []
    if not _list(rule.get("verbs")):
        causes.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = _list(rule.get("nonResourceURLs"))
    if urls:
        rendered = "[]string{" + ", ".join(gofmt.quote(str(u)) for u in urls) + "}"
        if namespaced:
            causes.append(_invalid_raw(f"{path}.nonResourceURLs", rendered,
                                       "namespaced rules cannot apply to non-resource URLs"))
        if _list(rule.get("apiGroups")) or _list(rule.get("resources")) or _list(rule.get("resourceNames")):
            causes.append(_invalid_raw(f"{path}.nonResourceURLs", rendered,
                                       "rules cannot apply to both regular resources and non-resource URLs"))
        return causes
    if not _list(rule.get("apiGroups")):
        causes.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not _list(rule.get("resources")):
        causes.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return causes


def _validate_rules(obj: dict, namespaced: bool) -> Causes:
    causes: Causes = []
    for i, rule in enumerate(_list(obj.get("rules"))):
        causes += _validate_policy_rule(_dict(rule), namespaced, f"rules[{i}]")
    return causes


def validate_role(obj: dict) -> Causes:
    return _validate_rules(obj, True)


def validate_cluster_role(obj: dict) -> Causes:
    causes = _validate_rules(obj, False)
    aggregation = obj.get("aggregationRule")
    if isinstance(aggregation, dict):
        selectors = _list(aggregation.get("clusterRoleSelectors"))
        if not selectors:
            causes.append(required("aggregationRule.clusterRoleSelectors",
                                   "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            causes += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return causes


def _validate_subject(subject: dict, namespaced: bool, path: str) -> Causes:
    """ValidateRoleBindingSubject."""
    causes: Causes = []
    name = subject.get("name") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    kind, group = subject.get("kind") or "", subject.get("apiGroup") or ""
    if kind == "ServiceAccount":
        if name:
            causes += [invalid_value(f"{path}.name", name, msg) for msg in names.is_dns1123_subdomain(name)]
        if group:
            causes.append(unsupported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            causes.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            causes.append(unsupported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        causes.append(unsupported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return causes


def _validate_binding(obj: dict, namespaced: bool) -> Causes:
    """ValidateRoleBinding / ValidateClusterRoleBinding."""
    causes: Causes = []
    role_ref = _dict(obj.get("roleRef"))
    group = role_ref.get("apiGroup") or ""
    if group != RBAC_GROUP:
        causes.append(unsupported("roleRef.apiGroup", group, [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if (role_ref.get("kind") or "") not in kinds:
        causes.append(unsupported("roleRef.kind", role_ref.get("kind") or "", kinds))
    name = role_ref.get("name") or ""
    if not name:
        causes.append(required("roleRef.name"))
    else:
        causes += [invalid_value("roleRef.name", name, msg) for msg in rbac_name_errors(name)]
    for i, subject in enumerate(_list(obj.get("subjects"))):
        causes += _validate_subject(_dict(subject), namespaced, f"subjects[{i}]")
    return causes


def validate_role_binding(obj: dict) -> Causes:
    return _validate_binding(obj, True)


def validate_cluster_role_binding(obj: dict) -> Causes:
    return _validate_binding(obj, False)


def validate_role_binding_update(new: dict, old: dict) -> Causes:
    """The roleRef of a binding is immutable (delete and recreate the binding to change it)."""
    new_ref, old_ref = _dict(new.get("roleRef")), _dict(old.get("roleRef"))
    keys = ("apiGroup", "kind", "name")
    if all((new_ref.get(k) or "") == (old_ref.get(k) or "") for k in keys):
        return []
    rendered = (f"rbac.RoleRef{{APIGroup:{gofmt.quote(new_ref.get('apiGroup') or '')}, "
                f"Kind:{gofmt.quote(new_ref.get('kind') or '')}, Name:{gofmt.quote(new_ref.get('name') or '')}}}")
    return [_invalid_raw("roleRef", rendered, "cannot change roleRef")]


_VALIDATORS: dict[str, Callable[[dict], Causes]] = {
    "Pod": validate_pod,
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replica_set,
    "ReplicationController": validate_replication_controller,
    "DaemonSet": validate_daemon_set,
    "StatefulSet": validate_stateful_set,
    "Job": validate_job,
    "CronJob": validate_cron_job,
    "Service": validate_service,
    "ConfigMap": validate_config_map,
    "Secret": validate_secret,
    "Namespace": validate_namespace,
    "Node": validate_node,
    "PersistentVolumeClaim": validate_persistent_volume_claim,
    "PersistentVolume": validate_persistent_volume,
    "HorizontalPodAutoscaler": validate_hpa,
    "Ingress": validate_ingress,
    "PodDisruptionBudget": validate_pdb,
    "PriorityClass": validate_priority_class,
    "StorageClass": validate_storage_class,
    "NetworkPolicy": validate_network_policy,
    "Role": validate_role,
    "ClusterRole": validate_cluster_role,
    "RoleBinding": validate_role_binding,
    "ClusterRoleBinding": validate_cluster_role_binding,
    "CustomResourceDefinition": crd.validate,
}

_UPDATE_VALIDATORS: dict[str, Callable[[dict, dict], Causes]] = {
    "Pod": validate_pod_update,
    "Deployment": validate_deployment_update,
    "ReplicaSet": validate_deployment_update,
    "DaemonSet": validate_daemon_set_update,
    "StatefulSet": validate_stateful_set_update,
    "Job": validate_job_update,
    "Service": validate_service_update,
    "ConfigMap": validate_config_map_update,
    "Secret": validate_secret_update,
    "PersistentVolumeClaim": validate_persistent_volume_claim_update,
    "StorageClass": validate_storage_class_update,
    "RoleBinding": validate_role_binding_update,
    "ClusterRoleBinding": validate_role_binding_update,
    "CustomResourceDefinition": crd.validate_update,
}
