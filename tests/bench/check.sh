#!/usr/bin/env bash
# tests/bench/check.sh - `vmlab bench` in quick mode: the shape of every
# format, the JSON schema, events per operation where the kernel's own
# count is exact, the plot file, a clean column for each technique that
# cannot run here, the time bound, bad input. No timing is asserted:
# speed belongs to the benchmark itself, never to a test.
#
#   tests/bench/check.sh          from anywhere, after `make`
#
# Also checks that the other parts of `make bench` (tests/hvm/bench.sh,
# tests/trapemu/bench.sh) end cleanly on a host without KVM and without
# compatibility mode (pretended with VMLAB_PRETEND_HOST on one that has them).
set -uo pipefail
cd "$(dirname "$0")/../.." && . tests/lib.sh
VMLAB_SUITE=bench
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -x "$VMLAB" ] || make -s all >/dev/null
KERNEL=build/guests/kernel.elf

# near VALUE WANTED: VALUE is within 0.02 of WANTED (a few console bytes
# over a couple of thousand operations are all that may differ).
near() { awk -v v="$1" -v w="$2" 'BEGIN { exit !(v != "null" && v - w < 0.02 && w - v < 0.02) }'; }

# ---- bad input: one line on stderr, status 2, nothing written ---------------------
bad_input() {
    local what=$1
    shift
    local status=0
    "$VMLAB" bench "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || status=$?
    if [ "$status" = 2 ] && [ "$(wc -l <"$WORK/err")" = 1 ] && [ ! -s "$WORK/out" ]; then
        pass "bad input, $what: status 2, one line ($(cat "$WORK/err"))"
    else
        fail "bad input, $what: status $status, stderr: $(head -c 300 "$WORK/err")"
    fi
}
bad_input "unknown technique" --techniques interp,nope
bad_input "unknown benchmark" --benchmarks syscall,nope
bad_input "rounds 0" --rounds 0
bad_input "rounds not a number" --rounds three
bad_input "rounds too many" --rounds 99
bad_input "unknown format" --format xml
bad_input "unknown option" --fast
bad_input "stray argument" extra
bad_input "max-seconds 0" --max-seconds 0
bad_input "unwritable --output" --output /nonexistent/dir/report.txt
bad_input "unwritable --plot" --plot /nonexistent/dir/plot.svg
bad_input "--plot not svg or png" --plot "$WORK/plot.pdf"
bad_input "--from a missing file" --from "$WORK/missing.json"
bad_input "--from not a report" --from /etc/hostname
bad_input "--from with --quick" --from "$WORK/missing.json" --quick
if [ ! -e "$WORK/plot.pdf" ]; then pass "no file left by a refused --plot"; else fail "a refused --plot left a file"; fi

# ---- the benchmark list is the kernel's ------------------------------------------------
kernel_list=$("$VMLAB" run "$KERNEL" -- bench=no-such-benchmark 2>/dev/null | tr -d '\r' |
    sed -n 's/.*the benchmarks are: *//p')
bench_list=$("$VMLAB" bench --list | sed -n 's/^benchmarks: //p' | sed 's/ cpubench$//')
if [ -n "$kernel_list" ] && [ "$kernel_list" = "$bench_list" ]; then
    pass "vmlab bench knows the kernel's benchmarks: $bench_list"
else
    fail "benchmark lists differ: kernel '$kernel_list', vmlab bench '$bench_list'"
fi

# --plot needs gnuplot (packages.txt): without it, the plot checks skip.
svg_plot=(--plot "$WORK/plot.svg")
png_plot=(--plot "$WORK/plot.png")
if ! command -v gnuplot >/dev/null; then
    svg_plot=()
    png_plot=()
fi
plot_checked() {   # WHAT: false (and a skip) when there is no gnuplot
    command -v gnuplot >/dev/null && return 0
    skip "$1: gnuplot is not installed (Debian package gnuplot-nox, make deps)"
    return 1
}

# ---- one quick run, every column, as JSON with an SVG plot --------------------------
status=0
"$VMLAB" bench --quick --benchmarks in,syscall,cli-sti,hlt,divzero,cpubench --format json \
    --output "$WORK/bench.json" "${svg_plot[@]}" >"$WORK/out" 2>"$WORK/err" || status=$?
json=$WORK/bench.json
if [ "$status" = 0 ] && jq -e . "$json" >/dev/null 2>&1; then
    pass "quick run: status 0, the report is JSON"
