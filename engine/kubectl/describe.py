"""`kubectl describe` text for each kind, laid out as kubectl's describers lay it out (a tabwriter with
padding 2, nested sections indented two spaces a level) with the Events table at the bottom."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from engine.clock import parse_rfc3339
from engine.kubectl.tabwriter import TabWriter
from engine.resources.quantity import canonical
from engine.resources.tables import human_duration

NONE = "<none>"


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _list(v) -> list:
    return v if isinstance(v, list) else []


def timestamp(text) -> str:
    when = parse_rfc3339(text) if isinstance(text, str) else None
    if when is None:
        return "<unset>"
    return datetime.fromtimestamp(when, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


class Writer:
    def __init__(self):
        self.lines: list[str] = []

    def line(self, level: int, text: str) -> None:
        self.lines.append("  " * level + text)

    def render(self) -> str:
        tw = TabWriter(min_width=0, padding=2, remember_widths=False)
        tw.write("\n".join(self.lines) + "\n")
        return tw.flush()


def _labels(w: Writer, level: int, title: str, values: dict | None, skip: tuple[str, ...] = ()) -> None:
    values = {k: v for k, v in (values or {}).items() if k not in skip}
    if not values:
        w.line(level, f"{title}:\t{NONE}")
        return
    for i, key in enumerate(sorted(values)):
        prefix = f"{title}:\t" if i == 0 else "\t"
        w.line(level, f"{prefix}{key}={values[key]}")


def _annotations(w: Writer, level: int, values: dict | None) -> None:
    values = {k: v for k, v in (values or {}).items() if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if not values:
        w.line(level, f"Annotations:\t{NONE}")
        return
    for i, key in enumerate(sorted(values)):
        prefix = "Annotations:\t" if i == 0 else "\t"
        value = str(values[key])
        if len(value) > 200:
            value = value[:200] + "..."
        w.line(level, f"{prefix}{key}: {value}")


def selector_text(selector: dict | None) -> str:
    sel = _dict(selector)
    parts = [f"{k}={v}" for k, v in sorted(_dict(sel.get("matchLabels")).items())]
    for expr in _list(sel.get("matchExpressions")):
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(parts) if parts else NONE


def events_section(w: Writer, api, obj: dict, now: float) -> None:
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    try:
        events = api.list("Event", ns if meta.get("namespace") else None)["items"]
    except Exception:  # noqa: BLE001 - events are best effort
        events = []
    events = [e for e in events if _dict(e.get("involvedObject")).get("uid") == meta.get("uid")
              and _dict(e.get("involvedObject")).get("name") == meta.get("name")]
    if not events:
        w.line(0, f"Events:\t{NONE}")
        return
    events.sort(key=lambda e: parse_rfc3339(e.get("lastTimestamp") or e.get("firstTimestamp")) or 0)
    w.line(0, "Events:")
    w.line(1, "Type\tReason\tAge\tFrom\tMessage")
    w.line(1, "----\t------\t----\t----\t-------")
    for e in events:
        first = parse_rfc3339(e.get("firstTimestamp")) or parse_rfc3339(e.get("eventTime")) or now
        last = parse_rfc3339(e.get("lastTimestamp")) or first
        count = int(e.get("count") or 1)
        if count > 1:
            age = f"{human_duration(now - last)} (x{count} over {human_duration(now - first)})"
        else:
            age = human_duration(now - first)
        source = _dict(e.get("source"))
        who = source.get("component") or e.get("reportingComponent") or ""
        if source.get("host") and who != "kubelet":
            who = f"{who}, {source['host']}"
        message = str(e.get("message", "")).strip()
        w.line(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{age}\t{who}\t{message}")


# --- pods ----------------------------------------------------------------------------------------


def _ports(container: dict) -> tuple[str, str]:
    ports = _list(container.get("ports"))
    if not ports:
        return NONE, NONE
    cp = ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports)
    hp = ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in ports)
    return cp, hp


def _probe(probe: dict) -> str:
    if "httpGet" in probe:
        h = probe["httpGet"]
        action = f"http-get {h.get('scheme', 'HTTP').lower()}://{h.get('host', '')}:{h.get('port')}{h.get('path', '')}"
    elif "tcpSocket" in probe:
        action = f"tcp-socket {probe['tcpSocket'].get('host', '')}:{probe['tcpSocket'].get('port')}"
    elif "exec" in probe:
        action = "exec [" + " ".join(probe["exec"].get("command") or []) + "]"
    elif "grpc" in probe:
        action = f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service', '')}"
    else:
        action = "unknown"
    return (f"{action} delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
            f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
            f"#failure={probe.get('failureThreshold', 3)}")


def _state(w: Writer, level: int, title: str, state: dict) -> None:
    if "running" in state:
        w.line(level, f"{title}:\tRunning")
        w.line(level + 1, f"Started:\t{timestamp(state['running'].get('startedAt'))}")
    elif "waiting" in state:
        w.line(level, f"{title}:\tWaiting")
        if state["waiting"].get("reason"):
            w.line(level + 1, f"Reason:\t{state['waiting']['reason']}")
        if state["waiting"].get("message"):
            w.line(level + 1, f"Message:\t{state['waiting']['message']}")
    elif "terminated" in state:
        t = state["terminated"]
        w.line(level, f"{title}:\tTerminated")
        if t.get("reason"):
            w.line(level + 1, f"Reason:\t{t['reason']}")
        if t.get("message"):
            w.line(level + 1, f"Message:\t{t['message']}")
        w.line(level + 1, f"Exit Code:\t{t.get('exitCode', 0)}")
        if t.get("signal"):
            w.line(level + 1, f"Signal:\t{t['signal']}")
        w.line(level + 1, f"Started:\t{timestamp(t.get('startedAt'))}")
        w.line(level + 1, f"Finished:\t{timestamp(t.get('finishedAt'))}")
    else:
        w.line(level, f"{title}:\tWaiting")


def _resources(w: Writer, level: int, resources: dict) -> None:
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        values = _dict(resources.get(key))
        if values:
            w.line(level, f"{title}:")
            for name in sorted(values):
                w.line(level + 1, f"{name}:\t{_q(values[name])}")


def _q(value) -> str:
    try:
        return canonical(value)
    except (ValueError, TypeError):
        return str(value)


def _env(w: Writer, level: int, container: dict) -> None:
    env = _list(container.get("env"))
    env_from = _list(container.get("envFrom"))
    if env_from:
        w.line(level, "Environment Variables from:")
        for source in env_from:
            if "configMapRef" in source:
                w.line(level + 1, f"{source['configMapRef'].get('name')}\tConfigMap\tOptional: "
                                  f"{str(bool(source['configMapRef'].get('optional'))).lower()}")
            elif "secretRef" in source:
                w.line(level + 1, f"{source['secretRef'].get('name')}\tSecret\tOptional: "
                                  f"{str(bool(source['secretRef'].get('optional'))).lower()}")
    if not env:
        w.line(level, f"Environment:\t{NONE}")
        return
    w.line(level, "Environment:")
    for e in env:
        if "value" in e or "valueFrom" not in e:
            w.line(level + 1, f"{e['name']}:\t{e.get('value', '')}")
            continue
        src = e["valueFrom"]
        if "fieldRef" in src:
            f = src["fieldRef"]
            w.line(level + 1, f"{e['name']}:\t ({f.get('apiVersion', 'v1')}:{f.get('fieldPath')})")
        elif "configMapKeyRef" in src:
            r = src["configMapKeyRef"]
            w.line(level + 1, f"{e['name']}:\t<set to the key '{r.get('key')}' of config map '{r.get('name')}'>\t"
                              f"Optional: {str(bool(r.get('optional'))).lower()}")
        elif "secretKeyRef" in src:
            r = src["secretKeyRef"]
            w.line(level + 1, f"{e['name']}:\t<set to the key '{r.get('key')}' in secret '{r.get('name')}'>\t"
                              f"Optional: {str(bool(r.get('optional'))).lower()}")
        elif "resourceFieldRef" in src:
            w.line(level + 1, f"{e['name']}:\t{src['resourceFieldRef'].get('resource')}")


def _mounts(w: Writer, level: int, container: dict) -> None:
    mounts = _list(container.get("volumeMounts"))
    if not mounts:
        w.line(level, f"Mounts:\t{NONE}")
        return
    w.line(level, "Mounts:")
    for m in sorted(mounts, key=lambda m: m.get("mountPath", "")):
        flags = ["ro" if m.get("readOnly") else "rw"]
        if m.get("subPath"):
            flags.append(f"path=\"{m['subPath']}\"")
        w.line(level + 1, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})")


def _container(w: Writer, level: int, c: dict, status: dict | None, template: bool) -> None:
    if template:
        # templates print the name one space deeper, and its fields at the level below the name's
        w.line(level - 1, f" {c.get('name')}:")
        level -= 1
    else:
        w.line(level, f"{c.get('name')}:")
    if not template:
        w.line(level + 1, f"Container ID:\t{_dict(status).get('containerID', '')}")
    w.line(level + 1, f"Image:\t{c.get('image', '')}")
    if not template:
        w.line(level + 1, f"Image ID:\t{_dict(status).get('imageID', '')}")
    cp, hp = _ports(c)
    ports = _list(c.get("ports"))
    w.line(level + 1, f"{'Ports' if len(ports) > 1 else 'Port'}:\t{cp}")
    w.line(level + 1, f"{'Host Ports' if len(ports) > 1 else 'Host Port'}:\t{hp}")
    for title, key in (("Command", "command"), ("Args", "args")):
        if c.get(key):
            w.line(level + 1, f"{title}:")
            for part in c[key]:
                w.line(level + 2, str(part))
    if not template:
        st = _dict(status)
        _state(w, level + 1, "State", _dict(st.get("state")))
        if st.get("lastState"):
            _state(w, level + 1, "Last State", _dict(st.get("lastState")))
        w.line(level + 1, f"Ready:\t{'True' if st.get('ready') else 'False'}")
        w.line(level + 1, f"Restart Count:\t{st.get('restartCount', 0)}")
    _resources(w, level + 1, _dict(c.get("resources")))
    for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"), ("Startup", "startupProbe")):
        if c.get(key):
            w.line(level + 1, f"{title}:\t{_probe(c[key])}")
    _env(w, level + 1, c)
    _mounts(w, level + 1, c)


def _volumes(w: Writer, level: int, volumes: list) -> None:
    if not volumes:
        w.line(level, f"Volumes:\t{NONE}")
        return
    w.line(level, "Volumes:")
    for v in volumes:
        w.line(level + 1, f"{v.get('name')}:")
        if "configMap" in v:
            w.line(level + 2, "Type:\tConfigMap (a volume populated by a ConfigMap)")
            w.line(level + 2, f"Name:\t{v['configMap'].get('name')}")
            w.line(level + 2, f"Optional:\t{str(bool(v['configMap'].get('optional'))).lower()}")
        elif "secret" in v:
            w.line(level + 2, "Type:\tSecret (a volume populated by a Secret)")
            w.line(level + 2, f"SecretName:\t{v['secret'].get('secretName')}")
            w.line(level + 2, f"Optional:\t{str(bool(v['secret'].get('optional'))).lower()}")
        elif "emptyDir" in v:
            ed = _dict(v["emptyDir"])
            w.line(level + 2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
            w.line(level + 2, f"Medium:\t{ed.get('medium', '')}")
            w.line(level + 2, f"SizeLimit:\t{ed.get('sizeLimit', '<unset>')}")
        elif "hostPath" in v:
            w.line(level + 2, "Type:\tHostPath (bare host directory volume)")
            w.line(level + 2, f"Path:\t{v['hostPath'].get('path')}")
            w.line(level + 2, f"HostPathType:\t{v['hostPath'].get('type', '')}")
        elif "persistentVolumeClaim" in v:
            pvc = v["persistentVolumeClaim"]
            w.line(level + 2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
                              "namespace)")
            w.line(level + 2, f"ClaimName:\t{pvc.get('claimName')}")
            w.line(level + 2, f"ReadOnly:\t{str(bool(pvc.get('readOnly'))).lower()}")
        elif "projected" in v:
            w.line(level + 2, "Type:\tProjected (a volume that contains injected data from multiple sources)")
        else:
            w.line(level + 2, "Type:\t<unknown>")


def _tolerations(w: Writer, level: int, tolerations: list) -> None:
    if not tolerations:
        w.line(level, f"Tolerations:\t{NONE}")
        return
    for i, t in enumerate(tolerations):
        text = t.get("key", "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.line(level, ("Tolerations:\t" if i == 0 else "\t") + text)


def describe_pod(api, pod: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = pod["metadata"], _dict(pod.get("spec")), _dict(pod.get("status"))
    w.line(0, f"Name:\t{meta['name']}")
    w.line(0, f"Namespace:\t{meta.get('namespace')}")
    w.line(0, f"Priority:\t{spec.get('priority', 0)}")
    if spec.get("priorityClassName"):
        w.line(0, f"Priority Class Name:\t{spec['priorityClassName']}")
    w.line(0, f"Service Account:\t{spec.get('serviceAccountName', 'default')}")
    node = spec.get("nodeName")
    w.line(0, f"Node:\t{node + '/' + status.get('hostIP', '') if node else NONE}")
    if status.get("startTime"):
        w.line(0, f"Start Time:\t{timestamp(status['startTime'])}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    if meta.get("deletionTimestamp"):
        w.line(0, f"Status:\tTerminating (lasts {human_duration(now - (parse_rfc3339(meta['deletionTimestamp']) or now))})")
        w.line(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 30)}s")
    else:
        w.line(0, f"Status:\t{status.get('phase', '')}")
    if status.get("reason"):
        w.line(0, f"Reason:\t{status['reason']}")
    if status.get("message"):
        w.line(0, f"Message:\t{status['message']}")
    w.line(0, f"IP:\t{status.get('podIP', '')}")
    ips = _list(status.get("podIPs"))
    if ips:
        w.line(0, "IPs:")
        for ip in ips:
            w.line(1, f"IP:\t{ip.get('ip')}")
    else:
        w.line(0, f"IPs:\t{NONE}")
    owner = next((o for o in _list(meta.get("ownerReferences")) if o.get("controller")), None)
    if owner:
        w.line(0, f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}")
    statuses = {s.get("name"): s for s in _list(status.get("containerStatuses"))}
    init_statuses = {s.get("name"): s for s in _list(status.get("initContainerStatuses"))}
    if spec.get("initContainers"):
        w.line(0, "Init Containers:")
        for c in spec["initContainers"]:
            _container(w, 1, c, init_statuses.get(c.get("name")), False)
    w.line(0, "Containers:")
    for c in _list(spec.get("containers")):
        _container(w, 1, c, statuses.get(c.get("name")), False)
    conditions = _list(status.get("conditions"))
    if conditions:
        w.line(0, "Conditions:")
        w.line(1, "Type \tStatus")
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        for cond in sorted(conditions, key=lambda c: order.index(c["type"]) if c.get("type") in order else 99):
            w.line(1, f"{cond.get('type')} \t{cond.get('status')} ")
    _volumes(w, 0, _list(spec.get("volumes")))
    w.line(0, f"QoS Class:\t{status.get('qosClass', 'BestEffort')}")
    selectors = _dict(spec.get("nodeSelector"))
    w.line(0, f"Node-Selectors:\t{','.join(f'{k}={v}' for k, v in sorted(selectors.items())) or NONE}")
    _tolerations(w, 0, _list(spec.get("tolerations")))
    events_section(w, api, pod, now)
    return w.render()


def _pod_template(w: Writer, template: dict) -> None:
    meta, spec = _dict(template.get("metadata")), _dict(template.get("spec"))
    w.line(0, "Pod Template:")
    _labels(w, 1, "Labels", meta.get("labels"))
    if meta.get("annotations"):
        _annotations(w, 1, meta.get("annotations"))
    if spec.get("serviceAccountName"):
        w.line(1, f"Service Account:\t{spec['serviceAccountName']}")
    if spec.get("initContainers"):
        w.line(1, "Init Containers:")
        for c in spec["initContainers"]:
            _container(w, 2, c, None, True)
    w.line(1, "Containers:")
    for c in _list(spec.get("containers")):
        _container(w, 2, c, None, True)
    _volumes(w, 1, _list(spec.get("volumes")))
    selectors = _dict(spec.get("nodeSelector"))
    w.line(1, f"Node-Selectors:\t{','.join(f'{k}={v}' for k, v in sorted(selectors.items())) or NONE}")
    _tolerations(w, 1, _list(spec.get("tolerations")))


def describe_pod_template(template: dict) -> str:
    w = Writer()
    _pod_template(w, template)
    return w.render()


def _conditions_table(w: Writer, conditions: list) -> None:
    if not conditions:
        return
    w.line(0, "Conditions:")
    w.line(1, "Type\tStatus\tReason")
    w.line(1, "----\t------\t------")
    for c in conditions:
        w.line(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}")


def _common_head(w: Writer, obj: dict, namespaced: bool = True) -> None:
    meta = obj["metadata"]
    w.line(0, f"Name:\t{meta['name']}")
    if namespaced:
        w.line(0, f"Namespace:\t{meta.get('namespace', '')}")


def describe_deployment(api, d: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = d["metadata"], _dict(d.get("spec")), _dict(d.get("status"))
    _common_head(w, d)
    w.line(0, f"CreationTimestamp:\t{timestamp(meta.get('creationTimestamp'))}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, f"Selector:\t{selector_text(spec.get('selector'))}")
    w.line(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
              f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
              f"{status.get('unavailableReplicas', 0)} unavailable")
    strategy = _dict(spec.get("strategy"))
    w.line(0, f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}")
    w.line(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        ru = _dict(strategy.get("rollingUpdate"))
        w.line(0, f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', '25%')} max unavailable, "
                  f"{ru.get('maxSurge', '25%')} max surge")
    _pod_template(w, _dict(spec.get("template")))
    _conditions_table(w, _list(status.get("conditions")))
    rss = [rs for rs in api.list("ReplicaSet", meta.get("namespace"))["items"]
           if any(o.get("uid") == meta.get("uid") and o.get("controller")
                  for o in _list(rs["metadata"].get("ownerReferences")))]
    from engine.controllers import deployment_util as du

    new_rs = du.find_new_replica_set(d, rss)
    old = [rs for rs in rss if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
    old = [rs for rs in old if _dict(rs.get("spec")).get("replicas", 0) > 0 or _dict(rs.get("status")).get("replicas")]

    def rs_text(rs):
        return (f"{rs['metadata']['name']} ({_dict(rs.get('status')).get('replicas', 0)}/"
                f"{_dict(rs.get('spec')).get('replicas', 0)} replicas created)")

    w.line(0, f"OldReplicaSets:\t{', '.join(rs_text(rs) for rs in old) or NONE}")
    w.line(0, f"NewReplicaSet:\t{rs_text(new_rs) if new_rs else NONE}")
    events_section(w, api, d, now)
    return w.render()


def _pods_status(api, obj: dict) -> str:
    meta = obj["metadata"]
    pods = [p for p in api.list("Pod", meta.get("namespace"))["items"]
            if any(o.get("uid") == meta.get("uid") and o.get("controller")
                   for o in _list(p["metadata"].get("ownerReferences")))]
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        phase = _dict(p.get("status")).get("phase", "Pending")
        if phase in counts:
            counts[phase] += 1
    return (f"{counts['Running']} Running / {counts['Pending']} Waiting / {counts['Succeeded']} Succeeded / "
            f"{counts['Failed']} Failed")


def describe_replicaset(api, rs: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = rs["metadata"], _dict(rs.get("spec")), _dict(rs.get("status"))
    _common_head(w, rs)
    w.line(0, f"Selector:\t{selector_text(spec.get('selector'))}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    owner = next((o for o in _list(meta.get("ownerReferences")) if o.get("controller")), None)
    if owner:
        w.line(0, f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}")
    w.line(0, f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 0)} desired")
    w.line(0, f"Pods Status:\t{_pods_status(api, rs)}")
    _pod_template(w, _dict(spec.get("template")))
    _conditions_table(w, _list(status.get("conditions")))
    events_section(w, api, rs, now)
    return w.render()


def describe_service(api, svc: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = svc["metadata"], _dict(svc.get("spec")), _dict(svc.get("status"))
    _common_head(w, svc)
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    sel = _dict(spec.get("selector"))
    w.line(0, f"Selector:\t{','.join(f'{k}={v}' for k, v in sorted(sel.items())) or NONE}")
    w.line(0, f"Type:\t{spec.get('type', 'ClusterIP')}")
    w.line(0, f"IP Family Policy:\t{spec.get('ipFamilyPolicy', 'SingleStack')}")
    w.line(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or ['IPv4'])}")
    w.line(0, f"IP:\t{spec.get('clusterIP', '')}")
    w.line(0, f"IPs:\t{','.join(spec.get('clusterIPs') or [spec.get('clusterIP', '')])}")
    if spec.get("externalIPs"):
        w.line(0, f"External IPs:\t{','.join(spec['externalIPs'])}")
    ingress = _list(_dict(status.get("loadBalancer")).get("ingress"))
    if ingress:
        w.line(0, f"LoadBalancer Ingress:\t{', '.join(i.get('ip') or i.get('hostname', '') for i in ingress)}")
    if spec.get("type") == "ExternalName":
        w.line(0, f"External Name:\t{spec.get('externalName', '')}")
    slices = api.list("EndpointSlice", meta.get("namespace"),
                      label_selector=f"kubernetes.io/service-name={meta['name']}")["items"]
    for p in _list(spec.get("ports")):
        name = p.get("name") or "<unset>"
        w.line(0, f"Port:\t{name}\t{p.get('port')}/{p.get('protocol', 'TCP')}")
        target = p.get("targetPort", p.get("port"))
        w.line(0, f"TargetPort:\t{target}/{p.get('protocol', 'TCP')}")
        if p.get("nodePort"):
            w.line(0, f"NodePort:\t{name}\t{p['nodePort']}/{p.get('protocol', 'TCP')}")
        addrs = []
        for eps in slices:
            for port in _list(eps.get("ports")):
                if (port.get("name") or "") != (p.get("name") or ""):
                    continue
                for ep in _list(eps.get("endpoints")):
                    if _dict(ep.get("conditions")).get("ready", True) is False:
                        continue
                    addrs.extend(f"{a}:{port.get('port')}" for a in _list(ep.get("addresses")))
        shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
        w.line(0, f"Endpoints:\t{shown or NONE}")
    w.line(0, f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}")
    if spec.get("externalTrafficPolicy"):
        w.line(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}")
    w.line(0, f"Internal Traffic Policy:\t{spec.get('internalTrafficPolicy', 'Cluster')}")
    events_section(w, api, svc, now)
    return w.render()


def describe_node(api, node: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = node["metadata"], _dict(node.get("spec")), _dict(node.get("status"))
    labels = _dict(meta.get("labels"))
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    w.line(0, f"Name:\t{meta['name']}")
    w.line(0, f"Roles:\t{','.join(roles) or NONE}")
    _labels(w, 0, "Labels", labels)
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, f"CreationTimestamp:\t{timestamp(meta.get('creationTimestamp'))}")
    taints = _list(spec.get("taints"))
    if taints:
        for i, t in enumerate(taints):
            text = t.get("key", "") + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}"
            w.line(0, ("Taints:\t" if i == 0 else "\t") + text)
    else:
        w.line(0, f"Taints:\t{NONE}")
    w.line(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}")
    try:
        lease = api.get("Lease", "kube-node-lease", meta["name"])
    except Exception:  # noqa: BLE001
        lease = None
    w.line(0, "Lease:")
    lspec = _dict(_dict(lease).get("spec"))
    w.line(1, f"HolderIdentity:\t{lspec.get('holderIdentity', '<unset>')}")
    w.line(1, f"AcquireTime:\t{timestamp(lspec.get('acquireTime'))}")
    w.line(1, f"RenewTime:\t{timestamp(lspec.get('renewTime'))}")
    w.line(0, "Conditions:")
    w.line(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
    w.line(1, "----\t------\t-----------------\t------------------\t------\t-------")
    for c in _list(status.get("conditions")):
        w.line(1, f"{c.get('type')} \t{c.get('status')} \t{timestamp(c.get('lastHeartbeatTime'))} \t"
                  f"{timestamp(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}")
    w.line(0, "Addresses:")
    for a in _list(status.get("addresses")):
        w.line(1, f"{a.get('type')}:\t{a.get('address')}")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        w.line(0, f"{title}:")
        for name, value in sorted(_dict(status.get(key)).items()):
            w.line(1, f"{name}:\t{value}")
    info = _dict(status.get("nodeInfo"))
    w.line(0, "System Info:")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"), ("Kubelet Version", "kubeletVersion"),
                       ("Kube-Proxy Version", "kubeProxyVersion")):
        w.line(1, f"{title}:\t{info.get(key, '')}")
    if spec.get("podCIDR"):
        w.line(0, f"PodCIDR:\t{spec['podCIDR']}")
        w.line(0, f"PodCIDRs:\t{','.join(spec.get('podCIDRs') or [spec['podCIDR']])}")
    if spec.get("providerID"):
        w.line(0, f"ProviderID:\t{spec['providerID']}")
    pods = [p for p in api.list("Pod", None, field_selector=f"spec.nodeName={meta['name']}")["items"]
            if _dict(p.get("status")).get("phase") not in ("Succeeded", "Failed")]
    alloc = _dict(status.get("allocatable"))
    from engine.resources.quantity import parse_quantity

    def total(pod, kind, res):
        s = 0
        for c in _list(_dict(pod.get("spec")).get("containers")):
            v = _dict(_dict(c.get("resources")).get(kind)).get(res)
            if v is not None:
                s += float(parse_quantity(str(v)))
        return s

    def pct(value, res):
        cap = float(parse_quantity(str(alloc.get(res, "0")))) if alloc.get(res) else 0
        return int(value * 100 / cap) if cap else 0

    def fmt(value, res):
        if res == "cpu":
            return f"{int(round(value * 1000))}m" if value else "0"
        if not value:
            return "0"
        if value % (1024 * 1024) == 0:
            return f"{int(value / 1024 / 1024)}Mi"
        return str(int(value))

    w.line(0, f"Non-terminated Pods:\t({len(pods)} in total)")
    w.line(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
    w.line(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---")
    sums = {("requests", "cpu"): 0.0, ("limits", "cpu"): 0.0, ("requests", "memory"): 0.0, ("limits", "memory"): 0.0}
    for p in sorted(pods, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])):
        cells = []
        for kind, res in (("requests", "cpu"), ("limits", "cpu"), ("requests", "memory"), ("limits", "memory")):
            v = total(p, kind, res)
            sums[(kind, res)] += v
            cells.append(f"{fmt(v, res)} ({pct(v, res)}%)")
        age = human_duration(now - (parse_rfc3339(p["metadata"].get("creationTimestamp")) or now))
        w.line(1, f"{p['metadata']['namespace']}\t{p['metadata']['name']}\t\t" + "\t".join(cells) + f"\t{age}")
    w.line(0, "Allocated resources:")
    w.line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
    w.line(1, "Resource\tRequests\tLimits")
    w.line(1, "--------\t--------\t------")
    for res in ("cpu", "memory"):
        r, lim = sums[("requests", res)], sums[("limits", res)]
        w.line(1, f"{res}\t{fmt(r, res)} ({pct(r, res)}%)\t{fmt(lim, res)} ({pct(lim, res)}%)")
    for res in ("ephemeral-storage", "hugepages-1Gi", "hugepages-2Mi"):
        w.line(1, f"{res}\t0 (0%)\t0 (0%)")
    events_section(w, api, node, now)
    return w.render()


def describe_namespace(api, ns: dict, now: float) -> str:
    w = Writer()
    meta = ns["metadata"]
    w.line(0, f"Name:\t{meta['name']}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, f"Status:\t{_dict(ns.get('status')).get('phase', 'Active')}")
    w.line(0, "")
    quotas = api.list("ResourceQuota", meta["name"])["items"]
    w.line(0, "No resource quota." if not quotas else "Resource Quotas")
    w.line(0, "")
    limits = api.list("LimitRange", meta["name"])["items"]
    w.line(0, "No LimitRange resource." if not limits else "Resource Limits")
    return w.render()


def describe_configmap(api, cm: dict, now: float) -> str:
    w = Writer()
    meta = cm["metadata"]
    _common_head(w, cm)
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, "")
    w.line(0, "Data")
    w.line(0, "====")
    for key in sorted(_dict(cm.get("data"))):
        w.line(0, f"{key}:")
        w.line(0, "----")
        w.lines.extend(str(cm["data"][key]).rstrip("\n").split("\n"))
        w.line(0, "")
    w.line(0, "")
    w.line(0, "BinaryData")
    w.line(0, "====")
    for key in sorted(_dict(cm.get("binaryData"))):
        w.line(0, f"{key}: {len(base64.b64decode(cm['binaryData'][key]))} bytes")
    w.line(0, "")
    events_section(w, api, cm, now)
    return w.render()


def describe_secret(api, secret: dict, now: float) -> str:
    w = Writer()
    meta = secret["metadata"]
    _common_head(w, secret)
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, "")
    w.line(0, f"Type:\t{secret.get('type', 'Opaque')}")
    w.line(0, "")
    w.line(0, "Data")
    w.line(0, "====")
    for key in sorted(_dict(secret.get("data"))):
        try:
            size = len(base64.b64decode(secret["data"][key]))
        except (ValueError, TypeError):
            size = 0
        w.line(0, f"{key}:\t{size} bytes")
    return w.render()


def describe_endpoints(api, ep: dict, now: float) -> str:
    w = Writer()
    meta = ep["metadata"]
    _common_head(w, ep)
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, "Subsets:")
    for subset in _list(ep.get("subsets")):
        w.line(1, f"Addresses:\t{','.join(a.get('ip', '') for a in _list(subset.get('addresses'))) or NONE}")
        w.line(1, f"NotReadyAddresses:\t"
                  f"{','.join(a.get('ip', '') for a in _list(subset.get('notReadyAddresses'))) or NONE}")
        w.line(1, "Ports:")
        w.line(2, "Name\tPort\tProtocol")
        w.line(2, "----\t----\t--------")
        for p in _list(subset.get("ports")):
            w.line(2, f"{p.get('name') or '<unset>'}\t{p.get('port')}\t{p.get('protocol', 'TCP')}")
        w.line(0, "")
    events_section(w, api, ep, now)
    return w.render()


def describe_job(api, job: dict, now: float) -> str:
    w = Writer()
    meta, spec, status = job["metadata"], _dict(job.get("spec")), _dict(job.get("status"))
    _common_head(w, job)
    w.line(0, f"Selector:\t{selector_text(spec.get('selector'))}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    owner = next((o for o in _list(meta.get("ownerReferences")) if o.get("controller")), None)
    if owner:
        w.line(0, f"Controlled By:\t{owner.get('kind')}/{owner.get('name')}")
    w.line(0, f"Parallelism:\t{spec.get('parallelism', 1)}")
    w.line(0, f"Completions:\t{spec.get('completions', '<unset>')}")
    w.line(0, f"Completion Mode:\t{spec.get('completionMode', 'NonIndexed')}")
    w.line(0, f"Suspend:\t{'true' if spec.get('suspend') else 'false'}")
    w.line(0, f"Backoff Limit:\t{spec.get('backoffLimit', 6)}")
    if status.get("startTime"):
        w.line(0, f"Start Time:\t{timestamp(status['startTime'])}")
    if status.get("completionTime"):
        w.line(0, f"Completed At:\t{timestamp(status['completionTime'])}")
        start = parse_rfc3339(status.get("startTime")) or 0
        w.line(0, f"Duration:\t{human_duration((parse_rfc3339(status['completionTime']) or 0) - start)}")
    w.line(0, f"Pods Statuses:\t{status.get('active', 0)} Active ({status.get('ready', 0)} Ready) / "
              f"{status.get('succeeded', 0)} Succeeded / {status.get('failed', 0)} Failed")
    _pod_template(w, _dict(spec.get("template")))
    events_section(w, api, job, now)
    return w.render()


def describe_generic(api, obj: dict, now: float, namespaced: bool) -> str:
    """Kinds without their own describer: metadata, then the spec and status as indented fields."""
    w = Writer()
    meta = obj["metadata"]
    _common_head(w, obj, namespaced)
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, f"API Version:\t{obj.get('apiVersion', '')}")
    w.line(0, f"Kind:\t{obj.get('kind', '')}")
    for section in ("spec", "status", "data", "rules", "subjects", "roleRef", "provisioner", "parameters",
                    "reclaimPolicy", "volumeBindingMode", "type"):
        if section in obj and section not in ("metadata",):
            _fields(w, 0, section[:1].upper() + section[1:], obj[section])
    events_section(w, api, obj, now)
    return w.render()


def _fields(w: Writer, level: int, title: str, value) -> None:
    if isinstance(value, dict):
        if not value:
            return
        w.line(level, f"{title}:")
        for key in sorted(value):
            _fields(w, level + 1, _title(key), value[key])
    elif isinstance(value, list):
        if not value:
            return
        w.line(level, f"{title}:")
        for item in value:
            if isinstance(item, dict):
                first = True
                for key in sorted(item):
                    sub = item[key]
                    if isinstance(sub, (dict, list)):
                        _fields(w, level + 1, _title(key), sub)
                    else:
                        w.line(level + 1 if first else level + 1, f"{_title(key)}:\t{_scalar(sub)}")
                    first = False
            else:
                w.line(level + 1, _scalar(item))
    else:
        w.line(level, f"{title}:\t{_scalar(value)}")


def _title(key: str) -> str:
    out = []
    for i, ch in enumerate(key):
        if ch.isupper() and i and not key[i - 1].isupper():
            out.append(" ")
        out.append(ch)
    text = "".join(out)
    return text[:1].upper() + text[1:]


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _go_list(values) -> str:
    """Go's %v of a []string: `[get list watch]`."""
    return "[" + " ".join(str(v) for v in _list(values)) + "]"


