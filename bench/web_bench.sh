#!/usr/bin/env bash
# The web-latency benchmark of issue #4, end to end:
#   1. Locust in its own virtualenv, bench/.venvs/locust (bench/web_setup.sh; kept once made);
#   2. the demo business at 1,000,000 customers / 10,000,000 orders in SQLite and in the PostgreSQL
#      database bench_web on 127.0.0.1:5432 (bench/web_build.py; cached under bench/.data/, built once:
#      about 7 minutes for SQLite and 13 for PostgreSQL on 2 cores, plus 2 to generate the data);
#   3. the runs (bench/web_bench.py): each page alone, then the mixed ramp, on each backend (~11 min each).
# Usage: bash bench/web_bench.sh [web_bench.py options, e.g. --backend sqlite --markdown /tmp/web.md]
set -euo pipefail
cd "$(dirname "$0")/.."
df -h . | tail -1 | awk '{ if ($4+0 < 20 && $4 ~ /G$/) print "warning: under 20 GB free; the databases take ~11 GB" }'
bash bench/web_setup.sh
exec .venv/bin/python bench/web_bench.py "$@"
