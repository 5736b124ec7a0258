"""Errors under /k8s/: always a JSON `Status`, never an HTML page or a traceback.

`k8s_view` wraps every view of the Kubernetes API: it exempts it from CSRF (kubectl
sends no cookies), turns an `engine.errors.ApiError` into its Status and any other
exception into a logged 500 InternalError Status. `K8sErrorMiddleware` is the
safety net for what happens outside a view (a Django 404/500 page, an exception
in another middleware) on a /k8s/ path.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets

from django.db import OperationalError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from engine import errors

log = logging.getLogger("cluster.api")

K8S_PREFIX = "/k8s/"


def encode(data) -> str:
    """JSON as the apiserver writes it: compact, UTF-8."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


# A stand-in is a string no client can write: a NUL, this process's secret, a number, a NUL.
_NONCE = secrets.token_hex(8)
_STAND_IN = re.compile(r'"\\u0000' + _NONCE + r'(\d+)\\u0000"')


class Pieces:
    """Values already encoded (`encode`), spliced into a response where their stand-ins are: a list of
    1,000 pods then encodes only what is not kept encoded already (cluster.store's shared objects)."""

    def __init__(self):
        self.texts: list[str] = []

    def stand_in(self, text: str) -> str:
        self.texts.append(text)
        return f"\x00{_NONCE}{len(self.texts) - 1}\x00"

    def splice(self, body: str) -> str:
        if not self.texts:
            return body
        return _STAND_IN.sub(lambda match: self.texts[int(match.group(1))], body)


def json_response(data, status: int = 200, content_type: str = "application/json", headers: dict | None = None,
                  pieces: Pieces | None = None):
    body = encode(data)
    if pieces is not None:
        body = pieces.splice(body)
    response = HttpResponse(body.encode(), status=status, content_type=content_type)
    response["Cache-Control"] = "no-cache, private"
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def status_response(exc: errors.ApiError) -> HttpResponse:
    response = json_response(exc.status(), status=exc.code)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def success_status(details: dict | None = None, code: int = 200) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        out["details"] = details
    if code != 200:
        out["code"] = code
    return out


def not_found_resource() -> errors.ApiError:
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def not_acceptable(accept: str) -> errors.ApiError:
    return errors.ApiError(
        406, "NotAcceptable",
        f"the server was unable to respond with a content type that the client supports (accept: {accept})")


def busy() -> errors.ApiError:
    return errors.too_many_requests("the cluster's store is busy, please try again", retry_after=1)


def internal_error_response(request, exc: BaseException) -> HttpResponse:
    log.error("unhandled error serving %s %s", request.method, request.path, exc_info=exc)
    return status_response(errors.internal("an unexpected error occurred; the server log has the details"))


def k8s_view(view):
    """Every /k8s/ view: CSRF-exempt, errors as Status, no exception escapes."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            if kwargs.get("key"):
                from cluster.api import auth
                from cluster.api.common import admit_request

                auth.check_request(request, kwargs["key"])
                admit_request(request, kwargs["key"])
            return view(request, *args, **kwargs)
        except errors.ApiError as exc:
            return status_response(exc)
        except OperationalError as exc:
            # A busy database (SQLite's write lock held too long): clients retry a 429 after Retry-After.
            log.warning("database busy serving %s %s: %s", request.method, request.path, exc)
            return status_response(busy())
        except Exception as exc:  # noqa: BLE001 - the last line of defence: log it, answer a Status
            return internal_error_response(request, exc)

    return csrf_exempt(wrapper)


class K8sErrorMiddleware:
    """Keep every answer under /k8s/ a Status: also Django's own 404/500/403 pages and middleware errors.

    Add it first in MIDDLEWARE (`cluster.api.errors.K8sErrorMiddleware`); the views need it only as a net.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(K8S_PREFIX):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception as exc:  # noqa: BLE001
            return internal_error_response(request, exc)
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and "html" in content_type:
            code = response.status_code
            reason = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
                      413: "RequestEntityTooLarge"}.get(code, "InternalError" if code >= 500 else "BadRequest")
            message = "the server could not find the requested resource" if code == 404 else reason
            if code >= 500:
                message = "Internal error occurred: an unexpected error occurred"
            return status_response(errors.ApiError(code, reason, message))
        return response

    def process_exception(self, request, exception):
        if request.path.startswith(K8S_PREFIX):
            if isinstance(exception, errors.ApiError):
                return status_response(exception)
            return internal_error_response(request, exception)
        return None