def _breakdown(rule: dict) -> list[dict]:
    """rbac.BreakdownRule: one rule per (group, resource[, resourceName]), one per non-resource URL."""
    verbs = _list(rule.get("verbs"))
    names = _list(rule.get("resourceNames"))
    out = []
    for group in _list(rule.get("apiGroups")):
        for resource in _list(rule.get("resources")):
            if names:
                out += [{"apiGroups": [group], "resources": [resource], "verbs": list(verbs), "resourceNames": [n]}
                        for n in names]
            else:
                out.append({"apiGroups": [group], "resources": [resource], "verbs": list(verbs)})
    out += [{"nonResourceURLs": [url], "verbs": list(verbs)} for url in _list(rule.get("nonResourceURLs"))]
    return out


def _rule_sort_key(rule: dict) -> str:
    """PolicyRule.String() (the generated one), which rbac.SortableRuleSlice sorts by."""
    fields = (("Verbs", "verbs"), ("APIGroups", "apiGroups"), ("Resources", "resources"),
              ("ResourceNames", "resourceNames"), ("NonResourceURLs", "nonResourceURLs"))
    return "&PolicyRule{" + "".join(f"{go}:{_go_list(rule.get(field))}," for go, field in fields) + "}"


def _compact_rules(rules: list) -> list[dict]:
    """BreakdownRule then CompactRules (verbs of the same simple resource merged), sorted as kubectl sorts."""
    compacted: list[dict] = []
    simple: dict[tuple, dict] = {}
    for rule in (sub for r in rules if isinstance(r, dict) for sub in _breakdown(r)):
        if "resources" in rule:
            key = (rule["apiGroups"][0], rule["resources"][0], tuple(rule.get("resourceNames", ())))
            if key in simple:
                simple[key]["verbs"] = simple[key]["verbs"] + rule["verbs"]
            else:
                simple[key] = rule
        else:
            compacted.append(rule)
    return sorted(compacted + list(simple.values()), key=_rule_sort_key)


