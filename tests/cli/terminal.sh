# tests/cli/terminal.sh - sourced by tests/cli/run.sh: an internal fault
# gives the terminal back (issue 10). vmlab runs in a tmux pane, with the
# console in raw mode or the dashboard on the alternate screen with the
# cursor hidden; `kill -SEGV` (a real fault signal, as a crash in the VMM
# would deliver) must leave cooked mode, cursor on, alternate screen off.
# The release build: under ASan the sanitizer owns SIGSEGV.

terminal_vmlab=build/vmlab
terminal_socket="vmlab-cli-$$"
tmux_() { tmux -L "$terminal_socket" "$@"; }

# crash_in_tmux NAME SIGNAL STATUS ARGS...: runs vmlab ARGS in a pane,
# checks the terminal is changed, sends SIGNAL, expects the exit STATUS and
# the terminal restored.
crash_in_tmux() {
    local name=$1 signal=$2 expected=$3
    shift 3
    rm -f "$work/pane.pid" "$work/pane.status" "$work/pane.stty"
    # sh, not an interactive shell: nothing else touches the terminal mode.
    tmux_ new-session -d -s crash -x 120 -y 40 \
        "sh -c 'echo \$\$ > $work/pane.pid; exec $terminal_vmlab run $* build/guests/kernel.elf' 2> $work/pane.err; echo \$? > $work/pane.status; stty -a > $work/pane.stty; sleep 60"
    local tty i
    tty=$(tmux_ display -p -t crash '#{pane_tty}')
    for i in $(seq 100); do
        [ -s "$work/pane.pid" ] && stty -F "$tty" -a 2>/dev/null | grep -q -- '-icanon' && break
        sleep 0.05
    done
    sleep 0.5   # the dashboard draws its first screen
    local before
    before="$(tmux_ display -p -t crash '#{alternate_on} #{cursor_flag}') $(stty -F "$tty" -a | grep -oE -- '-?icanon' | head -1)"
    kill -"$signal" "$(cat "$work/pane.pid")"
    for i in $(seq 100); do
        [ -s "$work/pane.stty" ] && break
        sleep 0.05
    done
    local after status
    after="$(tmux_ display -p -t crash '#{alternate_on} #{cursor_flag}') $(grep -oE -- '-?icanon' "$work/pane.stty" | head -1) $(grep -oE -- '(^| )-?echo( |$)' "$work/pane.stty" | head -1 | tr -d ' ')"
    status=$(cat "$work/pane.status" 2>/dev/null)
    tmux_ kill-server > /dev/null 2>&1
    if [ "$status" != "$expected" ]; then
        fail "$name" "expected status $expected after SIG$signal, got '$status': $(head -c 300 "$work/pane.err")"
    elif [ "${before##* }" != "-icanon" ]; then
        fail "$name" "the terminal was never in raw/cbreak mode (before: $before)"
    elif [ "$after" != "0 1 icanon echo" ]; then
        fail "$name" "terminal not restored: alternate screen, cursor, mode = '$after' (before: '$before')"
    else
        pass "$name: SIG$signal restores the terminal (before: $before; after: $after)"
    fi
}

if ! command -v tmux > /dev/null; then
    fail "terminal rescue" "tmux is not installed (it is in packages.txt)"
else
    crash_in_tmux "raw-mode console" SEGV 139       # 128 + 11: death by the signal
    crash_in_tmux "dashboard" SEGV 139 --dashboard
    crash_in_tmux "raw-mode console" BUS 135
    crash_in_tmux "raw-mode console" TERM 12        # the normal way out: vmlab's status 12
    # bt takes the fault signals while it runs (its translated code faults
    # by design): a fault that is not the guest's must still end the same way.
    if VMLAB=$terminal_vmlab technique_available bt; then
        crash_in_tmux "raw-mode console under bt" SEGV 139 --technique bt
        crash_in_tmux "dashboard under bt" SEGV 139 --technique bt --dashboard
    else
        skip "terminal rescue under bt: $technique_why"
    fi
fi
