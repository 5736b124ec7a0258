"""kube-apiserver semantics without HTTP: what kubectl and the controllers rely on."""

import pytest

from engine import errors
from engine.apiserver import ApiServer, RequestContext
from engine.clock import VirtualClock
from engine.store import MemoryStore


@pytest.fixture
def api():
    clock = VirtualClock()
    server = ApiServer(MemoryStore(now=clock.now), clock.now)
    for ns in ("default", "kube-system"):
        server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    server.clock = clock
    return server


def pod(name="nginx", **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}], **spec}}


def test_create_defaults_namespace_and_resets_status(api):
    body = pod()
    body["status"] = {"phase": "Running"}
    created = api.create(body)
    assert created["metadata"]["namespace"] == "default"
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert created["spec"]["restartPolicy"] == "Always"


def test_generate_name_uses_kubernetes_suffix_alphabet(api):
    body = pod()
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "web-"
    name = api.create(body)["metadata"]["name"]
    assert name.startswith("web-") and len(name) == len("web-") + 5
    assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_namespace_in_body_must_match_the_request(api):
    body = pod()
    body["metadata"]["namespace"] = "kube-system"
    with pytest.raises(errors.ApiError) as exc:
        api.create(body, namespace="default")
    assert exc.value.code == 400
    assert "does not match the namespace sent on the request" in exc.value.message


def test_create_in_missing_namespace_is_not_found(api):
    with pytest.raises(errors.ApiError) as exc:
        api.create(pod(), namespace="nope")
    assert (exc.value.code, exc.value.message) == (404, 'namespaces "nope" not found')
    assert api.list("Pod")["items"] == []


def test_main_resource_update_ignores_status_and_status_update_ignores_spec(api):
    created = api.create(pod())
    changed = {**created, "status": {"phase": "Running"}}
    assert api.update(changed)["status"]["phase"] == "Pending"
    status = {**created, "status": {**created["status"], "phase": "Running"}}
    status["spec"] = {**created["spec"], "activeDeadlineSeconds": 5}
    status["metadata"] = {**created["metadata"]}
    status["metadata"].pop("resourceVersion")
    after = api.update(status, subresource="status")
    assert after["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in after["spec"]


def test_deleting_a_running_pod_is_graceful(api):
    api.create(pod())
    api.bind("default", "nginx", "node-1")
    result = api.delete("Pod", "default", "nginx")
    assert not result.finished
    meta = api.get("Pod", "default", "nginx")["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30
    assert meta["deletionTimestamp"]
    assert api.delete("Pod", "default", "nginx", grace_period_seconds=0).finished
    with pytest.raises(errors.ApiError) as exc:
        api.get("Pod", "default", "nginx")
    assert exc.value.message == 'pods "nginx" not found'


def test_deleting_an_unscheduled_pod_is_immediate(api):
    api.create(pod())
    assert api.delete("Pod", "default", "nginx").finished


def test_foreground_deletion_holds_the_owner_with_a_finalizer(api):
    api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}})
    result = api.delete("ConfigMap", "default", "cm", propagation_policy="Foreground")
    assert not result.finished
    assert result.object["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_bind_twice_is_a_conflict(api):
    api.create(pod())
    api.bind("default", "nginx", "node-1")
    with pytest.raises(errors.ApiError) as exc:
        api.bind("default", "nginx", "node-2")
    assert exc.value.code == 409


def service(name="web", **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}], **spec}}


def test_services_get_distinct_cluster_ips_and_kubernetes_gets_the_first(api):
    first = api.create(service("kubernetes"))
    second = api.create(service("web"))
    assert first["spec"]["clusterIP"] == "10.96.0.1"
    assert second["spec"]["clusterIP"] != first["spec"]["clusterIP"]
    assert second["spec"]["clusterIPs"] == [second["spec"]["clusterIP"]]


def test_node_port_outside_the_range_is_refused_with_kubernetes_message(api):
    body = service(type="NodePort", ports=[{"port": 80, "nodePort": 80}])
    with pytest.raises(errors.ApiError) as exc:
        api.create(body)
    assert exc.value.code == 422
    assert exc.value.message == ('Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 80: '
                                 'provided port is not in the valid range. The range of valid ports is 30000-32767')
    assert api.list("Service")["items"] == []


def test_duplicate_node_port_is_refused(api):
    api.create(service("a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    with pytest.raises(errors.ApiError) as exc:
        api.create(service("b", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert "provided port is already allocated" in exc.value.message


def test_watch_resumes_from_a_revision_and_filters_by_label(api):
    start = int(api.list("Pod")["metadata"]["resourceVersion"])
    labelled = pod("a")
    labelled["metadata"]["labels"] = {"app": "web"}
    api.create(labelled)
    api.create(pod("b"))
    events, last = api.watch("Pod", "default", start, label_selector="app=web")
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "a")]
    assert last > start


def test_list_pages_with_limit_and_continue(api):
    for n in range(5):
        api.create(pod(f"p{n}"))
    page = api.list("Pod", "default", limit=2)
    assert [p["metadata"]["name"] for p in page["items"]] == ["p0", "p1"]
    assert page["metadata"]["remainingItemCount"] == 3
    rest = api.list("Pod", "default", limit=10, continue_token=page["metadata"]["continue"])
    assert [p["metadata"]["name"] for p in rest["items"]] == ["p2", "p3", "p4"]


def test_dry_run_stores_nothing(api):
    api.create(pod(), ctx=RequestContext(dry_run=True))
    assert api.list("Pod")["items"] == []


def test_patch_merges_labels(api):
    api.create(pod())
    patched = api.patch("Pod", "default", "nginx", {"metadata": {"labels": {"tier": "web"}}},
                        "application/merge-patch+json")
    assert patched["metadata"]["labels"] == {"tier": "web"}


def test_deleting_a_namespace_marks_it_terminating_and_refuses_new_content(api):
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    api.delete("Namespace", "", "team")
    ns = api.get("Namespace", "", "team")
    assert ns["status"]["phase"] == "Terminating"
    with pytest.raises(errors.ApiError) as exc:
        api.create(pod(), namespace="team")
    assert exc.value.code == 403
    assert exc.value.message == ('pods "nginx" is forbidden: unable to create new content in namespace team '
                                 'because it is being terminated')
    api.finalize_namespace("team")
    with pytest.raises(errors.ApiError):
        api.get("Namespace", "", "team")


def test_system_namespaces_cannot_be_deleted(api):
    with pytest.raises(errors.ApiError) as exc:
        api.delete("Namespace", "", "default")
    assert exc.value.code == 403
