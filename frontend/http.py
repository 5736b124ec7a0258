"""What every JSON endpoint of the learner's page shares: finding the cluster, reading the body, and
answering failures as Kubernetes does, with a `Status` object (never an HTML page or a traceback).

`endpoint(methods)` wraps a view `(request, cluster, **kwargs) -> dict | HttpResponse`: it looks the
cluster up (404 Status when it does not exist or the session may not see it), refuses other methods
with 405, turns an `engine.errors.ApiError` into its Status and a `BadInput` into a 400 BadRequest,
and logs anything else as a 500 InternalError Status.
"""

from __future__ import annotations

import functools
import json
import logging

from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from cluster.models import Cluster
from engine import errors
from frontend.access import may_view

log = logging.getLogger("frontend")

# The largest request body the page sends (a YAML editor's worth of manifests).
MAX_BODY_BYTES = 512 * 1024


class BadInput(ValueError):
    """The request itself is wrong (400): not JSON, a missing field, a value of the wrong type."""


def json_response(data, status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), status=status,
                            content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def status_response(exc: errors.ApiError) -> HttpResponse:
    return json_response(exc.status(), status=exc.code)


def bad_request(message: str) -> errors.ApiError:
    return errors.ApiError(400, "BadRequest", message)


def not_found(message: str = "the server could not find the requested resource") -> errors.ApiError:
    return errors.ApiError(404, "NotFound", message)


def method_not_allowed(method: str) -> errors.ApiError:
    return errors.ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource "
                                                    f"({method})")


def json_body(request) -> dict:
    """The request's JSON object (an empty body is `{}`)."""
    if len(request.body) > MAX_BODY_BYTES:
        raise errors.ApiError(413, "RequestEntityTooLarge",
                              f"the request body is larger than {MAX_BODY_BYTES // 1024} KiB")
    if not request.body:
        return {}
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadInput("the request body must be a JSON object")
    return body


def text_field(body: dict, name: str, *, required: bool = True, default: str = "", max_length: int = 253) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadInput(f"{name} is required")
        return default
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if len(value) > max_length:
        raise BadInput(f"{name} must be no more than {max_length} characters")
    return value


def cluster_for(request, name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None or not may_view(cluster, request.user, getattr(request, "session", None)):
        raise not_found(f'clusters "{name}" not found')
    return cluster


def check_csrf(request) -> None:
    """Django's CSRF check, answered as a 403 Status instead of Django's HTML page."""
    rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
    if rejected is not None:
        raise errors.ApiError(403, "Forbidden", "CSRF verification failed: reload the page and try again")


def endpoint(methods: tuple[str, ...] = ("GET",)):
    """Wrap a JSON view of one cluster; see the module docstring. Unsafe methods need the CSRF token."""

    def wrap(view):
        @csrf_exempt  # checked below, so that a failure is a Status too
        @functools.wraps(view)
        def wrapper(request, name: str, **kwargs):
            try:
                if request.method not in methods:
                    response = status_response(method_not_allowed(request.method))
                    response["Allow"] = ", ".join(methods)
                    return response
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    check_csrf(request)
                cluster = cluster_for(request, name)
                result = view(request, cluster, **kwargs)
            except errors.ApiError as exc:
                return status_response(exc)
            except BadInput as exc:
                return status_response(bad_request(str(exc)))
            except Exception:
                log.exception("%s %s failed", request.method, request.path)
                return status_response(errors.ApiError(500, "InternalError",
                                                       "an error on the server prevented the request from succeeding"))
            if isinstance(result, HttpResponse):
                return result
            return json_response(result)

        return wrapper

    return wrap
