"""URLs: the admin, the Kubernetes HTTP API (once cluster.api.urls exists), and the learner's pages."""

import importlib

from django.contrib import admin
from django.urls import include, path


def _exists(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name in (module, module.rpartition(".")[0]):
            return False
        raise
    return True


urlpatterns = [path("admin/", admin.site.urls)]
if _exists("cluster.api.urls"):
    urlpatterns.append(path("", include("cluster.api.urls")))
urlpatterns.append(path("", include("workshops.urls")))
urlpatterns.append(path("", include("frontend.urls")))
