"""The command line wing: ``litellm-codebuddy`` (:mod:`.commands`), its exit codes and explanations
(:mod:`.explain`), and what it shows (:mod:`.output`)."""

from .commands import main

__all__ = ["main"]
