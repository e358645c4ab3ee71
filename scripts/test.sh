#!/usr/bin/env bash
# make test: the whole suite. Installs what it needs and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"  # krb5kdc, kdb5_util and kadmin.local live there
need_apt() {  # $1 = command, $2 = Debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "→ $1 is missing: installing Debian's $2 package"
    apt-get install -y -q "$2" >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$2" >/dev/null 2>&1)
  fi
  command -v "$1" >/dev/null 2>&1 || { echo "The tests need $1: install Debian's $2 package." >&2; exit 1; }
}
need_apt krb5-config libkrb5-dev  # python gssapi/krb5 (requirements.txt) build against it
PYTHON=${PYTHON:-python3} bash scripts/ensure-venv.sh requirements-dev.txt
need_apt redis-server redis-server
need_apt krb5kdc krb5-kdc  # the Kerberos tests (S12) start their own KDC on a free port
need_apt kadmin.local krb5-admin-server
[ -x /usr/bin/chromium ] || need_apt chromium chromium
if .venv/bin/python -c "import psycopg2,os; psycopg2.connect(os.environ.get('SUNDIAL_TEST_DATABASE_URL','postgresql://postgres@127.0.0.1:5432/test'), connect_timeout=3)" 2>/dev/null; then
  echo "→ PostgreSQL reachable: the suite runs on SQLite and PostgreSQL"
else
  echo "→ no PostgreSQL at ${SUNDIAL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}: PostgreSQL runs are skipped (with that reason)"
fi
# P11: the browser tests inject axe-core (npm) into every page; installed into ./node_modules when missing.
AXE_VERSION=4.14.1
if [ ! -f node_modules/axe-core/axe.min.js ]; then
  need_apt npm npm
  echo "→ axe-core is missing: npm install axe-core@$AXE_VERSION (into ./node_modules)"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix . "axe-core@$AXE_VERSION" >/dev/null
fi
echo "→ each test session starts its own private redis-server on a free port"
mkdir -p test-artifacts
# Two pytest-xdist workers by default (SUNDIAL_TEST_WORKERS; 0 runs in one process): most tests wait on real
# servers and processes, so two at once roughly halve the wall time on 2 cores. Whole files go to one worker
# (--dist loadfile): their module fixtures (a simulator, a worker process) are built once.
workers=${SUNDIAL_TEST_WORKERS:-2}
parallel=()
if [ "$workers" != 0 ]; then
  parallel=(-n "$workers" --dist loadfile)
  echo "→ $workers test processes in parallel (SUNDIAL_TEST_WORKERS=0 for one)"
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout=300 "${parallel[@]}" "$@" tests
