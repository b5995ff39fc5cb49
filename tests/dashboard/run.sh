#!/bin/bash
# tests/dashboard/run.sh - the ncurses dashboard in a real terminal (tmux),
# and the --stats-out stream.
#
# The dashboard runs in a detached tmux session on a private tmux server
# (its own socket, removed at the end); keys are sent with send-keys and the
# screen read with capture-pane. Prints one line per check and closes with
# "N passed, M failed"; exits non-zero if anything failed.
set -euo pipefail

cd "$(dirname "$0")/../.."
. tests/lib.sh
VMLAB=${VMLAB:-build/vmlab}
KERNEL=build/guests/kernel.elf
KERNEL_PV=build/guests/kernel-pv.elf
work=$(mktemp -d)
socket="vmlab-dashboard-test-$$"
# The checks here name the check, then the evidence when it fails.
check_failed() { fail "$1${2:+: $2}"; }

tmux_() { tmux -L "$socket" "$@"; }

cleanup() {
    tmux_ kill-server > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

if ! command -v tmux > /dev/null; then
    check_failed "tmux" "not installed (apt-get install -y tmux; it is in packages.txt)"
    finish
fi
for file in "$VMLAB" "$KERNEL"; do
    [ -e "$file" ] || { check_failed "setup" "$file missing (run make)"; finish; }
done

screen() { tmux_ capture-pane -p -t "$1"; }

# wait_for SESSION REGEX SECONDS: true once the screen matches (checked
# every 0.1 s; SECONDS may have a fraction).
wait_for() {
    local tries
    tries=$(awk -v s="$3" 'BEGIN { print int(s * 10) + 1 }')
    while [ "$tries" -gt 0 ]; do
        if screen "$1" 2> /dev/null | grep -Eq -- "$2"; then
            return 0
        fi
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

# start SESSION COLUMNS LINES ARGS...: the dashboard in a new session; when
# vmlab ends, the shell prints its status and saves the terminal's state.
start() {
    local session=$1 columns=$2 lines=$3
    shift 3
    tmux_ new-session -d -s "$session" -x "$columns" -y "$lines" \
        "ulimit -c 0; $VMLAB run $* 2> $work/$session.err; echo VMLAB-EXIT=\$?; stty -a > $work/$session.stty; sleep 60"
}

# The vmlab process of a session (the child of the pane's shell), by id.
vmlab_pid() {
    local shell
    shell=$(tmux_ display -p -t "$1" '#{pane_pid}')
    ps --ppid "$shell" -o pid= | tr -d ' ' | head -1
}

terminal_restored() {
    local session=$1
    [ "$(tmux_ display -p -t "$session" '#{alternate_on}')" = 0 ] &&
        [ "$(tmux_ display -p -t "$session" '#{cursor_flag}')" = 1 ] &&
        grep -Eq '(^| )icanon( |$)' "$work/$session.stty" &&
        grep -Eq '(^| )echo( |$)' "$work/$session.stty"
}

# The io category's total, as the table shows it ("+ io (12)   362 ...").
io_total() { screen "$1" | sed -n 's/^[+-] io ([0-9]*) *\([0-9.]*[kMG]\{0,1\}\) .*/\1/p' | head -1; }

techniques=$("$VMLAB" techniques)
not_implemented() { echo "$techniques" | grep -Eq "^$1 +not implemented yet"; }

# ---- 1. the kernel's shell under the dashboard, 120x40 ----------------------
start main 120 40 --dashboard --stats-out "$work/main.jsonl" --stats-interval 200 "$KERNEL"
if wait_for main 'technique interp' 5; then
    pass "header shows the technique (interp)"
else
    check_failed "header shows the technique (interp)" "$(screen main | head -3)"
fi
if wait_for main 'vmlab shell; type help' 5 && wait_for main 'vmlab> *$' 3; then
    pass "console pane shows the kernel shell"
else
    check_failed "console pane shows the kernel shell"
fi
# Poll rather than sample once: the io row appears at the first refresh
# after the guest's first port access, which a loaded machine may delay.
first=""
for _ in $(seq 50); do
    first=$(io_total main)
    [ -n "$first" ] && break
    sleep 0.1
done
second=$first
for _ in $(seq 50); do
    sleep 0.1
    second=$(io_total main)
    [ -n "$second" ] && [ "$second" != "$first" ] && break
done
if [ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ]; then
    pass "counters change over time (io $first -> $second)"
else
    check_failed "counters change over time" "io '$first' then '$second'"
fi

tmux_ send-keys -t main Tab
tmux_ send-keys -t main -l ticks
tmux_ send-keys -t main Enter
if wait_for main 'vmlab> ticks' 3 && wait_for main '^ *[0-9]+ ticks \(100 Hz\)' 3; then
    pass "typed console input is echoed and answered (ticks)"
else
    check_failed "typed console input is echoed and answered" "$(screen main | tail -15)"
fi
tmux_ send-keys -t main Tab

# The guest keeps running after a refused key: the header still shows
# interp and the io counter still moves.
guest_still_running() {
    local before after
    before=$(io_total main)
    for _ in $(seq 30); do
        sleep 0.1
        after=$(io_total main)
        [ -n "$after" ] && [ "$after" != "$before" ] && break
    done
    screen main | grep -q 'technique interp' && [ -n "$after" ] && [ "$after" != "$before" ]
}

# Keys 2, 3, 4 and 5: a technique not built yet says so; one this host
# cannot run says why on the status line, with the host fact, and the guest
# keeps running on interp; one that can run either switches (the header
# shows it; 1 switches back) or refuses the guest with the core's reason.
# (The kernel turns paging on, which some KVM hosts cannot take; section 2
# switches a guest without paging.)
for key in 2 3 4 5; do
    name=$(echo "$key" | sed 's/2/trapemu/;s/3/bt/;s/4/hvm/;s/5/pv/')
    tmux_ send-keys -t main "$key"
    if not_implemented "$name"; then
        if wait_for main "$name: not implemented yet" 2; then
            pass "key $key says $name is not implemented yet"
        else
            check_failed "key $key says $name is not implemented yet" "$(screen main | sed -n 4p)"
        fi
    elif ! technique_available "$name"; then
        # The status line is as wide as the screen: the reason's start must show.
        if wait_for main "$name is not available here: ${technique_why:0:24}" 2; then
            pass "key $key: '$name is not available here' with the host fact on the status line"
        else
            check_failed "key $key: $name unavailable, the status line should say why ($technique_why)" \
                "$(screen main | sed -n 4p)"
        fi
        if guest_still_running; then
            pass "key $key: vmlab and the guest keep running on interp"
        else
            check_failed "key $key: the guest should keep running on interp" "$(screen main | head -4)"
        fi
    elif wait_for main "technique $name|cannot switch to $name" 2; then
        pass "key $key: $(screen main | grep -Eo "technique $name|cannot switch to $name" | head -1)"
        tmux_ send-keys -t main 1
        wait_for main 'technique interp' 2 || true
    else
        check_failed "key $key switches to $name or says why not" "$(screen main | head -4)"
    fi
done

tmux_ send-keys -t main f
tmux_ send-keys -t main -l 3f8
tmux_ send-keys -t main Enter
if wait_for main '(filter |f=)"3f8"' 2 && ! screen main | grep -q '^+ inject'; then
    pass "f filters the table"
else
    check_failed "f filters the table" "$(screen main | sed -n 5,8p)"
fi
tmux_ send-keys -t main h
if wait_for main 'vmlab dashboard: keys' 2; then
    pass "h shows the keys"
else
    check_failed "h shows the keys"
fi
tmux_ send-keys -t main h p
if wait_for main 'paused at EIP 0x' 2; then
    pass "p pauses the guest"
else
    check_failed "p pauses the guest" "$(screen main | head -1)"
fi

tmux_ send-keys -t main q
if wait_for main 'VMLAB-EXIT=12' 5; then
    pass "q stops the guest and exits (status 12, stopped by the user)"
else
    check_failed "q stops the guest and exits" "$(screen main | tail -5)"
fi
if terminal_restored main && ! screen main | grep -q 'technique interp'; then
    pass "after q the terminal is restored (normal screen, cursor, icanon echo)"
else
    check_failed "after q the terminal is restored" "alternate_on=$(tmux_ display -p -t main '#{alternate_on}')"
fi
if grep -q 'stopped from the dashboard' "$work/main.err"; then
    pass "vmlab's closing report is printed after the dashboard"
else
    check_failed "vmlab's closing report is printed after the dashboard" "$(cat "$work/main.err")"
fi

# ---- 2. a live switch to hvm -------------------------------------------------
if technique_available hvm; then
    start switch 120 40 --dashboard build/guests/cpubench.elf -- iters=1000000
    wait_for switch 'technique interp' 5 || true
    sleep 0.5
    tmux_ send-keys -t switch 4
    if wait_for switch 'technique hvm' 1.5; then
        pass "key 4 switches to hvm; the header shows it within a second"
    else
        check_failed "key 4 switches to hvm" "$(screen switch | head -4)"
    fi
    if wait_for switch 'switch \(to hvm\)' 2; then
        pass "the history marks the switch"
    else
        check_failed "the history marks the switch" "$(screen switch | grep -A1 '^history')"
    fi
    tmux_ send-keys -t switch q
    wait_for switch 'VMLAB-EXIT=' 5 || check_failed "q after the switch"
else
    skip "a live switch to hvm from the dashboard: $technique_why"
fi

# ---- 3. 80x24, resizing, and SIGTERM ------------------------------------------
start small 80 24 --dashboard "$KERNEL"
if wait_for small 'technique interp' 5 && wait_for small 'h help q quit' 1 &&
    wait_for small 'vmlab> *$' 5; then
    pass "80x24 shows the header, the console and the keys"
else
    check_failed "80x24 shows the header, the console and the keys" "$(screen small)"
fi
tmux_ resize-window -t small -x 130 -y 40
if wait_for small 'tab console  h help  q quit' 2 && wait_for small 'guest console \(tab to type\)' 1; then
    pass "resizing redraws (130x40 layout)"
else
    check_failed "resizing redraws" "$(screen small | head -6)"
fi
pid=$(vmlab_pid small)
if [ -n "$pid" ]; then
    kill -TERM "$pid"
    if wait_for small 'VMLAB-EXIT=12' 5 && terminal_restored small; then
        pass "SIGTERM: vmlab exits (status 12) and restores the terminal"
    else
        check_failed "SIGTERM: vmlab exits and restores the terminal" "$(screen small | tail -4)"
    fi
else
    check_failed "SIGTERM" "vmlab's process not found"
fi

# A crash (SIGABRT here: the sanitizer build keeps SIGSEGV for itself) must
# still give the terminal back before the process dies.
start crash 100 30 --dashboard "$KERNEL"
wait_for crash 'technique interp' 5 || true
pid=$(vmlab_pid crash)
if [ -n "$pid" ]; then
    kill -ABRT "$pid"
    if wait_for crash 'VMLAB-EXIT=134' 5 && terminal_restored crash; then
        pass "a crash (SIGABRT) restores the terminal, then the signal kills vmlab (134)"
    else
        check_failed "a crash restores the terminal" "$(screen crash | tail -4)"
    fi
else
    check_failed "crash" "vmlab's process not found"
fi

# ---- 4. the guest ends by itself ----------------------------------------------
start ends 100 30 --dashboard --dashboard-exit-on-stop "$KERNEL" -- test=sched
if wait_for ends 'VMLAB-EXIT=[0-9]+' 20 && terminal_restored ends; then
    pass "--dashboard-exit-on-stop: leaves when the guest stops ($(screen ends | grep -o 'VMLAB-EXIT=[0-9]*'))"
else
    check_failed "--dashboard-exit-on-stop" "$(screen ends | tail -4)"
fi

# ---- 4b. the technique pane: bt's mechanisms, and pv's, counted live ---------------
# check_pane TECHNIQUE GUEST PATTERN WHAT: the pane under TECHNIQUE running
# GUEST's sched scenario shows PATTERN within 15 s.
check_pane() {
    local technique=$1 guest=$2 pattern=$3 what=$4 session="$1pane"
    if ! technique_available "$technique"; then
        skip "the $technique pane: $technique_why"
        return
    fi
    start "$session" 140 40 --dashboard --technique "$technique" "$guest" -- test=sched
    if wait_for "$session" "$pattern" 15; then
        pass "under $technique the pane $what ($(screen "$session" | grep -Eo -- "$pattern" | head -1))"
    else
        check_failed "$technique pane" "$(screen "$session" | grep -E 'bt|pv' | head -3)"
    fi
    tmux_ kill-session -t "$session" 2> /dev/null || true
}
check_pane bt "$KERNEL" 'bt: translations [1-9][0-9]* +callouts [1-9][0-9]* +chains [1-9][0-9]*' \
    "counts translations, callouts and chains"
# pv: paravirtualization at work - hypercalls, mirrored tables, no hidden faults.
check_pane pv "$KERNEL_PV" 'hypercalls [1-9][0-9]* .*mirrored [1-9][0-9]*/[0-9]+  hidden faults 0' \
    "counts hypercalls and mirrored tables, and no hidden faults"

# ---- 5. bad input ----------------------------------------------------------------
status=0
"$VMLAB" run --dashboard "$KERNEL" < /dev/null > /dev/null 2> "$work/noterm.err" || status=$?
if [ "$status" = 2 ] && grep -q 'needs a terminal' "$work/noterm.err"; then
    pass "--dashboard without a terminal: status 2 and a reason"
else
    check_failed "--dashboard without a terminal" "status $status: $(cat "$work/noterm.err")"
fi

# ---- 6. --stats-out --------------------------------------------------------------
# A validator built here with cJSON (python3 may be missing on CI): every line
# must be a JSON object with the summary and the counters; it prints the line
# count, the first and last sums of all counts, and whether the last is final.
cat > "$work/jsonl_check.c" << 'C'
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    FILE *file = fopen(argv[1], "r");
    char line[1 << 20];
    double first = -1, last = -1;
    int lines = 0, final = 0;
    if (!file || argc != 2)
        return 2;
    while (fgets(line, sizeof line, file)) {
        cJSON *object = cJSON_Parse(line);
        cJSON *counters = cJSON_GetObjectItem(object, "counters"), *row;
        if (!cJSON_IsObject(object) || !cJSON_IsString(cJSON_GetObjectItem(object, "technique")) ||
            !cJSON_IsNumber(cJSON_GetObjectItem(object, "run_seconds")) ||
            !cJSON_IsNumber(cJSON_GetObjectItem(object, "guest_instructions")) ||
            !cJSON_IsArray(counters) || line[strlen(line) - 1] != '\n') {
            printf("bad line %d\n", lines + 1);
            return 1;
        }
        double total = 0;
        cJSON_ArrayForEach(row, counters) total += cJSON_GetObjectItem(row, "count")->valuedouble;
        first = first < 0 ? total : first;
        last = total;
        final = cJSON_IsTrue(cJSON_GetObjectItem(object, "final"));
        lines++;
        cJSON_Delete(object);
    }
    printf("%d %.0f %.0f %d\n", lines, first, last, final);
    return 0;
}
C
cc -o "$work/jsonl_check" "$work/jsonl_check.c" $(pkg-config --cflags --libs libcjson 2> /dev/null || echo -lcjson)

check_stream() {
    local name=$1 file=$2 minimum=$3 result lines first last final
    if ! result=$("$work/jsonl_check" "$file"); then
        check_failed "$name: every line is JSON" "$result"
        return
    fi
    read -r lines first last final <<< "$result"
    if [ "$lines" -ge "$minimum" ] && [ "$last" -gt "$first" ] && [ "$final" = 1 ]; then
        pass "$name: $lines JSON lines, counts grow ($first -> $last), a final line"
    else
        check_failed "$name" "lines $lines (want >= $minimum), counts $first -> $last, final $final"
    fi
}

status=0
"$VMLAB" run --stats-out "$work/plain.jsonl" --stats-interval 100 --timeout 1.5 "$KERNEL" \
    < /dev/null > /dev/null 2> "$work/plain.err" || status=$?
if [ "$status" = 6 ]; then
    check_stream "--stats-out without the dashboard" "$work/plain.jsonl" 10
else
    check_failed "--stats-out without the dashboard" "status $status: $(cat "$work/plain.err")"
fi
check_stream "--stats-out with the dashboard" "$work/main.jsonl" 5
status=0
"$VMLAB" run --stats-out "$work/no/such/dir/s.jsonl" "$KERNEL" < /dev/null > /dev/null \
    2> "$work/bad.err" || status=$?
if [ "$status" = 2 ] && grep -q -- '--stats-out' "$work/bad.err"; then
    pass "--stats-out to a bad path: status 2 and a reason, nothing runs"
else
    check_failed "--stats-out to a bad path" "status $status: $(cat "$work/bad.err")"
fi

finish
