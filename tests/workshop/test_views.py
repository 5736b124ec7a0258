"""The learner's and the instructor's pages through Django's test client: joining, coming back, progress,
kubeconfig, who may see what, and the instructor's dashboard and actions."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml
from django.test import Client

from cluster.models import Cluster
from cluster.runtime import api_for
from tests.workshop.conftest import run_step_solution, simulate
from workshops import services
from workshops.history import record_command
from workshops.models import Seat, Workshop

pytestmark = pytest.mark.django_db


def join(client: Client, workshop: Workshop, name: str = "Aiko", code: str | None = None):
    code = code if code is not None else workshop.display_code.lower()
    return client.post("/join/", {"code": code, "display_name": name})


@pytest.fixture
def learner(workshop):
    client = Client()
    response = join(client, workshop)
    assert response.status_code == 302
    return client


@pytest.fixture
def staff_client(instructor):
    client = Client()
    client.force_login(instructor)
    return client


def seat_of(workshop: Workshop, name: str = "Aiko") -> Seat:
    return Seat.objects.select_related("cluster", "workshop").get(workshop=workshop, display_name=name)


# --- the learner ---------------------------------------------------------------------------------------------

def test_the_join_link_shows_the_form_with_the_code(client, workshop):
    response = client.get(f"/join/{workshop.join_code}/", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    html = response.content.decode()
    assert workshop.title in html and workshop.display_code in html and "参加する" in html


def test_joining_sets_a_cookie_and_opens_the_lesson_beside_the_map(client, workshop):
    response = join(client, workshop, "  Aiko ")
    assert response.status_code == 302 and response["Location"] == f"/w/{workshop.join_code}/"
    cookie = response.cookies[services.cookie_name(workshop)]
    assert cookie["httponly"] and cookie.value
    seat = seat_of(workshop)
    assert seat.check_token(cookie.value)
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Deployment を apply する" in html  # the workshop's language: Japanese
    assert f'src="/clusters/{seat.cluster.name}/"' in html
    assert client.get(f"/clusters/{seat.cluster.name}/").status_code == 200  # the session may open the map
    assert Client().get(f"/clusters/{seat.cluster.name}/").status_code == 404  # nobody else


def test_a_learner_comes_back_with_the_cookie_and_nobody_else_can(learner, workshop):
    assert learner.get(f"/join/{workshop.join_code}/")["Location"] == f"/w/{workshop.join_code}/"
    stranger = Client()
    response = stranger.get(f"/w/{workshop.join_code}/")
    assert response.status_code == 302 and response["Location"] == f"/join/{workshop.join_code}/"
    answer = stranger.get(f"/w/{workshop.join_code}/progress")
    assert answer.status_code == 403 and answer.json()["reason"] == "Forbidden"


def test_wrong_codes_closed_and_full_workshops_say_why(client, workshop):
    response = client.post("/join/", {"code": "ZZZ-ZZZ", "display_name": "Aiko"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and "No workshop has this code." in response.content.decode()
    services.close(workshop)
    response = join(client, workshop)
    assert response.status_code == 409 and "このワークショップは終了しました。" in response.content.decode()
    response = client.post("/join/", {"code": workshop.join_code, "display_name": "   "})
    assert response.status_code == 200 and Seat.objects.count() == 0


def test_progress_turns_green_from_the_stored_state_whoever_wrote_it(learner, workshop):
    url = f"/w/{workshop.join_code}/progress"
    data = learner.get(url).json()
    assert data["current"] == 0 and not data["steps"][0]["passed"]
    assert data["steps"][0]["checks"]["deployment"] == {"passed": False,
                                                        "detail": "Deployment bootcamp がまだありません"}
    seat = seat_of(workshop)
    loop = simulate(seat.cluster)
    assert run_step_solution(loop, seat)
    data = learner.get(url).json()
    assert data["current"] == 1 and data["steps"][0]["passed"]
    assert all(check["passed"] for check in data["steps"][0]["checks"].values())


def test_the_kubeconfig_reaches_only_the_seats_cluster(learner, workshop):
    seat = seat_of(workshop)
    response = learner.get(f"/w/{workshop.join_code}/kubeconfig")
    assert response.status_code == 200
    config = yaml.safe_load(response.content)
    assert config["clusters"][0]["cluster"]["server"] == f"http://testserver/k8s/{seat.cluster.access_key}"
    token = config["users"][0]["user"]["token"]
    assert Cluster.objects.get(pk=seat.cluster_id).check_token(token)
    assert Client().get(f"/w/{workshop.join_code}/kubeconfig").status_code == 403
    # The same browser may also use the map's own download link for its seat's cluster.
    assert learner.get(f"/clusters/{seat.cluster.name}/kubeconfig").status_code == 200


def test_a_seat_of_one_workshop_reaches_nothing_of_another(learner, workshop, instructor):
    other = Workshop.objects.create(owner=instructor, title="other", lesson_pack="kubernetes-nyumon", nodes=1)
    stranger = Client()
    join(stranger, other, "Ben")
    ben = seat_of(other, "Ben")
    assert learner.get(f"/clusters/{ben.cluster.name}/").status_code == 404
    assert learner.get(f"/clusters/{ben.cluster.name}/kubeconfig").status_code == 404
    assert learner.get(f"/w/{other.join_code}/progress").status_code == 403


# --- the instructor ------------------------------------------------------------------------------------------

def test_only_staff_reach_the_instructor_pages_and_only_their_own_workshops(workshop, django_user_model):
    assert Client().get("/workshops/").status_code == 302
    assert Client().get(f"/workshops/{workshop.pk}/")["Location"].startswith("/admin/login/")
    colleague = Client()
    colleague.force_login(django_user_model.objects.create_user("other", is_staff=True))
    assert colleague.get(f"/workshops/{workshop.pk}/").status_code == 403
    assert colleague.post(f"/workshops/{workshop.pk}/close").status_code == 403
    root = Client()
    root.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    assert root.get(f"/workshops/{workshop.pk}/").status_code == 200


def test_an_instructor_creates_a_workshop_and_gets_its_join_link_and_qr_code(staff_client):
    response = staff_client.post("/workshops/", {
        "title": "Friday class", "lesson_pack": "kubernetes-fundamentals", "language": "en", "nodes": 3,
        "node_size": "large", "kube_proxy_mode": "ipvs", "max_seats": 40})
    workshop = Workshop.objects.get(title="Friday class")
    assert response["Location"] == f"/workshops/{workshop.pk}/"
    assert (workshop.nodes, workshop.node_size, workshop.kube_proxy_mode) == (3, "large", "ipvs")
    page = staff_client.get(response["Location"]).content.decode()
    assert f"http://testserver/join/{workshop.join_code}/" in page and workshop.display_code in page
    qr = staff_client.get(f"/workshops/{workshop.pk}/qr.svg")
    assert qr["Content-Type"] == "image/svg+xml" and qr.content.lstrip().startswith(b"<?xml")
    bad = staff_client.post("/workshops/", {"title": "x", "lesson_pack": "nope", "language": "en", "nodes": 9,
                                            "node_size": "small", "kube_proxy_mode": "iptables", "max_seats": 5})
    assert bad.status_code == 400 and set(bad.context["form"].errors) == {"lesson_pack", "nodes"}


def test_the_dashboard_lists_seats_with_their_step_and_checks(staff_client, learner, workshop):
    data = staff_client.get(f"/workshops/{workshop.pk}/dashboard.json").json()
    [tile] = data["tiles"]
    assert tile["name"] == "Aiko" and tile["current"] == 0 and tile["total"] == 6
    assert tile["step_title"] == "Deployment を apply する"
    assert [c["passed"] for c in tile["checks"]] == [False, False]
    assert tile["url"] == f"/workshops/{workshop.pk}/seats/{tile['seat']}/"


def test_broadcast_pause_and_reveal_reach_the_learner(staff_client, learner, workshop):
    base = f"/workshops/{workshop.pk}/"
    assert staff_client.post(base + "broadcast", {"text": "休憩します"}).status_code == 302
    assert staff_client.post(base + "clock", {"paused": "true"}).status_code == 302
    key = workshop.pack().step(0).key
    assert staff_client.post(base + "reveal", {"step": key}).status_code == 302
    data = learner.get(f"/w/{workshop.join_code}/progress").json()
    assert data["broadcast"] == "休憩します" and data["paused"] is True
    assert data["solutions"][key]["commands"] == ["kubectl get pods", "kubectl apply -f app.yml",
                                                  "kubectl get pods -w"]
    assert Cluster.objects.get(pk=seat_of(workshop).cluster_id).paused
    bad = staff_client.post(base + "reveal", {"step": "nope/nope"})
    assert bad.status_code == 400 and bad.json()["message"] == "the lesson pack has no step 'nope/nope'"
    assert staff_client.post(base + "clock", {"paused": "false"}).status_code == 302
    assert not Cluster.objects.get(pk=seat_of(workshop).cluster_id).paused


def test_the_instructor_watches_a_seat_and_resets_it(staff_client, learner, workshop):
    seat = seat_of(workshop)
    page = staff_client.get(f"/workshops/{workshop.pk}/seats/{seat.pk}/").content.decode()
    assert "kubectl get nodes -o wide" in page and "node-1" in page and "Joined" in page
    old_pk = seat.cluster_id
    response = staff_client.post(f"/workshops/{workshop.pk}/seats/{seat.pk}/reset", {"step": "1"})
    assert response.status_code == 302
    seat.refresh_from_db()
    assert seat.current_step == 1 and seat.cluster_id != old_pk
    assert api_for(seat.cluster).get("Deployment", "default", "bootcamp")["spec"]["replicas"] == 2
    # The learner's page follows: progress admits the browser to the rebuilt cluster.
    data = learner.get(f"/w/{workshop.join_code}/progress").json()
    assert data["cluster_id"] == seat.cluster_id and data["map_url"] == f"/clusters/{seat.cluster.name}/"
    assert learner.get(data["map_url"]).status_code == 200
    bad = staff_client.post(f"/workshops/{workshop.pk}/seats/{seat.pk}/reset", {"step": "99"})
    assert bad.status_code == 400


def test_close_and_export(staff_client, learner, workshop):
    seat = seat_of(workshop)
    assert run_step_solution(simulate(seat.cluster), seat)
    assert staff_client.post(f"/workshops/{workshop.pk}/close").status_code == 302
    assert join(Client(), workshop, "Late").status_code == 409
    response = staff_client.get(f"/workshops/{workshop.pk}/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, row = rows
    assert header[:6] == ["seat", "display_name", "joined", "last_seen", "current_step", "steps_passed"]
    assert header[6] == "declarative-config/apply passed_at" and len(header) == 6 + 6
    assert row[1] == "Aiko" and row[4] == "declarative-config/scale" and row[5] == "1"
    assert row[6] and not row[7]


def test_the_learner_page_config_polls_its_own_progress(learner, workshop):
    response = learner.get(f"/w/{workshop.join_code}/")
    config = response.context["config"]
    assert json.loads(response.content.decode().split('id="ws-config" type="application/json">')[1]
                      .split("</script>")[0]) == config
    assert config["progressUrl"] == f"/w/{workshop.join_code}/progress" and config["current"] == 0
    assert config["socketPath"] == f"/ws/w/{workshop.join_code}/?lang=ja"  # the workshop's language


def test_the_admin_lists_workshops_and_seats_and_resets_a_seat(workshop, learner, django_user_model):
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    assert workshop.title in admin.get("/admin/workshops/workshop/").content.decode()
    seat = seat_of(workshop)
    record_command(seat.cluster, "kubectl get pods --show-labels")
    page = admin.get(f"/admin/workshops/seat/{seat.pk}/change/").content.decode()
    assert "Aiko" in page and "declarative-config/apply" in page and "kubectl get pods --show-labels" in page
    assert "kubectl get pods --show-labels" in admin.get("/admin/workshops/seatcommand/").content.decode()
    old = seat.cluster_id
    response = admin.post("/admin/workshops/seat/", {"action": "reset_to_current_step", "_selected_action": [seat.pk]})
    assert response.status_code == 302
    seat.refresh_from_db()
    assert seat.cluster_id != old and seat.current_step == 0
    admin.post("/admin/workshops/seat/", {"action": "reclaim_cluster", "_selected_action": [seat.pk]})
    seat.refresh_from_db()
    assert seat.cluster is None and seat.reclaimed_at is not None
    # The learner comes back to a fresh cluster at the same step.
    assert learner.get(f"/w/{workshop.join_code}/").status_code == 200
    seat.refresh_from_db()
    assert seat.cluster is not None
