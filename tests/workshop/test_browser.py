"""Workshops in a real browser against `manage.py serve`: a learner joins with the code, a step's checks turn
green by themselves when the cluster gets there, and the instructor's dashboard follows without a reload."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser


def create_workshop(alias: str) -> str:
    from django.contrib.auth import get_user_model

    from workshops.models import Workshop

    owner = get_user_model().objects.db_manager(alias).create_user("sensei", password="pw", is_staff=True)
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


def test_a_learner_joins_and_a_step_turns_green_on_the_page_and_the_dashboard(browser, page, page_errors, live_db,
                                                                             kubedojo_server):
    code = live_db.run(create_workshop)
    page.goto(f"/join/{code}/")
    page.fill("input[name=display_name]", "Aiko")
    page.click(".ws-join button[type=submit]")
    page.wait_for_url(f"**/w/{code}/")
    assert page.locator(".ws-step:not([hidden]) h2").inner_text() == "Step 1: Apply a Deployment"
    assert page.locator('li[data-check="deployment"]').get_attribute("class") in ("", None)
    page.frame_locator("#ws-frame").locator("#node-grid").wait_for(timeout=15_000)

    staff = browser.new_context(base_url=kubedojo_server.url)
    dashboard = staff.new_page()
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
    staff.close()
    assert page_errors == []