else
    fail "quick run: status $status: $(tail -3 "$WORK/err")"
fi
if grep -q "vmlab bench: round 1/2" "$WORK/err"; then
    pass "a progress line on stderr"
else
    fail "no progress line on stderr"
fi
if [ ! -s "$WORK/out" ]; then pass "--output: nothing on stdout"; else fail "--output: stdout not empty"; fi

if jq -e '.vmlab_bench_version == "1" and (.rounds | type == "number") and
          (.rounds_done | type == "number") and (.tsc_ghz | type == "number") and
          (.columns | type == "array") and (.benchmarks | length == 6) and
          (.rows | length) == ((.columns | length) * (.benchmarks | length)) and
          ([.rows[] | has("benchmark", "technique", "runs", "why_not", "samples", "iterations",
             "cycles_per_op", "ns_per_op", "mips", "instructions_per_op", "events_per_op", "spread",
             "ratio_to_reference_native")] | all)' "$json" >/dev/null 2>&1; then
    pass "JSON schema: top level, one row per benchmark and column, every row's keys"
else
    fail "JSON schema"
fi
if jq -e '.reference.source and ([.reference.rows[] | select(.benchmark == "syscall" and
          .native == 242 and .bt == 2308 and .vtx == 246)] | length == 1) and
          (.reference.rows | length == 7)' "$json" >/dev/null 2>&1; then
    pass "JSON reference: Adams & Agesen's seven rows"
else
    fail "JSON reference object"
fi
for technique in interp trapemu bt hvm pv; do
    if jq -e --arg t "$technique" '[.columns[] | select(.name == $t)] | length == 1' "$json" >/dev/null; then
        pass "column $technique is there"
    else
        fail "column $technique missing"
    fi
done
if command -v qemu-system-i386 >/dev/null; then
    if jq -e '[.rows[] | select(.technique == "qemu-tcg" and .runs and .samples == 2 and
              (.ns_per_op | type == "number"))] | length == 6' "$json" >/dev/null; then
        pass "qemu-tcg column measured (an outside reference)"
    else
        fail "qemu-tcg column not measured"
    fi
else
    skip "qemu-tcg column: qemu-system-i386 is not installed"
fi

# Every column that cannot run: the same reason in every cell, no figure at
# all, and for a built technique the reason vmlab techniques gives.
for technique in $(jq -r '.columns[] | select(.runs | not) | .name' "$json"); do
    why=$(jq -r --arg t "$technique" '.columns[] | select(.name == $t) | .why_not' "$json")
    if jq -e --arg t "$technique" --arg why "$why" '[.rows[] | select(.technique == $t)] |
          all(.runs == false and .why_not == $why and .samples == 0 and .cycles_per_op == null
              and .ns_per_op == null and .mips == null and .events_per_op == null)' "$json" >/dev/null &&
        [ -n "$why" ] && [ "$why" != null ]; then
        pass "clean column $technique: $why"
    else
        fail "column $technique is not clean"
    fi
    if [ "$technique" != qemu-tcg ] && "$VMLAB" techniques | grep -qE "^$technique +unavailable"; then
        technique_available "$technique"
        if [ "$why" = "$technique_why" ]; then
            pass "column $technique says what vmlab techniques says"
        else
            fail "column $technique: '$why' vs vmlab techniques: '$technique_why'"
        fi
    fi
done

# Every column that runs: two rounds (or the failure, with its reason).
if jq -e '[.rows[] | select(.runs)] | all(.samples == 2 or (.why_not | type == "string"))' \
    "$json" >/dev/null; then
    pass "every cell that runs has its two rounds (or says why not)"
else
    fail "a cell that runs has no rounds and no reason"
fi

