"""The learner's page driven as a learner drives it: the YAML editor, the web terminal, a rolling update,
a node failure from the node menu, and the language switch. Each state is saved as a screenshot in
var/screenshots/ for a person to look at.

The tests share one server (module scope) and each works on objects of its own, so their order does not
matter. They speed the virtual clock up with the page's own 20x button.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

ROLLOUT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rollout
spec:
  replicas: 3
  selector:
    matchLabels:
      app: rollout
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: rollout
    spec:
      containers:
      - name: web
        image: nginx:1.26
"""

SPREAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: spread
spec:
  replicas: 3
  selector:
    matchLabels:
      app: spread
  template:
    metadata:
      labels:
        app: spread
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


def running(prefix: str) -> str:
    return f'[data-pod^="default/{prefix}-"][data-status="Running"]'


def pods(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(
        selector, "els => els.map(e => ({key: e.dataset.pod, node: e.dataset.node, owner: e.dataset.owner,"
                  " status: e.dataset.status}))")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_page(page, speed: int = 20) -> None:
    page.goto("/clusters/demo/")
    page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
    page.wait_for_function("document.querySelectorAll('#node-grid > .node').length >= 3", timeout=15_000)
    page.click(f'button[data-speed="{speed}"]')
    page.wait_for_selector(f'button[data-speed="{speed}"][aria-pressed="true"]')
    page.evaluate("window.__sameDocument = true")


def apply_in_editor(page, text: str, file: str) -> None:
    """Put a manifest in the editor, wait for its dry-run check to pass, and press Apply."""
    page.click('.dock-tab[data-tab="editor"]')
    page.evaluate("([t, f]) => window.kubedojo.editor.load(t, f)", [text, file])
    page.wait_for_selector('#editor-status[data-state="ok"]', timeout=15_000)
    page.click("#apply-button")
    page.wait_for_function("""document.querySelector('#editor-status').textContent
                                === JSON.parse(document.getElementById('kd-config').textContent).labels.applied""",
                           timeout=15_000)


def terminal_text(page) -> str:
    return page.eval_on_selector("#terminal .xterm-rows", "e => e.innerText")


def run_in_terminal(page, command: str) -> None:
    """Type a command into the xterm.js terminal with the keyboard, as a learner would."""
    page.click('.dock-tab[data-tab="terminal"]')
    page.wait_for_selector('body[data-terminal="prompt"]', timeout=15_000)
    page.click("#terminal")
    page.keyboard.type(command)
    page.keyboard.press("Enter")


def test_apply_from_the_editor_brings_pods_to_running(page, page_errors):
    open_page(page)
    page.select_option("#examples", "nginx-surge")
    assert page.input_value("#editor-file") == "nginx.yaml"
    assert "kind: Deployment" in page.evaluate("window.kubedojo.editor.text()")
    page.wait_for_selector('#editor-status[data-state="ok"]', timeout=15_000)
    page.click("#apply-button")
    page.wait_for_selector('#editor-output >> text=deployment.apps/nginx created', timeout=15_000)

    # The pods appear (in the queue or already on a node) and reach Running on worker nodes.
    page.wait_for_selector('[data-pod^="default/nginx-"]', timeout=15_000)
    page.wait_for_function(f"document.querySelectorAll('{running('nginx')}').length === 2", timeout=60_000)
    for pod in pods(page, running("nginx")):
        assert pod["node"].startswith("node-"), pod
        assert page.locator(f'#node-grid .node[data-node="{pod["node"]}"] [data-pod="{pod["key"]}"]').count() == 1
    # The trail told the story from the editor's apply to the scheduler and the kubelets.
    trail = page.inner_text("#trail-steps")
    assert "kube-scheduler" in trail or "kubelet" in trail, trail
    assert page.locator("#activity li:not(.empty)").count() > 0
    # The resource tree shows Deployment -> ReplicaSet -> Pods.
    page.wait_for_selector('#tree .tree-node[data-kind="Deployment"] >> text=nginx', timeout=10_000)
    page.wait_for_timeout(700)
    screenshot(page, "editor-applied")
    assert page_errors == []


def test_the_editor_shows_problems_at_their_line(page, page_errors):
    open_page(page, speed=1)
    page.evaluate("([t, f]) => window.kubedojo.editor.load(t, f)",
                  [ROLLOUT.replace("  replicas: 3", "  replicas: three"), "bad.yaml"])
    page.wait_for_selector('#editor-status[data-state="error"]', timeout=15_000)
    problem = page.locator("#problems .problem").first
    assert problem.get_attribute("data-line") == "6"
    assert "cannot unmarshal string into Go struct field" in problem.inner_text()
    assert page_errors == []


def test_delete_a_pod_from_the_terminal_and_a_replacement_appears(page, page_errors):
    open_page(page)
    page.wait_for_function(f"document.querySelectorAll('{running('bootcamp')}').length === 2", timeout=60_000)
    before = [p["key"] for p in pods(page, running("bootcamp"))]
    victim = before[0].split("/")[1]

    run_in_terminal(page, "kubectl get pods")
    page.wait_for_function(f"document.querySelector('#terminal .xterm-rows').innerText.includes('{victim}')",
                           timeout=15_000)
    page.wait_for_selector('body[data-terminal="prompt"]', timeout=15_000)
    assert re.search(r"NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE", terminal_text(page))

    run_in_terminal(page, f"kubectl delete pod {victim}")
    page.wait_for_function(f"""document.querySelector('#terminal .xterm-rows').innerText
                               .includes('pod "{victim}" deleted')""", timeout=30_000)
    page.wait_for_function(
        f"""Array.from(document.querySelectorAll('{running('bootcamp')}'))
              .filter(e => e.dataset.pod !== 'default/{victim}').length === 2""", timeout=60_000)
    after = [p["key"] for p in pods(page, running("bootcamp"))]
    assert f"default/{victim}" not in after
    assert len(set(after) - set(before)) == 1, "one replacement pod"
    assert page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    page.wait_for_timeout(500)
    screenshot(page, "terminal-delete")
    assert page_errors == []


def test_a_rolling_update_shows_old_and_new_pods_side_by_side(page, page_errors):
    open_page(page)
    apply_in_editor(page, ROLLOUT, "rollout.yaml")
    page.wait_for_function(f"document.querySelectorAll('{running('rollout')}').length === 3", timeout=60_000)
    old = {p["owner"] for p in pods(page, running("rollout"))}
    assert len(old) == 1

    # Slow down so the rollout's stages stay on screen, then change the image and apply again.
    page.click('button[data-speed="1"]')
    page.wait_for_selector('button[data-speed="1"][aria-pressed="true"]')
    apply_in_editor(page, ROLLOUT.replace("nginx:1.26", "nginx:1.27"), "rollout.yaml")
    page.wait_for_selector('#editor-output >> text=deployment.apps/rollout configured', timeout=15_000)
    # Pods of both ReplicaSets on the map at once, each with its ReplicaSet's badge.
    page.wait_for_function(
        """new Set(Array.from(document.querySelectorAll('[data-pod^="default/rollout-"]'))
              .map(e => e.dataset.owner)).size === 2""", timeout=30_000)
    badges = page.eval_on_selector_all('[data-pod^="default/rollout-"] .pod-rs',
                                       "els => Array.from(new Set(els.map(e => e.textContent)))")
    assert len(badges) == 2, badges
    page.wait_for_timeout(300)
    screenshot(page, "rolling-update")
    # An old pod goes through Terminating while the new ones come up.
    page.wait_for_selector('[data-pod^="default/rollout-"][data-status="Terminating"]', timeout=60_000)
    screenshot(page, "rolling-update-terminating")

    page.click('button[data-speed="20"]')
    page.wait_for_function(
        f"""(() => {{
              const all = Array.from(document.querySelectorAll('[data-pod^="default/rollout-"]'));
              return all.length === 3 && all.every(e => e.dataset.status === 'Running')
                && new Set(all.map(e => e.dataset.owner)).size === 1
                && !{sorted(old)!r}.includes(all[0].dataset.owner);
            }})()""", timeout=90_000)
    # The tree lists the new ReplicaSet under the Deployment, revision 2.
    page.wait_for_selector('#tree .tree-rev >> text=rev 2', timeout=10_000)
    assert page_errors == []


def test_a_failed_nodes_pods_move_to_other_nodes(page, page_errors):
    open_page(page)
    apply_in_editor(page, SPREAD, "spread.yaml")
    page.wait_for_function(f"document.querySelectorAll('{running('spread')}').length === 3", timeout=60_000)
    placed = pods(page, running("spread"))
    victim_node = placed[0]["node"]
    doomed = {p["key"] for p in placed if p["node"] == victim_node}

    # The node menu: Fail stops the node's kubelet.
    page.click(f'[data-node-menu="{victim_node}"]')
    page.click('.node-menu [data-action="fail"]')
    page.wait_for_selector(f'#node-grid .node[data-node="{victim_node}"][data-stopped="true"]', timeout=15_000)
    # 40 s of virtual time without heartbeats: NotReady.
    page.wait_for_selector(f'#node-grid .node[data-node="{victim_node}"][data-status^="NotReady"], '
                           f'#node-grid .node[data-node="{victim_node}"][data-status^="Unknown"]', timeout=30_000)
    screenshot(page, "node-failed")
    # After the eviction timeout (300 s) the pods on it are deleted and their replacements run elsewhere.
    page.wait_for_function(
        f"""Array.from(document.querySelectorAll('{running('spread')}'))
              .filter(e => e.dataset.node !== '{victim_node}').length === 3""", timeout=120_000)
    for key in doomed:
        status = page.get_attribute(f'[data-pod="{key}"]', "data-status") if page.locator(
            f'[data-pod="{key}"]').count() else None
        assert status in (None, "Terminating"), (key, status)
    page.wait_for_timeout(700)
    screenshot(page, "node-failed-pods-moved")

    # Recover it: Ready again.
    page.click(f'[data-node-menu="{victim_node}"]')
    page.click('.node-menu [data-action="recover"]')
    page.wait_for_selector(f'#node-grid .node[data-node="{victim_node}"][data-status="Ready"]', timeout=30_000)
    assert page_errors == []


def test_the_language_switch(browser, kubedojo_server, page_errors):
    # A browser that prefers Japanese gets Japanese first.
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=kubedojo_server.url,
                                  locale="ja-JP")
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        page.goto("/clusters/demo/")
        page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
        assert page.get_attribute("html", "lang") == "ja"
        assert page.inner_text("#workers-title") == "ワーカーノード"
        assert page.inner_text("#cp-title") == "コントロールプレーン"
        assert page.inner_text("#connection .connection-text") == "ライブ"  # a word from the script's labels
        page.wait_for_function("document.querySelectorAll('#node-grid > .node').length >= 3", timeout=15_000)
        page.wait_for_timeout(500)
        screenshot(page, "japanese")

        page.click('.language button[value="en"]')
        page.wait_for_selector('html[lang="en"]', timeout=15_000)
        page.wait_for_selector('#connection[data-state="live"]', timeout=15_000)
        assert page.inner_text("#workers-title") == "Worker nodes"
        assert page.inner_text("#connection .connection-text") == "Live"
        assert page.get_attribute('.language button[value="en"]', "aria-pressed") == "true"

        page.click('.language button[value="ja"]')
        page.wait_for_selector('html[lang="ja"]', timeout=15_000)
        assert page.inner_text("#pause-button") in ("一時停止", "再開")
    finally:
        context.close()
    assert page_errors == []


