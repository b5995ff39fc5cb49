#!/usr/bin/env bash
# Bad input: each case must end with a one-line error naming the problem and
# exit status 2, without a crash (the sanitizer build is used, so a memory
# error fails the test), without leaving a stats file, and without touching
# the disk image.
set -uo pipefail
cd "$(dirname "$0")/../.."
VMLAB=${VMLAB:-build/vmlab-san}
. tests/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Guests for the cases below.
gcc -m32 -c tests/cli/no_multiboot.S -o "$work/no_multiboot.o" &&
    ld -m elf_i386 -o "$work/no_multiboot.elf" "$work/no_multiboot.o" || exit 1
gcc -m32 -c tests/cli/beyond_ram.S -o "$work/beyond_ram.o" &&
    ld -m elf_i386 -Ttext=0x8000000 -o "$work/beyond_ram.elf" "$work/beyond_ram.o" || exit 1
gcc -m32 -c tests/cli/flood.S -o "$work/flood.o" &&
    ld -m elf_i386 -N -Ttext=0x100000 --no-warn-rwx-segments -o "$work/flood.elf" "$work/flood.o" || exit 1
mkfifo "$work/fifo"
# Flat binaries (no ELF headers) that only the a.out kludge can load.
gcc -m32 -c tests/cli/aout_kludge.S -o "$work/kludge.o" &&
    ld -m elf_i386 -Ttext=0x100000 --oformat binary -o "$work/kludge.bin" "$work/kludge.o" &&
    gcc -m32 -Wa,--defsym,BAD_LOAD_ADDR=1 -c tests/cli/aout_kludge.S -o "$work/bad_kludge.o" &&
    ld -m elf_i386 -Ttext=0x100000 --oformat binary -o "$work/bad_kludge.bin" "$work/bad_kludge.o" || exit 1
printf 'this is not an ELF file\n' > "$work/not_elf.elf"
head -c 65536 /dev/urandom > "$work/disk.img"
disk_sum=$(sha256sum < "$work/disk.img")
cp "$work/disk.img" "$work/readonly.img" && chmod 0444 "$work/readonly.img"
printf '{\n  "technique": "interp",\n  "mem": "64M"\n  "timeout": 5\n}\n' > "$work/broken.json"
printf '{ "technique": "interp", "colour": "blue" }\n' > "$work/unknown_key.json"
printf '{ "mem": true }\n' > "$work/wrong_type.json"
printf '{ "mem": 64 }\n' > "$work/mem_number.json"
printf '{ "timeout": -3 }\n' > "$work/negative_timeout.json"
head -c $((2 << 20)) /dev/zero | tr '\0' ' ' > "$work/huge.json"
hello=build/guests/hello.elf

# expect_error NAME PATTERN ARGS...: status 2, one stderr line matching PATTERN.
expect_error() {
    local name=$1 pattern=$2
    shift 2
    rm -f "$work/stats.json"
    timeout 20 "$VMLAB" run --stats-json "$work/stats.json" "$@" > "$work/out" 2> "$work/err" < /dev/null
    local status=$?
    local lines
    lines=$(wc -l < "$work/err")
    if [ $status -ne 2 ]; then
        fail "$name" "exit status $status, expected 2; stderr: $(head -c 600 "$work/err")"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "expected one line of error, got $lines: $(head -c 600 "$work/err")"
    elif ! grep -qE -- "$pattern" "$work/err"; then
        fail "$name" "error does not match /$pattern/: $(cat "$work/err")"
    elif [ -e "$work/stats.json" ] || ls "$work"/stats.json.tmp* > /dev/null 2>&1; then
        fail "$name" "a stats file was left behind"
    elif [ "$(sha256sum < "$work/disk.img")" != "$disk_sum" ]; then
        fail "$name" "the disk image changed"
    else
        pass "$name ($(cat "$work/err"))"
    fi
}

