# shellcheck shell=bash
#
# Helpers shared by tools/demo and tools/test. Source it; sourcing only defines functions
# and the PG_PIDS array, it runs nothing.
#
# Every process a script starts through these helpers (or registers with pg_track) is
# recorded in PG_PIDS, and pg_cleanup stops them all by pid, newest first. Nothing here
# ever kills by name: another run, or another user's broker, may be on the same machine.
#
# Daemons are started with setsid so that they sit in their own session: a Ctrl-C at the
# terminal then reaches only the script, whose trap stops the components in a deliberate
# order (the gateway first, so that its last words still reach a live broker).

if [[ -z ${PG_PIDS+set} ]]; then
    PG_PIDS=()
fi

# The packages a build, the tests and the demo need on Debian 12.
PG_DEB_PACKAGES=(
    build-essential cmake pkg-config
    libmodbus-dev libpaho-mqtt-dev libsqlite3-dev libcjson-dev libssl-dev libcmocka-dev
    libgpiod-dev
    mosquitto mosquitto-clients sqlite3
    python3 python3-pymodbus mbpoll socat
    gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm stress-ng
)

# Debian's python3 with python3-pymodbus; a pyenv python3 earlier on PATH lacks both.
PG_PYTHON=/usr/bin/python3

pg_log() {
    printf '%s: %s\n' "${PG_LOG_TAG:-parkguard}" "$*" >&2
}

pg_die() {
    pg_log "error: $*"
    exit 1
}

# pg_root: the repository root, found from this file's own location.
pg_root() {
    (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# pg_install_deps: installs whichever of PG_DEB_PACKAGES (plus the space-separated
# PG_EXTRA_PACKAGES) is missing. Does nothing, and needs no network, when all are present.
pg_install_deps() {
    local -a wanted=("${PG_DEB_PACKAGES[@]}") missing=() sudo=()
    local pkg status

    if [[ -n ${PG_EXTRA_PACKAGES:-} ]]; then
        # shellcheck disable=SC2206 # word splitting of the package list is intended
        wanted+=(${PG_EXTRA_PACKAGES})
    fi
    for pkg in "${wanted[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        if [[ $status != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi

    if ((EUID != 0)) && ! command -v sudo >/dev/null 2>&1; then
        pg_log "missing packages: ${missing[*]}"
        pg_log "error: not root and no sudo: install them, then run this again"
        return 1
    fi
    ((EUID == 0)) || sudo=(sudo)
    pg_log "installing: ${missing[*]}"
    if ! "${sudo[@]}" apt-get update ||
        ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}"; then
        pg_log "error: could not install: ${missing[*]}"
        return 1
    fi
}

# pg_free_port: prints a TCP port that was free on 127.0.0.1 a moment ago. Another process
# can take it before the caller binds it, so callers that can retry should.
pg_free_port() {
    "$PG_PYTHON" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# pg_build TYPE DIR: configures DIR (relative to the repo root unless absolute) for build
# type TYPE when it has no cache yet or was configured for another type, then builds it.
pg_build() {
    local type=$1 dir=$2 root cached=""

    root=$(pg_root)
    [[ $dir == /* ]] || dir=$root/$dir
    if [[ -f $dir/CMakeCache.txt ]]; then
        cached=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
    fi
    if [[ ! -f $dir/CMakeCache.txt || $cached != "$type" ]]; then
        cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" || return 1
    fi
    cmake --build "$dir" -j"$(nproc)"
}

# pg_track PID: records a process for pg_cleanup.
pg_track() {
    PG_PIDS+=("$1")
}

# pg_alive PID: true while the process exists.
pg_alive() {
    kill -0 "$1" 2>/dev/null
}

# pg_wait_line FILE PATTERN TIMEOUT_S [PID]: waits until FILE has a line matching the grep
# pattern PATTERN. Returns 1 on timeout, or as soon as PID (if given) has exited, since a
# dead process will never print the line.
pg_wait_line() {
    local file=$1 pattern=$2 timeout=$3 pid=${4:-}
    local now deadline

    now=${EPOCHREALTIME/./}
    deadline=$((now + ${timeout%.*} * 1000000))
    while :; do
        if grep -q -e "$pattern" "$file" 2>/dev/null; then
            return 0
        fi
        if [[ -n $pid ]] && ! pg_alive "$pid"; then
            grep -q -e "$pattern" "$file" 2>/dev/null
            return
        fi
        now=${EPOCHREALTIME/./}
        if ((now >= deadline)); then
            return 1
        fi
        sleep 0.05
    done
}

# pg_tcp_ready PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
pg_tcp_ready() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pg_start_broker RUNDIR: starts a private mosquitto on a free loopback port. Sets
# PG_BROKER_PID and PG_BROKER_PORT; logs go to RUNDIR/mosquitto.log. Fails (returns 1,
# with the log shown) if the broker is not accepting connections within 10 s.
pg_start_broker() {
    local rundir=$1 conf=$1/mosquitto.conf log=$1/mosquitto.log
    local attempt port pid now deadline

    # The free port can be taken between probing and binding; a fresh one usually works.
    for attempt in 1 2 3; do
        port=$(pg_free_port) || return 1
        : >"$log"
        # 'user' matters only when run as root: mosquitto would otherwise switch to the
        # mosquitto user, which cannot write the log in a private 0700 run directory.
        cat >"$conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user $(id -un)
log_dest file $log
log_type all
log_timestamp_format %H:%M:%S
EOF
        setsid mosquitto -c "$conf" >"$rundir/mosquitto.out" 2>&1 </dev/null &
        pid=$!
        pg_track "$pid"
        if pg_wait_line "$log" 'mosquitto version .* running' 10 "$pid"; then
            now=${EPOCHREALTIME/./}
            deadline=$((now + 10000000))
            while pg_alive "$pid" && ((now < deadline)); do
                # shellcheck disable=SC2034 # PG_BROKER_* are read by the caller
                if pg_tcp_ready "$port"; then
                    PG_BROKER_PID=$pid
                    PG_BROKER_PORT=$port
                    return 0
                fi
                sleep 0.05
                now=${EPOCHREALTIME/./}
            done
        fi
        if pg_alive "$pid" || ! grep -q 'Address already in use' "$log" \
            "$rundir/mosquitto.out" 2>/dev/null; then
            break
        fi
        pg_log "broker port $port was taken, retrying ($attempt)"
    done
    pg_log "mosquitto did not come up on 127.0.0.1:$port within 10 s; its log:"
    tail -n 20 "$log" "$rundir/mosquitto.out" >&2 2>/dev/null || true
    pg_stop_pid "$pid"
    return 1
}

# pg_stop_pid PID [GRACE_S]: SIGTERM, wait up to GRACE_S (default 5) s, then SIGKILL, then
# reap it if it is a child of this shell, so that no zombie outlives the script.
pg_stop_pid() {
    local pid=$1 grace=${2:-5} now deadline

    if pg_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        now=${EPOCHREALTIME/./}
        deadline=$((now + grace * 1000000))
        while pg_alive "$pid" && ((now < deadline)); do
            sleep 0.05
            now=${EPOCHREALTIME/./}
        done
        if pg_alive "$pid"; then
            pg_log "pid $pid ignored SIGTERM for ${grace} s, killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

# pg_cleanup: stops every tracked process, newest first, and forgets them.
pg_cleanup() {
    local i

    for ((i = ${#PG_PIDS[@]} - 1; i >= 0; i--)); do
        pg_stop_pid "${PG_PIDS[i]}" || true
    done
    PG_PIDS=()
}
