#!/usr/bin/env bash
# tests/trapemu/containment.sh - trapemu's seccomp containment allows no
# open at all, and vmlab still writes everything it promises.
#
#  1. the filter itself: tests/trapemu/containment_probe.c links
#     core/direct/containment.c, contains itself with the function trapemu
#     calls, and then tries open, openat (with the flags the old allow-list
#     let through), openat2, creat, open_by_handle_at, execve, socket, fork
#     and kill of another process: each must fail with EPERM, after the same
#     opens were shown to work before the filter; reads and writes on
#     descriptors opened before must still work;
#  2. vmlab's own evidence: while a trapemu guest runs, /proc/PID/status
#     shows the seccomp filters in force and the --stats-json temporary is
#     already among its open files (acquired at start-up, not at the end);
#  3. --stats-json and --stats-out after containment: a trapemu run, a run
#     that switches into trapemu midway and a run stopped by SIGTERM each
#     leave a valid stats file (python3 json) and no temporary; a bad path
#     is still a one-line error with status 2 and no file;
#  4. the dashboard (tmux): a guest switched to trapemu by key 2 keeps
#     being drawn, and q writes the stats files.
#
#   tests/trapemu/containment.sh     (from anywhere; needs `make` to have run)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

VMLAB=build/vmlab
KERNEL=build/guests/kernel.elf
CPUBENCH=build/guests/cpubench.elf
HELLO=build/guests/hello.elf
WORK=$(mktemp -d)
SOCKET="vmlab-containment-test-$$"
cleanup() {
    tmux -L "$SOCKET" kill-server >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for file in "$VMLAB" "$KERNEL" "$CPUBENCH" "$HELLO"; do
    [ -e "$file" ] || { fail "setup: $file missing (run make)"; finish; }
done

# ---- 1. the filter denies every open ----------------------------------------------
probe="$WORK/containment_probe"
if ! host_has seccomp; then
    skip "filter: $host_why"
elif gcc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -O1 -o "$probe" \
        tests/trapemu/containment_probe.c core/direct/containment.c -lseccomp -pthread \
        2>"$WORK/probe.build"; then
    mkdir "$WORK/probe"
    status=0
    "$probe" "$WORK/probe" >"$WORK/probe.out" 2>&1 || status=$?
    while read -r verdict rest; do
        case $verdict in
        PASS) pass "filter: $rest" ;;
        FAIL) fail "filter: $rest" ;;
        *) fail "filter: unexpected output: $verdict $rest" ;;
        esac
    done <"$WORK/probe.out"
    # The probe must have said something, and its status must agree.
    if ! grep -q '^PASS direct_contain_process' "$WORK/probe.out"; then
        fail "filter: the probe did not contain itself (status $status)"
    elif [ "$status" != 0 ] && ! grep -q '^FAIL' "$WORK/probe.out"; then
        fail "filter: the probe exited with status $status without saying why"
    fi
else
    fail "filter: the probe does not build: $(head -c 600 "$WORK/probe.build")"
fi

if ! technique_available trapemu; then
    skip "vmlab contained under trapemu (live evidence, stats files, dashboard): $technique_why"
    finish
fi

# valid_stats FILE TECHNIQUE STATUS: a whole JSON document from this run.
valid_stats() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
path, technique, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path) as f:
    doc = json.load(f)
problems = []
if doc.get("technique") != technique:
    problems.append("technique %r, expected %r" % (doc.get("technique"), technique))
if doc.get("exit_status") != status:
    problems.append("exit_status %r, expected %r" % (doc.get("exit_status"), status))
if not doc.get("counters"):
    problems.append("no counters")
# trapemu ran: it trapped, or the guest was switched to it (a compute
# loop such as cpubench may not trap before it is stopped).
ran = [c for c in doc["counters"] if c["count"] > 0 and (c["category"] == "trap" or
       (c["category"] == "switch" and c["reason"].endswith("->trapemu")))]
if technique == "trapemu" and not ran:
    problems.append("no trap/* or switch/*->trapemu counter: did trapemu run?")
if problems:
    print("; ".join(problems))
    sys.exit(1)
EOF
}

# no_temporary DIR: nothing named *.tmp.* is left in DIR.
no_temporary() { ! ls "$1" | grep -q '\.tmp\.'; }

