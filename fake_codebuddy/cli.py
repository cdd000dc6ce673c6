"""``python -m fake_codebuddy [--host 127.0.0.1] [--port 0] [--key KEY] [--fault SPEC] [--tls | --certfile F
[--keyfile F]]``.

Serves until SIGINT/SIGTERM (exit status 0).  Once it listens it prints to stdout
``FAKE_CODEBUDDY_URL=http://127.0.0.1:43117/v2`` (use it as the API base), and with ``--tls`` first
``FAKE_CODEBUDDY_CA=<path>``: the throw-away CA that signed its certificate, for clients to trust
(``ssl_verify=<path>``), removed when the fake stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .server import FakeCodeBuddy
from .tls import MISSING_CRYPTOGRAPHY, can_make_certificates

PROG = "python -m fake_codebuddy"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Fake CodeBuddy gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default=None, help="the only accepted API key (default: any ck_... key)")
    parser.add_argument("--fault", default=None, help="directives applied to every request, e.g. 'pace=0.01'")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a throw-away CA (printed as FAKE_CODEBUDDY_CA=...)"
    )
    tls.add_argument("--certfile", default=None, help="serve HTTPS with this certificate (chain) file")
    parser.add_argument("--keyfile", default=None, help="the private key of --certfile (default: in the certfile)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m fake_codebuddy``: serve until SIGINT/SIGTERM, print the URL line (and the CA line) first."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    if args.tls and not can_make_certificates():
        parser.error(MISSING_CRYPTOGRAPHY)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    fake = FakeCodeBuddy(
        args.host, args.port, args.key, max_requests=0, tls=args.tls, certfile=args.certfile, keyfile=args.keyfile
    )
    if args.fault:
        try:
            fake.set_fault(args.fault)
        except ValueError as exc:
            parser.error(f"--fault: {exc}")

    def ready() -> None:
        if fake.ca_file is not None:
            print(f"FAKE_CODEBUDDY_CA={fake.ca_file}", flush=True)
        print(f"FAKE_CODEBUDDY_URL={fake.base_url}", flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, fake.request_stop)
        await fake.serve(on_ready=ready)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
