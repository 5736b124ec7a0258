"""Workshops in a real browser against `manage.py serve`: a learner joins with the code, a step's checks turn
green by themselves when the cluster gets there, and the instructor's dashboard follows without a reload (both
pushed over WebSockets)."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


def create_workshop(alias: str, owner_name: str = "sensei") -> str:
    from django.contrib.auth import get_user_model

    from workshops.models import Workshop

    owner = get_user_model().objects.db_manager(alias).create_user(owner_name, password="pw", is_staff=True)
    workshop = Workshop(owner=owner, title="Kubernetes入門", lesson_pack="kubernetes-nyumon", nodes=2,
                        node_size="small", language="en")
    workshop.save(using=alias)
    return workshop.join_code


def apply_first_step(alias: str, code: str) -> None:
    """The learner's kubectl apply (the step's solution), and a faster clock so the pods start quickly."""
    from cluster.models import Cluster
    from cluster.runtime import api_for
    from workshops.lessons import solutions
    from workshops.models import Seat

    seat = Seat.objects.using(alias).select_related("cluster", "workshop").get(workshop__join_code=code)
    Cluster.objects.using(alias).filter(pk=seat.cluster_id).update(speed=20.0)
    solution = seat.workshop.pack().step(0).step.solution
    solutions.run(api_for(seat.cluster), solution.commands, solution.files)


def record_line(alias: str, code: str, line: str) -> None:
    from workshops.history import record_command
    from workshops.models import Seat

    record_command(Seat.objects.using(alias).select_related("cluster").get(workshop__join_code=code).cluster, line)


def test_a_learner_joins_and_a_step_turns_green_on_the_page_and_the_dashboard(browser, page, page_errors, live_db,
                                                                             kubedojo_server):
    code = live_db.run(create_workshop)
    sockets: list[str] = []
    polls: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/progress") else None)
    page.goto(f"/join/{code}/")
    page.fill("input[name=display_name]", "Aiko")
    page.click(".ws-join button[type=submit]")
    page.wait_for_url(f"**/w/{code}/")
    assert page.locator(".ws-step:not([hidden]) h2").inner_text() == "Step 1: Apply a Deployment"
    assert page.locator('li[data-check="deployment"]').get_attribute("class") in ("", None)
    page.frame_locator("#ws-frame").locator("#node-grid").wait_for(timeout=15_000)

    staff = browser.new_context(base_url=kubedojo_server.url)
    dashboard = staff.new_page()
    dashboard.on("websocket", lambda ws: sockets.append(ws.url))
    dashboard.on("request", lambda request: polls.append(request.url) if "dashboard.json" in request.url else None)
    dashboard.goto("/admin/login/?next=/workshops/")
    dashboard.fill("#id_username", "sensei")
    dashboard.fill("#id_password", "pw")
    dashboard.click("input[type=submit]")
    dashboard.click(".ws-table a:has-text('Kubernetes入門')")
    dashboard.wait_for_selector(f".ws-code-big:has-text('{code[:3]}-{code[3:]}')")
    tile = dashboard.locator(".ws-tile", has_text="Aiko")
    tile.locator(".ws-stepline", has_text="1.1 Apply a Deployment").wait_for(timeout=15_000)

    live_db.run(apply_first_step, code)
    page.wait_for_selector('li[data-check="deployment"].ws-pass', timeout=60_000)
    page.wait_for_selector('.ws-dot[data-index="0"].ws-dot-passed', timeout=60_000)
    page.wait_for_selector('.ws-step[data-index="1"]:not([hidden])', timeout=10_000)  # on to step 2
    tile.locator(".ws-stepline", has_text="1.2").wait_for(timeout=15_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "workshop-learner.png"))
    dashboard.screenshot(path=str(SCREENSHOTS / "workshop-dashboard.png"), full_page=True)

    # The seat, read-only: its cluster drawn from the map's socket (the learner's pods on it), its terminal history.
    live_db.run(record_line, code, "kubectl get pods -o wide")
    tile.locator("a.ws-name").click()
    dashboard.wait_for_selector("#ws-history:has-text('$ kubectl get pods -o wide')")
    dashboard.locator(".ws-seatnode").nth(2).wait_for(timeout=15_000)  # the control plane and 2 workers
    dashboard.locator(".ws-seatpod", has_text="Running").first.wait_for(timeout=15_000)
    assert dashboard.locator('a[href*="/clusters/"]').count() == 0  # no way into the writable map page
    dashboard.screenshot(path=str(SCREENSHOTS / "workshop-seat.png"), full_page=True)
    staff.close()
    assert page_errors == []
    # Pushed over the pages' WebSockets: neither page had to poll.
    assert any(f"/ws/w/{code}/" in url for url in sockets) and any("/ws/workshops/" in url for url in sockets)
    assert polls == []


def test_without_its_websocket_the_learner_page_polls_and_keeps_reconnecting(page, page_errors, live_db):
    code = live_db.run(create_workshop, "sensei-2")
    attempts: list[str] = []
    polls: list[str] = []

    def refuse(ws) -> None:  # as a proxy that does not pass WebSockets would
        attempts.append(ws.url)
        ws.close(code=1011, reason="no websockets here")

    page.route_web_socket(re.compile(r".*/ws/w/.*"), refuse)
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/progress") else None)
    page.goto(f"/join/{code}/")
    page.fill("input[name=display_name]", "Kenji")
    page.click(".ws-join button[type=submit]")
    page.wait_for_url(f"**/w/{code}/")
    # The socket is refused: the page polls at once (the checks' details come from the progress JSON)...
    page.wait_for_function("document.querySelector('li[data-check=deployment] .ws-detail').textContent.length > 0",
                           timeout=15_000)
    assert polls
    # ...and tries the socket again (after 1 s, then 2 s).
    deadline = time.monotonic() + 15
    while len(attempts) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert len(attempts) >= 2 and all(f"/ws/w/{code}/" in url for url in attempts)
    assert page_errors == []
