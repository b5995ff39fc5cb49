/*
 * bench.h - `vmlab bench`: the teaching kernel's microbenchmarks and the
 * cpubench guest under every technique, side by side, beside QEMU and the
 * published figures (docs/bench.md).
 *
 * The pieces, one concept per file:
 *   bench.c            the command: options, benchmarks, columns
 *   bench_rounds.c     the interleaved rounds, calibration, the time bound
 *   bench_run.c        runs one child (vmlab run or QEMU) and reads it back
 *   bench_summary.c    differencing two runs into one sample; medians, spread
 *   bench_report.c     the formats: table, markdown, csv, json
 *   bench_reference.c  Adams & Agesen 2006, the published figures
 *   bench_plot.c       the bar chart, drawn by gnuplot
 *   bench_load.c       --from: a saved JSON report read back
 *
 * Every number is measured in this invocation. A cell (benchmark x column)
 * is measured in rounds; each round runs the guest twice, at a small and a
 * big iteration count, and the difference of the two cancels everything
 * the runs share (process start-up, boot, the final report).
 */
#ifndef VMLAB_BENCH_H
#define VMLAB_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_COLUMNS 8
#define BENCH_MAX_BENCHMARKS 24
#define BENCH_MAX_ROUNDS 15
#define BENCH_MAX_CATEGORIES 12
#define BENCH_NAME_LEN 32
#define BENCH_WHY_LEN 320

/* The name of QEMU's column: an outside reference, not a vmlab technique. */
#define BENCH_QEMU_COLUMN "qemu-tcg"

/* Events by category (the --stats-json counters added up per category). */
struct bench_events {
    int count;
    struct {
        char category[BENCH_NAME_LEN];
        double value;
    } item[BENCH_MAX_CATEGORIES];
};

/* One benchmark: a kernel bench=NAME, or the cpubench guest. */
struct bench_benchmark {
    const char *name;
    const char *what;              /* one operation, in a few words */
    unsigned ops_per_iteration;    /* ctxsw: two switches per iteration */
    bool is_cpubench;              /* a guest of its own, no cycles line */
};

/* One column: a vmlab technique, or QEMU. */
struct bench_column {
    char name[BENCH_NAME_LEN];
    bool is_qemu;
    bool runs;                     /* can run on this host, in this build */
    char why_not[BENCH_WHY_LEN];   /* when !runs */
    char kernel[PATH_MAX];         /* the kernel image (pv has its own) */
};

/* What one child gave back. */
struct bench_run_result {
    bool ok;
    char failure[BENCH_WHY_LEN];
    double cpu_seconds;            /* user + system time of the child */
    double cycles_per_op;          /* the guest's own line; < 0 when none */
    double guest_instructions;     /* 0 when the technique does not count them */
    struct bench_events events;    /* totals of the run */
};

/* One round of one cell: the difference of a small and a big run. */
struct bench_sample {
    double cycles_per_op;          /* the big run's own figure; < 0 when none */
    double ns_per_op;              /* child CPU time, differenced */
    double instructions_per_op;    /* 0 when not counted */
    struct bench_events events;    /* per operation */
};

/* A figure over the rounds. */
struct bench_figure {
    bool present;
    double median, low, high;
};

struct bench_cell {
    uint32_t iters_small, iters_big;
    int sample_count;
    struct bench_sample samples[BENCH_MAX_ROUNDS];
    char failure[BENCH_WHY_LEN];   /* set when a run failed: no more rounds */
    /* The summary (bench_summarize). */
    struct bench_figure cycles, ns, mips, instructions;   /* instructions per op */
    struct bench_events events;    /* median per operation */
    bool mips_from_interp;         /* QEMU: instructions counted by interp */
};

/* Adams and Agesen (ASPLOS 2006), one row, in cycles on a Pentium 4 672. */
struct bench_reference_row {
    const char *benchmark;         /* vmlab's name */
    const char *their_name;
    double native, bt, vtx;
};

struct bench_report {
    int column_count, benchmark_count;
    struct bench_column columns[BENCH_MAX_COLUMNS];
    const struct bench_benchmark *benchmarks[BENCH_MAX_BENCHMARKS];
    struct bench_cell cells[BENCH_MAX_BENCHMARKS][BENCH_MAX_COLUMNS];
    int rounds_requested, rounds_done;
    bool quick, time_bound_hit, interrupted;
    double time_bound_seconds, elapsed_seconds;
    double tsc_ghz;                /* the host TSC: what the guest's rdtsc counts */
};

enum bench_format { BENCH_TABLE, BENCH_MARKDOWN, BENCH_CSV, BENCH_JSON };

/* `vmlab bench ARGS` (argv[0] is "bench"). Returns the exit status. */
int command_bench(int argc, char **argv);

/* bench.c: the benchmarks, in the kernel's order, then cpubench. */
const struct bench_benchmark *bench_find(const char *name);
const struct bench_benchmark *bench_benchmark_at(int index);   /* NULL past the end */
bool bench_on_path(const char *program);                       /* an executable in $PATH */

/* bench_rounds.c: measures every cell of the report (its columns,
 * benchmarks, rounds_requested and quick set), and sets rounds_done,
 * time_bound_hit, interrupted, elapsed_seconds and tsc_ghz. */
void bench_measure(struct bench_report *report, const char *vmlab, const char *cpubench,
                   const char *work_dir);
void bench_interrupt(int signal_number);   /* a SIGINT handler: no run starts after it */
bool bench_was_interrupted(void);

/* bench_run.c */
struct bench_run_request {
    const struct bench_column *column;
    const struct bench_benchmark *benchmark;
    const char *vmlab;             /* this executable */
    const char *cpubench;          /* the cpubench guest */
    const char *work_dir;          /* for the stats file and the captured output */
    uint32_t iterations;
    double timeout_seconds;
};
void bench_run(const struct bench_run_request *request, struct bench_run_result *result);
void bench_events_add(struct bench_events *events, const char *category, double value);
double bench_events_get(const struct bench_events *events, const char *category);

/* bench_summary.c */
void bench_difference(const struct bench_run_result *small, uint32_t small_iterations,
                      const struct bench_run_result *big, uint32_t big_iterations,
                      unsigned ops_per_iteration, struct bench_sample *sample);
void bench_summarize(struct bench_report *report);
double bench_spread_percent(const struct bench_figure *figure);

/* bench_reference.c */
const struct bench_reference_row *bench_reference_find(const char *benchmark);
extern const char bench_reference_source[];

/* bench_report.c */
void bench_report_write(FILE *out, const struct bench_report *report, enum bench_format format);

/* bench_load.c: 0, or -1 with a one-line error. */
int bench_load(struct bench_report *report, const char *path, char *error, size_t error_len);

/* bench_plot.c: 0, or -1 with a one-line error. */
int bench_plot_check(const char *path, char *error, size_t error_len);
int bench_plot(const struct bench_report *report, const char *path, const char *work_dir,
               char *error, size_t error_len);

#endif
