"""``python -m litellm_codebuddy.fake [--host 127.0.0.1] [--port 0] [--key KEY] [--fault SPEC]``.

Serves until SIGINT/SIGTERM (exit status 0).  On start it prints one line to stdout, e.g.
``FAKE_CODEBUDDY_URL=http://127.0.0.1:43117/v2``; use that URL as the API base.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .server import FakeCodeBuddy


def main(argv: list[str] | None = None) -> int:
    """``python -m litellm_codebuddy.fake``: serve until SIGINT/SIGTERM, print the URL line first."""
    parser = argparse.ArgumentParser(prog="python -m litellm_codebuddy.fake", description="Fake CodeBuddy gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default=None, help="the only accepted API key (default: any ck_... key)")
    parser.add_argument("--fault", default=None, help="directives applied to every request, e.g. 'pace=0.01'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    fake = FakeCodeBuddy(args.host, args.port, args.key, max_requests=0)
    if args.fault:
        try:
            fake.set_fault(args.fault)
        except ValueError as exc:
            parser.error(f"--fault: {exc}")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, fake.request_stop)
        await fake.serve(on_ready=lambda: print(f"FAKE_CODEBUDDY_URL={fake.base_url}", flush=True))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
