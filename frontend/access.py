"""Who may watch which cluster's map: the rule views and consumers share.

The demo cluster is open to everyone; staff see every cluster; a learner sees the clusters whose
primary keys their session lists under SESSION_KEY (the workshop join flow adds its seat's cluster).
"""

from django.conf import settings

SESSION_KEY = "kubedojo_clusters"


def may_view(cluster, user, session) -> bool:
    if cluster.name == settings.KUBEDOJO_DEMO_CLUSTER:
        return True
    if user is not None and getattr(user, "is_staff", False):
        return True
    if session is None:
        return False
    return cluster.pk in (session.get(SESSION_KEY) or [])
