"""What the command shows: stdout/stderr writers that never let a secret through, a progress spinner, and the
formatting of keys, token counts, durations and times."""

from __future__ import annotations

import datetime
import json
import sys
import threading
import time
from typing import Any, TextIO

from ..endpoint import redact

__all__ = ["Output", "Progress", "duration", "masked", "tokens", "when"]


class Output:
    """stdout/stderr writers that never let a known secret through."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        return redact(text, *self.secrets)

    def out(self, text: str = "", end: str = "\n") -> None:
        sys.stdout.write(self.redact(text) + end)
        sys.stdout.flush()

    def err(self, text: str = "", end: str = "\n") -> None:
        sys.stderr.write(self.redact(text) + end)
        sys.stderr.flush()


class Progress:
    """A spinner with elapsed seconds on stderr while waiting, only when stderr is a terminal."""

    FRAMES = "|/-\\"

    def __init__(self, message: str, stream: TextIO | None = None) -> None:
        self.message = message
        self.stream = stream or sys.stderr
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError, OSError):
            self.enabled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="litellm-codebuddy-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        start = time.monotonic()
        frame = 0
        while not self._stop.wait(0.1):
            elapsed = time.monotonic() - start
            self.stream.write(f"\r{self.FRAMES[frame % 4]} {self.message} ({elapsed:.0f}s)")
            self.stream.flush()
            frame += 1

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.stream.write("\r\x1b[K")
        self.stream.flush()


def masked(key: str) -> str:
    """What may be shown of a key: ``ck_… (41 characters)``."""
    return f"{key[:3] if key.startswith('ck_') else ''}… ({len(key)} characters)"


def tokens(tokens: int | None) -> str:
    if not tokens:
        return "?"
    if tokens >= 1_000_000 and tokens % 1_000_000 == 0:
        return f"{tokens // 1_000_000}M"
    if tokens >= 1000:
        return f"{tokens / 1000:g}k"
    return str(tokens)


def duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min"


def when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):  # a flow sequence of scalars
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid YAML double-quoted scalar


def yaml_block(key: str, items: list[dict[str, Any]]) -> str:
    """``key:`` and a YAML list of mappings whose values are scalars or mappings of scalars or of lists of scalars
    (a ``model_list``)."""
    lines = [f"{key}:"]
    for item in items:
        prefix = "  - "
        for name, value in item.items():
            if isinstance(value, dict):
                lines.append(f"{prefix}{name}:")
                lines.extend(f"      {k}: {_scalar(v)}" for k, v in value.items())
            else:
                lines.append(f"{prefix}{name}: {_scalar(value)}")
            prefix = "    "
    return "\n".join(lines)


def amount(value: float | None) -> str:
    """A credit figure: ``?`` when unknown, no trailing ``.0``."""
    if value is None:
        return "?"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