# check_stats NAME FILE TECHNIQUE STATUS
check_stats() {
    local name=$1 file=$2 technique=$3 status=$4 why
    if [ ! -s "$file" ]; then
        fail "$name: no stats file"
    elif ! why=$(valid_stats "$file" "$technique" "$status" 2>&1); then
        fail "$name: the stats file is not right: $why"
    elif ! no_temporary "$(dirname "$file")"; then
        fail "$name: a temporary was left behind: $(ls "$(dirname "$file")")"
    else
        pass "$name: valid stats file, no temporary left"
    fi
}

# ---- 2. vmlab's own evidence, while the guest runs --------------------------------
# The kernel's shell waits for input that never comes (a FIFO opened
# read-write never reaches end of file); SIGTERM ends it (status 12).
mkdir "$WORK/live"
mkfifo "$WORK/live.in"
"$VMLAB" run --technique trapemu --timeout 30 --stats-json "$WORK/live/s.json" "$KERNEL" \
    <>"$WORK/live.in" >"$WORK/live.out" 2>"$WORK/live.err" &
pid=$!
filters=""
for _ in $(seq 100); do
    filters=$(awk '/^Seccomp_filters:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$filters" ] && [ "$filters" -ge 2 ] && break
    sleep 0.05
done
mode=$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
if [ "$mode" = 2 ] && [ -n "$filters" ] && [ "$filters" -ge 2 ]; then
    pass "vmlab under trapemu runs in seccomp filter mode ($filters filters)"
else
    fail "vmlab under trapemu should run with seccomp filters: Seccomp '$mode', filters '$filters'"
fi
if ls -l "/proc/$pid/fd" 2>/dev/null | grep -q "$WORK/live/s.json.tmp.$pid"; then
    pass "the --stats-json temporary is open before the end of the run"
else
    fail "the --stats-json temporary should be open while the guest runs"
fi
sleep 0.3
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" = 12 ]; then
    check_stats "SIGTERM during a trapemu run" "$WORK/live/s.json" trapemu 12
else
    fail "SIGTERM during a trapemu run: status $status, expected 12: $(tail -n 2 "$WORK/live.err")"
fi

# ---- 3. --stats-json and --stats-out after containment ----------------------------
mkdir "$WORK/run"
status=0
timeout 120 "$VMLAB" run --technique trapemu --timeout 60 --stats-json "$WORK/run/s.json" \
    --stats-out "$WORK/run.jsonl" --stats-interval 50 "$KERNEL" -- test=syscalls \
    </dev/null >"$WORK/run.out" 2>"$WORK/run.err" || status=$?
if [ "$status" = 1 ]; then
    check_stats "trapemu run (kernel syscalls)" "$WORK/run/s.json" trapemu 1
else
    fail "trapemu run (kernel syscalls): status $status: $(tail -n 2 "$WORK/run.err")"
fi
if python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if lines and lines[-1].get("final") is True and lines[-1].get("exit_status") == 1 else 1)
' "$WORK/run.jsonl" 2>/dev/null; then
    pass "--stats-out: every line is JSON and the last one is final ($(wc -l <"$WORK/run.jsonl") lines)"
else
    fail "--stats-out after containment: $(tail -c 300 "$WORK/run.jsonl")"
fi

# Contained midway: the stats file was acquired before the switch.
mkdir "$WORK/switch"
status=0
timeout 120 "$VMLAB" run --timeout 60 --switch trapemu@5ms --stats-json "$WORK/switch/s.json" \
    "$CPUBENCH" -- iters=20 </dev/null >"$WORK/switch.out" 2>"$WORK/switch.err" || status=$?
if [ "$status" = 1 ] && grep -q '"switch_count":\s*1' "$WORK/switch/s.json" 2>/dev/null; then
    check_stats "interp, then trapemu from 5 ms" "$WORK/switch/s.json" trapemu 1
else
    fail "interp, then trapemu from 5 ms: status $status, switches: $(grep -o '"switch_count":[^,]*' "$WORK/switch/s.json" 2>/dev/null || echo none): $(tail -n 2 "$WORK/switch.err")"
fi

# A bad path is still refused up front, with nothing left behind.
status=0
"$VMLAB" run --technique trapemu --stats-json "$WORK/missing/s.json" "$HELLO" \
    </dev/null >/dev/null 2>"$WORK/bad.err" || status=$?
if [ "$status" = 2 ] && [ "$(wc -l <"$WORK/bad.err")" = 1 ] &&
    grep -q -- '--stats-json' "$WORK/bad.err" && [ ! -e "$WORK/missing" ]; then
    pass "bad --stats-json path: one line, status 2 ($(cat "$WORK/bad.err"))"
