#!/usr/bin/env bash
# Runs the config corpus through the real binary: `parkguard -n -c FILE` checks a config
# and exits. Every DATA_DIR/bad/NN-name.json must be rejected with an exit status of 1..123
# and a message on stderr containing the line in NN-name.expect; every DATA_DIR/good/*.json
# must be accepted with status 0. A crash, a hang or a missing binary is a failure, not a
# rejection.
#
# Usage: check_bad_configs.sh PARKGUARD_BINARY DATA_DIR
set -u

readonly MIN_BAD_CASES=35
readonly CASE_TIMEOUT=20

if [ $# -ne 2 ]; then
    echo "usage: $0 PARKGUARD_BINARY DATA_DIR" >&2
    exit 2
fi
bin=$1
data=$2
if [ ! -x "$bin" ]; then
    echo "$0: $bin: not an executable file" >&2
    exit 2
fi
if [ ! -d "$data/bad" ] || [ ! -d "$data/good" ]; then
    echo "$0: $data: expected bad/ and good/ subdirectories" >&2
    exit 2
fi

# A hung binary must not hang the test run with it.
runner=()
if command -v timeout >/dev/null 2>&1; then
    runner=(timeout "$CASE_TIMEOUT")
fi

stderr_file=$(mktemp)
trap 'rm -f "$stderr_file"' EXIT

passed=0
failed=0
bad_cases=0

pass() {
    echo "ok $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}

# Runs the binary on one file; sets status and leaves its stderr in $stderr_file.
check_config() {
    status=0
    "${runner[@]}" "$bin" -n -c "$1" >/dev/null 2>"$stderr_file" </dev/null || status=$?
}

shopt -s nullglob

for json in "$data"/bad/*.json; do
    name=$(basename "$json" .json)
    bad_cases=$((bad_cases + 1))
    expect_file="${json%.json}.expect"
    if [ ! -r "$expect_file" ]; then
        fail "$name" "no $expect_file"
        continue
    fi
    IFS= read -r expect <"$expect_file" || true
    expect=${expect%$'\r'}
    if [ -z "$expect" ]; then
        fail "$name" "empty $expect_file"
        continue
    fi

    check_config "$json"
    message=$(head -c 2000 "$stderr_file")
    if [ "$status" -eq 0 ]; then
        fail "$name" "accepted, expected rejection with: $expect"
    elif [ "$status" -ge 124 ]; then
        fail "$name" "exit status $status (crash, timeout or not runnable): $message"
    elif [[ "$message" != *"$expect"* ]]; then
        fail "$name" "stderr \"$message\" lacks \"$expect\""
    else
        pass "$name"
    fi
done

# An .expect without its .json is a case that silently stopped running.
for expect_file in "$data"/bad/*.expect; do
    if [ ! -e "${expect_file%.expect}.json" ]; then
        fail "$(basename "$expect_file")" "no matching .json"
    fi
done

for json in "$data"/good/*.json; do
    name=good/$(basename "$json" .json)
    check_config "$json"
    if [ "$status" -eq 0 ]; then
        pass "$name"
    else
        fail "$name" "exit status $status: $(head -c 2000 "$stderr_file")"
    fi
done

if [ "$bad_cases" -lt "$MIN_BAD_CASES" ]; then
    fail "corpus" "only $bad_cases bad cases in $data/bad, expected at least $MIN_BAD_CASES"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
