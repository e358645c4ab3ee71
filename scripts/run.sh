#!/usr/bin/env bash
# make run: install, migrate, seed the demo into an empty database (one already in use is left alone), then
# start, under Sundial's supervisor (portal/supervisor.py), the Exchange simulator, one RQ worker per queue
# class — "sync" and "fast" (export, notify, default), each with RQ's scheduler for its queues — the
# notification listener and the web server. A process that stops is restarted with back-off (R4); Ctrl-C
# stops everything.
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
cleanup() {
  [ -f .run/redis.pid ] && kill "$(cat .run/redis.pid)" 2>/dev/null || true
}
trap cleanup EXIT

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
procs=(
  "simulator=.venv/bin/python -m ews_simulator --host 127.0.0.1 --port $SIM_PORT --seed demo --state instance/simulator.pickle"
  # G8: exports and notifications never wait behind a sync backlog — one worker per queue class.
  "worker-sync=.venv/bin/flask sundial worker --queues sync"
  "worker-fast=.venv/bin/flask sundial worker --queues export,notify,default"
  "web=.venv/bin/gunicorn --bind 127.0.0.1:$WEB_PORT --workers 2 --threads 4 --access-logfile .run/web-access.log wsgi:app"
)
if .venv/bin/flask sundial --help 2>/dev/null | grep -q listener; then
  procs+=("listener=.venv/bin/flask sundial listener")
fi
cat <<MSG

  Sundial is starting on  http://127.0.0.1:$WEB_PORT/
  Logins                  see above (also in .run/demo-logins.txt)
  Exchange simulator      http://127.0.0.1:$SIM_PORT/EWS/Exchange.asmx  (log: .run/simulator.log)
    service account       svc-sundial@sundial-demo.test   password: Demo-Exchange-2026!
    connect it            Settings → Integrations & API → Microsoft Exchange: enter the service account,
                          version 2016, tick "allow plain http (lab only)", Authorize.
  Workers                 one per queue class, each with RQ's scheduler for its queues:
                            sync                    .run/worker-sync.log
                            export, notify, default .run/worker-fast.log
  Listener                .run/listener.log     Redis: $REDIS_URL
  Web                     .run/web.log (access: .run/web-access.log)
  A process that stops is restarted (after 1 s, doubling up to 30 s while it keeps stopping).
  Stop everything with Ctrl-C.

MSG
# The supervisor runs until Ctrl-C, then stops every process; the trap stops Redis.
.venv/bin/python -m portal.supervisor --log-dir .run "${procs[@]}"