def test_an_unschedulable_pod_waits_in_the_queue_with_the_schedulers_reason(page, page_errors):
    open_page(page)
    page.select_option("#examples", "too-big")
    page.wait_for_selector('#editor-status[data-state="ok"]', timeout=15_000)
    page.click("#apply-button")
    waiting = page.wait_for_selector('#queue-pods [data-pod="default/too-big"] .pod-why', timeout=30_000)
    assert "Insufficient cpu" in waiting.inner_text()
    assert page.inner_text("#queue-count") == "1"
    # Clicking it opens the inspector on kube-scheduler's verdict.
    page.click('#queue-pods [data-pod="default/too-big"]')
    page.wait_for_selector('.inspect-tab[data-tab="scheduling"][aria-selected="true"]')
    page.wait_for_selector("#inspect-body .sched-summary.bad", timeout=10_000)
    assert "Insufficient cpu" in page.inner_text("#inspect-body")
    page.wait_for_timeout(300)
    screenshot(page, "queue-unschedulable")
    page.click('.inspect-tab[data-tab="describe"]')
    page.wait_for_function("document.querySelector('#inspect-body').innerText.includes('FailedScheduling')",
                           timeout=10_000)

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#inspector-delete")
    page.wait_for_selector('[data-pod="default/too-big"]', state="detached", timeout=30_000)
    assert page.inner_text("#queue-count") == "0"
    assert page_errors == []


