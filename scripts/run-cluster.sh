#!/usr/bin/env bash
# The scale-out deployment on one machine: PostgreSQL (the machine's, on 127.0.0.1:5432), an
# S3-compatible object store (s3s-fs), two or more stateless sync-servers, and HAProxy in front
# on 127.0.0.1:8080 serving the API and the console. Seeds the Hubei demo data on first start.
# Everything it keeps is under ./cluster-data (objects, logs) and in the database
# `qingliu_cluster`. Ctrl-C stops it; `--reset` drops the database and objects first.
# Usage: scripts/run-cluster.sh [--servers N] [--reset]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

servers=2
reset=0
while [ $# -gt 0 ]; do
  case "$1" in
    --servers) servers=$2; shift 2 ;;
    --reset) reset=1; shift ;;
    *) echo "usage: $0 [--servers N] [--reset]" >&2; exit 2 ;;
  esac
done

need_rust
need_apt build-essential pkg-config curl haproxy fonts-noto-cjk
use_shared_target_dir
need_postgres
need_s3s_fs
bash scripts/build-ui.sh
cargo build --release -p sync-server --locked

data=$PWD/cluster-data
pg_server=${QINGLIU_TEST_POSTGRES%/}
db=qingliu_cluster
if [ $reset -eq 1 ]; then
  psql "$pg_server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  rm -rf "$data"
fi
mkdir -p "$data/logs"
if ! psql "$pg_server/postgres" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  psql "$pg_server/postgres" -qc "CREATE DATABASE $db"
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The object store. Its credentials are the cluster's own; the servers get them from the
# environment (AWS_*), never from a configuration file.
s3port=${QINGLIU_CLUSTER_S3_PORT:-9100}
export AWS_ACCESS_KEY_ID=qingliu-cluster AWS_SECRET_ACCESS_KEY=qingliu-cluster-secret
export AWS_ENDPOINT_URL="http://127.0.0.1:$s3port" AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
start_s3s_fs "$s3port" "$data/objects" qingliu "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
mv -f "$data/s3s-fs.log" "$data/logs/" 2>/dev/null || true
pids+=("$S3S_PID")

export QINGLIU_DATABASE_URL="$pg_server/$db"
export QINGLIU_BLOB_STORE_URL="s3://qingliu/photos"
bin="$CARGO_TARGET_DIR/release/sync-server"

# Seed once, before any server serves (two servers seeding one empty database would race).
QINGLIU_DATA_DIR="$data/seed" "$bin" seed --demo --if-empty 2>&1 | tee "$data/logs/seed.log" | tail -25

backends=""
for n in $(seq 1 "$servers"); do
  port=$((8080 + n))
  QINGLIU_LISTEN="127.0.0.1:$port" QINGLIU_DATA_DIR="$data/server-$n" \
    "$bin" serve >"$data/logs/server-$n.log" 2>&1 &
  pids+=($!)
  backends+="  server s$n 127.0.0.1:$port check inter 2s fall 2 rise 1"$'\n'
done
for n in $(seq 1 "$servers"); do
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$((8080 + n))/healthz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:$((8080 + n))/healthz" >/dev/null || { echo "server $n did not start" >&2; tail "$data/logs/server-$n.log" >&2; exit 1; }
done

cat >"$data/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  # Only a request that never reached a server is sent to another one (connection refused):
  # a push is never replayed by the balancer, the tablet's own retry is exactly-once.
  retries 2
  option redispatch
  option httpchk GET /readyz
frontend qingliu
  bind ${QINGLIU_CLUSTER_LISTEN:-127.0.0.1:8080}
  default_backend sync_servers
backend sync_servers
  balance roundrobin
$backends
CFG
haproxy -f "$data/haproxy.cfg" -db >"$data/logs/haproxy.log" 2>&1 &
pids+=($!)
listen=${QINGLIU_CLUSTER_LISTEN:-127.0.0.1:8080}
for _ in $(seq 1 60); do curl -sf "http://$listen/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -sf "http://$listen/healthz"
echo
echo "cluster: console and API at http://$listen/ through HAProxy → $servers sync-servers on PostgreSQL ($db) + S3 (s3s-fs :$s3port)"
echo "logs: $data/logs/   (Ctrl-C stops everything; a server killed meanwhile leaves the rest serving)"
# A server that dies leaves the others serving behind the balancer (which stops sending to it);
# this runs until Ctrl-C.
wait