def _resource_group(rule: dict) -> str:
    """CombineResourceGroup: `deployments.apps/scale`."""
    resources = _list(rule.get("resources"))
    if not resources:
        return ""
    resource, _, sub = str(resources[0]).partition("/")
    group = (_list(rule.get("apiGroups")) or [""])[0]
    return resource + (f".{group}" if group else "") + (f"/{sub}" if sub else "")


def describe_role(api, role: dict, now: float) -> str:
    """RoleDescriber / ClusterRoleDescriber."""
    w = Writer()
    meta = role["metadata"]
    w.line(0, f"Name:\t{meta.get('name', '')}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, "PolicyRule:")
    w.line(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
    w.line(1, "---------\t-----------------\t--------------\t-----")
    for rule in _compact_rules(_list(role.get("rules"))):
        w.line(1, f"{_resource_group(rule)}\t{_go_list(rule.get('nonResourceURLs'))}\t"
                  f"{_go_list(rule.get('resourceNames'))}\t{_go_list(rule.get('verbs'))}")
    return w.render()


def describe_role_binding(api, binding: dict, now: float) -> str:
    """RoleBindingDescriber / ClusterRoleBindingDescriber."""
    w = Writer()
    meta = binding["metadata"]
    role_ref = _dict(binding.get("roleRef"))
    w.line(0, f"Name:\t{meta.get('name', '')}")
    _labels(w, 0, "Labels", meta.get("labels"))
    _annotations(w, 0, meta.get("annotations"))
    w.line(0, "Role:")
    w.line(1, f"Kind:\t{role_ref.get('kind', '')}")
    w.line(1, f"Name:\t{role_ref.get('name', '')}")
    w.line(0, "Subjects:")
    w.line(1, "Kind\tName\tNamespace")
    w.line(1, "----\t----\t---------")
    for subject in _list(binding.get("subjects")):
        subject = _dict(subject)
        w.line(1, f"{subject.get('kind', '')}\t{subject.get('name', '')}\t{subject.get('namespace', '')}")
    return w.render()


DESCRIBERS = {
    "Pod": describe_pod,
    "Deployment": describe_deployment,
    "ReplicaSet": describe_replicaset,
    "Service": describe_service,
    "Node": describe_node,
    "Namespace": describe_namespace,
    "ConfigMap": describe_configmap,
    "Secret": describe_secret,
    "Endpoints": describe_endpoints,
    "Job": describe_job,
    "Role": describe_role,
    "ClusterRole": describe_role,
    "RoleBinding": describe_role_binding,
    "ClusterRoleBinding": describe_role_binding,
}


def describe(api, info, obj: dict, now: float) -> str:
    fn = DESCRIBERS.get(info.kind)
    if fn is None and info.kind == "HorizontalPodAutoscaler":
        from engine.kubectl.describe_hpa import describe_hpa  # a module of its own (it imports this one)

        fn = describe_hpa
    if fn is None:
        return describe_generic(api, obj, now, info.namespaced)
    return fn(api, obj, now)
