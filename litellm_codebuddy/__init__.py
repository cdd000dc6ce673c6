"""CodeBuddy (www.codebuddy.ai) as a LiteLLM provider: ``litellm.completion(model="codebuddy/gpt-5.5", ...)``.

Importing the package registers the ``codebuddy`` provider and its model catalog with LiteLLM (no network,
no client created). ``codebuddy_llm`` is the handler instance the proxy's ``custom_provider_map`` names;
``proxy_startup`` the opt-in proxy start-up hook that registers the account's own models
(``LITELLM_WORKER_STARTUP_HOOKS=litellm_codebuddy:proxy_startup``, :mod:`.account.startup`); ``proxy_doors`` the
proxy hook object the shipped configs name in ``litellm_settings.callbacks`` (:mod:`.doors`), made on first use
only, since making it puts LiteLLM's log of a client's error on one line.

The house: :mod:`.provider` (what LiteLLM calls and the pure pieces it wires), :mod:`.account` (the key, the
stored login, the account's models), :mod:`.cli` (the ``litellm-codebuddy`` command), :mod:`.local` (the demo
and the process launcher); :mod:`.endpoint` and :mod:`.catalog` hold the facts they share.  The fake gateway is
its own package, ``fake_codebuddy`` (standard library only); :mod:`.fake` re-exports its public names.
"""

from __future__ import annotations

from typing import Any

import litellm

from ._version import __version__
from .account.startup import proxy_startup
from .catalog import register_catalog
from .endpoint import PROVIDER
from .provider import CodeBuddyLLM

__all__ = ["PROVIDER", "CodeBuddyLLM", "__version__", "codebuddy_llm", "proxy_doors", "proxy_startup", "register"]

#: the handler instance (``litellm_codebuddy.codebuddy_llm`` in a proxy YAML)
codebuddy_llm = CodeBuddyLLM()


def register() -> None:
    """Register the ``codebuddy`` provider and the model catalog with LiteLLM (idempotent)."""
    if not any(entry.get("provider") == PROVIDER for entry in litellm.custom_provider_map):
        litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": codebuddy_llm})
    litellm.utils.custom_llm_setup()
    register_catalog()


register()

_doors: list[Any] = []


def __getattr__(name: str) -> Any:
    """``proxy_doors``: the proxy hook object (:class:`.doors.ProxyDoors`), made when the proxy first asks for it."""
    if name != "proxy_doors":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _doors:
        from .doors import ProxyDoors

        _doors.append(ProxyDoors())
    return _doors[0]
