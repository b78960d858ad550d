#!/usr/bin/env bash
# A Redis Cluster of six nodes on loopback for the redis_cluster tests and benchmark:
# three masters, each with one replica, in DIR (made if missing), listening on 127.0.0.1 only.
#
#   tools/redis_cluster.sh start DIR [FIRST_PORT]   start the nodes on FIRST_PORT.. FIRST_PORT+5
#                                                   (default 7100), create the cluster, wait
#                                                   until every node says cluster_state:ok
#                                                   and every replica is linked
#   tools/redis_cluster.sh restart DIR PORT         start again the node on PORT (killed in a
#                                                   test); it rejoins from its nodes.conf
#   tools/redis_cluster.sh stop DIR                 stop every node started in DIR
#
# The nodes keep nothing on disk (no AOF, no RDB snapshots) and run as daemons whose pid
# files are in DIR; DIR/ports lists the ports. A start that fails stops what it started.
# cluster-node-timeout is 1000 ms, so that a master killed in a test is replaced within
# seconds. REDIS_SERVER and REDIS_CLI choose other binaries.
set -euo pipefail

server=${REDIS_SERVER:-redis-server}
cli=${REDIS_CLI:-redis-cli}

usage() { echo "usage: $0 start DIR [FIRST_PORT] | restart DIR PORT | stop DIR" >&2; exit 2; }

# start_node DIR PORT: one node, a daemon, its files in DIR/PORT.
start_node() {
    local dir=$1 port=$2
    mkdir -p "$dir/$port"
    "$server" --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize yes \
        --pidfile "$dir/node-$port.pid" --dir "$dir/$port" --logfile "$dir/$port/redis.log" \
        --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 1000 \
        --appendonly no --save ''
}

stop_nodes() {
    local dir=$1 pidfile pid
    for pidfile in "$dir"/node-*.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        # A stopped node (SIGSTOP in a test) must run again to handle SIGTERM.
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
}

# wait_for DESCRIPTION SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds; fails after SECONDS.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "redis_cluster.sh: $what did not happen within ${seconds} s" >&2
            return 1
        fi
        sleep 0.1
    done
}

# Every node says cluster_state:ok, and every replica's link to its master is up (so that
# WAIT 1 is answered from the first write on).
cluster_ok() {
    local port
    for port in "$@"; do
        "$cli" -h 127.0.0.1 -p "$port" cluster info | grep -q '^cluster_state:ok' || return 1
        if "$cli" -h 127.0.0.1 -p "$port" info replication | grep -q '^role:slave'; then
            "$cli" -h 127.0.0.1 -p "$port" info replication | grep -q '^master_link_status:up' || return 1
        fi
    done
}

start() {
    local dir=$1 first=$2 port ports=() addresses=()
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    trap 'stop_nodes "$dir"' ERR
    for port in $(seq "$first" $((first + 5))); do
        ports+=("$port")
        addresses+=("127.0.0.1:$port")
        start_node "$dir" "$port"
    done
    echo "${ports[*]}" >"$dir/ports"
    for port in "${ports[@]}"; do
        wait_for "node $port answering" 10 "$cli" -h 127.0.0.1 -p "$port" ping
    done
    "$cli" --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log"
    wait_for "cluster_state:ok on every node, every replica linked" 30 cluster_ok "${ports[@]}"
    trap - ERR
    echo "redis_cluster.sh: six nodes on 127.0.0.1:${ports[0]}-${ports[5]}, cluster_state:ok"
}

[ $# -ge 2 ] || usage
case $1 in
start) start "$2" "${3:-7100}" ;;
restart)
    [ $# -eq 3 ] || usage
    start_node "$(cd "$2" && pwd)" "$3"
    wait_for "node $3 answering" 10 "$cli" -h 127.0.0.1 -p "$3" ping
    ;;
stop) stop_nodes "$2" ;;
*) usage ;;
esac
