"""The `scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.

`kubectl scale deploy web --replicas=3` GETs the object, then PATCHes
`.../deployments/web/scale` with a merge patch `{"spec":{"replicas":3}}`.
"""

from __future__ import annotations

from engine import errors
from engine.apiserver import patch as patching
from engine.store import copy_json

SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")


def selector_string(obj: dict) -> str:
    """The workload's selector as a label selector string (Scale.status.selector)."""
    selector = (obj.get("spec") or {}).get("selector") or {}
    if obj.get("kind") == "ReplicationController":
        return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), sorted(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    out_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_meta,
        "spec": {"replicas": int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)},
        "status": {"replicas": int(status.get("replicas") or 0), "selector": selector_string(obj)},
    }


def _replicas(scale: dict, name: str) -> int:
    replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale.get("spec"), dict) else None
    if isinstance(replicas, float) and replicas.is_integer():
        replicas = int(replicas)
    if replicas is None:
        replicas = 0
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        kinds = {str: "string", list: "array", dict: "object", bool: "bool", float: "number"}
        kind = kinds.get(type(replicas), "value")
        raise errors.bad_request(f"Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal "
                                 f"{kind} into Go struct field ScaleSpec.spec.replicas of type int32")
    if replicas < 0:
        raise errors.invalid("Scale.autoscaling", name, [errors.invalid_value(
            "spec.replicas", replicas, "must be greater than or equal to 0")], "autoscaling")
    return replicas


def handle(request, req):
    from cluster.api import resources
    from cluster.api.common import decode_body, read_body

    info = req.info
    if info.kind not in SCALABLE:
        raise resources.not_found_resource()
    api = req.target.api()
    method = request.method
    if method in ("GET", "HEAD"):
        return resources.json_response(scale_of(api.get(info.kind, req.namespace, req.name)))
    ctx = resources.context(request)
    with api.store.atomic():
        current = api.get(info.kind, req.namespace, req.name)
        if method == "PUT":
            body = decode_body(read_body(request), request.headers.get("Content-Type", ""))
            body = resources.check_object(body, info, "Scale", "autoscaling/v1")
            if (body.get("metadata") or {}).get("name") not in (None, req.name):
                raise errors.bad_request(f"the name of the object ({body['metadata']['name']}) does not match the "
                                         f"name on the URL ({req.name})")
            wanted = body
        elif method == "PATCH":
            patch_type, body = resources.read_patch(request)
            if patch_type == patching.APPLY:
                patch_type = patching.MERGE
            wanted = patching.apply_patch(scale_of(current), copy_json(body), patch_type)
            if not isinstance(wanted, dict):
                raise errors.bad_request("the patch did not produce a Scale")
        else:
            raise resources.method_not_allowed()
        replicas = _replicas(wanted, req.name)
        rv = (wanted.get("metadata") or {}).get("resourceVersion") if isinstance(wanted.get("metadata"), dict) else None
        updated = copy_json(current)
        updated.setdefault("spec", {})["replicas"] = replicas
        if rv and method == "PUT":
            updated["metadata"]["resourceVersion"] = str(rv)
        updated = api.update(updated, namespace=req.namespace or None, ctx=ctx)
    return resources.json_response(scale_of(updated))
