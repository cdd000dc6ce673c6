"""A local fake of the CodeBuddy chat gateway, for tests, demos and benchmarks (standard library only).

It serves ``POST /v2/chat/completions`` the way the real gateway does as far as public reports go: streaming
only, the gateway's request checks with their business ``code``, a stream with the gateway's oddities, and the
login, discovery and credits endpoints other clients report.  Fault directives make it misbehave on request.
Plain HTTP or HTTPS.  ``python -m fake_codebuddy`` runs it (see ``cli``) without importing LiteLLM.

Modules: ``server`` (:class:`FakeCodeBuddy`, the lifecycle), ``state`` (what a running fake keeps: records,
counters, account state), ``http`` (HTTP/1.1), ``auth`` (the key rule), ``gateway`` (the chat endpoint's steps),
``checks`` (the request checks), ``codes`` (business codes), ``answer`` (what the stream holds), ``stream`` (how it
is written), ``pacing`` (when paced events go out), ``tokens`` (token estimates), ``directives`` (the table of
fault directives, :class:`Faults`, :func:`parse_faults`), ``account`` (login, discovery, credits), ``models``,
``messages``, ``tls`` (certificates), ``cli`` (:func:`main`).
It imports nothing outside the standard library and this package, but for ``cryptography`` when ``tls`` makes a
certificate.
"""

from .cli import main
from .directives import DIRECTIVES, Faults, directive_rows, parse_faults
from .models import KNOWN_MODELS
from .server import FakeCodeBuddy
from .state import FakeState, RequestRecord

__all__ = [
    "DIRECTIVES",
    "KNOWN_MODELS",
    "FakeCodeBuddy",
    "FakeState",
    "Faults",
    "RequestRecord",
    "directive_rows",
    "main",
    "parse_faults",
]
