#!/usr/bin/env bash
# The test command (README). Two passes, each in its own virtualenv under the repository:
#  1. .venv: the package with its [test] extras (LiteLLM with the proxy, pinned by pip to the newest
#     litellm[proxy] that installs), then ruff, mypy and every test, the end-to-end ones through the real
#     LiteLLM proxy included;
#  2. .venv-latest: the newest LiteLLM SDK that installs (without the proxy extras), and the whole suite but the
#     end-to-end tests, so the provider stays green on the release users get from `pip install litellm`;
#  3. .venv-oldest: the floors of the declared ranges (LiteLLM 1.108.7, httpx 0.28.0 with httpcore 1.0.0 and h11
#     0.13) and the transport, stream and provider tests, so the ready-chunk reader (provider/ready.py) is proven
#     at both ends (openai 2.20.0 is the newest that installs beside h11 0.13).
# Extra arguments go to pytest in both passes. TEST_PASSES="full" (or "latest") runs one pass only.
set -euo pipefail
cd "$(dirname "$0")"
export LITELLM_LOCAL_MODEL_COST_MAP=True
export PIP_DISABLE_PIP_VERSION_CHECK=1
passes="${TEST_PASSES:-full latest oldest}"

venv() {  # venv DIR SPEC: create DIR if needed and install SPEC into it
    [ -x "$1/bin/python" ] || python3 -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager -e "$2"
}

for pass in $passes; do
    case "$pass" in
    full)
        VENV="${VENV:-.venv}"
        venv "$VENV" '.[test]'
        echo "== full pass: $("$VENV/bin/python" -c 'import litellm, importlib.metadata as m; print("litellm", m.version("litellm"))')"
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy" litellm_codebuddy
        # loadgroup: the replica tests (xdist_group "replicas") share one Redis and two proxies on one worker
        "$VENV/bin/pytest" -n 2 --dist loadgroup "$@"
        ;;
    latest)
        venv .venv-latest '.[test-sdk]'
        echo "== latest pass: $(.venv-latest/bin/python -c 'import importlib.metadata as m; print("litellm", m.version("litellm"))')"
        .venv-latest/bin/pytest -n 2 -m "not e2e" "$@"
        ;;
    oldest)
        venv .venv-oldest '.[test-sdk]'
        .venv-oldest/bin/python -m pip install --quiet litellm==1.108.7 httpx==0.28.0 httpcore==1.0.0 h11==0.13.0 \
            openai==2.20.0
        echo "== oldest pass: $(.venv-oldest/bin/python -c 'import importlib.metadata as m; print(*(f"{p} {m.version(p)}" for p in ("litellm", "httpx", "httpcore", "h11")))')"
        .venv-oldest/bin/pytest -n 2 -m "not e2e" tests/test_ready.py tests/test_stream.py tests/test_sse.py \
            tests/test_coalesce.py tests/test_faults.py tests/test_cancellation.py tests/test_provider.py "$@"
        ;;
    *)
        echo "unknown pass: $pass" >&2
        exit 2
        ;;
    esac
done
