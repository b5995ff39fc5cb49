/*
 * main.c - the `vmlab` command.
 *
 *   vmlab run [options] GUEST.elf [-- GUEST ARGS]
 *   vmlab techniques
 *   vmlab host
 *   vmlab --help | --version
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/host.h"
#include "core/stats_json.h"
#include "core/ui/bench.h"
#include "core/ui/dashboard.h"
#include "core/ui/stats_out.h"
#include "core/vm.h"

#define VMLAB_VERSION "0.1.0"

static const char usage[] =
    "usage: vmlab run [options] GUEST.elf [-- GUEST COMMAND LINE]\n"
    "       vmlab techniques       list the techniques and whether they can run here\n"
    "       vmlab host             what this host offers: compatibility mode, LDT, seccomp, KVM\n"
    "       vmlab bench [options]  every technique side by side (vmlab bench --help)\n"
    "       vmlab --help | --version\n"
    "\n"
    "Runs a 32-bit x86 Multiboot (ELF32) guest. The guest's serial port (COM1)\n"
    "is this terminal: its output on stdout, your typing as its input.\n"
    "\n"
    "options for run:\n"
    "  --technique NAME    how to run the guest (default interp)\n"
    "  --mem SIZE          guest RAM, e.g. 64M (default), 256M, 1G (no unit: bytes)\n"
    "  --disk FILE         raw disk image for the ATA disk (primary master); a second\n"
    "                      --disk, or --disk slave=FILE, is the primary slave\n"
    "  --config FILE       JSON settings: {\"technique\": \"interp\", \"mem\": \"64M\",\n"
    "                      \"disk\": FILE, \"stats_json\": FILE, \"timeout\": SECONDS,\n"
    "                      \"guest\": FILE, \"cmdline\": \"ARGS\"}; flags win over it\n"
    "  --stats-json FILE   write the statistics as JSON when the run ends\n"
    "  --timeout SECONDS   stop the guest after this long\n"
    "  --switch PLAN       switch technique while the guest runs, e.g.\n"
    "                      'hvm@200ms,interp@400ms' (times since the start)\n"
    "  --switch-every T    switch at random among the available techniques every T\n"
    "                      (e.g. 5ms; a stress test); --switch-seed N fixes the choice,\n"
    "                      --switch-among LIST limits it (e.g. interp,hvm)\n"
    "  --dashboard         show the running guest in a live ncurses screen: counters,\n"
    "                      history, guest console, event log; keys 1-5 switch technique\n"
    "                      (h there lists the keys; see docs/dashboard.md)\n"
    "  --dashboard-exit-on-stop  leave the dashboard when the guest stops (default:\n"
    "                      show the final state and wait for q)\n"
    "  --stats-out FILE    while the guest runs, write one JSON line of statistics\n"
    "                      every --stats-interval MS milliseconds (default 1000)\n"
    "\n"
    "Every option has a --config key: its name with '_' for '-' (\"stats_out\",\n"
    "\"stats_interval\", \"dashboard\": true, ...).\n"
    "\n"
    "exit status:\n"
    "  odd N   the guest wrote (N - 1) / 2 to isa-debug-exit (port 0xf4)\n"
    "  2       bad input or VMM error (nothing ran)\n"
    "  4       triple fault          6  timeout\n"
    "  8       HLT with interrupts off (the guest can never wake)\n"
    "  10      the technique failed  12 stopped by a signal (Ctrl-C) or q in the dashboard\n"
    "  14      the guest ran but a statistics file could not be written (the message\n"
    "          gives the run's own status)\n";

/* The signal handler's only way to the VM; set while a guest runs. A
 * global because a handler receives nothing but the signal number. */
static struct vm *running_vm;
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signal_number)
{
    stop_signal = signal_number;
    if (running_vm) {
        atomic_store(&running_vm->stop_requested, true);
        /* A stdout nobody reads must not keep us (core/console.h). */
        atomic_store(&running_vm->console.abandon_output, true);
    }
}

