#!/usr/bin/env bash
# Prints a Redis URL to use. Order: $SUNDIAL_REDIS_URL if it answers; else a private redis-server on a
# free port (installing Debian's redis-server first when it is missing and we are root).
# Messages go to stderr; only the URL goes to stdout. The private server requires a password: generated
# once, kept in $rundir/redis.password and given to redis-server in $rundir/redis.conf (both 0600, never
# on a command line, where `ps` would show it).
set -euo pipefail
umask 077
rundir=${1:-.run}
mkdir -p "$rundir"
if [ -n "${SUNDIAL_REDIS_URL:-}" ]; then
  if .venv/bin/python -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" "$SUNDIAL_REDIS_URL" 2>/dev/null; then
    echo "→ using Redis at $SUNDIAL_REDIS_URL" >&2
    echo "$SUNDIAL_REDIS_URL"; exit 0
  fi
  echo "→ SUNDIAL_REDIS_URL=$SUNDIAL_REDIS_URL does not answer; starting a private redis-server instead" >&2
fi
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "→ redis-server is missing: installing Debian's redis-server package (apt-get install redis-server)" >&2
    (apt-get install -y -q redis-server >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1)) \
      || { echo "Could not install redis-server. Install it (apt-get install redis-server) or set SUNDIAL_REDIS_URL." >&2; exit 1; }
  else
    echo "Sundial needs Redis: install redis-server (e.g. 'sudo apt-get install redis-server') or set SUNDIAL_REDIS_URL to a running Redis." >&2
    exit 1
  fi
fi
port=$(.venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
[ -s "$rundir/redis.password" ] || .venv/bin/python -c "import secrets; print(secrets.token_hex(24))" > "$rundir/redis.password"
chmod 600 "$rundir/redis.password"
password=$(cat "$rundir/redis.password")
printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\ndir %s\ndaemonize yes\npidfile %s\nlogfile %s\n' \
  "$port" "$password" "$PWD/$rundir" "$PWD/$rundir/redis.pid" "$PWD/$rundir/redis.log" > "$rundir/redis.conf"
chmod 600 "$rundir/redis.conf"
redis-server "$rundir/redis.conf"
url="redis://:$password@127.0.0.1:$port/0"
for _ in $(seq 50); do
  .venv/bin/python -c "import redis,sys; redis.Redis.from_url(sys.argv[1]).ping()" "$url" 2>/dev/null && break
  sleep 0.1
done
echo "→ started a private redis-server on 127.0.0.1:$port with a password (pid $(cat "$rundir/redis.pid"), log $rundir/redis.log)" >&2
echo "$url"
