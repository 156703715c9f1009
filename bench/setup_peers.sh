#!/usr/bin/env bash
# Create the virtual environments of the analyze benchmark's reference contenders under bench/.venvs/.
# They are never project dependencies: each peer lives in its own environment, installed from PyPI.
#   floor     duckdb + pyarrow      (the bare GROUP BY)
#   lifetimes lifetimes 0.11.3      (with pandas/pyarrow to read Parquet)
#   pymc      pymc-marketing        (rfm_summary + BetaGeoModel MAP fit)
# Usage: bash bench/setup_peers.sh [floor|lifetimes|pymc ...]   (default: all three; existing ones are kept)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
ROOT=.venvs
mkdir -p "$ROOT"

make_venv() {  # name, packages...
  local name=$1; shift
  if [[ -x "$ROOT/$name/bin/python" && -f "$ROOT/$name/.complete" ]]; then
    echo "bench/$ROOT/$name: already there"; return
  fi
  echo "bench/$ROOT/$name: creating with $*"
  rm -rf "$ROOT/$name"
  "$PY" -m venv "$ROOT/$name"
  "$ROOT/$name/bin/python" -m pip install --quiet --upgrade pip
  "$ROOT/$name/bin/python" -m pip install --quiet "$@"
  "$ROOT/$name/bin/python" -m pip freeze > "$ROOT/$name/.complete"
}

want=("$@")
[[ ${#want[@]} -eq 0 ]] && want=(floor lifetimes pymc)
for w in "${want[@]}"; do
  case $w in
    floor) make_venv floor duckdb pyarrow ;;
    lifetimes) make_venv lifetimes "lifetimes==0.11.3" pandas pyarrow ;;
    pymc) make_venv pymc pymc-marketing pyarrow ;;
    *) echo "unknown peer: $w" >&2; exit 2 ;;
  esac
done
