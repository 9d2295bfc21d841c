#!/usr/bin/env bash
# `make demo`: SQLite, the embedded Celery transport (no Redis), DEBUG on.
# Starts the web server, a Celery worker and beat; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBUG=true
export ECOGPROM_VAR_DIR="${ECOGPROM_VAR_DIR:-$PWD/var}"
unset DATABASE_URL CELERY_BROKER_URL
BIN=.venv/bin
PORT="${PORT:-8000}"
mkdir -p "$ECOGPROM_VAR_DIR/log"

$BIN/python manage.py migrate --no-input -v0
$BIN/python manage.py seed_demo

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping the demo"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

$BIN/celery -A ecogprom worker --loglevel=INFO --concurrency=1 -n demo@%h \
  >"$ECOGPROM_VAR_DIR/log/worker.log" 2>&1 &
pids+=($!)
$BIN/celery -A ecogprom beat --loglevel=INFO \
  --schedule "$ECOGPROM_VAR_DIR/celerybeat-schedule" \
  >"$ECOGPROM_VAR_DIR/log/beat.log" 2>&1 &
pids+=($!)
$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)

cat <<EOT

  ecogprom demo is running at http://127.0.0.1:$PORT/

  Coordinator   coord_east / demo-coord-2108   http://127.0.0.1:$PORT/coordinator/
  Coordinator   coord_west / demo-coord-2108
  Statistician  stat / demo-stat-2108          http://127.0.0.1:$PORT/statistician/
  Trial admin   admin / demo-admin-2108        http://127.0.0.1:$PORT/admin/
  API docs                                     http://127.0.0.1:$PORT/api/docs/
  Home link     printed above by seed_demo: http://127.0.0.1:$PORT/r/...
                her access code 210800 (demo only)

  Worker and beat logs: $ECOGPROM_VAR_DIR/log/. Press Ctrl-C to stop everything.

EOT
wait -n "${pids[@]}"
