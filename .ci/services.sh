#!/usr/bin/env bash
# Start the local PostgreSQL and Redis servers if they are not answering.
# Safe to run any number of times; used by `make test`, `make bench` and by hand.
# (A copy of the workplace's shared/services.sh, so a clone without it still runs.)
set -u
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
fi
for i in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "services.sh: PostgreSQL or Redis is not answering on 127.0.0.1" >&2
pg_isready -h 127.0.0.1 -p 5432 || true
redis-cli -h 127.0.0.1 -p 6379 ping || true
exit 1
