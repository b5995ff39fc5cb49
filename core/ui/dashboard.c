/*
 * dashboard.c - the dashboard's life: terminal, pipes, the vCPU thread and
 * the refresh loop.
 *
 * The main thread waits in poll() on three things: the keyboard, the
 * guest's serial output, and vmlab's own messages (stderr is redirected
 * while the screen is ours, so that a "cannot switch" message from the core
 * does not scribble over it; the messages are shown in the status line and
 * printed again after the terminal is restored). Every DASHBOARD_REFRESH_MS
 * it samples the VM and redraws. The vCPU thread never waits for us.
 */
/* Our headers first: <term.h> defines macros named lines and columns. */
#include "core/ui/dashboard.h"
#include "core/terminal.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

#define REDRAW_MIN_NS 50000000ull   /* console output redraws at most 20 times a second */

/* What the crash rescue (core/terminal.c) needs: the terminal mode before
 * ncurses, terminfo's sequences that undo the screen, and stderr before
 * capture_stderr redirected it. */
static struct {
    struct termios saved_terminal;
    char restore_sequence[128];       /* terminfo's sgr0, cnorm, rmcup */
    size_t restore_length;
    int saved_stderr;
} rescue = {.saved_stderr = -1};

static void append_capability(const char *name)
{
    char *value = tigetstr(name);
    if (!value || value == (char *)-1)
        return;
    size_t length = strlen(value);
    if (rescue.restore_length + length < sizeof rescue.restore_sequence) {
        memcpy(rescue.restore_sequence + rescue.restore_length, value, length);
        rescue.restore_length += length;
    }
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int dashboard_prepare(struct dashboard_console_pipes *pipes, struct vm_config *config)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "vmlab: --dashboard needs a terminal on stdin and stdout\n");
        return -1;
    }
    int error;
    if (setupterm(NULL, STDOUT_FILENO, &error) != OK) {
        fprintf(stderr, "vmlab: --dashboard: the terminal type '%s' is unknown to terminfo\n",
                getenv("TERM") ? getenv("TERM") : "(TERM not set)");
        return -1;
    }
    del_curterm(cur_term);   /* only a check: newterm loads its own copy later */
    if (pipe2(pipes->to_guest, O_CLOEXEC) < 0 || pipe2(pipes->from_guest, O_CLOEXEC) < 0) {
        fprintf(stderr, "vmlab: --dashboard: pipe: %s\n", strerror(errno));
        return -1;
    }
    /* Our ends never block the dashboard: typed input beyond 64 KiB the
     * guest has not read is dropped (and said), output is read until empty. */
    set_nonblocking(pipes->to_guest[1]);
    set_nonblocking(pipes->from_guest[0]);
    config->console_input_fd = pipes->to_guest[0];
    config->console_output_fd = pipes->from_guest[1];
    return 0;
}

void dashboard_close_pipes(struct dashboard_console_pipes *pipes)
{
    int *fds[] = {&pipes->to_guest[0], &pipes->to_guest[1], &pipes->from_guest[0],
                  &pipes->from_guest[1]};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
}

/* stderr into a pipe that the dashboard reads; -1 if that failed (then
 * messages still go to the terminal, which is untidy but loses nothing). */
static int capture_stderr(void)
{
    int captured[2];
    fflush(stderr);
    if (pipe2(captured, O_CLOEXEC) < 0)
        return -1;
    rescue.saved_stderr = dup(STDERR_FILENO);
    terminal_rescue_set_stderr(rescue.saved_stderr);
    if (rescue.saved_stderr < 0 || dup2(captured[1], STDERR_FILENO) < 0) {
        close(captured[0]);
        close(captured[1]);
        return -1;
    }
    close(captured[1]);
    set_nonblocking(captured[0]);
    return captured[0];
}

static void release_stderr(struct dashboard *dashboard)
{
    fflush(stderr);
    terminal_rescue_set_stderr(-1);
    if (rescue.saved_stderr >= 0) {
        dup2(rescue.saved_stderr, STDERR_FILENO);
        close(rescue.saved_stderr);
        rescue.saved_stderr = -1;
    }
    if (dashboard->messages_fd >= 0)
        close(dashboard->messages_fd);
    dashboard->messages_fd = -1;
    if (dashboard->messages_length)
        fwrite(dashboard->messages, 1, dashboard->messages_length, stderr);
}

