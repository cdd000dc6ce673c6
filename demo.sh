#!/usr/bin/env bash
# The main job in one command: install, start the LiteLLM proxy in front of CodeBuddy (or the built-in fake
# when CODEBUDDY_API_KEY is not set), show a real exchange through it, stop. `./demo.sh --serve` keeps it up.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[proxy]' openai
export LITELLM_LOCAL_MODEL_COST_MAP=True
exec "$VENV/bin/python" -m litellm_codebuddy.local.demo "$@"
