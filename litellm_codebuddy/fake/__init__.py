"""A local fake of the CodeBuddy chat gateway, for tests, demos and benchmarks (standard library only).

It serves ``POST /v2/chat/completions`` the way the real gateway does as far as public reports go: streaming
only, the gateway's request checks with their business ``code``, a stream with the gateway's oddities, and the
login, discovery and credits endpoints other clients report.  Fault directives make it misbehave on request.

Modules: ``server`` (:class:`FakeCodeBuddy`, lifecycle, counters), ``http`` (HTTP/1.1), ``gateway`` (auth and
request checks), ``codes`` (business codes), ``answer`` (what the stream holds), ``stream`` (how it is written),
``tokens`` (token estimates), ``directives`` (faults, :func:`parse_fault`), ``account`` (login, discovery, credits),
``models``, ``cli`` (:func:`main`).
It imports nothing outside the standard library and this package (``launch.start_fake`` relies on that).
"""

from .cli import main
from .directives import parse_fault
from .models import KNOWN_MODELS
from .server import FakeCodeBuddy, RequestRecord

__all__ = ["KNOWN_MODELS", "FakeCodeBuddy", "RequestRecord", "main", "parse_fault"]
