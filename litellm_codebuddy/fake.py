"""The fake CodeBuddy moved to its own package, :mod:`fake_codebuddy`; these names stay importable from here."""

from fake_codebuddy import KNOWN_MODELS, FakeCodeBuddy, Faults, RequestRecord, main, parse_faults

__all__ = ["KNOWN_MODELS", "FakeCodeBuddy", "Faults", "RequestRecord", "main", "parse_faults"]

if __name__ == "__main__":  # python -m litellm_codebuddy.fake still runs it (after importing LiteLLM)
    raise SystemExit(main())
