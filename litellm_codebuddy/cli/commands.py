"""The ``litellm-codebuddy`` command: ``doctor``, ``chat``, ``models``, ``credits``, ``login``, ``logout``, ``status``.

Every subcommand has ``--help``. Keys and tokens are never printed (at most ``ck_… (N characters)``). Answers go
to stdout; notes, usage figures, errors and the progress indicator go to stderr (the indicator only when stderr
is a terminal). Exit codes, for scripts: :data:`.explain.EXIT_CODES` (shown by ``--help``, and in
docs/cli.md#exit-codes).

``login`` / ``logout`` / ``status`` (the device-flow login) and ``credits`` are EXPERIMENTAL: their endpoints come
from other clients' reports, not from CodeBuddy's documentation. An API key (``CODEBUDDY_API_KEY``) is the supported
way to authenticate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
import time
import webbrowser
from collections.abc import Callable, Iterable
from typing import Any

import litellm

from .._version import __version__
from ..account import login as auth
from ..account.credentials import Credentials, resolve_credentials
from ..account.credits import fetch_credits
from ..account.discovery import Discovery, LiveModel, catalog_models, discover, model_list
from ..account.http import AccountError
from ..endpoint import BASE_ENV, DEFAULT_API_BASE, KEY_ENV, KEYS_URL, PROVIDER, BadBaseURL, api_root, key_is_well_formed
from ..provider.params import MIN_MAX_TOKENS
from .explain import (
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_LOGIN,
    EXIT_NETWORK,
    EXIT_NOT_CONFIGURED,
    EXIT_OK,
    EXIT_RATE_LIMIT,
    EXIT_USAGE,
    CliError,
    explain,
    message_of,
)
from .output import Output, Progress, amount, duration, masked, tokens, when, yaml_block

__all__ = ["build_parser", "main"]

DEFAULT_MODEL = "gpt-5.5"
KEY_SHAPE = re.compile(r"^ck_[^.\s]+\.[^.\s]\S*$")
CREDITS_NOTE = (
    "note: credits are experimental: the billing endpoint comes from other clients' reports, not CodeBuddy's "
    "documentation"
)
EXPERIMENTAL = (
    "note: login is experimental: its endpoints come from other clients' reports, not CodeBuddy's documentation. "
    f"An API key ({KEY_ENV}) is the supported way."
)

# ---------------------------------------------------------------- helpers


def _credentials(io: Output) -> Credentials:
    """The key the CLI will use: CODEBUDDY_API_KEY, else the stored login (refreshed if needed)."""
    env = os.environ.get(KEY_ENV, "")
    io.secrets.update((env, env.strip()))
    try:
        creds = resolve_credentials(None)
    except litellm.AuthenticationError as exc:
        raise CliError(EXIT_NOT_CONFIGURED, message_of(exc)) from None
    io.secrets.add(creds.key)
    return creds


def _api_base(args: argparse.Namespace) -> str:
    """The base URL (validated) for --api-base / CODEBUDDY_API_BASE / the default."""
    try:
        return api_root(args.api_base)
    except BadBaseURL as exc:
        code = EXIT_USAGE if args.api_base else EXIT_NOT_CONFIGURED
        raise CliError(code, f"CodeBuddy: {exc}") from None


def _base_source(args: argparse.Namespace) -> str:
    if args.api_base:
        return "--api-base"
    return BASE_ENV if os.environ.get(BASE_ENV) else "default"


def _model_id(model: str) -> str:
    return model.removeprefix(f"{PROVIDER}/")


def _usage_line(model: str, usage: Any, elapsed: float) -> str:
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    total = getattr(usage, "total_tokens", None)
    parts = [f"{PROVIDER}/{model}", f"{elapsed:.1f} s"]
    if total is not None:
        parts.append(f"tokens: {prompt or 0} prompt + {completion or 0} completion = {total}")
    return "[" + ", ".join(parts) + "]"


# ---------------------------------------------------------------- commands


def cmd_doctor(args: argparse.Namespace, io: Output) -> int:
    io.out(f"litellm-codebuddy {__version__} (LiteLLM {_litellm_version()})")
    base = _api_base(args)
    io.out(f"API base: {base} ({_base_source(args)})")
    env = os.environ.get(KEY_ENV, "")
    if env:
        io.secrets.add(env)
        if not key_is_well_formed(env):
            io.out(f"Key: {KEY_ENV} is set ({masked(env)}) but contains whitespace or control characters")
            io.err(f"error: remove the stray space/newline from {KEY_ENV}")
            return EXIT_NOT_CONFIGURED
        if not KEY_SHAPE.match(env):
            io.out(f"Key: {KEY_ENV} is set ({masked(env)}) but is not shaped like ck_<id>.<secret>")
            io.err(f"error: CodeBuddy API keys look like ck_<id>.<secret>; copy the whole key from {KEYS_URL}")
            return EXIT_NOT_CONFIGURED
        io.out(f"Key: {KEY_ENV} = {masked(env)}, well formed")
    else:
        try:
            tok = auth.load_token()
        except ValueError as exc:
            tok = None
            io.err(f"warning: {exc}")
        if tok is None:
            io.out("Key: not configured")
            io.err(
                f"error: no API key. Set {KEY_ENV}=ck_... (keys come from {KEYS_URL}), "
                "or run `litellm-codebuddy login` (experimental)"
            )
            return EXIT_NOT_CONFIGURED
        io.secrets.update((tok.access_token, tok.refresh_token))
        left = tok.expires_in()
        state = f"expires in {duration(left)}" if left > 0 else f"expired {duration(left)} ago, will be refreshed"
        io.out(f"Key: none in {KEY_ENV}; using the stored login (experimental), {state}")
    try:
        creds = _credentials(io)
    except CliError as exc:
        io.out("Key: unusable")
        io.err(f"error: {exc.message}")
        return exc.code
    model = _model_id(args.model)
    io.out(f"Request: one tiny request to {PROVIDER}/{model}")
    start = time.monotonic()
    try:
        with Progress("waiting for CodeBuddy"):
            resp = litellm.completion(
                model=f"{PROVIDER}/{model}",
                messages=[{"role": "user", "content": "ping"}],
                max_tokens=MIN_MAX_TOKENS,  # the gateway's smallest
                api_key=creds.key,
                api_base=args.api_base,
                timeout=args.timeout,
            )
    except Exception as exc:
        code, words = explain(exc)
        io.out("Result: FAILED")
        io.err(words)
        io.out(_credits_line(creds, args))
        return code
    usage = getattr(resp, "usage", None)
    total = getattr(usage, "total_tokens", None)
    io.out(f"Result: OK ({time.monotonic() - start:.2f} s" + (f", {total} tokens)" if total is not None else ")"))
    io.out(_credits_line(creds, args))
    io.out("All good.")
    return EXIT_OK


def _credits_line(creds: Credentials, args: argparse.Namespace) -> str:
    """Doctor's credits line (experimental endpoint): what is left, or why it is unknown. Never fails doctor."""
    try:
        found = fetch_credits(creds.key, args.api_base, timeout=min(args.timeout, 15.0))
    except AccountError as exc:
        return f"Credits: unknown ({exc}; experimental endpoint)"
    if not found.packages:
        return "Credits: no credit packages on this account (experimental endpoint)"
    return f"Credits: {amount(found.remaining)} left in {len(found.packages)} package(s) (experimental endpoint)"