else
    fail "bad --stats-json path: status $status: $(cat "$WORK/bad.err")"
fi

# ---- 4. the dashboard, switched to trapemu ----------------------------------------
# Key 2 switches on the vCPU thread, after the screen (and its terminfo) is
# up. The guest is cpubench, long enough to watch under trapemu.
if ! command -v tmux >/dev/null; then
    skip "dashboard with trapemu: tmux is not installed"
    finish
fi
screen() { tmux -L "$SOCKET" capture-pane -p -t dash; }
wait_for() {   # REGEX SECONDS
    local tries=$(($2 * 10))
    while [ "$tries" -gt 0 ]; do
        screen 2>/dev/null | grep -Eq -- "$1" && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}
mkdir "$WORK/dash"
tmux -L "$SOCKET" new-session -d -s dash -x 120 -y 40 \
    "ulimit -c 0; $VMLAB run --dashboard --stats-json $WORK/dash/s.json --stats-out $WORK/dash.jsonl \
     --stats-interval 200 $CPUBENCH -- iters=1000000 2>$WORK/dash.err; echo VMLAB-EXIT=\$?; sleep 60"
if ! wait_for 'technique interp' 5; then
    fail "dashboard: did not start: $(screen | head -3)"
    finish
fi
tmux -L "$SOCKET" send-keys -t dash 2
if wait_for 'technique trapemu' 5; then
    pass "dashboard: key 2 switches the guest to trapemu"
else
    fail "dashboard: key 2 should switch cpubench to trapemu: $(screen | head -4)"
fi
# Drawn after containment: the screen keeps changing (times, rates).
first=$(screen | md5sum)
changed=no
for _ in $(seq 30); do
    sleep 0.1
    [ "$(screen | md5sum)" != "$first" ] && { changed=yes; break; }
done
if [ "$changed" = yes ] && screen | grep -q 'technique trapemu'; then
    pass "dashboard: still drawing under trapemu"
else
    fail "dashboard: the screen stopped changing under trapemu"
fi
tmux -L "$SOCKET" send-keys -t dash q
if wait_for 'VMLAB-EXIT=12' 10; then
    pass "dashboard: q stops the contained guest (status 12)"
    check_stats "dashboard under trapemu" "$WORK/dash/s.json" trapemu 12
    if tail -n 1 "$WORK/dash.jsonl" | grep -q '"final":true'; then
        pass "dashboard: --stats-out ends with its final line"
    else
        fail "dashboard: --stats-out has no final line"
    fi
else
    fail "dashboard: q should end vmlab with status 12: $(screen | tail -4); $(tail -n 3 "$WORK/dash.err")"
fi

# ---- 5. the dashboard, started under trapemu --------------------------------------
# The VM is created on the main thread and runs on the dashboard's vCPU
# thread: trapemu attaches again there (its signal stack, FS base and timer
# are per thread), and confines the process only at its first run, after
# the screen has read terminfo.
tmux -L "$SOCKET" new-session -d -s dash2 -x 120 -y 40 \
    "ulimit -c 0; $VMLAB run --technique trapemu --dashboard $CPUBENCH -- iters=1000000 \
     2>$WORK/dash2.err; echo VMLAB-EXIT=\$?; sleep 60"
screen() { tmux -L "$SOCKET" capture-pane -p -t dash2; }
if wait_for 'technique trapemu' 5 && wait_for 'trap \(' 5; then
    pass "dashboard started under trapemu: the guest runs on the vCPU thread"
else
    fail "dashboard started under trapemu: $(screen | head -4); $(tail -n 3 "$WORK/dash2.err")"
fi
tmux -L "$SOCKET" send-keys -t dash2 1
if wait_for 'technique interp' 5; then
    tmux -L "$SOCKET" send-keys -t dash2 2
    if wait_for 'technique trapemu' 5; then
        pass "dashboard: keys 1 and 2 move the guest out of trapemu and back"
    else
        fail "dashboard: key 2 should switch back to trapemu: $(screen | head -4)"
    fi
else
    fail "dashboard: key 1 should switch to interp: $(screen | head -4)"
fi
tmux -L "$SOCKET" send-keys -t dash2 q
if wait_for 'VMLAB-EXIT=12' 10; then
    pass "dashboard started under trapemu: q ends vmlab with status 12"
else
    fail "dashboard started under trapemu: q should end with status 12: $(screen | tail -4)"
fi

finish
