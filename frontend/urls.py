from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.index, name="index"),
    path("clusters/<str:name>/", views.cluster_map, name="cluster-map"),
    path("clusters/<str:name>/clock", views.cluster_control, name="cluster-control"),
]
