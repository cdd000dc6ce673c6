"""The command line wing: ``litellm-codebuddy`` (:mod:`.commands`), its exit codes and explanations
(:mod:`.explain`), and what it shows (:mod:`.output`)."""

from .commands import main
from .explain import (
    EXIT_AUTH,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_LOGIN,
    EXIT_NETWORK,
    EXIT_NOT_CONFIGURED,
    EXIT_OK,
    EXIT_RATE_LIMIT,
    EXIT_USAGE,
    explain,
)
from .output import Progress

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN",
    "EXIT_NETWORK",
    "EXIT_NOT_CONFIGURED",
    "EXIT_OK",
    "EXIT_RATE_LIMIT",
    "EXIT_USAGE",
    "Progress",
    "explain",
    "main",
]
