#!/usr/bin/env bash
# The test command (README). Three passes, each in its own virtualenv under the repository; each selects tests by
# their kind (a pytest marker, one per folder under tests/: unit, fake, faults, proxy, agents, replicas, official):
#  1. full   (.venv): the package with its [test] extras (LiteLLM with the proxy: the newest litellm[proxy] that
#            installs), then ruff, mypy and every test of every kind;
#  2. latest (.venv-latest): the newest LiteLLM SDK that installs (without the proxy extras), and the kinds that
#            need no proxy (unit, fake, faults), so the provider stays green on what `pip install litellm` gives;
#  3. oldest (.venv-oldest): the floors of the declared ranges (LiteLLM 1.108.7, httpx 0.28.0 with httpcore 1.0.0
#            and h11 0.13; openai 2.20.0 is the newest that installs beside h11 0.13) and the same kinds, so the
#            provider is proven on the oldest LiteLLM and httpx it declares (it reads only their public APIs:
#            tests/unit/test_public_api.py, tests/faults/test_public_only.py).
# Extra arguments go to pytest in every pass. TEST_PASSES="full" (or "latest", "oldest", "full latest") runs some.
set -euo pipefail
cd "$(dirname "$0")"
export LITELLM_LOCAL_MODEL_COST_MAP=True
export PIP_DISABLE_PIP_VERSION_CHECK=1
passes="${TEST_PASSES:-full latest oldest}"
NO_PROXY_KINDS="unit or fake or faults"

venv() {  # venv DIR SPEC: create DIR if needed and install SPEC into it
    [ -x "$1/bin/python" ] || python3 -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade --upgrade-strategy eager -e "$2"
}

for pass in $passes; do
    case "$pass" in
    full)
        VENV="${VENV:-.venv}"
        venv "$VENV" '.[test]'
        echo "== full pass: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("litellm", m.version("litellm"))')"
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy" litellm_codebuddy fake_codebuddy
        # loadgroup: the replica tests (xdist_group "replicas") share one Redis and two proxies on one worker
        "$VENV/bin/pytest" -n 2 --dist loadgroup "$@"
        ;;
    latest)
        venv .venv-latest '.[test-sdk]'
        echo "== latest pass: $(.venv-latest/bin/python -c 'import importlib.metadata as m; print("litellm", m.version("litellm"))')"
        .venv-latest/bin/pytest -n 2 -m "$NO_PROXY_KINDS" "$@"
        ;;
    oldest)
        venv .venv-oldest '.[test-sdk]'
        .venv-oldest/bin/python -m pip install --quiet litellm==1.108.7 httpx==0.28.0 httpcore==1.0.0 h11==0.13.0 \
            openai==2.20.0
        echo "== oldest pass: $(.venv-oldest/bin/python -c 'import importlib.metadata as m; print(*(f"{p} {m.version(p)}" for p in ("litellm", "httpx", "httpcore", "h11")))')"
        .venv-oldest/bin/pytest -n 2 -m "$NO_PROXY_KINDS" "$@"
        ;;
    *)
        echo "unknown pass: $pass" >&2
        exit 2
        ;;
    esac
done