def test_requests_to_a_service_fly_as_particles_and_count(page, page_errors):
    open_page(page)
    card = page.wait_for_selector('.svc-card[data-service="default/bootcamp-svc"]', timeout=15_000)
    page.wait_for_function(f"document.querySelectorAll('{running('bootcamp')}').length === 2", timeout=60_000)
    card.query_selector("[data-traffic]").click()
    page.wait_for_selector('.svc-card[data-service="default/bootcamp-svc"] [data-traffic][aria-pressed="true"]')
    page.wait_for_function("window.kubedojo.particles() > 0", timeout=20_000)
    page.wait_for_function("""Number(document.querySelector('.svc-card[data-service="default/bootcamp-svc"] .c-req')
                               .textContent) > 0""", timeout=20_000)
    screenshot(page, "traffic")
    card.query_selector("[data-traffic]").click()
    page.wait_for_selector('.svc-card[data-service="default/bootcamp-svc"] [data-traffic][aria-pressed="false"]')
    assert page_errors == []


def test_use_your_own_kubectl_downloads_the_kubeconfig(page, page_errors):
    open_page(page, speed=1)
    page.click('.dock-tab[data-tab="kubectl"]')
    with page.expect_download() as info:
        page.click("#kubeconfig-link")
    download = info.value
    assert download.suggested_filename == "kubeconfig-demo.yaml"
    text = Path(download.path()).read_text()
    assert "kind: Config" in text and "/k8s/" in text and "token:" in text
    assert page.inner_text("#cmd-export") == "export KUBECONFIG=~/Downloads/kubeconfig-demo.yaml"
    assert page_errors == []
