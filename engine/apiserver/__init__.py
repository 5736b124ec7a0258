"""kube-apiserver's semantics without HTTP: see server.py."""

from engine.apiserver.server import ApiServer, DeleteResult, RequestContext, WatchEvent

__all__ = ["ApiServer", "DeleteResult", "RequestContext", "WatchEvent"]
