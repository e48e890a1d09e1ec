#!/usr/bin/env bash
# Makes sure every service the test suite talks to is installed and running:
# what is missing is installed from Debian's packages (as root), then Redis,
# PostgreSQL, etcd and ZooKeeper are started when they are not.
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

# etcd and ZooKeeper (tests of the etcd and ZooKeeper lock backends): Debian's
# packages, started here as plain background processes (no systemd) with their
# own data dirs and logs. etcd's clients (etcdctl 3.4, Python's etcd3 and
# etcd3gw) drive the tests of Conclave's etcd-compatible API.
CONSENSUS_STATE_DIR=/var/lib/conclave-ci
CONSENSUS_LOG_DIR=/var/log/conclave-ci
ZOOKEEPER_JAR=/usr/share/java/zookeeper.jar

now_ms() { date +%s%3N; }

install_missing_packages() {
  local missing=()
  # Redis: the Redlock tests also start their own redis-server processes.
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  compgen -G "/etc/postgresql/*/main" >/dev/null || missing+=(postgresql)
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  [ -f "$ZOOKEEPER_JAR" ] || missing+=(zookeeper)
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
  # dig asks the registry's DNS view (serve --listen-dns) in its tests.
  command -v dig >/dev/null 2>&1 || missing+=(dnsutils)
  [ -d /usr/lib/python3/dist-packages/etcd3 ] || missing+=(python3-etcd3)
  [ -d /usr/lib/python3/dist-packages/etcd3gw ] || missing+=(python3-etcd3gw)
  # The dashboard's browser test drives Debian's chromium with playwright-core.
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    log "ERROR: missing ${missing[*]}; run this script as root to install them"; return 1
  fi
  local started; started=$(now_ms)
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  log "installed ${missing[*]} in $(( $(now_ms) - started )) ms"
}

# Sends $2 (printf format) to 127.0.0.1:$1 and prints the reply. Bounded: a
# server that accepts the connection while it is still starting may never
# answer nor close it, and a health probe must not wait for it forever.
ask_port() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "$2" >&3 && cat <&3' ask_port "$1" "$2" 2>/dev/null
}

# GET /health on etcd's client port; true once the member serves requests.
etcd_healthy() {
  local reply
  reply=$(ask_port "$1" 'GET /health HTTP/1.0\r\n\r\n') || return 1
  [[ $reply == *'"health":"true"'* ]]
}

# ZooKeeper's four-letter "ruok" command (whitelisted in the config below).
zookeeper_healthy() {
  local reply
  reply=$(ask_port "$1" ruok) || return 1
  [ "$reply" = imok ]
}

wait_healthy() {
  local check=$1 port=$2 name=$3 started=$4
  for _ in $(seq 1 300); do
    if "$check" "$port"; then log "$name is ready on :$port ($(( $(now_ms) - started )) ms)"; return 0; fi
    sleep 0.1
  done
  log "ERROR: $name did not become ready on :$port; see $CONSENSUS_LOG_DIR"; return 1
}

install_missing_packages

# Redis (tests of the Redis and Redlock lock backends).
if ! port_open 6379; then
  log "starting redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_port 6379 redis

# PostgreSQL (tests of the PostgreSQL lock backend), which connect as
# postgres over TCP without a password to the database "test".
pg_version=$(ls /etc/postgresql | head -1)
if ! port_open 5432; then
  log "starting postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
fi
wait_port 5432 postgresql
psql_ci() { psql -h 127.0.0.1 -U postgres -w -v ON_ERROR_STOP=1 -qtA "$@"; }
if ! psql_ci -d postgres -c "select 1" >/dev/null 2>&1; then
  # Debian's default asks for a password over TCP: this is a CI machine's own
  # database, so postgres from 127.0.0.1 is trusted (the first matching line wins).
  hba=/etc/postgresql/$pg_version/main/pg_hba.conf
  if [ "$(id -u)" -ne 0 ]; then
    log "ERROR: postgres@127.0.0.1 needs a password; run this script as root to trust it in $hba"; exit 1
  fi
  log "trusting postgres from 127.0.0.1 in $hba"
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload
  for _ in $(seq 1 50); do psql_ci -d postgres -c "select 1" >/dev/null 2>&1 && break; sleep 0.1; done
  psql_ci -d postgres -c "select 1" >/dev/null
fi
if [ "$(psql_ci -d postgres -c "select 1 from pg_database where datname = 'test'")" != 1 ]; then
  log "creating database test"
  psql_ci -d postgres -c "create database test"
fi

mkdir -p "$CONSENSUS_STATE_DIR" "$CONSENSUS_LOG_DIR"

# A short heartbeat and election timeout make etcd's smallest lease 1 s
# (it is 1.5 election timeouts, rounded up), so lease tests run quickly.
if ! port_open 2379; then
  log "starting etcd"
  etcd_started=$(now_ms)
  setsid nohup etcd --name conclave-ci \
    --data-dir "$CONSENSUS_STATE_DIR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster conclave-ci=http://127.0.0.1:2380 \
    --heartbeat-interval 50 --election-timeout 500 \
    >"$CONSENSUS_LOG_DIR/etcd.log" 2>&1 </dev/null &
  wait_healthy etcd_healthy 2379 etcd "$etcd_started"
else
  wait_port 2379 etcd
fi

# tickTime 200 ms lets sessions be as short as 400 ms (2 ticks); the lock
# tests use 1 s sessions. No connection limit: each held lock is a session.
if ! port_open 2181; then
  log "starting zookeeper"
  zookeeper_started=$(now_ms)
  mkdir -p "$CONSENSUS_STATE_DIR/zookeeper"
  cat >"$CONSENSUS_STATE_DIR/zookeeper.cfg" <<CFG
tickTime=200
dataDir=$CONSENSUS_STATE_DIR/zookeeper
clientPort=2181
clientPortAddress=127.0.0.1
minSessionTimeout=400
maxSessionTimeout=120000
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
CFG
  classpath="/etc/zookeeper/conf:$ZOOKEEPER_JAR"
  # Debian ships an SLF4J binding separately; with it the server's log is not silent.
  if [ -f /usr/share/java/slf4j-simple.jar ]; then classpath="$classpath:/usr/share/java/slf4j-simple.jar"; fi
  setsid nohup java -Xmx256m -cp "$classpath" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$CONSENSUS_STATE_DIR/zookeeper.cfg" \
    >"$CONSENSUS_LOG_DIR/zookeeper.log" 2>&1 </dev/null &
  wait_healthy zookeeper_healthy 2181 zookeeper "$zookeeper_started"
else
  wait_port 2181 zookeeper
fi
