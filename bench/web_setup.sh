#!/usr/bin/env bash
# Create bench/.venvs/locust: the load generator of the web-latency benchmark (bench/requirements-web.txt).
# It is never a project dependency and runs in its own process, apart from the server it loads.
# Usage: bash bench/web_setup.sh        (an existing, complete environment is kept)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
VENV=.venvs/locust
if [[ -x "$VENV/bin/locust" && -f "$VENV/.complete" ]]; then
  echo "bench/$VENV: already there"; exit 0
fi
echo "bench/$VENV: creating from requirements-web.txt"
rm -rf "$VENV"
mkdir -p .venvs
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r requirements-web.txt
"$VENV/bin/python" -m pip freeze > "$VENV/.complete"
echo "bench/$VENV: $("$VENV/bin/locust" --version)"
