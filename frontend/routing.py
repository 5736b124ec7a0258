from django.urls import path

from frontend.consumers import ClusterMapConsumer

websocket_urlpatterns = [
    path("ws/clusters/<str:name>/", ClusterMapConsumer.as_asgi()),
]
