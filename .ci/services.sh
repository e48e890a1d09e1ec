#!/usr/bin/env bash
# Makes sure every service the test suite talks to is installed and running.
# Idempotent: safe to run on a machine where they already are.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    if port_open "$port"; then log "$name is up on :$port"; return 0; fi
    sleep 1
  done
  log "ERROR: $name did not come up on :$port"; return 1
}

# Redis (tests of the Redis and Redlock lock backends). The Redlock tests also
# start their own redis-server processes, so the binary must be on PATH.
if ! command -v redis-server >/dev/null 2>&1; then
  log "ERROR: redis-server is not installed (apt-get install redis-server)"; exit 1
fi
if ! port_open 6379; then
  log "starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_port 6379 redis

# PostgreSQL (tests of the PostgreSQL lock backend).
if ! port_open 5432; then
  log "starting postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
wait_port 5432 postgresql
