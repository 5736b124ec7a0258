"""The ASGI application: HTTP (Django), WebSockets (the map, the API's watches), and the worker's channel.

- http: Django, with our static files served in-process (the one-process product needs no web server).
- websocket: the frontend's routes plus `cluster.api.routing.websocket_urlpatterns` when that module
  exists, behind the Origin check (AllowedHostsOriginValidator) and sessions/auth (AuthMiddlewareStack);
  the API's own streams under /k8s/ (exec, attach, port-forward) go straight to their routes.
- channel: `kubedojo.simulation`, the channel `manage.py runworker kubedojo.simulation` listens on.

Every connection first binds the change feed (cluster.changefeed) to the server's event loop, so writes
that requests commit in the server's threads can wake watch streams and the simulation at once.
"""

import importlib
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cluster.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django is set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from cluster.changefeed import FEED  # noqa: E402
from cluster.runtime import SIMULATION_CHANNEL  # noqa: E402
from frontend import routing as frontend_routing  # noqa: E402
from frontend.consumers import SimulationChannelConsumer  # noqa: E402


def optional_patterns(module: str) -> list:
    """`websocket_urlpatterns` of `module`, or none while the module does not exist yet."""
    try:
        return list(importlib.import_module(module).websocket_urlpatterns)
    except ModuleNotFoundError as exc:
        if exc.name in (module, module.rpartition(".")[0]):
            return []
        raise


websocket_urlpatterns = (frontend_routing.websocket_urlpatterns + optional_patterns("cluster.api.routing")
                         + optional_patterns("workshops.routing"))

http_app = ASGIStaticFilesHandler(django_asgi_app) if getattr(settings, "KUBEDOJO_SERVE_STATIC", True) else django_asgi_app

browser_websockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
api_websockets = URLRouter(optional_patterns("cluster.api.routing"))


async def websockets(scope, receive, send):
    """The Kubernetes API's streams (kubectl exec, attach, port-forward) are admitted by the path key or the
    bearer token, not by cookies, and kubectl sends no Origin header: they skip the browsers' Origin check."""
    app = api_websockets if scope.get("path", "").startswith("/k8s/") else browser_websockets
    return await app(scope, receive, send)


router = ProtocolTypeRouter({
    "http": http_app,
    "websocket": websockets,
    "channel": ChannelNameRouter({SIMULATION_CHANNEL: SimulationChannelConsumer.as_asgi()}),
})


async def application(scope, receive, send):
    FEED.bind()  # cheap after the first time: the loop is the same for the life of the server
    return await router(scope, receive, send)