# events_per_op CATEGORY BENCH TECHNIQUE: the figure, or "null".
events_per_op() {
    jq -r --arg b "$2" --arg t "$3" --arg c "$1" \
        '.rows[] | select(.benchmark == $b and .technique == $t) | .events_per_op[$c] // 0' "$json"
}
row_ran() {
    jq -e --arg b "$1" --arg t "$2" \
        '.rows[] | select(.benchmark == $b and .technique == $t) | .samples > 0' "$json" >/dev/null
}
# Exact counts: the kernel's loop does one thing per operation.
expect_events() {
    local category=$1 bench=$2 technique=$3 wanted=$4 what=$5
    if ! row_ran "$bench" "$technique"; then
        skip "$technique $bench: $category per op: not measured here ($(jq -r --arg b "$bench" \
            --arg t "$technique" '.rows[] | select(.benchmark == $b and .technique == $t) |
            .why_not' "$json"))"
        return
    fi
    local got
    got=$(events_per_op "$category" "$bench" "$technique")
    if near "$got" "$wanted"; then
        pass "$technique $bench: $got $category events per operation ($what)"
    else
        fail "$technique $bench: $got $category events per operation, expected $wanted ($what)"
    fi
}
expect_events io in interp 1 "one port read per inb"
expect_events io cli-sti interp 0 "cli and sti touch no device"
expect_events io hlt interp 4 "the kernel's two IER writes, the handler's LSR read and EOI"
expect_events inject hlt interp 1 "one IRQ 4 wakes each hlt"
expect_events guest-exception divzero interp 1 "one #DE per divl"
expect_events trap cli-sti trapemu 2 "cli and sti each trap"
expect_events trap in trapemu 1 "one #GP per inb"
expect_events exit in hvm 1 "one I/O exit per inb"
# bt: cli and sti never trap, and are inline virtual-flag code
# (techniques/bt/virtual_state.c): no callout either.
expect_events trap cli-sti bt 0 "binary translation: no trap"
expect_events bt-callout cli-sti bt 0 "cli and sti are inline, not callouts"
# pv: cli-sti is a store to the event mask, in a read of the console
# ring's indices in the shared info page: neither leaves the guest.
for bench in cli-sti in; do
    if row_ran "$bench" pv; then
        total=$(jq -r --arg b "$bench" '.rows[] | select(.benchmark == $b and
            .technique == "pv") | [.events_per_op[]] | add // 0' "$json")
        if near "$total" 0; then
            pass "pv $bench: no events at all ($total per operation)"
        else
            fail "pv $bench: $total events per operation, expected none"
        fi
    else
        skip "pv $bench: no events per operation: not measured here"
    fi
done
# cpubench.c: about 670 thousand guest instructions per iteration.
if jq -e '[.rows[] | select(.technique == "interp" and .benchmark == "cpubench")] |
          all(.instructions_per_op > 500000 and .instructions_per_op < 900000)' "$json" >/dev/null; then
    pass "interp counts instructions: $(jq '.rows[] | select(.technique == "interp" and
        .benchmark == "cpubench") | .instructions_per_op' "$json") per cpubench iteration"
else
    fail "interp's instructions per cpubench iteration missing or not about 670 thousand"
fi

if ! plot_checked "--plot FILE.svg"; then
    :
elif head -c 200 "$WORK/plot.svg" 2>/dev/null | grep -q "<svg" && grep -q "</svg>" "$WORK/plot.svg" &&
    grep -q "syscall" "$WORK/plot.svg"; then
    pass "--plot: an SVG document with the benchmarks"
else
    fail "--plot: no valid SVG at $WORK/plot.svg"
fi

# --from: the saved run, shown again, is the same document.
status=0
"$VMLAB" bench --from "$json" --format json >"$WORK/again.json" 2>"$WORK/err" || status=$?
if [ "$status" = 0 ] && [ "$(jq -S . "$json")" = "$(jq -S . "$WORK/again.json")" ]; then
    pass "--from: a saved run read back and written again is the same JSON"
else
    fail "--from: status $status, the documents differ: $(diff <(jq -S . "$json") <(jq -S . "$WORK/again.json") | head -5)"
fi

# ---- the text formats, with two techniques that cannot run (pretended) -----------------
# VMLAB_PRETEND_HOST takes trapemu and hvm away on any host, so this column
# check runs everywhere.
pretend() { VMLAB_PRETEND_HOST=no-compat,no-kvm "$@"; }
status=0
pretend "$VMLAB" bench --quick --rounds 1 --techniques interp,trapemu,hvm --benchmarks in,cpubench \
    --format table "${png_plot[@]}" >"$WORK/table.txt" 2>"$WORK/err" || status=$?
table=$WORK/table.txt
if [ "$status" = 0 ] && grep -qE '^benchmark +figure +interp +trapemu +hvm +\| A&A native +A&A BT +A&A VT-x$' "$table"; then
    pass "table: the header names every column and the published ones"
else
    fail "table: status $status, header: $(grep '^benchmark' "$table")"
