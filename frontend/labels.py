"""The words the page's script shows, translated on the server (Django's i18n) and handed to it as JSON.

Japanese uses the seeds' terms: Pod, ノード, コントロールプレーン, デプロイメント... Kubernetes' own words
(kubectl output, Status messages, pod phases) stay as Kubernetes prints them.
"""

from django.utils.translation import gettext as _


def page_labels() -> dict:
    return {
        # connection
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "gone": _("Not found"),
        "networkError": _("The server could not be reached"),
        "loading": _("Loading…"),
        # clock
        "pause": _("Pause"),
        "resume": _("Resume"),
        # map
        "noPending": _("No pods are waiting"),
        "noActivity": _("Nothing has happened yet"),
        "noObjects": _("No objects"),
        "requests": _("requests"),
        "requestsCaption": _("Requested / allocatable · dark: in use"),
        "inUse": _("in use"),
        "memory": _("Memory"),
        "pods": _("Pods"),
        "node": _("Node"),
        "status": _("Status"),
        "unknownNode": _("Unknown node"),
        "inspect": _("Show details"),
        "clickToInspect": _("Click for describe, YAML and scheduling"),
        "replicaSet": _("ReplicaSet"),
        "nodeActions": _("Node actions"),
        "cordoned": _("cordoned"),
        "uncordoned": _("uncordoned"),
        "drained": _("drained"),
        "failed": _("failed"),
        "recovered": _("recovered"),
        "kubeletStopped": _("kubelet stopped"),
        "cordon": _("Cordon"),
        "cordonHint": _("No new pods are scheduled here"),
        "uncordon": _("Uncordon"),
        "uncordonHint": _("Allow scheduling again"),
        "drain": _("Drain"),
        "drainHint": _("Cordon, then evict its pods so they move"),
        "fail": _("Fail"),
        "failHint": _("Stop its kubelet: no more heartbeats"),
        "recover": _("Recover"),
        "recoverHint": _("Start its kubelet again"),
        "failAction": _("Node {node} fails"),
        "recoverAction": _("Node {node} recovers"),
        "failExplain": _("the node becomes NotReady after 40 s without heartbeats; its pods are evicted after 300 s "
                         "more"),
        "addNodeAction": _("A new node joins"),
        "nodeAdded": _("Node {node} joined the cluster"),
        "evictedCount": _("{count} pods evicted"),
        # the trail
        "apiClient": _("API client (kubectl)"),
        "apiserverChecks": _("checks, validates and admits the request"),
        "etcdStores": _("stores the new state"),
        # What a component did ("kube-scheduler bound Pod …").
        "verbs": {
            "create": _("created"),
            "update": _("updated"),
            "status": _("updated the status of"),
            "patch": _("patched"),
            "delete": _("deleted"),
            "bind": _("bound"),
        },
        # traffic
        "requestsShort": _("req"),
        "errorsShort": _("err"),
        "sendTraffic": _("Send requests"),
        "stopTraffic": _("Stop requests"),
        "trafficStarted": _("Sending 5 requests per second to {name} ({target})"),
        # panels
        "namespace": _("Namespace"),
        "clusterScoped": _("Cluster-scoped"),
        "notReady": _("not ready"),
        "noEvents": _("No events"),
        "describeUnavailable": _("kubectl describe is not available yet; here is the object's YAML."),
        "scheduledOn": _("kube-scheduler bound this pod to {node}."),
        "notScheduledYet": _("kube-scheduler has not decided about this pod yet."),
        "noExplanation": _("The scheduler's per-node verdicts are kept by the running simulation only; this is what "
                           "the events say."),
        "schedulerDecision": _("Attempt {attempt}: {evaluated} of {total} nodes evaluated, {feasible} feasible."),
        "verdict": _("Verdict"),
        "details": _("Details"),
        "chosen": _("chosen"),
        "fits": _("fits"),
        "confirmDelete": _("Delete {what}?"),
        # editor
        "editorLabel": _("YAML manifest"),
        "editing": _("Editing…"),
        "checking": _("Checking with the API server…"),
        "validOk": _("Valid: {count} object(s) would be applied"),
        "validProblems": _("{count} problem(s)"),
        "lineN": _("line {line}"),
        "applying": _("Applying…"),
        "deleting": _("Deleting…"),
        "applied": _("Applied"),
        "deleted": _("Deleted"),
        "confirmDeleteManifests": _("Delete every object in this file from the cluster?"),
        # terminal
        "terminalWelcome": _("kubectl runs against this cluster. Type help for what else works."),
        "terminalHint": _("Tab completes, ↑/↓ walk the history, Ctrl-C stops a watch."),
        "terminalLost": _("connection lost; reconnecting…"),
        "terminalOffline": _("not connected yet; try again in a moment"),
        "terminalGone": _("this cluster no longer exists"),
        # kubectl panel
        "copy": _("Copy"),
        "copied": _("Copied"),
        "copyFailed": _("Select and copy"),
    }
