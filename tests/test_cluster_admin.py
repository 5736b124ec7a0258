"""The admin pages for clusters, objects, changes and leases (served by this module's own URLconf,
so they do not depend on the project's URLs)."""

import pytest
from django.contrib import admin
from django.urls import path, reverse

from cluster.models import Change, Cluster, SimulationLease, StoredObject
from cluster.store import DjangoStore
from tests.store_contract import DEFAULT_NAMESPACE, node, pod

urlpatterns = [path("admin/", admin.site.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def store():
    store = DjangoStore(Cluster.objects.create(name="demo"))
    store.create(DEFAULT_NAMESPACE)
    store.create(node("n1"))
    store.create(pod("web", labels={"app": "<web>"}))
    return store


def row(kind: str, name: str) -> StoredObject:
    return StoredObject.objects.get(kind=kind, name=name)


def test_changelists_render(admin_client, store):
    SimulationLease.acquire(store.cluster_row, "worker-1")
    for model in ("cluster", "storedobject", "change", "simulationlease"):
        response = admin_client.get(reverse(f"admin:cluster_{model}_changelist"))
        assert response.status_code == 200, model
    clusters = admin_client.get(reverse("admin:cluster_cluster_changelist"))
    counts = clusters.context["cl"].result_list[0]
    assert (counts.object_count, counts.pod_count, counts.node_count) == (3, 1, 1)
    filtered = admin_client.get(reverse("admin:cluster_storedobject_changelist"), {"kind": "Pod"})
    assert [str(o) for o in filtered.context["cl"].result_list] == ["pods/default/web"]


def test_an_object_is_shown_as_yaml_and_cannot_be_edited(admin_client, store):
    obj = row("Pod", "web")
    response = admin_client.get(reverse("admin:cluster_storedobject_change", args=[obj.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<pre" in page and "apiVersion: v1\nkind: Pod\nmetadata:" in page
    assert "app: &lt;web&gt;" in page
    assert admin_client.post(reverse("admin:cluster_storedobject_change", args=[obj.pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:cluster_storedobject_add")).status_code == 403
    change = Change.objects.get(name="web")
    assert admin_client.get(reverse("admin:cluster_change_change", args=[change.pk])).status_code == 200
    assert admin_client.get(reverse("admin:cluster_change_delete", args=[change.pk])).status_code == 403


def test_deleting_an_object_goes_through_the_apiserver(admin_client, store):
    obj = row("Pod", "web")
    response = admin_client.post(reverse("admin:cluster_storedobject_delete", args=[obj.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert store.get("Pod", "default", "web") is None
    assert store.changes_since(0)[-1].type == "DELETED"


def test_the_apiserver_may_refuse_a_deletion(admin_client, store):
    obj = row("Namespace", "default")
    response = admin_client.post(reverse("admin:cluster_storedobject_delete", args=[obj.pk]), {"post": "yes"},
                                 follow=True)
    assert store.get("Namespace", "", "default") is not None
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ['namespaces/default: namespaces "default" is forbidden: this namespace may not be deleted']


def test_reset_asks_then_empties_the_cluster(admin_client, store):
    url = reverse("admin:cluster_cluster_changelist")
    chosen = {"action": "reset_clusters", "_selected_action": [store.cluster_id]}
    asked = admin_client.post(url, chosen)
    assert asked.status_code == 200 and b"Yes, reset" in asked.content
    assert store.list()[0]
    done = admin_client.post(url, {**chosen, "confirmed": "yes"})
    assert done.status_code == 302
    assert store.list() == ([], 4)
