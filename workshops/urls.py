from django.urls import path

from workshops import views

app_name = "workshops"

W = "workshops/<int:pk>/"

urlpatterns = [
    path("join/", views.join, name="join"),
    path("join/<str:code>/", views.join, name="join-code"),
    path("w/<str:code>/", views.learner, name="learner"),
    path("w/<str:code>/progress", views.progress, name="progress"),
    path("w/<str:code>/kubeconfig", views.kubeconfig, name="kubeconfig"),
    path("workshops/", views.index, name="index"),
    path(W, views.dashboard, name="dashboard"),
    path(W + "dashboard.json", views.dashboard_json, name="dashboard-json"),
    path(W + "export.csv", views.export_csv, name="export"),
    path(W + "qr.svg", views.qr_svg, name="qr"),
    path(W + "seats/<int:seat>/", views.seat_view, name="seat"),
    path(W + "seats/<int:seat>/reset", views.seat_reset, name="seat-reset"),
    path(W + "<str:action>", views.act, name="act"),
]
