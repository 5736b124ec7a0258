"""The workshops' WebSocket routes (cluster.asgi adds them to the application's)."""

from django.urls import path

from workshops.consumers import DashboardConsumer, LearnerConsumer, SeatWatchConsumer

websocket_urlpatterns = [
    path("ws/w/<str:code>/", LearnerConsumer.as_asgi()),
    path("ws/workshops/<int:pk>/", DashboardConsumer.as_asgi()),
    path("ws/workshops/<int:pk>/seats/<int:seat>/", SeatWatchConsumer.as_asgi()),
]