static void read_messages(struct dashboard *dashboard)
{
    char chunk[1024];
    ssize_t got;
    while (dashboard->messages_fd >= 0 &&
           (got = read(dashboard->messages_fd, chunk, sizeof chunk - 1)) > 0) {
        size_t room = sizeof dashboard->messages - dashboard->messages_length;
        size_t kept = (size_t)got < room ? (size_t)got : room;
        memcpy(dashboard->messages + dashboard->messages_length, chunk, kept);
        dashboard->messages_length += kept;
        /* The status line shows the last complete message. */
        chunk[got] = '\0';
        while (got > 0 && chunk[got - 1] == '\n')
            chunk[--got] = '\0';
        char *last = strrchr(chunk, '\n');
        dashboard_say(dashboard, "%s", last ? last + 1 : chunk);
    }
}

static bool read_console(struct dashboard *dashboard)
{
    uint8_t chunk[4096];
    ssize_t got;
    bool any = false;
    while ((got = read(dashboard->console_from_guest, chunk, sizeof chunk)) > 0) {
        console_pane_feed(&dashboard->console, chunk, (size_t)got);
        any = true;
    }
    return any;
}

static void *vcpu_thread(void *argument)
{
    struct dashboard *dashboard = argument;
    dashboard->vm_status = vm_run(dashboard->vm);
    atomic_store(&dashboard->vm_finished, true);
    return NULL;
}

/* The vCPU thread must not take the signals the UI waits for: SIGWINCH
 * should interrupt our poll(), and Ctrl-C should be seen at once. */
static int start_vcpu(struct dashboard *dashboard, pthread_t *thread)
{
    sigset_t ui_signals, previous;
    sigemptyset(&ui_signals);
    sigaddset(&ui_signals, SIGWINCH);
    sigaddset(&ui_signals, SIGINT);
    sigaddset(&ui_signals, SIGTERM);
    sigaddset(&ui_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ui_signals, &previous);
    int error = pthread_create(thread, NULL, vcpu_thread, dashboard);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return error;
}

static void check_availability(struct dashboard *dashboard)
{
    for (int i = 0; i < DASHBOARD_TECHNIQUE_KEYS; i++) {
        const char *name = dashboard_technique_keys[i];
        const struct technique *technique = technique_find(name);
        char *why = dashboard->availability[i];
        size_t size = sizeof dashboard->availability[i];
        why[0] = '\0';
        if (!technique) {
            snprintf(why, size, "%s", technique_is_planned(name) ? "not implemented yet" : "unknown");
        } else if (technique->available && !technique->available(why, size)) {
            if (!why[0])
                snprintf(why, size, "unavailable");
        } else {
            why[0] = '\0';   /* available: whatever it wrote is not a reason */
        }
    }
}

static void start_screen(struct dashboard *dashboard)
{
    tcgetattr(STDIN_FILENO, &rescue.saved_terminal);
    /* newterm rather than initscr: it returns NULL instead of exiting. */
    dashboard->screen = newterm(NULL, stdout, stdin);
    cbreak();               /* not raw(): Ctrl-C still stops vmlab */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    append_capability("sgr0");
    append_capability("cnorm");
    append_capability("rmcup");
    terminal_rescue_arm(STDIN_FILENO, &rescue.saved_terminal, STDOUT_FILENO,
                        rescue.restore_sequence, rescue.restore_length);
}

static void stop_screen(struct dashboard *dashboard)
{
    terminal_rescue_disarm();
    if (dashboard->screen) {
        curs_set(1);
        endwin();
    }
    if (dashboard->screen)
        delscreen(dashboard->screen);
    dashboard->screen = NULL;
}

static bool keys_pending(struct dashboard *dashboard)
{
    bool any = false;
    int key;
    while ((key = getch()) != ERR) {
        dashboard_handle_key(dashboard, key);
        any = true;
    }
    return any;
}

static bool should_leave(struct dashboard *dashboard)
{
    if (dashboard->quit)
        return true;
    if (dashboard->options.stop_signal && *dashboard->options.stop_signal)
        return true;
    return atomic_load(&dashboard->vm_finished) && dashboard->options.exit_on_stop;
}