def _litellm_version() -> str:
    try:
        from importlib.metadata import version

        return version("litellm")
    except Exception:
        return "unknown"


def _read_prompt(args: argparse.Namespace) -> str:
    prompt = args.prompt
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise CliError(EXIT_USAGE, 'no prompt: give one, e.g. litellm-codebuddy chat "Hello", or pipe it in')
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise CliError(EXIT_USAGE, "the prompt is empty")
    return str(prompt)


def cmd_chat(args: argparse.Namespace, io: Output) -> int:
    prompt = _read_prompt(args)
    _api_base(args)
    creds = _credentials(io)
    model = _model_id(args.model)
    messages: list[dict[str, str]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": prompt})
    params: dict[str, Any] = {"api_key": creds.key, "api_base": args.api_base, "timeout": args.timeout}
    if args.max_tokens:
        params["max_tokens"] = args.max_tokens
    start = time.monotonic()
    usage: Any = None
    wrote = ""
    progress = Progress("waiting for CodeBuddy")
    try:
        with progress:
            if args.no_stream:
                resp = litellm.completion(model=f"{PROVIDER}/{model}", messages=messages, **params)
                progress.stop()
                wrote = resp.choices[0].message.content or ""
                io.out(wrote, end="")
                usage = getattr(resp, "usage", None)
            else:
                stream = litellm.completion(
                    model=f"{PROVIDER}/{model}",
                    messages=messages,
                    stream=True,
                    stream_options={"include_usage": True},
                    **params,
                )
                for chunk in stream:
                    if getattr(chunk, "usage", None) is not None:
                        usage = chunk.usage
                    choices = getattr(chunk, "choices", None) or []
                    text = getattr(choices[0].delta, "content", None) if choices else None
                    if text:
                        progress.stop()
                        io.out(text, end="")
                        wrote = text
    except Exception as exc:
        if wrote and not wrote.endswith("\n"):
            io.out()
        code, words = explain(exc)
        io.err(f"error: {words}")
        return code
    if not wrote.endswith("\n"):
        io.out()
    if not args.quiet:
        io.err(_usage_line(model, usage, time.monotonic() - start))
    return EXIT_OK


def _yes_no(flag: bool | None) -> str:
    return "?" if flag is None else ("yes" if flag else "no")


def _model_rows(models: Iterable[LiveModel]) -> list[tuple[str, ...]]:
    return [
        (
            f"{PROVIDER}/{m.id}",
            tokens(m.max_input_tokens),
            tokens(m.max_output_tokens),
            _yes_no(m.supports_vision),
            _yes_no(m.supports_tools),
            _yes_no(m.supports_reasoning),
            _efforts(m.efforts),
            m.default_effort or ("-" if m.efforts == () else "?"),
        )
        for m in models
    ]


def _efforts(efforts: tuple[str, ...] | None) -> str:
    """A model's efforts as a cell: ``?`` unknown, ``none`` for a model that takes none."""
    return "?" if efforts is None else (",".join(efforts) or "none")


def _table(rows: list[tuple[str, ...]], io: Output) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        io.out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def cmd_models(args: argparse.Namespace, io: Output) -> int:
    if args.live:
        _api_base(args)
        with Progress("asking CodeBuddy for your models"):
            found = discover(api_base=args.api_base, timeout=args.timeout)
        if found.note:
            io.err(f"note: live model discovery failed, showing the built-in catalog instead: {found.note}")
    else:
        found = Discovery(catalog_models(), "catalog")
    if args.yaml:
        source = f"your account ({found.endpoint})" if found.source == "live" else "the built-in catalog"
        io.out(f"# CodeBuddy models from {source}: paste under your proxy config (or merge with its model_list)")
        io.out(yaml_block("model_list", model_list(found.models)))
        return EXIT_OK
    if args.json:
        io.out(
            json.dumps(
                {
                    "source": found.source,
                    "endpoint": found.endpoint,
                    "note": found.note,
                    "models": [{**m.to_json(), "model": f"{PROVIDER}/{m.id}"} for m in found.models],
                },
                indent=2,
            )
        )
        return EXIT_OK
    _table(
        [
            ("MODEL", "CONTEXT", "MAX OUTPUT", "VISION", "TOOLS", "REASONING", "EFFORTS", "DEFAULT"),
            *_model_rows(found.models),
        ],
        io,
    )
    source = f"live ({found.endpoint})" if found.source == "live" else "built-in catalog"
    io.err(f"{len(found.models)} models, source: {source}")
    return EXIT_OK


#: the exit code of each kind of :class:`~..account.http.AccountError` (``protocol``: 1)
_ACCOUNT_EXIT = {
    "config": EXIT_NOT_CONFIGURED,
    "refused": EXIT_AUTH,
    "limited": EXIT_RATE_LIMIT,
    "network": EXIT_NETWORK,
    "expired": EXIT_LOGIN,
    "timeout": EXIT_LOGIN,
}


def cmd_credits(args: argparse.Namespace, io: Output) -> int:
    _api_base(args)
    creds = _credentials(io)
    io.err(CREDITS_NOTE)
    try:
        with Progress("asking CodeBuddy for your credits"):
            found = fetch_credits(creds.key, args.api_base, timeout=args.timeout)
    except AccountError as exc:
        io.err(f"error: could not read the credits: {exc}")
        return _ACCOUNT_EXIT.get(exc.kind, EXIT_FAILURE)
    if args.json:
        packages = [
            {"name": p.name, "remaining": p.remaining, "total": p.total, "used": p.used, "ends": p.ends}
            for p in found.packages
        ]
        io.out(json.dumps({"remaining": found.remaining, "packages": packages}, indent=2))
        return EXIT_OK
    if not found.packages:
        io.out("No credit packages on this account.")
        return EXIT_OK
    rows: list[tuple[str, ...]] = [("PACKAGE", "LEFT", "TOTAL", "USED", "ENDS")]
    rows += [(p.name, amount(p.remaining), amount(p.total), amount(p.used), p.ends or "?") for p in found.packages]
    _table(rows, io)
    io.out(f"Credits left: {amount(found.remaining)}")
    return EXIT_OK


def _can_open_browser() -> bool:
    if os.environ.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_login(args: argparse.Namespace, io: Output) -> int:
    base = _api_base(args)
    io.err(EXPERIMENTAL)
    progress = Progress("waiting for you to approve the login in the browser (Ctrl-C to cancel)")

    def on_url(url: str) -> None:
        io.out("Open this URL in a browser and approve the login:")
        io.out(f"  {url}")
        if not args.no_browser and _can_open_browser():
            try:
                webbrowser.open(url)
            except Exception as exc:  # no browser after all: the URL is printed
                io.err(f"note: could not open a browser ({type(exc).__name__})")
        progress.__enter__()

    try:
        tok = auth.login(base, interval=args.interval, timeout=args.timeout, on_url=on_url)
    except AccountError as exc:
        progress.stop()
        io.err(f"error: login failed: {exc}")
        if exc.kind == "refused":
            io.err("What to do: the login was refused; try again, or use an API key from " + KEYS_URL)
        elif exc.kind in ("timeout", "expired"):
            io.err("What to do: run `litellm-codebuddy login` again and approve the login in time")
        return _ACCOUNT_EXIT.get(exc.kind, EXIT_FAILURE)
    finally:
        progress.stop()
    io.secrets.update((tok.access_token, tok.refresh_token))
    io.out(f"Logged in. The token is stored in {auth.token_path()} (mode 0600).")
    io.out(f"It expires {when(tok.expires_at)} (in {duration(tok.expires_in())}); it is refreshed automatically.")
    if os.environ.get(KEY_ENV):
        io.err(f"note: {KEY_ENV} is set and takes precedence over the login")
    return EXIT_OK


def cmd_logout(args: argparse.Namespace, io: Output) -> int:
    path = auth.token_path()
    if auth.delete_token(path):
        io.out(f"Logged out: removed {path}.")
    else:
        io.out(f"Not logged in (no {path}).")
    return EXIT_OK


def cmd_status(args: argparse.Namespace, io: Output) -> int:
    path = auth.token_path()
    if os.environ.get(KEY_ENV):
        io.err(f"note: {KEY_ENV} is set and takes precedence over any login")
    try:
        tok = auth.load_token(path)
    except ValueError as exc:
        io.out("Not logged in: the token file is unreadable.")
        io.err(f"error: {exc}. Run `litellm-codebuddy login` again.")
        return EXIT_NOT_CONFIGURED
    if tok is None:
        io.out("Not logged in.")
        io.err(f"Run `litellm-codebuddy login` (experimental) or set {KEY_ENV}.")
        return EXIT_NOT_CONFIGURED
    io.secrets.update((tok.access_token, tok.refresh_token))
    left = tok.expires_in()
    io.out(f"Logged in (experimental device login) at {tok.api_base}.")
    io.out(f"Token file: {path}")
    if left > 0:
        io.out(f"The access token expires {when(tok.expires_at)} (in {duration(left)}).")
    else:
        io.out(f"The access token expired {when(tok.expires_at)} ({duration(left)} ago).")
    io.out("A refresh token is stored: it is renewed automatically." if tok.refresh_token else "No refresh token.")
    return EXIT_OK if left > 0 else EXIT_NOT_CONFIGURED


# ---------------------------------------------------------------- parser


_EXITS = textwrap.fill("exit codes: " + ", ".join(f"{row.code} {row.name}" for row in EXIT_CODES) + ".", 110)
EPILOG = f"""{_EXITS}

The key comes from {KEY_ENV} (never from the command line, where other users could see it), else from
`litellm-codebuddy login` (experimental). The API base from --api-base, else {BASE_ENV}, else {DEFAULT_API_BASE}."""


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litellm-codebuddy",
        description="CodeBuddy for LiteLLM: check the setup, chat, list models, show credits, log in.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"litellm-codebuddy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_: str, func: Callable[[argparse.Namespace, Output], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help_, description=help_, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        p.set_defaults(func=func)
        return p

    def base(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api-base", default=None, help=f"API base URL (default: {BASE_ENV} or {DEFAULT_API_BASE})")

    p = add("doctor", "check the key and the connection with one tiny request; explain what fails", cmd_doctor)
    base(p)
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model to try (default {DEFAULT_MODEL})")
    p.add_argument("--timeout", type=_positive, default=60.0, help="seconds to wait for CodeBuddy (default 60)")

    p = add("chat", "send one prompt and stream the answer to stdout (usage goes to stderr)", cmd_chat)
    p.add_argument("prompt", nargs="?", help="the prompt; '-' or nothing reads it from stdin")
    base(p)
    p.add_argument("--model", "-m", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    p.add_argument("--system", "-s", default=None, help="a system prompt")
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer, then print it")
    p.add_argument("--max-tokens", type=int, default=None, help="cap the answer's length")
    p.add_argument("--timeout", type=_positive, default=600.0, help="seconds between bytes (default 600)")
    p.add_argument("--quiet", "-q", action="store_true", help="no usage line on stderr")

    p = add("models", "list the models: the built-in catalog, or your account's with --live", cmd_models)
    base(p)
    p.add_argument("--live", action="store_true", help="ask CodeBuddy for your account's models")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print JSON")
    shape.add_argument("--yaml", action="store_true", help="print a ready proxy model_list block (YAML)")
    p.add_argument("--timeout", type=_positive, default=15.0, help="seconds to wait for CodeBuddy (default 15)")

    p = add("credits", "show what is left of your account's credits (EXPERIMENTAL)", cmd_credits)
    base(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--timeout", type=_positive, default=15.0, help="seconds to wait for CodeBuddy (default 15)")

    p = add("login", "log in with the browser and store a token (EXPERIMENTAL)", cmd_login)
    base(p)
    p.add_argument("--no-browser", action="store_true", help="only print the URL, do not open a browser")
    p.add_argument(
        "--interval",
        type=_positive,
        default=auth.DEFAULT_INTERVAL,
        help="seconds between polls when the server announces none (default 5)",
    )
    p.add_argument("--timeout", type=_positive, default=300.0, help="give up after this many seconds (default 300)")

    add("logout", "delete the stored login token", cmd_logout)
    add("status", "show whether you are logged in and when the token expires (never the token)", cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    litellm.suppress_debug_info = True
    io = Output()
    try:
        return int(args.func(args, io))
    except CliError as exc:
        io.err(f"error: {exc.message}")
        return exc.code
    except KeyboardInterrupt:
        io.err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as exc:  # a bug: say it plainly, never with a secret
        io.err(f"error: unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAILURE
