#!/usr/bin/env bash
# The test command (README): install the package with its test extras, lint, type-check, run every test
# (unit tests with respx, and end-to-end tests through the real LiteLLM proxy against the built-in fake).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'
export LITELLM_LOCAL_MODEL_COST_MAP=True
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy" litellm_codebuddy
exec "$VENV/bin/pytest" -n 2 "$@"
