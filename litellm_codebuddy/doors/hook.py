"""The proxy's doors: what a careless or hostile client gets from the LiteLLM proxy, decided before the Router.

:class:`ProxyDoors` is a LiteLLM ``CustomLogger`` that the shipped proxy configs name in
``litellm_settings.callbacks`` (``litellm_codebuddy.proxy_doors``). It uses two of LiteLLM's public hooks:

- ``async_pre_call_hook`` runs on every request after authentication and before the Router: a body whose
  ``messages``, ``content`` or ``input`` has the wrong JSON type (:func:`.shapes.problem`) is answered 400 at once,
  without the Router's retries and without a traceback; a client's own ``api_key`` in the body is refused (400)
  unless the operator allows client-side credentials the way LiteLLM does for ``api_base``
  (``general_settings.allow_client_side_credentials: true``, or ``api_key`` in the deployment's
  ``configurable_clientside_auth_params``). A client's key would otherwise replace the operator's CodeBuddy key
  for that request, and the gateway's 401 for it would cool the operator's deployment down for everyone. A client's
  ``private_data`` is kept only when it opts out (true): LiteLLM would let a client's false replace a deployment's
  opt-out (``proxy_team.yaml``) for its request, so a false, or anything else, is left out.
- ``async_post_call_failure_hook`` sees every failure, authentication ones included, and may change the answer:
  a key that is not the master key on a proxy without a database of virtual keys gets 401 (LiteLLM answers
  400 "No connected db."), and an error whose message carries a Python traceback reaches the client as its first
  line only.

Loading the object also puts LiteLLM's log of a client's error on one line (:mod:`.logs`).
"""

from __future__ import annotations

import logging
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from ..endpoint import switch
from . import logs
from .shapes import client_credentials, problem

__all__ = ["NOT_THIS_PROXYS_KEY", "ProxyDoors"]

logger = logging.getLogger(__name__)

NOT_THIS_PROXYS_KEY = (
    "Authentication Error: this key is not accepted. This proxy has no database of virtual keys, so the only key "
    "it takes is its master key (LITELLM_MASTER_KEY): send it as `Authorization: Bearer <key>`."
)
_NO_DB_TYPE = "no_db_connection"  # LiteLLM's ProxyErrorTypes.no_db_connection, raised for a non-master key
_TRACEBACK = "Traceback (most recent call last)"


def _refused_credentials(fields: list[str]) -> str:
    names = ", ".join(f"`{name}`" for name in fields)
    return (
        f"Rejected Request: {names} is not allowed in the request body: this proxy calls CodeBuddy with the "
        "operator's key. The operator can allow client-side keys with `general_settings.allow_client_side_credentials"
        ": true` (proxy-wide) or `configurable_clientside_auth_params: [api_key]` on the deployment."
    )


def _client_keys_allowed(model: Any) -> bool:
    """The operator's opt-in to client-side keys, read from the running proxy's settings (LiteLLM's own names)."""
    from litellm.proxy import proxy_server

    settings = getattr(proxy_server, "general_settings", None) or {}
    if settings.get("allow_client_side_credentials") is True:
        return True
    router = getattr(proxy_server, "llm_router", None)
    if router is None or not isinstance(model, str):
        return False
    for deployment in router.get_model_list(model_name=model) or []:
        allowed = (deployment.get("litellm_params") or {}).get("configurable_clientside_auth_params") or []
        if "api_key" in allowed:
            return True
    return False


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)


class ProxyDoors(CustomLogger):  # type: ignore[misc]
    """The hook object (see the module's docstring). Creating it installs :func:`.logs.install`'s filter."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        logs.install()

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        from fastapi import HTTPException

        found = problem(str(call_type), data)
        if found is not None:
            raise HTTPException(status_code=400, detail=f"Invalid request: {found}")
        fields = client_credentials(data)
        if fields and not _client_keys_allowed(data.get("model")):
            raise HTTPException(status_code=400, detail=_refused_credentials(fields))
        if "private_data" in data and switch(data["private_data"]) is not True:
            # a client may opt its own requests out, never a deployment's requests back in
            logger.debug("CodeBuddy doors: a client's private_data that is not an opt-out is left out")
            del data["private_data"]
        return data

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> Any:
        from fastapi import HTTPException

        if getattr(original_exception, "type", None) == _NO_DB_TYPE and str(
            getattr(original_exception, "code", "")
        ) == ("400"):
            return HTTPException(status_code=401, detail=NOT_THIS_PROXYS_KEY)
        message = _message(original_exception)
        if _TRACEBACK in message:
            status = getattr(original_exception, "status_code", None)
            code = status if isinstance(status, int) and 400 <= status <= 599 else 500
            return HTTPException(status_code=code, detail=logs.one_line(message))
        return None