expect_error "not an ELF" "not an ELF file" "$work/not_elf.elf"
expect_error "ELF64" "ELF64" "$(type -P true)"
expect_error "no Multiboot header" "no Multiboot header" "$work/no_multiboot.elf"
expect_error "segment beyond RAM" "beyond guest RAM" --mem 64M "$work/beyond_ram.elf"
expect_error "missing guest" "No such file" "$work/absent.elf"
expect_error "unknown technique" "unknown technique 'warp'" --technique warp "$hello"
# (build/vmlab: the sanitizer build cannot run pv at all, so it would refuse for that.)
VMLAB=build/vmlab expect_error "pv with a native guest" "pv: this guest is not a pv guest" --technique pv "$hello"
expect_error "malformed JSON" "broken.json:4:3: malformed JSON" --config "$work/broken.json" "$hello"
expect_error "unknown config key" "unknown config key \"colour\"" --config "$work/unknown_key.json" "$hello"
expect_error "config wrong type" "\"mem\" must be a string" --config "$work/wrong_type.json" "$hello"
expect_error "missing config" "--config .*No such file" --config "$work/absent.json" "$hello"
expect_error "missing disk" "--disk.*absent.img" --disk "$work/absent.img" "$hello"
expect_error "read-only disk" "--disk.*read-only" --disk "$work/readonly.img" "$hello"
expect_error "mem too small" "--mem .*between" --mem 1M "$hello"
expect_error "mem absurd" "--mem .*between" --mem 100G "$hello"
expect_error "mem garbage" "--mem 'lots'" --mem lots "$hello"
expect_error "bad timeout" "--timeout" --timeout soon "$hello"
expect_error "no guest" "no guest image" --mem 64M
expect_error "unknown option" "unknown option" --warp-speed "$hello"
expect_error "stats dir missing" "--stats-json" --stats-json "$work/no/such/dir/s.json" "$hello"
expect_error "switch-among unknown" "--switch-among: unknown technique 'warp'" --switch-every 1ms --switch-among interp,warp "$hello"
expect_error "switch-among alone" "--switch-among: goes with --switch-every" --switch-among interp "$hello"
expect_error "bad switch plan" "--switch 'hvm': expected TECHNIQUE@TIME" --switch hvm "$hello"
# Issue 10: input that used to hang, eat memory or be refused too late.
# (`timeout` turns a hang into status 124, a failure.)
expect_error "config is /dev/zero" "--config /dev/zero: not a regular file" --config /dev/zero "$hello"
expect_error "config of 2 MiB" "huge.json: 2097152 bytes; a configuration may have at most" --config "$work/huge.json" "$hello"
expect_error "config is a FIFO" "--config .*fifo: not a regular file" --config "$work/fifo" "$hello"
expect_error "guest is a FIFO" "fifo: not a regular file" "$work/fifo"
expect_error "disk is a FIFO" "--disk.*fifo' is not a regular file" --disk "$work/fifo" "$hello"
expect_error "config mem without a unit" "config key \"mem\": 64 bytes; .*write \"64M\"" --config "$work/mem_number.json" "$hello"
expect_error "config timeout names the value" "config key \"timeout\" \(-3\): expected" --config "$work/negative_timeout.json" "$hello"
mkdir "$work/stats_dir"
expect_error "stats-json is a directory" "--stats-json .*stats_dir: is a directory" --stats-json "$work/stats_dir" "$hello"
expect_error "stats-json is a device" "--stats-json /dev/full: is not a regular file" --stats-json /dev/full "$hello"

# A halted guest sleeps in the run loop instead of spinning a host core: the
# teaching kernel's shell waits in HLT for input for 2 s (then --timeout ends
# it with status 6); the process must use well under a quarter of that in CPU.
TIMEFORMAT='%U %S'
cpu=$( { time (sleep 4 | build/vmlab run --timeout 2 build/guests/kernel.elf > /dev/null 2>&1; echo "status $?" > "$work/idle_status") ; } 2>&1 )
idle_status=$(cat "$work/idle_status")
if [ "$idle_status" != "status 6" ]; then
    fail "idle guest" "expected the timeout status 6, got $idle_status"