static void refresh_loop(struct dashboard *dashboard)
{
    uint64_t next_refresh = 0, last_draw = 0;
    bool finished_seen = false;
    while (!should_leave(dashboard)) {
        uint64_t now = stats_now_ns();
        if (now >= next_refresh) {
            dashboard_sample(dashboard);
            next_refresh = now + DASHBOARD_REFRESH_MS * 1000000ull;
            dashboard_draw(dashboard);
            last_draw = now;
        }
        if (!finished_seen && atomic_load(&dashboard->vm_finished)) {
            finished_seen = true;
            dashboard_say(dashboard, "the guest has stopped (%s); q quits",
                          dashboard->vm->stop_reason);
            next_refresh = 0;   /* show the final numbers now */
            continue;
        }
        struct pollfd waits[3] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                  {.fd = dashboard->console_from_guest, .events = POLLIN},
                                  {.fd = dashboard->messages_fd, .events = POLLIN}};
        int timeout_ms = (int)((next_refresh - now) / 1000000ull) + 1;
        poll(waits, 3, timeout_ms);
        bool changed = keys_pending(dashboard);
        changed |= read_console(dashboard);
        read_messages(dashboard);
        now = stats_now_ns();
        if (changed && now - last_draw >= REDRAW_MIN_NS) {
            dashboard_draw(dashboard);
            last_draw = now;
        }
    }
}

/* Stop the VM if it still runs and wait for its thread, draining its output
 * meanwhile so that a full pipe cannot block it. */
static void finish_vcpu(struct dashboard *dashboard, pthread_t thread)
{
    if (!atomic_load(&dashboard->vm_finished))
        vm_request_stop(dashboard->vm, VMLAB_STATUS_SIGNAL, "stopped from the dashboard");
    while (!atomic_load(&dashboard->vm_finished)) {
        struct pollfd wait = {.fd = dashboard->console_from_guest, .events = POLLIN};
        poll(&wait, 1, 20);
        read_console(dashboard);
    }
    pthread_join(thread, NULL);
    read_console(dashboard);
}

static struct dashboard *dashboard_create(struct vm *vm, struct dashboard_console_pipes *pipes,
                                          const struct dashboard_options *options)
{
    struct dashboard *dashboard = calloc(1, sizeof *dashboard);
    struct history *history = calloc(1, sizeof *history);
    if (!dashboard || !history) {
        free(dashboard);
        free(history);
        return NULL;
    }
    dashboard->vm = vm;
    dashboard->options = *options;
    dashboard->history = history;
    history_init(history);
    table_init(&dashboard->table);
    console_pane_init(&dashboard->console);
    disassembler_open(&dashboard->disassembler);
    dashboard->console_to_guest = pipes->to_guest[1];
    dashboard->console_from_guest = pipes->from_guest[0];
    dashboard->messages_fd = -1;
    check_availability(dashboard);
    dashboard_say(dashboard, "h shows the keys; tab focuses the guest console");
    return dashboard;
}

static void dashboard_destroy(struct dashboard *dashboard)
{
    disassembler_close(&dashboard->disassembler);
    free(dashboard->history);
    free(dashboard);
}

int dashboard_run(struct vm *vm, struct dashboard_console_pipes *pipes,
                  const struct dashboard_options *options)
{
    struct dashboard *dashboard = dashboard_create(vm, pipes, options);
    if (!dashboard) {
        fprintf(stderr, "vmlab: --dashboard: out of memory\n");
        vm->exit_status = VMLAB_STATUS_ERROR;
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "the dashboard could not start");
        return VMLAB_STATUS_ERROR;
    }
    pthread_t thread;
    dashboard->messages_fd = capture_stderr();
    start_screen(dashboard);
    int status;
    if (start_vcpu(dashboard, &thread) != 0) {
        stop_screen(dashboard);
        release_stderr(dashboard);
        fprintf(stderr, "vmlab: --dashboard: cannot start the vCPU thread\n");
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "the vCPU thread could not start");
        status = vm->exit_status = VMLAB_STATUS_ERROR;
    } else {
        refresh_loop(dashboard);
        finish_vcpu(dashboard, thread);
        stop_screen(dashboard);
        read_messages(dashboard);
        release_stderr(dashboard);
        status = dashboard->vm_status;
    }
    dashboard_destroy(dashboard);
    return status;
}
