/*
 * shell.c - an interactive prompt for lecture demos; the kernel runs it
 * when the command line names no test and no benchmark.
 *
 * It runs in the kernel, not as a process: it starts scenarios, which
 * start processes, and shows what is left of them afterwards.
 */
#include "kernel.h"

static void help(void)
{
    kprintf("commands:\n"
            "  test NAME          run a scenario:");
    scenario_list();
    kprintf("  bench NAME [N]     run a benchmark N times:");
    bench_list();
    kprintf("  ps                 list processes (those of the last test stay, exited)\n"
            "  ticks              timer ticks since boot\n"
            "  halt               stop the machine\n");
}

/* The word after the command, or "" (line is modified in place). */
static char *argument(char *line)
{
    while (*line && *line != ' ')
        line++;
    while (*line == ' ')
        *line++ = '\0';
    return line;
}

/* Run one command; false when the shell should stop. */
static bool execute(char *line)
{
    char *arg = argument(line);
    if (strcmp(line, "test") == 0) {
        scenario_run(arg);
    } else if (strcmp(line, "bench") == 0) {
        char *count = argument(arg);
        bench_run(arg, *count ? parse_uint(count, NULL) : 1000);
    } else if (strcmp(line, "ps") == 0) {
        proc_list();
    } else if (strcmp(line, "ticks") == 0) {
        kprintf("%u ticks (%u Hz)\n", ticks, TIMER_HZ);
    } else if (strcmp(line, "halt") == 0) {
        return false;
    } else if (*line) {
        help();
    }
    return true;
}

int shell_run(void)
{
    char line[128];
    console_set_echo(true);
    kprintf("vmlab shell; type help\n");
    do {
        kprintf("vmlab> ");
        console_read_line(line, sizeof(line));
    } while (execute(line));
    return EXIT_OK;
}
