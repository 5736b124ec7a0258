#!/usr/bin/env bash
# Run every benchmark in turn and keep each one's output in var/bench/<name>.txt (RESULT lines summarise).
# Full sizes take roughly 15-25 minutes on a 2-core machine; `bench/run_all.sh --quick` takes a few.
# Run it on a quiet machine: each benchmark prints the load average it started with.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=var/bench
mkdir -p "$OUT"

if [[ "${1:-}" == "--quick" ]]; then
  runs=(
    "scheduling|bench/scheduling.py --quick"
    "engine_scale|bench/engine_scale.py --nodes 100 --pods 3000 --duration 10 --workshop-duration 5"
    "api_latency|bench/api_latency.py --pods 200 --samples 50"
    "push_latency|bench/push_latency.py --clients 20 --writes 20"
    "workshop_capacity|bench/workshop_capacity.py --start 5 --max-seats 20 --window 6 --bisections 1"
    "workshop_capacity_engine|bench/workshop_capacity.py --mode engine --start 10 --max-seats 40 --window 5"
    "frontend_fps|bench/frontend_fps.py --pods 100 --flows 50 --seconds 5"
  )
else
  runs=(
    "scheduling|bench/scheduling.py"
    "engine_scale|bench/engine_scale.py"
    "api_latency|bench/api_latency.py"
    "push_latency|bench/push_latency.py"
    "workshop_capacity|bench/workshop_capacity.py"
    "workshop_capacity_postgres|bench/workshop_capacity.py --database postgres"
    "workshop_capacity_engine|bench/workshop_capacity.py --mode engine --max-seats 800"
    "frontend_fps|bench/frontend_fps.py"
  )
fi

status=0
for run in "${runs[@]}"; do
  name=${run%%|*}
  args=${run#*|}
  echo "### $name: $PY $args"
  # shellcheck disable=SC2086 # the arguments are meant to split
  if ! $PY $args 2>&1 | tee "$OUT/$name.txt"; then
    echo "### $name FAILED" >&2
    status=1
  fi
done
echo
echo "### summary (also in $OUT/*.txt)"
grep -h '^RESULT' "$OUT"/*.txt
exit $status
