#!/bin/sh
# The life cycle of one Redis node for faultline's Redis suite
# (examples/suites/redis.toml): a redis-server and a redis-sentinel per node,
# node 1 the first primary, every other node its replica, a sentinel on every
# node watching the primary so that a partitioned primary is failed over
# within a few seconds.
#
#   redis-node.sh install|start|ready|stop|kill|pause|resume|wipe|primary|logs
#
# faultline runs it on each node (sh -c, as root, no terminal) with the suite
# schema's environment: FAULTLINE_NODE (this node's name), FAULTLINE_HOST (its
# address), FAULTLINE_NODES / FAULTLINE_HOSTS (every node, space separated, in
# the same order) and FAULTLINE_FIRST_HOST or FAULTLINE_FIRST_NODE. Optional knobs (the suite's
# [db.env]):
#   REDIS_DIR            where configs, data, pidfiles and logs live
#                        (default /opt/faultline-redis: private per node on a
#                        local cluster)
#   REDIS_PORT / SENTINEL_PORT              6379 / 26379
#   REDIS_MASTER_NAME                       mymaster
#   REDIS_DOWN_AFTER_MS                     1500: a silent primary is
#                                           subjectively down after this
#   REDIS_FAILOVER_TIMEOUT_MS               5000
#   REDIS_MIN_REPLICAS_TO_WRITE             0 (Redis's default): a primary
#                                           accepts writes with no replica
#                                           connected; set 1+ to see how much
#                                           it helps (it narrows the window
#                                           but does not close it)
#   REDIS_MIN_REPLICAS_MAX_LAG              10 (Redis's default): seconds
#                                           without a replica's ack before it
#                                           no longer counts for the above
#
# Every step is bounded in time and touches only the processes named in this
# node's pidfiles (after checking that the PID still runs a redis binary).
set -eu

action=${1:-}
DIR=${REDIS_DIR:-/opt/faultline-redis}
PORT=${REDIS_PORT:-6379}
SPORT=${SENTINEL_PORT:-26379}
MASTER=${REDIS_MASTER_NAME:-mymaster}
DOWN_AFTER=${REDIS_DOWN_AFTER_MS:-1500}
FAILOVER_TIMEOUT=${REDIS_FAILOVER_TIMEOUT_MS:-5000}
MIN_REPLICAS=${REDIS_MIN_REPLICAS_TO_WRITE:-0}
MAX_LAG=${REDIS_MIN_REPLICAS_MAX_LAG:-10}

die() {
    echo "redis-node.sh ($action on ${FAULTLINE_NODE:-?}): $*" >&2
    exit 1
}

need_env() {
    for v in FAULTLINE_NODE FAULTLINE_HOST FAULTLINE_NODES FAULTLINE_HOSTS; do
        eval "val=\${$v:-}"
        [ -n "$val" ] || die "environment variable $v is not set (run me from a faultline suite)"
    done
}

# The address of the first node: the initial primary. FAULTLINE_FIRST_HOST
# when given, else the entry of FAULTLINE_HOSTS at FAULTLINE_FIRST_NODE's
# position in FAULTLINE_NODES (the first one when that is not set either).
first_host() {
    if [ -n "${FAULTLINE_FIRST_HOST:-}" ]; then
        echo "$FAULTLINE_FIRST_HOST"
        return 0
    fi
    first=${FAULTLINE_FIRST_NODE:-}
    i=0
    for n in $FAULTLINE_NODES; do
        i=$((i + 1))
        if [ -z "$first" ] || [ "$n" = "$first" ]; then
            j=0
            for h in $FAULTLINE_HOSTS; do
                j=$((j + 1))
                if [ "$j" = "$i" ]; then
                    echo "$h"
                    return 0
                fi
            done
        fi
    done
    die "first node ${first:-?} is not in FAULTLINE_NODES ($FAULTLINE_NODES) / FAULTLINE_HOSTS ($FAULTLINE_HOSTS)"
}

node_count() {
    set -- $FAULTLINE_NODES
    echo $#
}

# The PID in pidfile $1 if it runs a redis binary, else nothing.
live_pid() {
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    [ -r "/proc/$pid/comm" ] || return 0
    case "$(cat "/proc/$pid/comm")" in redis-*) echo "$pid" ;; esac
}

