/*
 * dashboard.h - `vmlab run --dashboard`: the guest runs on a vCPU thread
 * while the main thread shows what it does, live, in an ncurses screen.
 *
 * The dashboard only reads the VM: counters, the event ring, the current
 * technique, guest RAM. It writes nothing the vCPU thread owns; it asks,
 * through the core's thread-safe requests (vm_request_switch,
 * vm_set_paused, vm_request_step, vm_request_stop). Reads take no lock, so
 * a number may be one refresh stale, but never torn: every counter is a
 * naturally aligned 64-bit (or smaller) value, which x86-64 loads and
 * stores in one piece. Event-ring entries, which are bigger, are checked
 * against the ring's write index after copying and dropped if the vCPU may
 * have overwritten them meanwhile.
 *
 * The terminal is restored on every way out: normal exit, the VM stopping,
 * SIGINT/SIGTERM/SIGHUP, and crashes (SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
 * SIGILL restore it and re-raise).
 */
#ifndef VMLAB_DASHBOARD_H
#define VMLAB_DASHBOARD_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ui/dashboard_console.h"
#include "core/ui/dashboard_disasm.h"
#include "core/ui/dashboard_history.h"
#include "core/ui/dashboard_table.h"
#include "core/vm.h"

#define DASHBOARD_REFRESH_MS 200      /* 5 Hz: lively, and nothing for the guest */
#define DASHBOARD_LOG_EVENTS 64
#define DASHBOARD_STATUS_LEN 256
#define DASHBOARD_TECHNIQUE_KEYS 5

struct dashboard_options {
    const char *guest_path;
    bool exit_on_stop;                   /* --dashboard-exit-on-stop */
    volatile sig_atomic_t *stop_signal;  /* set by main's SIGINT/SIGTERM handler */
};

/* The pipes that replace the terminal as the guest's serial line. */
struct dashboard_console_pipes {
    int to_guest[2];                     /* [1]: our keystrokes; [0]: the VM's input */
    int from_guest[2];                   /* [1]: the VM's output; [0]: our reading end */
};

/* Before vm_create: the pipes, and a check that we have a terminal.
 * Returns 0, or -1 with a message printed. */
int dashboard_prepare(struct dashboard_console_pipes *pipes, struct vm_config *config);

/* Runs the VM on a vCPU thread and the dashboard on this one until the
 * user quits (or the VM stops, with exit_on_stop or a signal). Returns the
 * VM's exit status; the VM has stopped when it returns. */
int dashboard_run(struct vm *vm, struct dashboard_console_pipes *pipes,
                  const struct dashboard_options *options);

/* After vm_destroy: the VM's console used the pipes until then. */
void dashboard_close_pipes(struct dashboard_console_pipes *pipes);

/* --- internal to core/ui/dashboard*.c ------------------------------------ */

/* Rates the header shows, from one refresh to the next. */
struct dashboard_rates {
    uint64_t time_ns, instructions, cpu_ns, halt_ns, switch_count;
    const struct technique *technique;   /* the one running at the last sample */
    double instructions_per_second, cpu_percent, halt_fraction;
    /* Techniques seen retiring instructions: only those show a rate. */
    const struct technique *counting[8];
    int counting_count;
};

struct dashboard {
    struct vm *vm;
    struct dashboard_options options;
    struct event_table table;
    struct history *history;
    struct console_pane console;
    struct disassembler disassembler;
    struct dashboard_rates rates;
    void *screen;                        /* ncurses' SCREEN (opaque: no curses.h here) */

    struct stats_event log[DASHBOARD_LOG_EVENTS];
    int log_count;

    bool console_focus;
    bool show_help;
    bool editing_filter;
    char filter_edit[TABLE_FILTER_LEN];
    char status[DASHBOARD_STATUS_LEN];
    bool quit;

    int console_to_guest;                /* write end of the guest's input pipe */
    int console_from_guest;              /* read end of the guest's output pipe */
    int messages_fd;                     /* read end of our redirected stderr */
    char messages[4096];                 /* vmlab's own messages, replayed after endwin */
    size_t messages_length;

    /* Per technique key: "" if it can run here, else why not. Asked once
     * at start: available() may open devices. */
    char availability[DASHBOARD_TECHNIQUE_KEYS][160];

    atomic_bool vm_finished;
    int vm_status;
};

/* Keys 1-5 name these techniques, in the order of docs/design.md's table (dashboard_keys.c). */
extern const char *const dashboard_technique_keys[DASHBOARD_TECHNIQUE_KEYS];

/* dashboard_keys.c: one key press. */
void dashboard_handle_key(struct dashboard *dashboard, int key);
/* dashboard_screen.c: draws everything (ncurses). */
void dashboard_draw(struct dashboard *dashboard);
/* dashboard_sample.c: reads the VM once per refresh. */
void dashboard_sample(struct dashboard *dashboard);
/* printf-like, to the status line. */
void dashboard_say(struct dashboard *dashboard, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

#endif
