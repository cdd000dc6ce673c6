"""A client's error on one line in the proxy's log, instead of a stack trace per 4xx.

LiteLLM logs every error a provider answered with its full traceback, a client's bad request too (a 4xx from the
provider is "an upstream or deployment problem" to it), and its exception messages carry tracebacks of their own.
:class:`ClientErrorsOnOneLine` is a :class:`logging.Filter` for LiteLLM's loggers: a record about an exception with
a 4xx status, or LiteLLM's log of a refused key (unless a 5xx), is put on one line, without its traceback; every
other record (5xx, connection errors, the proxy's own faults) is left as it is. Nothing here runs by itself:
:func:`install` is called when the proxy loads the package's hook object (``litellm_codebuddy.proxy_doors`` in the
config's callbacks).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LITELLM_LOGGERS", "ClientErrorsOnOneLine", "client_status", "install", "one_line"]

#: LiteLLM's own loggers (``litellm._logging``): the proxy's, the Router's and the SDK's
LITELLM_LOGGERS = ("LiteLLM Proxy", "LiteLLM Router", "LiteLLM")
_TRACEBACK = "Traceback (most recent call last)"


def client_status(exc: Any) -> int | None:
    """The 4xx status of an exception (``status_code``, or a ProxyException's ``code``), else None."""
    for value in _statuses(exc):
        if isinstance(value, bool) or value is None:
            continue
        try:
            status = int(str(value))
        except ValueError:
            continue
        return status if 400 <= status < 500 else None
    return None


def _statuses(exc: Any) -> tuple[Any, Any]:
    """What an exception says its status is: ``status_code`` (LiteLLM's), then ``code`` (a ProxyException's)."""
    return getattr(exc, "status_code", None), getattr(exc, "code", None)


def _server_status(exc: Any) -> bool:
    for value in _statuses(exc):
        try:
            if int(str(value)) >= 500:
                return True
        except ValueError:
            continue
    return False


def one_line(text: str) -> str:
    """``text`` up to its first traceback, with its lines joined by spaces."""
    head = text.split(_TRACEBACK, 1)[0]
    return " ".join(line.strip() for line in head.splitlines() if line.strip())


class ClientErrorsOnOneLine(logging.Filter):
    """Drops the traceback of a record about a client error (4xx) and puts its message on one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            args = record.args if isinstance(record.args, tuple) else ()
            exc = next((a for a in args if isinstance(a, BaseException)), None)
        if exc is None or client_status(exc) is None:
            # LiteLLM's log of a refused key (it carries the requester's address): a client's error unless a 5xx,
            # also when the exception is a plain one without a status ("No api key passed in.")
            if getattr(record, "requester_ip", None) is None or _server_status(exc):
                return True
        record.msg = one_line(record.getMessage())
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_installed = ClientErrorsOnOneLine()


def install() -> None:
    """Add the filter to LiteLLM's loggers (idempotent; never the root logger, never a handler)."""
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if _installed not in logger.filters:
            logger.addFilter(_installed)