write_configs() {
    primary=$(first_host)
    n=$(node_count)
    quorum=$((n / 2 + 1))
    mkdir -p "$DIR"
    # The node's own Redis: bound to its own address only (a host-wide
    # Debian redis, if any, keeps 127.0.0.1), no systemd, durable enough that
    # a killed process comes back with what it had acknowledged up to the
    # last second (AOF, fsync every second).
    {
        echo "bind $FAULTLINE_HOST"
        echo "port $PORT"
        echo "protected-mode no"
        echo "daemonize yes"
        echo "supervised no"
        echo "pidfile $DIR/redis.pid"
        echo "logfile $DIR/redis.log"
        echo "loglevel notice"
        echo "dir $DIR"
        echo "save \"\""
        echo "appendonly yes"
        echo "appendfsync everysec"
        echo "replica-read-only yes"
        echo "replica-serve-stale-data yes"
        echo "min-replicas-to-write $MIN_REPLICAS"
        echo "min-replicas-max-lag $MAX_LAG"
        if [ "$FAULTLINE_HOST" != "$primary" ]; then
            echo "replicaof $primary $PORT"
        fi
    } >"$DIR/redis.conf"
    # Sentinels rewrite their own file (their id, the peers they found, the
    # current primary), so it lives beside the data and is written only here.
    {
        echo "bind $FAULTLINE_HOST"
        echo "port $SPORT"
        echo "protected-mode no"
        echo "daemonize yes"
        echo "pidfile $DIR/sentinel.pid"
        echo "logfile $DIR/sentinel.log"
        echo "dir $DIR"
        echo "sentinel monitor $MASTER $primary $PORT $quorum"
        echo "sentinel down-after-milliseconds $MASTER $DOWN_AFTER"
        echo "sentinel failover-timeout $MASTER $FAILOVER_TIMEOUT"
        echo "sentinel parallel-syncs $MASTER $n"
    } >"$DIR/sentinel.conf"
}

cli() {
    timeout 3 redis-cli -h "$FAULTLINE_HOST" "$@" 2>/dev/null
}

start_daemons() {
    [ -f "$DIR/redis.conf" ] || die "$DIR/redis.conf missing: run install first"
    if [ -z "$(live_pid "$DIR/redis.pid")" ]; then
        redis-server "$DIR/redis.conf" </dev/null >>"$DIR/redis.log" 2>&1 ||
            die "redis-server did not start: $(tail -5 "$DIR/redis.log")"
    fi
    if [ -z "$(live_pid "$DIR/sentinel.pid")" ]; then
        redis-sentinel "$DIR/sentinel.conf" </dev/null >>"$DIR/sentinel.log" 2>&1 ||
            die "redis-sentinel did not start: $(tail -5 "$DIR/sentinel.log")"
    fi
}

# Sends signal $1 to the daemon of pidfile $2, if it runs.
signal() {
    pid=$(live_pid "$2")
    if [ -n "$pid" ]; then kill "-$1" "$pid"; fi
}

# SIGTERM, then SIGKILL after 10 s, for the daemon of pidfile $1.
stop_one() {
    pid=$(live_pid "$1")
    [ -n "$pid" ] || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while [ "$i" -lt 100 ] && [ -d "/proc/$pid" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$1"
}

# Ready when this node's Redis answers, a replica's link to its primary is
# up, and this node's sentinel knows the primary and every other sentinel
# (otherwise a partition right after setup could not get a quorum).
ready() {
    [ "$(cli -p "$PORT" PING)" = PONG ] || die "redis not answering on $FAULTLINE_HOST:$PORT"
    role=$(cli -p "$PORT" ROLE | head -1)
    if [ "$role" = slave ]; then
        cli -p "$PORT" INFO replication | grep -q '^master_link_status:up' ||
            die "replica link to the primary not up yet"
    fi
    others=$(cli -p "$SPORT" SENTINEL master "$MASTER" |
        awk 'prev == "num-other-sentinels" { print; exit } { prev = $0 }')
    want=$(($(node_count) - 1))
    [ "${others:-0}" -ge "$want" ] ||
        die "sentinel knows ${others:-0} of $want other sentinels"
}

case "$action" in
install)
    need_env
    for b in redis-server redis-sentinel redis-cli; do
        command -v "$b" >/dev/null 2>&1 ||
            die "$b missing: install Debian's redis-server, redis-sentinel and redis-tools (see .ci/run-cluster-deps.sh)"
    done
    write_configs
    ;;
start)
    need_env
    start_daemons
    ;;
ready)
    need_env
    ready
    ;;
kill)
    # The data server only: the sentinels are the failure detector, and a
    # killed primary is exactly what they should notice.
    signal KILL "$DIR/redis.pid"
    ;;
pause)
    signal STOP "$DIR/redis.pid"
    ;;
resume)
    signal CONT "$DIR/redis.pid"
    ;;
stop)
    stop_one "$DIR/sentinel.pid"
    stop_one "$DIR/redis.pid"
    ;;
wipe)
    stop_one "$DIR/sentinel.pid"
    stop_one "$DIR/redis.pid"
    rm -rf "$DIR"
    ;;
primary)
    # Exit 0 when this node's Redis says it is a master right now. During a
    # partition that can be two nodes: the old primary never learns that it
    # was replaced until it can hear the sentinels again.
    need_env
    [ "$(cli -p "$PORT" ROLE | head -1)" = master ]
    ;;
logs)
    echo "$DIR/redis.log $DIR/sentinel.log"
    ;;
*)
    die "unknown action (use install, start, ready, stop, kill, pause, resume, wipe, primary or logs)"
    ;;
esac
