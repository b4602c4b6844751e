#!/usr/bin/env bash
# Multi-host cluster test: Redis and two gilrun workers in three network
# namespaces joined by veth pairs, a client in the root namespace; N tasks
# sent, every result must come back exactly once, over real interfaces.
#
#   tests/cluster/netns.sh GILRUN [--celery]
#
#        root (client) 10.77.3.2 --veth-- 10.77.3.1
#                                          [ns R: redis-server :6379]
#        [ns A: worker a] 10.77.1.2 --veth-- 10.77.1.1
#        [ns B: worker b] 10.77.2.2 --veth-- 10.77.2.1
#
# Each worker consumes "celery" and its own queue ("host-a", "host-b"): one
# task per own queue proves each worker's path deterministically, then N
# tasks on "celery" are shared. --celery runs Python Celery workers and a
# Python client instead (how the namespace plumbing was proven before gilrun
# had workers). Exit 77 = skipped (not root, no `ip netns`, no redis-server).
# Namespaces, veths and processes are removed on every exit (trap).
set -uo pipefail
GILRUN=$(realpath "${1:?usage: netns.sh GILRUN [--celery]}")
MODE=${2:-gilrun}
N=${NETNS_TASKS:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=python3
/usr/bin/python3 -c 'import celery' 2>/dev/null && PY=/usr/bin/python3

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; show_logs; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v redis-server >/dev/null || skip "no redis-server"
if [ "$MODE" != gilrun ]; then
  $PY -c 'import celery, redis' 2>/dev/null || skip "no python3-celery/python3-redis"
fi

TAG=g$$                     # unique per run: names stay under 15 chars
NS_R=${TAG}r NS_A=${TAG}a NS_B=${TAG}b
TMP=$(mktemp -d /tmp/gilrun-netns-XXXXXX)
PIDS=()

cleanup() {
  local ns pid i
  # Workers first (a warm shutdown needs its broker), Redis last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  for ns in "$NS_R" "$NS_A" "$NS_B"; do
    # anything still running inside our namespaces (celery's pool children)
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  ip link del "${TAG}c0" 2>/dev/null   # root end of the client veth (usually gone with R)
  [ -n "${KEEP_CLUSTER_TEST_DIR:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
  local f
  for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f" | cut -c1-400; }; done
}

ip netns add "$NS_R" 2>"$TMP/netns.err" || skip "ip netns add failed: $(cat "$TMP/netns.err")"
ip netns add "$NS_A" && ip netns add "$NS_B" || fail "ip netns add"

# link NAME0-in-R NAME1-in-OTHER R-address OTHER-address OTHER-namespace("" = root)
link() {
  ip link add "$1" type veth peer name "$2" || return 1
  ip link set "$1" netns "$NS_R" || return 1
  [ -z "$5" ] || ip link set "$2" netns "$5" || return 1
  ip -n "$NS_R" addr add "$3/24" dev "$1" && ip -n "$NS_R" link set "$1" up || return 1
  if [ -n "$5" ]; then
    ip -n "$5" addr add "$4/24" dev "$2" && ip -n "$5" link set "$2" up && ip -n "$5" link set lo up
  else
    ip addr add "$4/24" dev "$2" && ip link set "$2" up
  fi
}
ip -n "$NS_R" link set lo up
link "${TAG}a0" "${TAG}a1" 10.77.1.1 10.77.1.2 "$NS_A" || fail "veth to A"
link "${TAG}b0" "${TAG}b1" 10.77.2.1 10.77.2.2 "$NS_B" || fail "veth to B"
link "${TAG}c1" "${TAG}c0" 10.77.3.1 10.77.3.2 "" || fail "veth to the root namespace"

ip netns exec "$NS_R" redis-server --port 6379 --bind 10.77.1.1 10.77.2.1 10.77.3.1 --dir "$TMP" \
  --save '' --appendonly no --daemonize no --protected-mode no >"$TMP/redis.log" 2>&1 &
PIDS+=($!)
rcli() { redis-cli -h 10.77.3.1 -p 6379 "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll with a deadline, no fixed sleep
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
    sleep 0.05
  done
}
wait_for 10 "redis in $NS_R" rcli ping

start_worker() { # name namespace broker-address
  local url="redis://$3:6379/0"
  if [ "$MODE" = gilrun ]; then
    cp "$HERE/netns_tasks.lua" "$TMP/tasks.lua"
    NETNS_WORKER=$1 ip netns exec "$2" "$GILRUN" worker --broker="$url" --queues="celery,host-$1" \
      --concurrency=1 --loglevel=info "$TMP/tasks.lua" >"$TMP/worker-$1.log" 2>&1 &
  else
    NETNS_WORKER=$1 GILRUN_TEST_BROKER=$url PYTHONPATH=$HERE ip netns exec "$2" $PY -m celery -A celery_app \
      worker --pool=prefork --concurrency=1 -Q "celery,host-$1" -n "$1@%h" --without-mingle --without-gossip \
      >"$TMP/worker-$1.log" 2>&1 &
  fi
  PIDS+=($!)
}
start_worker a "$NS_A" 10.77.1.1
start_worker b "$NS_B" 10.77.2.1

# Both workers are consuming when Redis sees a client blocked in BRPOP from each namespace's address.
consuming() { rcli client list | grep 'cmd=brpop' | grep -q "addr=$1:"; }
wait_for 30 "worker a (10.77.1.2) to consume" consuming 10.77.1.2
wait_for 30 "worker b (10.77.2.2) to consume" consuming 10.77.2.2

URL=redis://10.77.3.1:6379/0
if [ "$MODE" = gilrun ]; then
  cat >"$TMP/client.lua" <<EOF
local cluster = require "cluster"
local app = cluster.connect{broker = "$URL", backend = "$URL"}
print("host-a", app:send_task("where", {0}, {queue = "host-a"}):result(20)[2])
print("host-b", app:send_task("where", {0}, {queue = "host-b"}):result(20)[2])
local futures = {}
for i = 1, $N do futures[i] = app:send_task("where", {i}) end
for i = 1, $N do local r = futures[i]:result(20); print(r[1], r[2]) end
EOF
  timeout 60 "$GILRUN" "$TMP/client.lua" >"$TMP/client.out" 2>"$TMP/client.log" || fail "client exited $?"
else
  GILRUN_TEST_BROKER=$URL PYTHONPATH=$HERE timeout 60 $PY - >"$TMP/client.out" 2>"$TMP/client.log" <<EOF || fail "client exited $?"
from celery_app import app
print("host-a", app.send_task("where", args=[0], queue="host-a").get(timeout=20)[1])
print("host-b", app.send_task("where", args=[0], queue="host-b").get(timeout=20)[1])
rs = [app.send_task("where", args=[i]) for i in range(1, $N + 1)]
for r in rs:
    i, w = r.get(timeout=20)
    print(i, w)
EOF
fi

out=$TMP/client.out
for w in a b; do
  [ "$(awk -v q="host-$w" '$1==q {print $2}' "$out")" = "$w" ] \
    || fail "the task for queue host-$w did not run on worker $w: $(head -2 "$out")"
done
# every i in 1..N exactly once
got=$(tail -n +3 "$out" | awk '{print $1}' | sort -n | uniq | wc -l)
lines=$(tail -n +3 "$out" | wc -l)
[ "$got" -eq "$N" ] && [ "$lines" -eq "$N" ] || fail "expected $N distinct results once each, got $got distinct in $lines lines"
expected=$(seq 1 "$N" | paste -sd' ')
actual=$(tail -n +3 "$out" | awk '{print $1}' | sort -n | paste -sd' ')
[ "$actual" = "$expected" ] || fail "results are not exactly 1..$N"
# nothing left behind: queues empty, nothing unacknowledged
[ "$(rcli llen celery)" = 0 ] || fail "tasks left in the queue"
unacked_empty() { [ "$(rcli hlen unacked)" = 0 ]; }
wait_for 10 "the unacked hash to empty" unacked_empty
a=$(tail -n +3 "$out" | awk '$2=="a"' | wc -l); b=$(tail -n +3 "$out" | awk '$2=="b"' | wc -l)
echo "PASS: $N tasks across namespaces, each result once (worker a ran $a, worker b ran $b; workers: ${MODE#--})"
