from django.urls import path
from django.views.i18n import set_language

from frontend import views

app_name = "frontend"

C = "clusters/<str:name>/"

urlpatterns = [
    path("", views.index, name="index"),
    path("i18n/setlang/", set_language, name="set-language"),
    path(C, views.cluster_map, name="cluster-map"),
    path(C + "clock", views.cluster_control, name="cluster-control"),
    path(C + "nodes", views.cluster_nodes, name="cluster-nodes"),
    path(C + "nodes/<str:node>/<str:action>", views.cluster_node_action, name="cluster-node-action"),
    path(C + "tree", views.cluster_tree, name="cluster-tree"),
    path(C + "events", views.cluster_events, name="cluster-events"),
    path(C + "object", views.cluster_object, name="cluster-object"),
    path(C + "object/delete", views.cluster_object_delete, name="cluster-object-delete"),
    path(C + "manifests/<str:mode>", views.cluster_manifests, name="cluster-manifests"),
    path(C + "traffic", views.cluster_traffic, name="cluster-traffic"),
]
