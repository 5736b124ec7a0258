"""The official `kubernetes` Python client (from PyPI) against a live server, through the kubeconfig that
`manage.py kubeconfig` writes: CRUD, list, watch and patch of the kinds the lessons use, and exec.

It shares the server of the kubectl tests and keeps to its own namespace.
"""

from __future__ import annotations

import pytest

kubernetes = pytest.importorskip("kubernetes")

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402
from kubernetes.stream import stream  # noqa: E402

pytestmark = pytest.mark.kubectl

NS = "pyclient"


@pytest.fixture(scope="module")
def api_client(kubectl):
    api = config.new_client_from_config(config_file=str(kubectl.kubeconfig))
    yield api
    api.close()


@pytest.fixture(scope="module")
def core(api_client):
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def apps(api_client):
    return client.AppsV1Api(api_client)


def test_namespaces(core):
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    assert created.metadata.name == NS and created.status.phase == "Active"
    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert {"default", "kube-system", NS} <= set(names)
    with pytest.raises(ApiException) as exc:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    assert exc.value.status == 409 and '"reason":"AlreadyExists"' in exc.value.body.replace(" ", "")


def test_pods_create_read_list_patch_delete(core):
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]))
    created = core.create_namespaced_pod(NS, pod)
    assert created.metadata.uid and created.spec.containers[0].image == "nginx"
    assert core.read_namespaced_pod("web", NS).metadata.name == "web"
    listed = core.list_namespaced_pod(NS, label_selector="app=web")
    assert [p.metadata.name for p in listed.items] == ["web"]
    assert any(p.metadata.name == "web" for p in core.list_pod_for_all_namespaces().items)
    patched = core.patch_namespaced_pod("web", NS, {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "front"}
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("nope", NS)
    assert exc.value.status == 404


def test_watch_sees_the_pod_start(core):
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_pod, NS, field_selector="metadata.name=web",
                                      timeout_seconds=60):
        pod = event["object"]
        seen.append((event["type"], pod.status.phase))
        if pod.status.phase == "Running":
            break
    assert seen[0][0] == "ADDED" and seen[-1][1] == "Running"


def test_exec_into_the_pod(core):
    out = stream(core.connect_get_namespaced_pod_exec, "web", NS, command=["cat", "/etc/hostname"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "web\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "web", NS, command=["sh", "-c", "echo oops >&2; exit 3"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=30)
    assert resp.returncode == 3
    deleted = core.delete_namespaced_pod("web", NS)
    assert deleted.metadata.deletion_timestamp is not None  # graceful: Terminating first


def test_services(core):
    svc = client.V1Service(metadata=client.V1ObjectMeta(name="web"),
                           spec=client.V1ServiceSpec(selector={"app": "web"},
                                                     ports=[client.V1ServicePort(port=80, target_port=80)]))
    created = core.create_namespaced_service(NS, svc)
    assert created.spec.cluster_ip and created.spec.type == "ClusterIP"
    assert [s.metadata.name for s in core.list_namespaced_service(NS).items] == ["web"]
    assert core.read_namespaced_service("web", NS).spec.ports[0].port == 80
    patched = core.patch_namespaced_service("web", NS, {"metadata": {"annotations": {"note": "hi"}}})
    assert patched.metadata.annotations["note"] == "hi"
    core.delete_namespaced_service("web", NS)
    assert core.list_namespaced_service(NS).items == []


def test_configmaps(core):
    core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"),
                                                             data={"mode": "fast"}))
    core.patch_namespaced_config_map("cfg", NS, {"data": {"mode": "slow"}})
    assert core.read_namespaced_config_map("cfg", NS).data == {"mode": "slow"}
    replaced = core.read_namespaced_config_map("cfg", NS)
    replaced.data["extra"] = "1"
    core.replace_namespaced_config_map("cfg", NS, replaced)
    assert core.read_namespaced_config_map("cfg", NS).data == {"mode": "slow", "extra": "1"}
    core.delete_namespaced_config_map("cfg", NS)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("cfg", NS)
    assert exc.value.status == 404


def test_deployments_create_scale_watch(apps, core):
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="hello"),
        spec=client.V1DeploymentSpec(
            replicas=1, selector=client.V1LabelSelector(match_labels={"app": "hello"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "hello"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="hello", image="nginx")]))))
    created = apps.create_namespaced_deployment(NS, deployment)
    assert created.metadata.generation == 1
    apps.patch_namespaced_deployment_scale("hello", NS, {"spec": {"replicas": 2}})
    for event in watch.Watch().stream(apps.list_namespaced_deployment, NS, timeout_seconds=60):
        status = event["object"].status
        if event["object"].metadata.name == "hello" and status.ready_replicas == 2:
            break
    else:
        pytest.fail("the Deployment never had 2 ready replicas")
    assert len(core.list_namespaced_pod(NS, label_selector="app=hello").items) == 2
    assert apps.read_namespaced_deployment("hello", NS).spec.replicas == 2
    assert [d.metadata.name for d in apps.list_namespaced_deployment(NS).items] == ["hello"]
    patched = apps.patch_namespaced_deployment("hello", NS, {"spec": {"template": {"spec": {"containers": [
        {"name": "hello", "image": "nginx:1.27"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "nginx:1.27" and patched.metadata.generation == 3
    apps.delete_namespaced_deployment("hello", NS, propagation_policy="Foreground")


def test_jobs(api_client):
    batch = client.BatchV1Api(api_client)
    job = client.V1Job(metadata=client.V1ObjectMeta(name="pi"), spec=client.V1JobSpec(
        template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[client.V1Container(name="pi", image="busybox", command=["sh", "-c", "echo 3.14"])]))))
    batch.create_namespaced_job(NS, job)
    for event in watch.Watch().stream(batch.list_namespaced_job, NS, timeout_seconds=60):
        if (event["object"].status.succeeded or 0) == 1:
            break
    else:
        pytest.fail("the Job never succeeded")
    assert batch.read_namespaced_job("pi", NS).spec.completions == 1
    assert [j.metadata.name for j in batch.list_namespaced_job(NS).items] == ["pi"]
    batch.patch_namespaced_job("pi", NS, {"metadata": {"labels": {"done": "yes"}}})
    batch.delete_namespaced_job("pi", NS, propagation_policy="Background")


def test_delete_the_namespace(core):
    core.delete_namespace(NS)
    try:
        phase = core.read_namespace(NS).status.phase
    except ApiException as exc:  # already finalized
        assert exc.status == 404
    else:
        assert phase == "Terminating"
