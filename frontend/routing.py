from django.urls import path

from frontend.consumers import ClusterMapConsumer
from frontend.terminal import TerminalConsumer

websocket_urlpatterns = [
    path("ws/clusters/<str:name>/", ClusterMapConsumer.as_asgi()),
    path("ws/clusters/<str:name>/terminal/", TerminalConsumer.as_asgi()),
]
