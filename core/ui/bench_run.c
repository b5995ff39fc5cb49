/*
 * bench_run.c - run one guest in a child process and read back what it
 * measured: the child's CPU time (wait4), the kernel's own line
 * "bench=NAME iters=N cycles_per_op=C" from the guest's console, and, for
 * a vmlab child, its --stats-json document (with cJSON).
 *
 * CPU time rather than wall time: these machines are shared, and time the
 * child spent waiting for a core is not time the technique spent. The
 * child's console goes to a file, not a pipe, so that nothing the guest
 * prints can block it while we wait.
 */
#include "bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 32

/* The guest's RAM, the same under vmlab and QEMU. The kernel maps and frees
 * every page of RAM at boot; differencing removes that start-up, but not
 * its noise, and 16 MiB makes it a third of what the default 64 MiB costs
 * (every benchmark fits: pgfault gives its pages back every 64 faults). */
#define BENCH_GUEST_MEMORY_MIB "16"

void bench_events_add(struct bench_events *events, const char *category, double value)
{
    for (int i = 0; i < events->count; i++)
        if (strcmp(events->item[i].category, category) == 0) {
            events->item[i].value += value;
            return;
        }
    if (events->count == BENCH_MAX_CATEGORIES)
        return;   /* more categories than any technique has: the rest is dropped */
    snprintf(events->item[events->count].category, BENCH_NAME_LEN, "%s", category);
    events->item[events->count].value = value;
    events->count++;
}

double bench_events_get(const struct bench_events *events, const char *category)
{
    for (int i = 0; i < events->count; i++)
        if (strcmp(events->item[i].category, category) == 0)
            return events->item[i].value;
    return 0;
}

/* The whole file as a string (NULL if it cannot be read). */
static char *read_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    size_t capacity = 4096, length = 0;
    char *text = malloc(capacity);
    size_t got;
    while (text && (got = fread(text + length, 1, capacity - length - 1, file)) > 0) {
        length += got;
        if (capacity - length - 1 == 0) {
            char *bigger = realloc(text, capacity * 2);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            capacity *= 2;
        }
    }
    fclose(file);
    if (text)
        text[length] = '\0';
    return text;
}

/* The words of one child's command line, kept alive while it starts. */
struct child_words {
    char timeout[32];
    char bench[64];        /* "bench=NAME" */
    char iterations[32];   /* "iters=N" */
    char append[96];       /* QEMU's -append: both */
};

/* The arguments of the child: vmlab run ..., or qemu-system-i386 ... */
static void build_arguments(const struct bench_run_request *request, const char *stats_path,
                            struct child_words *words, const char **argv)
{
    const struct bench_benchmark *benchmark = request->benchmark;
    const char *guest = benchmark->is_cpubench ? request->cpubench : request->column->kernel;
    int n = 0;
    snprintf(words->bench, sizeof words->bench, "bench=%s", benchmark->name);
    snprintf(words->iterations, sizeof words->iterations, "iters=%u", request->iterations);
    snprintf(words->append, sizeof words->append, "%s%s%s",
             benchmark->is_cpubench ? "" : words->bench, benchmark->is_cpubench ? "" : " ",
             words->iterations);
    snprintf(words->timeout, sizeof words->timeout, "%.0f", request->timeout_seconds);
    if (request->column->is_qemu) {
        static const char *const qemu[] = {
            "qemu-system-i386", "-accel", "tcg", "-m", BENCH_GUEST_MEMORY_MIB, "-nodefaults",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-serial", "stdio",
            "-display", "none", "-no-reboot", "-monitor", "none", NULL};
        for (int i = 0; qemu[i]; i++)
            argv[n++] = qemu[i];
        argv[n++] = "-kernel";
        argv[n++] = guest;
        argv[n++] = "-append";
        argv[n++] = words->append;
    } else {
        static const char *const run[] = {"run", "--mem", BENCH_GUEST_MEMORY_MIB "M", "--technique", NULL};
        argv[n++] = request->vmlab;
        for (int i = 0; run[i]; i++)
            argv[n++] = run[i];
        argv[n++] = request->column->name;
        argv[n++] = "--stats-json";
        argv[n++] = stats_path;
        argv[n++] = "--timeout";
        argv[n++] = words->timeout;
        argv[n++] = guest;
        argv[n++] = "--";
        if (!benchmark->is_cpubench)
            argv[n++] = words->bench;
        argv[n++] = words->iterations;
    }
    argv[n] = NULL;
}

