"""The plain-HTTP side of exec, attach and port-forward.

kubectl first asks for a WebSocket (cluster.api.routing); when that handshake is refused it retries with
an SPDY upgrade over POST, which arrives here. SPDY itself is not served, so this view's job is to give
the refusal the real apiserver gives (a Status, or the kubelet's plain-text answer), which kubectl then
prints exactly as it prints the real one. A request that would have been accepted gets the 400 the
apiserver gives a client that does not upgrade.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from django.http import HttpResponse

from cluster.api.routing import open_remote, stream_params
from engine import errors


def refusal(request, req) -> HttpResponse:
    from engine.kubectl.remote import NotRunning

    if req.info.kind != "Pod":
        raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                       "resource")
    sub = req.subresource
    try:
        if sub == "portforward":
            pod = req.target.api().get("Pod", req.namespace, req.name)
            if not (pod.get("spec") or {}).get("nodeName"):
                raise errors.bad_request(f"pod {req.name} does not have a host assigned")
        else:
            params = stream_params(parse_qs(request.META.get("QUERY_STRING", "")))
            open_remote(req.target.cluster.access_key, req.namespace, req.name, sub, params)
    except NotRunning as exc:
        return HttpResponse(str(exc).encode(), status=404, content_type="text/plain; charset=utf-8")
    raise errors.bad_request("Upgrade request required")
