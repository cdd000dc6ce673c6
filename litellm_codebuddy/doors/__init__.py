"""The LiteLLM proxy's doors for CodeBuddy: what a careless or hostile client gets, decided before the Router.

:mod:`.shapes` checks a body's JSON types and finds a client's own credentials (pure); :mod:`.hook` is the proxy
hook object that answers them (``litellm_codebuddy.proxy_doors`` in a config's ``litellm_settings.callbacks``);
:mod:`.logs` puts a client's error on one line in LiteLLM's log once the hook object exists.
"""

from __future__ import annotations

from .hook import NOT_THIS_PROXYS_KEY, ProxyDoors
from .shapes import client_credentials, problem

__all__ = ["NOT_THIS_PROXYS_KEY", "ProxyDoors", "client_credentials", "problem"]
