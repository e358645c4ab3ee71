#!/usr/bin/env bash
# make run: install, migrate, seed the demo into an empty database (one already in use is left alone), then
# start the Exchange simulator, an RQ worker with RQ's scheduler, the notification listener and the web
# server. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3} bash scripts/ensure-venv.sh requirements.txt
mkdir -p .run instance
export FLASK_APP=wsgi.py
free_port() { .venv/bin/python -c "import socket,sys; s=socket.socket(); p=int(sys.argv[1])
try: s.bind(('127.0.0.1',p))
except OSError: s.bind(('127.0.0.1',0))
print(s.getsockname()[1])" "$1"; }

# Prometheus multi-process mode (O2): every process of this run writes its metrics here; /metrics adds them up.
export PROMETHEUS_MULTIPROC_DIR="$PWD/.run/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
REDIS_URL=$(bash scripts/ensure-redis.sh .run)
export SUNDIAL_REDIS_URL=$REDIS_URL
pids=()
cleanup() {
  echo; echo "→ stopping Sundial"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f .run/redis.pid ] && kill "$(cat .run/redis.pid)" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "→ migrating the database (${SUNDIAL_DATABASE_URL:-sqlite:///instance/sundial.db})"
.venv/bin/flask db upgrade >/dev/null
echo "→ demo organisation (added only when the database is empty)"
.venv/bin/flask sundial seed-demo --if-empty | tee .run/demo-logins.txt

SIM_PORT=$(free_port "${SUNDIAL_SIM_PORT:-8800}")
WEB_PORT=$(free_port "${SUNDIAL_PORT:-5000}")
export SUNDIAL_AUTODISCOVER_CANDIDATES="http://127.0.0.1:$SIM_PORT/autodiscover/autodiscover.xml"
# The simulator's state file is a Python pickle (earlier runs named it simulator.json): keep an existing one.
if [ -f instance/simulator.json ] && [ ! -f instance/simulator.pickle ]; then
  mv instance/simulator.json instance/simulator.pickle
fi
.venv/bin/python -m ews_simulator --host 127.0.0.1 --port "$SIM_PORT" --seed demo --state instance/simulator.pickle \
  > .run/simulator.log 2>&1 & pids+=($!)
.venv/bin/flask sundial worker --with-scheduler > .run/worker.log 2>&1 & pids+=($!)
if .venv/bin/flask sundial --help 2>/dev/null | grep -q listener; then
  .venv/bin/flask sundial listener > .run/listener.log 2>&1 & pids+=($!)
fi
sleep 1
cat <<MSG

  Sundial is starting on  http://127.0.0.1:$WEB_PORT/
  Logins                  see above (also in .run/demo-logins.txt)
  Exchange simulator      http://127.0.0.1:$SIM_PORT/EWS/Exchange.asmx  (log: .run/simulator.log)
    service account       svc-sundial@sundial-demo.test   password: Demo-Exchange-2026!
    connect it            Settings → Integrations & API → Microsoft Exchange: enter the service account,
                          version 2016, tick "allow plain http (lab only)", Authorize.
  Worker + scheduler      .run/worker.log     Listener: .run/listener.log     Redis: $REDIS_URL
  Web access log          .run/web.log        Stop everything with Ctrl-C.

MSG
.venv/bin/gunicorn --bind "127.0.0.1:$WEB_PORT" --workers 2 --threads 4 --access-logfile .run/web.log \
  --error-logfile - "wsgi:app" & pids+=($!)
# Run until any process stops (or Ctrl-C); the trap then stops the rest.
wait -n "${pids[@]}" || true
