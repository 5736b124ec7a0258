"""The ApiServer seen through a kind's older served version (engine.resources.versions): objects go in and come
out in that version, and are stored in the registry's. The web terminal's `kubectl apply|create|replace -f` of an
autoscaling/v1 HorizontalPodAutoscaler goes through it, as the real kubectl talks to the v1 endpoints."""

from __future__ import annotations

from engine import errors
from engine.apiserver import patch as patching
from engine.apiserver.server import ApiServer, RequestContext
from engine.resources import schema, versions
from engine.resources.registry import KindInfo
from engine.store import copy_json


class VersionedApi:
    def __init__(self, api: ApiServer, info: KindInfo):
        self.api, self.info = api, info

    def __getattr__(self, name):
        return getattr(self.api, name)

    def _in(self, obj: dict, ctx: RequestContext) -> dict:
        ctx.warnings.extend(schema.check(obj, self.info, ctx.field_validation))
        return versions.to_storage(self.info, obj)

    def _out(self, obj: dict) -> dict:
        return versions.from_storage(self.info, obj)

    def get(self, kind: str, namespace: str, name: str) -> dict:
        return self._out(self.api.get(kind, namespace, name))

    def create(self, obj: dict, namespace: str | None = None, ctx: RequestContext | None = None) -> dict:
        ctx = ctx or RequestContext()
        return self._out(self.api.create(self._in(obj, ctx), namespace, ctx=ctx))

    def update(self, obj: dict, namespace: str | None = None, subresource: str | None = None,
               ctx: RequestContext | None = None) -> dict:
        ctx = ctx or RequestContext()
        return self._out(self.api.update(self._in(obj, ctx), namespace, subresource, ctx))

    def patch(self, kind: str, namespace: str, name: str, body, patch_type: str, subresource: str | None = None,
              ctx: RequestContext | None = None) -> dict:
        """A patch in this version applies to the object as this version shows it."""
        return self._out(self.patch_stored(kind, namespace, name, body, patch_type, subresource, ctx))

    def patch_stored(self, kind: str, namespace: str, name: str, body, patch_type: str,
                     subresource: str | None = None, ctx: RequestContext | None = None) -> dict:
        """patch(), answering the object as stored."""
        ctx = ctx or RequestContext()
        current = self.get(kind, namespace, name)
        patched = patching.apply_patch(copy_json(current), body, patch_type)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        meta = patched.get("metadata")
        patched["metadata"] = meta = dict(meta) if isinstance(meta, dict) else {}
        patched["kind"], patched["apiVersion"] = self.info.kind, self.info.api_version
        meta["name"] = name
        if self.info.namespaced:
            meta["namespace"] = namespace
        if "resourceVersion" not in ((body.get("metadata") or {}) if isinstance(body, dict) else {}):
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.api.update(self._in(patched, ctx), namespace or None, subresource, ctx)


def api_for(api: ApiServer, info: KindInfo):
    """`api` itself for a kind in its stored version, else the view through `info`'s version."""
    return VersionedApi(api, info) if versions.is_converted(info) else api
