#!/bin/bash
# bench_rtloop.sh: RT loop lateness, idle and under load (see docs/benchmarks.md).
#
# usage: tools/bench/bench_rtloop.sh BUILD_DIR [SECONDS]
#
# Runs BUILD_DIR/bin/bench_rtloop twice for SECONDS (default 60): once on its own, and
# once with --storm (its SQLite write storm) while this script loads the machine with
# stress-ng --cpu 2 --io 1 --vm 1 and an MQTT publish flood against a private mosquitto
# on a free loopback port. Every companion is started here, waited for by polling (no
# fixed sleeps), bounded in time, and stopped by its PID on exit.
set -euo pipefail

build=${1:?usage: bench_rtloop.sh BUILD_DIR [SECONDS]}
secs=${2:-60}
bench="$build/bin/bench_rtloop"
[[ -x $bench ]] || {
    echo "bench_rtloop.sh: $bench not built" >&2
    exit 1
}
for tool in stress-ng mosquitto mosquitto_pub mosquitto_sub python3; do
    command -v "$tool" >/dev/null || {
        echo "bench_rtloop.sh: $tool is not installed" >&2
        exit 1
    }
done

work=$(mktemp -d /tmp/bench_rtloop.XXXXXX)
pids=()

cleanup() {
    local pid
    # Companions go first, each by the PID recorded when it was started.
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Poll a condition every 50 ms for up to $1 seconds.
wait_for() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 20; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# A free loopback port: bind port 0 and read back what the kernel chose.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

broker_up() {
    mosquitto_pub -h 127.0.0.1 -p "$port" -t pg/bench/ready -m 1 2>/dev/null
}

# True once the PID given has at least one child: stress-ng has forked its workers.
has_children() {
    pgrep -P "$1" >/dev/null
}

# One $SYS counter of the broker (published every second, see sys_interval), or "?".
broker_stat() {
    timeout 5 mosquitto_sub -h 127.0.0.1 -p "$port" -C 1 -t "\$SYS/broker/messages/$1" \
        2>/dev/null || echo "?"
}

# Time the hypervisor ran something else on our vCPUs (the "steal" of /proc/stat, all
# CPUs, in USER_HZ ticks): the loop cannot wake while its vCPU is not running at all.
steal_ticks() {
    awk '/^cpu / { print $9 }' /proc/stat
}

# Run the benchmark with the given extra arguments and say what load and steal it saw.
measure() {
    local s0 s1
    echo "== load before: $(uptime)"
    s0=$(steal_ticks)
    "$bench" --seconds "$secs" "$@"
    s1=$(steal_ticks)
    echo "== load after: $(uptime)"
    echo "== steal during the run: $((s1 - s0)) ticks of 1/$(getconf CLK_TCK) s over all CPUs"
}

echo "== idle run, ${secs} s"
measure

# --- storm companions -------------------------------------------------------------
port=$(free_port)
cat >"$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user root
log_dest file $work/mosquitto.log
max_queued_messages 100000
sys_interval 1
EOF
mosquitto -c "$work/mosquitto.conf" 2>>"$work/mosquitto.log" &
pids+=($!)
wait_for 10 broker_up || {
    echo "bench_rtloop.sh: mosquitto did not come up on port $port" >&2
    exit 1
}

# Everything below outlives the measured window by a margin and then ends by itself.
bound=$((secs + 15))

# Two subscribers make the broker fan every message out, as a real uplink's consumers do.
for _ in 1 2; do
    timeout "$bound" mosquitto_sub -h 127.0.0.1 -p "$port" -t 'pg/flood/#' -q 0 \
        >/dev/null 2>&1 &
    pids+=($!)
done
# Three publishers, one line of a prepared file per message, so each is bounded to 3
# million messages and is a direct child of timeout: two at QoS 0 as fast as the broker
# takes them, and one at QoS 1 with its acknowledgements.
seq 1 3000000 >"$work/flood.txt"
n=0
for q in 0 0 1; do
    n=$((n + 1))
    timeout "$bound" mosquitto_pub -h 127.0.0.1 -p "$port" -t "pg/flood/$n" -q "$q" -l \
        <"$work/flood.txt" >/dev/null 2>&1 &
    pids+=($!)
done

stress-ng --cpu 2 --io 1 --vm 1 --timeout "${bound}s" --quiet &
stress_pid=$!
pids+=("$stress_pid")
wait_for 10 has_children "$stress_pid" || {
    echo "bench_rtloop.sh: stress-ng did not start its workers" >&2
    exit 1
}
# The flood is running once the broker has counted received messages; ask it.
flood_up() {
    local got
    got=$(broker_stat received)
    [[ $got =~ ^[0-9]+$ && $got -gt 1000 ]]
}
wait_for 20 flood_up || {
    echo "bench_rtloop.sh: the MQTT flood did not start" >&2
    exit 1
}

echo "== storm run, ${secs} s: stress-ng --cpu 2 --io 1 --vm 1, MQTT flood on port $port," \
    "SQLite write storm in $work"
measure --storm "$work"
echo "== broker: $(broker_stat received) messages received, $(broker_stat sent) sent" \
    "since it started"