fi
if grep -qE '^in +cycles/op +[0-9,.]+ ±[0-9]+% +- \([0-9]\) +- \([0-9]\) +\| 3,209 +216 +15,826$' "$table" &&
    grep -qE '^ +x A&A native +[0-9.,]+ +\| 1\.00 +0\.067 +4\.93$' "$table" &&
    grep -qE '^ +ns/op +' "$table" && grep -qE '^ +events/op +io 1\.00' "$table" &&
    grep -qE '^cpubench +ns/op' "$table" && grep -qE '^ +MIPS +[0-9,.]+ ±' "$table"; then
    pass "table: the lines of each benchmark, the published figures beside"
else
    fail "table shape:"$'\n'"$(cat "$table")"
fi
for technique in trapemu hvm; do
    technique_available "$technique" || true
    note=$(grep -E "^\([0-9]+\) $technique: " "$table" | head -1)
    if [ -n "$note" ] && [ "${note#*: }" = "$(VMLAB_PRETEND_HOST=no-compat,no-kvm bash -c \
        ". tests/lib.sh; technique_available $technique; echo \"\$technique_why\"")" ]; then
        pass "table: $technique's column says why not: ${note#*: }"
    else
        fail "table: no note for $technique ($note)"
    fi
done
if ! plot_checked "--plot FILE.png"; then
    :
elif [ "$(head -c 4 "$WORK/plot.png" | od -An -c | tr -d ' ')" = "211PNG" ]; then
    pass "--plot: a PNG file"
else
    fail "--plot: no PNG at $WORK/plot.png"
fi

status=0
"$VMLAB" bench --quick --rounds 1 --techniques interp,bt --benchmarks in --format markdown \
    >"$WORK/table.md" 2>/dev/null || status=$?
if [ "$status" = 0 ] && grep -q '^| benchmark | figure | interp | bt | A&A native | A&A BT | A&A VT-x |$' "$WORK/table.md" &&
    grep -q '^|---|---|---:|' "$WORK/table.md" && grep -qE '^\| in \| cycles/op \| [0-9]' "$WORK/table.md"; then
    pass "markdown: a table with the header, the alignment row and the rows"
else
    fail "markdown:"$'\n'"$(cat "$WORK/table.md")"
fi

status=0
# qemu-tcg first: looking it up in $PATH once broke the parsing of the rest of the list.
"$VMLAB" bench --quick --rounds 1 --techniques qemu-tcg,interp,pv --benchmarks in,cli-sti \
    --format csv >"$WORK/table.csv" 2>/dev/null || status=$?
if [ "$status" = 0 ] && [ "$(wc -l <"$WORK/table.csv")" = 7 ] &&
    head -1 "$WORK/table.csv" | grep -q '^benchmark,technique,runs,samples,' &&
    grep -qE '^in,interp,yes,1,[0-9]+,[0-9]+,[0-9.e+]+,' "$WORK/table.csv" &&
    [ "$(awk -F, 'NR == 1 { n = NF } NR > 1 && NF < n { bad = 1 } END { print bad + 0 }' "$WORK/table.csv")" = 0 ]; then
    pass "csv: a header and one record per benchmark and technique"
else
    fail "csv:"$'\n'"$(cat "$WORK/table.csv")"
fi

# ---- the time bound --------------------------------------------------------------------
status=0
"$VMLAB" bench --quick --techniques interp --max-seconds 1 --format json \
    --benchmarks syscall,in,cr3,callret,pgfault,divzero,ptemod,cli-sti >"$WORK/bound.json" \
    2>/dev/null || status=$?
if [ "$status" = 0 ] && jq -e '.time_bound_hit and .elapsed_seconds < 20 and
        ([.rows[] | select(.samples == 0)] | length > 0)' "$WORK/bound.json" >/dev/null; then
    pass "--max-seconds: stops starting runs, reports what it measured"
else
    fail "--max-seconds: status $status"
fi

# ---- the rest of make bench ends cleanly where it cannot run -------------------------
for script in tests/hvm/bench.sh tests/trapemu/bench.sh; do
    status=0
    pretend "$script" >"$WORK/out" 2>&1 || status=$?
    if [ "$status" = 0 ] && grep -q '^SKIP' "$WORK/out" &&
        ! grep -qiE 'traceback|segmentation|core dumped' "$WORK/out"; then
        pass "$script without KVM and compatibility mode: $(grep -m1 '^SKIP' "$WORK/out" | cut -c1-90)"
    else
        fail "$script without KVM and compatibility mode: status $status: $(tail -3 "$WORK/out")"
    fi
done

finish