/* In the child: console to out_path, messages to err_path, no input. */
static void exec_child(const char **argv, const char *out_path, const char *err_path)
{
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execvp(argv[0], (char *const *)argv);
    dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Waits for the child, killing it at the deadline; its status and usage. */
static int wait_child(pid_t pid, double deadline_seconds, int *status, struct rusage *usage)
{
    struct timespec start, now, pause = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t done = wait4(pid, status, WNOHANG, usage);
        if (done == pid)
            return 0;
        if (done < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double waited = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
        if (waited > deadline_seconds) {
            kill(pid, SIGKILL);
            wait4(pid, status, 0, usage);
            return 1;
        }
        nanosleep(&pause, NULL);
    }
}

/* The last line of the child's messages that says why it stopped: skip
 * vmlab's closing "... ran N guest instructions in ..." line. */
static void last_message(const char *err_path, char *line, size_t length)
{
    char *text = read_file(err_path);
    line[0] = '\0';
    if (!text)
        return;
    char *rest;
    for (char *p = strtok_r(text, "\n", &rest); p; p = strtok_r(NULL, "\n", &rest))
        if (!strstr(p, " guest instructions in ") && p[0])
            snprintf(line, length, "%s", p);
    free(text);
}

/* The kernel's own reason when a benchmark fails: its last "bench: ..."
 * line (e.g. "bench: hlt waited for the timer ..."). */
static void guest_complaint(const char *out_path, char *line, size_t length)
{
    char *text = read_file(out_path);
    line[0] = '\0';
    if (!text)
        return;
    char *rest;
    for (char *p = strtok_r(text, "\r\n", &rest); p; p = strtok_r(NULL, "\r\n", &rest))
        if (strncmp(p, "bench: ", 7) == 0)
            snprintf(line, length, "%s", p + 7);
    free(text);
}

/* "cycles_per_op=C" from the guest's console, or -1. */
static double parse_cycles(const char *out_path)
{
    char *text = read_file(out_path);
    double cycles = -1;
    const char *found = text ? strstr(text, "cycles_per_op=") : NULL;
    if (found)
        cycles = strtod(found + strlen("cycles_per_op="), NULL);
    free(text);
    return cycles;
}

/* The --stats-json document: instructions, and every counter by category. */
static int read_stats(const char *stats_path, struct bench_run_result *result)
{
    char *text = read_file(stats_path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root)
        return -1;
    const cJSON *instructions = cJSON_GetObjectItemCaseSensitive(root, "guest_instructions");
    result->guest_instructions = cJSON_IsNumber(instructions) ? instructions->valuedouble : 0;
    const cJSON *counters = cJSON_GetObjectItemCaseSensitive(root, "counters");
    const cJSON *row;
    cJSON_ArrayForEach(row, counters) {
        const cJSON *category = cJSON_GetObjectItemCaseSensitive(row, "category");
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(row, "count");
        if (cJSON_IsString(category) && cJSON_IsNumber(count))
            bench_events_add(&result->events, category->valuestring, count->valuedouble);
    }
    cJSON_Delete(root);
    return 0;
}

static void __attribute__((format(printf, 2, 3)))
fail(struct bench_run_result *result, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    result->ok = false;
    vsnprintf(result->failure, sizeof result->failure, format, arguments);
    va_end(arguments);
}

void bench_run(const struct bench_run_request *request, struct bench_run_result *result)
{
    char stats_path[PATH_MAX], out_path[PATH_MAX], err_path[PATH_MAX];
    struct child_words words;
    const char *argv[MAX_ARGS];
    memset(result, 0, sizeof *result);
    result->cycles_per_op = -1;
    snprintf(stats_path, sizeof stats_path, "%s/stats.json", request->work_dir);
    snprintf(out_path, sizeof out_path, "%s/console.txt", request->work_dir);
    snprintf(err_path, sizeof err_path, "%s/messages.txt", request->work_dir);
    unlink(stats_path);
    build_arguments(request, stats_path, &words, argv);

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fail(result, "cannot fork: %s", strerror(errno));
        return;
    }
    if (pid == 0)
        exec_child(argv, out_path, err_path);
    int status = 0;
    struct rusage usage;
    int waited = wait_child(pid, request->timeout_seconds + 10, &status, &usage);
    if (waited != 0) {
        if (waited < 0)
            fail(result, "cannot wait for the child: %s", strerror(errno));
        else
            fail(result, "did not stop within %.0f s: killed", request->timeout_seconds + 10);
        return;
    }
    result->cpu_seconds = (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                          (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;

    char message[BENCH_WHY_LEN - 40];
    last_message(err_path, message, sizeof message);
    /* Status 1: the guest wrote 0 to isa-debug-exit, its checks passed
     * (the same under vmlab and QEMU). */
    if (WIFSIGNALED(status)) {
        fail(result, "killed by signal %d", WTERMSIG(status));
        return;
    }
    if (WEXITSTATUS(status) != 1) {
        char complaint[160];
        guest_complaint(out_path, complaint, sizeof complaint);
        fail(result, "exit status %d: %s%s%s", WEXITSTATUS(status),
             message[0] ? message : "(no message)", complaint[0] ? "; the guest said: " : "",
             complaint);
        return;
    }
    result->cycles_per_op = parse_cycles(out_path);
    if (!request->benchmark->is_cpubench && result->cycles_per_op < 0)
        fail(result, "the guest printed no cycles_per_op line");
    else if (!request->column->is_qemu && read_stats(stats_path, result) < 0)
        fail(result, "no readable --stats-json document");
    else
        result->ok = true;
}
