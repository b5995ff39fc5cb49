# tests/cli/stalled.sh - sourced by tests/cli/run.sh (its $work, $VMLAB,
# pass and fail): a stdout whose reader never reads must not hold vmlab past
# --timeout, SIGTERM or SIGINT (issue 10, bug 1). The flooding guest fills
# the pipe at once; what vmlab could not write is dropped and counted.

mkfifo "$work/stall"
# The reader: holds the FIFO open and never reads. Started by us, ended by us.
sleep 300 < "$work/stall" &
stall_reader=$!

# elapsed_ms START_NS: milliseconds since START_NS.
elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

start=$(date +%s%N)
timeout 30 "$VMLAB" run --timeout 2 --stats-json "$work/flood.json" "$work/flood.elf" \
    > "$work/stall" 2> "$work/flood.err" < /dev/null
status=$?
took=$(elapsed_ms "$start")
# The row as cJSON prints it: "reason": "output-dropped-bytes", then "count".
dropped=$(grep -A1 '"reason":[[:space:]]*"output-dropped-bytes"' "$work/flood.json" 2>/dev/null |
          sed -nE 's/.*"count":[[:space:]]*([0-9]+).*/\1/p')
dropped=${dropped:-none}
if [ "$status" != 6 ]; then
    fail "stalled reader, --timeout 2" "status $status after ${took} ms, expected 6: $(head -c 400 "$work/flood.err")"
elif [ "$took" -gt 4500 ]; then
    fail "stalled reader, --timeout 2" "vmlab took ${took} ms"
elif ! grep -q "bytes of guest output were dropped" "$work/flood.err"; then
    fail "stalled reader, --timeout 2" "the closing lines do not mention the dropped output: $(cat "$work/flood.err")"
elif [ "$dropped" = none ] || [ "$dropped" -le 0 ]; then
    fail "stalled reader, --timeout 2" "no console/output-dropped-bytes row in --stats-json (got $dropped)"
else
    pass "stalled reader: --timeout 2 ends the run in ${took} ms, $dropped bytes dropped and counted"
fi

# stop_flood SIGNAL STATUS: the signal ends a run stuck on the stalled pipe.
stop_flood() {
    local signal=$1
    "$VMLAB" run "$work/flood.elf" > "$work/stall" 2> "$work/flood.err" < /dev/null &
    local pid=$! waited=0
    sleep 1
    local start
    start=$(date +%s%N)
    kill -"$signal" "$pid"
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt 100 ]; do
        sleep 0.05
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        fail "stalled reader, SIG$signal" "vmlab still ran 5 s after the signal"
        return
    fi
    wait "$pid"
    local status=$? took
    took=$(elapsed_ms "$start")
    if [ "$status" = 12 ]; then
        pass "stalled reader: SIG$signal ends the run in ${took} ms (status 12)"
    else
        fail "stalled reader, SIG$signal" "status $status: $(head -c 400 "$work/flood.err")"
    fi
}
stop_flood TERM
stop_flood INT

# The same stalled reader on --stats-out: the stream gives a line at most
# 1 s, so the run still ends on time, and the lost lines are reported
# (status 14, with the run's own status 6).
start=$(date +%s%N)
timeout 30 "$VMLAB" run --timeout 2 --stats-out "$work/stall" --stats-interval 10 \
    build/guests/kernel.elf > /dev/null 2> "$work/stream.err" < /dev/null
status=$?
took=$(elapsed_ms "$start")
if [ "$status" = 14 ] && [ "$took" -lt 6000 ] &&
    grep -q -- "--stats-out .*its reader took no line for 1 s; the run itself ended with status 6" "$work/stream.err"; then
    pass "stalled --stats-out reader: the run ends in ${took} ms, status 14, the loss said"
else
    fail "stalled --stats-out reader" "status $status after ${took} ms: $(tail -c 400 "$work/stream.err")"
fi

kill "$stall_reader" 2>/dev/null
wait "$stall_reader" 2>/dev/null
