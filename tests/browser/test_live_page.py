"""The live cluster map in a real browser: nodes and pods appear, and a deletion made elsewhere reaches the
page over the WebSocket (Terminating, then a replacement Running) without a reload."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

BOOTCAMP_RUNNING = '[data-pod^="default/bootcamp-"][data-status="Running"]'


def running_bootcamp_pods(page) -> list[str]:
    return page.eval_on_selector_all(BOOTCAMP_RUNNING, "els => els.map(e => e.dataset.pod)")


def delete_pod(alias: str, key: str) -> None:
    """Delete a pod as kubectl would, through the apiserver on the live server's database."""
    from cluster.models import Cluster
    from cluster.runtime import api_for

    namespace, name = key.split("/")
    cluster = Cluster.objects.using(alias).get(name="demo")
    api_for(cluster).delete("Pod", namespace, name)


def test_the_demo_cluster_comes_alive_and_follows_changes(page, page_errors, live_db):
    page.goto("/")
    page.wait_for_url("**/clusters/demo/")
    page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)

    # The control plane and three workers, each Ready.
    page.wait_for_function("document.querySelectorAll('#node-grid > .node').length === 3", timeout=15_000)
    workers = page.eval_on_selector_all("#node-grid > .node", "els => els.map(e => [e.dataset.node, e.dataset.status])")
    assert [status for _, status in workers] == ["Ready"] * 3
    assert page.get_attribute("#control-plane", "data-node")
    assert page.locator('#control-plane .component[data-component="kube-scheduler"]').is_visible()

    # Speed up (the button posts to the clock endpoint with the CSRF token), then wait for both demo pods.
    page.click('button[data-speed="20"]')
    page.wait_for_selector('button[data-speed="20"][aria-pressed="true"]')
    page.wait_for_function(f"document.querySelectorAll('{BOOTCAMP_RUNNING}').length === 2", timeout=60_000)
    before = running_bootcamp_pods(page)
    worker_names = {name for name, _ in workers}
    for key in before:
        assert page.get_attribute(f'[data-pod="{key}"]', "data-node") in worker_names
    assert page.locator("#queue-count").inner_text() == "0"

    # Slow down so each stage of the deletion stays on screen for a while, then delete one pod elsewhere.
    page.click('button[data-speed="1"]')
    page.wait_for_selector('button[data-speed="1"][aria-pressed="true"]')
    page.evaluate("window.__sameDocument = true")
    victim = before[0]
    live_db.run(delete_pod, victim)

    page.wait_for_selector(f'[data-pod="{victim}"][data-status="Terminating"]', timeout=20_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "live-page-terminating.png"), full_page=True)
    page.click('button[data-speed="20"]')
    page.wait_for_function(
        f"""Array.from(document.querySelectorAll('{BOOTCAMP_RUNNING}'))
              .filter(e => e.dataset.pod !== {victim!r}).length === 2""",
        timeout=60_000,
    )
    page.wait_for_selector(f'[data-pod="{victim}"]', state="detached", timeout=60_000)
    after = running_bootcamp_pods(page)
    assert victim not in after and len(after) == 2
    assert len(set(after) - set(before)) == 1, "one replacement pod"
    assert page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    # The scheduler and the kubelets did things the activity panel lists.
    assert page.locator("#activity li").count() > 0
    page.wait_for_timeout(800)  # let the last animations settle
    page.screenshot(path=str(SCREENSHOTS / "live-page.png"), full_page=True)
    assert page_errors == []


def test_the_page_reconnects_and_resyncs_after_the_server_restarts(page, page_errors, kubedojo_server, live_db):
    page.goto("/clusters/demo/")
    page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
    page.wait_for_function(f"document.querySelectorAll('{BOOTCAMP_RUNNING}').length === 2", timeout=60_000)
    before = running_bootcamp_pods(page)
    page.evaluate("window.__sameDocument = true")

    assert kubedojo_server.stop() == 0, kubedojo_server.log_tail()
    page.wait_for_selector('#connection[data-state="reconnecting"]', timeout=10_000)
    # Changed while nobody simulates and no socket is open: only the resync can tell the page.
    victim = before[0]
    live_db.run(delete_pod, victim)
    kubedojo_server.start()

    page.wait_for_selector('#connection[data-state="live"]', timeout=30_000)
    page.wait_for_selector(f'[data-pod="{victim}"][data-status="Terminating"], body:not(:has([data-pod="{victim}"]))',
                           timeout=30_000)
    page.wait_for_function(
        f"""Array.from(document.querySelectorAll('{BOOTCAMP_RUNNING}'))
              .filter(e => e.dataset.pod !== {victim!r}).length === 2""",
        timeout=60_000,
    )
    assert page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    assert page_errors == []