static void install_signal_handlers(void)
{
    /* SA_ONSTACK: under direct execution the signal may arrive while the
     * guest's stack (guest memory) is the current stack. */
    struct sigaction action = {.sa_handler = on_stop_signal, .sa_flags = SA_ONSTACK};
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The closing lines: why the run stopped, and how fast the guest ran. The
 * rate counts only the time the guest was running, not asleep in HLT or
 * paused: an idle guest is not a slow technique. */
static void report_end(const struct vm *vm)
{
    double seconds = (double)vm->run_ns / 1e9;
    double running = vm->run_ns > vm->idle_ns ? (double)(vm->run_ns - vm->idle_ns) / 1e9 : 0;
    fprintf(stderr, "vmlab: %s\n", vm->stop_reason);
    fprintf(stderr, "vmlab: %s ran %llu guest instructions in %.3f s, %.3f s of it running "
            "(%.1f million per second while running)\n",
            vm->technique->name, (unsigned long long)vm->stats.guest_instructions, seconds,
            running, running > 0 ? (double)vm->stats.guest_instructions / running / 1e6 : 0.0);
    if (vm->console.bytes_dropped)
        fprintf(stderr, "vmlab: %llu bytes of guest output were dropped: stdout did not take "
                "them before the run ended (a reader that stopped reading, or stdout closed)\n",
                (unsigned long long)vm->console.bytes_dropped);
}

/* Where the run's outputs go, opened before the VM: a bad path is an error
 * before anything runs, and once trapemu has attached, the seccomp filter
 * (core/direct/containment.c) lets the process open nothing, so every file
 * the run writes must already be open by then. */
struct run_outputs {
    struct dashboard_console_pipes pipes;
    struct stats_out stream;
    struct stats_file stats;
};

static int open_outputs(struct run_options *options, struct run_outputs *outputs)
{
    char error[1024];
    outputs->pipes = (struct dashboard_console_pipes){{-1, -1}, {-1, -1}};
    memset(&outputs->stream, 0, sizeof outputs->stream);
    stats_file_init(&outputs->stats);
    if (options->vm.stats_json_path &&
        stats_file_open(&outputs->stats, options->vm.stats_json_path, error, sizeof error) < 0) {
        fprintf(stderr, "vmlab: %s\n", error);
        return -1;
    }
    if (options->dashboard && dashboard_prepare(&outputs->pipes, &options->vm) < 0)
        return -1;
    if (options->stats_out_path &&
        stats_out_open(&outputs->stream, options->stats_out_path, options->stats_interval_ms,
                       error, sizeof error) < 0) {
        fprintf(stderr, "vmlab: %s\n", error);
        return -1;
    }
    return 0;
}

static int run_guest(struct vm *vm, struct run_options *options, struct run_outputs *outputs)
{
    char error[1024];
    if (options->stats_out_path &&
        stats_out_start(&outputs->stream, vm, error, sizeof error) < 0) {
        fprintf(stderr, "vmlab: %s\n", error);
        return VMLAB_STATUS_ERROR;
    }
    if (!options->dashboard)
        return vm_run(vm);
    struct dashboard_options dashboard = {
        .guest_path = options->vm.guest_path,
        .exit_on_stop = options->dashboard_exit_on_stop,
        .stop_signal = &stop_signal,
    };
    return dashboard_run(vm, &outputs->pipes, &dashboard);
}

/* A statistics file that could not be written after the guest ran: say
 * so, with the status the run had, and exit with STATS_LOST rather than
 * ERROR ("nothing ran") or the guest's status (the numbers are missing). */
static int statistics_lost(const char *error, int run_status)
{
    fprintf(stderr, "vmlab: %s; the run itself ended with status %d, vmlab exits with %d\n",
            error, run_status, VMLAB_STATUS_STATS_LOST);
    return VMLAB_STATUS_STATS_LOST;
}

static int finish_outputs(struct run_outputs *outputs, const struct run_options *options,
                          const struct vm *vm, int run_status)
{
    char error[1024];
    int status = run_status;
    if (options->vm.stats_json_path &&
        stats_file_commit(&outputs->stats, vm, error, sizeof error) < 0)
        status = statistics_lost(error, run_status);
    if (stats_out_finish(&outputs->stream, error, sizeof error) < 0)
        status = statistics_lost(error, run_status);
    return status;
}

static int command_run(int argc, char **argv)
{
    struct run_options options;
    struct run_outputs outputs;
    char error[1024];
    if (config_parse_run(argc, argv, &options, error, sizeof error) < 0) {
        fprintf(stderr, "vmlab: %s\n", error);
        config_free(&options);
        return VMLAB_STATUS_ERROR;
    }
    if (options.show_help) {
        fputs(usage, stdout);
        config_free(&options);
        return VMLAB_STATUS_OK;
    }
    static struct vm vm;   /* large (the stats ring): not on the stack */
    if (open_outputs(&options, &outputs) < 0 || vm_create(&vm, &options.vm) < 0) {
        stats_out_discard(&outputs.stream);
        stats_file_discard(&outputs.stats);
        vm_destroy(&vm);
        dashboard_close_pipes(&outputs.pipes);
        config_free(&options);
        return VMLAB_STATUS_ERROR;
    }
    running_vm = &vm;
    install_signal_handlers();
    int status = run_guest(&vm, &options, &outputs);
    running_vm = NULL;
    if (stop_signal && vm.exit_status == 0 && !vm.stop_reason[0]) {
        status = vm.exit_status = VMLAB_STATUS_SIGNAL;
        snprintf(vm.stop_reason, sizeof vm.stop_reason, "stopped by signal %d", (int)stop_signal);
    }
    vm.technique->detach(&vm);
    report_end(&vm);
    status = finish_outputs(&outputs, &options, &vm, status);
    vm.technique = NULL;
    vm_destroy(&vm);
    dashboard_close_pipes(&outputs.pipes);
    config_free(&options);
    return status;
}

static int command_techniques(void)
{
    for (int i = 0; all_techniques[i]; i++) {
        const struct technique *technique = all_techniques[i];
        char why[256] = "";
        bool available = !technique->available || technique->available(why, sizeof why);
        printf("%-8s %-13s %s%s%s\n", technique->name, available ? "available" : "unavailable",
               technique->summary, available ? "" : " -- ", available ? "" : why);
    }
    static const char *const not_built[] = {"trapemu", "bt", "hvm", "pv", NULL};
    for (int i = 0; not_built[i]; i++)
        if (!technique_find(not_built[i]))
            printf("%-8s %-13s\n", not_built[i], "not implemented yet");
    return VMLAB_STATUS_OK;
}

/* One line per host fact, "NAME yes" or "NAME no REASON": what the tests
 * read to decide what to skip, and what a student reads to learn why. */
static int command_host(void)
{
    for (int i = 0; i < HOST_FEATURE_COUNT; i++) {
        char why[256] = "";
        bool present = host_has(i, why, sizeof why);
        printf("%-8s %-3s %s\n", host_feature_name(i), present ? "yes" : "no", why);
    }
    return VMLAB_STATUS_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return VMLAB_STATUS_ERROR;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(usage, stdout);
        return VMLAB_STATUS_OK;
    }
    if (strcmp(command, "--version") == 0) {
        printf("vmlab %s\n", VMLAB_VERSION);
        return VMLAB_STATUS_OK;
    }
    /* Every probe now, before anything can confine the process or start a
     * thread: the compatibility-mode probe forks (core/host.c). */
    host_probe();
    if (strcmp(command, "run") == 0)
        return command_run(argc - 1, argv + 1);
    if (strcmp(command, "techniques") == 0)
        return command_techniques();
    if (strcmp(command, "host") == 0)
        return command_host();
    if (strcmp(command, "bench") == 0)
        return command_bench(argc - 1, argv + 1);
    fprintf(stderr, "vmlab: unknown command '%s' (try vmlab --help)\n", command);
    return VMLAB_STATUS_ERROR;
}