elif awk -v u="${cpu% *}" -v s="${cpu#* }" 'BEGIN { exit !(u + s < 0.5) }'; then
    pass "idle guest sleeps in HLT (CPU time ${cpu% *}s user, ${cpu#* }s system over 2 s)"
else
    fail "idle guest" "used ${cpu% *}s user + ${cpu#* }s system CPU in 2 s: HLT is spinning"
fi

# The good path of the same flags: --help and --version answer with status 0.
if "$VMLAB" --version | grep -q '^vmlab '; then pass "--version"; else fail "--version" "no version line"; fi
if "$VMLAB" run --help | grep -q 'usage: vmlab run'; then pass "run --help"; else fail "run --help" "no usage"; fi

expect_error "a.out kludge, bad load_addr" "bad_kludge.bin: a.out kludge: load_addr 0x00100014 is above header_addr 0x00100010" "$work/bad_kludge.bin"

# The a.out kludge (Multiboot header flag 16): loaded by the header's
# addresses, as QEMU's -kernel loads it; the guest checks its own placement.
timeout 20 "$VMLAB" run "$work/kludge.bin" > "$work/kludge.out" 2> "$work/kludge.err" < /dev/null
status=$?
if [ "$status" != 1 ] || [ "$(cat "$work/kludge.out")" != "a.out kludge: ok" ]; then
    fail "a.out kludge" "status $status, output '$(cat "$work/kludge.out")': $(head -c 300 "$work/kludge.err")"
else
    pass "a.out kludge: a flat binary loaded by its header's addresses (status 1)"
fi
if command -v qemu-system-i386 > /dev/null; then
    timeout 20 qemu-system-i386 -display none -serial stdio -monitor none -no-reboot \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$work/kludge.bin" \
        > "$work/kludge.qemu" 2> /dev/null < /dev/null
    if cmp -s "$work/kludge.out" "$work/kludge.qemu"; then
        pass "a.out kludge: the same output under QEMU"
    else
        fail "a.out kludge under QEMU" "QEMU said '$(cat "$work/kludge.qemu")', vmlab '$(cat "$work/kludge.out")'"
    fi
else
    skip "a.out kludge under QEMU: qemu-system-i386 is not installed"
fi

# --stats-out on a FIFO: with no reader, a clear refusal instead of a wait
# forever; with a reader, bad input must not remove the FIFO (as root, the
# same path removed /dev/null).
expect_error "stats-out FIFO without a reader" "--stats-out .*fifo: a FIFO with no reader" --stats-out "$work/fifo" "$hello"
cat "$work/fifo" > /dev/null &
fifo_reader=$!
expect_error "stats-out FIFO, bad input" "unknown technique 'warp'" --stats-out "$work/fifo" --technique warp "$hello"
kill "$fifo_reader" 2>/dev/null
wait "$fifo_reader" 2>/dev/null
if [ -p "$work/fifo" ]; then
    pass "bad input leaves a --stats-out FIFO in place"
else
    fail "stats-out FIFO" "vmlab removed the FIFO it was given on bad input"
fi

# A statistics stream that cannot be written (issue 10, bug 5): one line that
# says why and keeps the guest's own status (1: it passed); vmlab exits 14.
timeout 20 "$VMLAB" run --stats-out /dev/full build/guests/hello.elf > /dev/null 2> "$work/full.err" < /dev/null
status=$?
if [ "$status" = 14 ] &&
    grep -q -- "--stats-out /dev/full: could not write every line .*No space left on device; the run itself ended with status 1, vmlab exits with 14" "$work/full.err"; then
    pass "--stats-out /dev/full: status 14, the reason and the guest's status 1 said"
else
    fail "--stats-out /dev/full" "status $status: $(cat "$work/full.err")"
fi

. tests/cli/stalled.sh
. tests/cli/terminal.sh
finish
