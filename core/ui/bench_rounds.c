/*
 * bench_rounds.c - the measuring: interleaved rounds over every cell
 * (benchmark x column), the calibration round, the time bound and the
 * progress line.
 *
 * Rounds are interleaved (round 1: every benchmark under A, B, C; round 2:
 * again ...), so that a host that gets busier halfway through slows every
 * column alike instead of the last one. Without --quick a first, uncounted
 * round calibrates: it grows each cell's big run until its operations show
 * above the noise of start-up, and sizes the counted runs so that each
 * spends about TARGET_SECONDS of CPU time on the operations themselves.
 */
#include "bench.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_SECONDS 0.25      /* CPU time of the operations in one counted run */
#define CALIBRATION_SECONDS 0.08 /* enough to estimate their cost per operation */
#define CHILD_TIMEOUT_SECONDS 120

/* ---- time ---------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

/* The host's TSC rate, which is what the guest's rdtsc counts under every
 * technique (and under QEMU TCG): printed so cycles can be read as time. */
static double measure_tsc_ghz(void)
{
#if defined(__x86_64__) || defined(__i386__)
    uint32_t low, high;
    struct timespec pause = {0, 20000000};
    double start = now_seconds();
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    uint64_t tsc_start = (uint64_t)high << 32 | low;
    nanosleep(&pause, NULL);
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    uint64_t tsc_end = (uint64_t)high << 32 | low;
    return (double)(tsc_end - tsc_start) / (now_seconds() - start) / 1e9;
#else
    return 0;
#endif
}

/* ---- the rounds ------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

void bench_interrupt(int signal_number)
{
    interrupted = signal_number;
}

bool bench_was_interrupted(void)
{
    return interrupted != 0;
}

struct bench_plan {
    struct bench_report *report;
    const char *vmlab, *cpubench, *work_dir;
    int total_rounds;              /* the calibration round included */
    bool calibrating;              /* round 0 of a run without --quick */
    int runs_done, runs_total;
    int round_shown;               /* the last round announced on a non-terminal */
    double start;
};

static uint32_t small_iterations(const struct bench_benchmark *benchmark, bool quick)
{
    if (benchmark->is_cpubench)
        return 1;
    return quick ? 100 : 200;
}

/* Before calibration (and in quick mode): a modest fixed count. */
static uint32_t first_big_iterations(const struct bench_benchmark *benchmark)
{
    return benchmark->is_cpubench ? 6 : 2000;
}

static uint32_t iteration_limit(const struct bench_benchmark *benchmark)
{
    return benchmark->is_cpubench ? 3000 : 200000000;
}

/* After calibration: enough operations for about TARGET_SECONDS. */
static uint32_t calibrated_iterations(const struct bench_benchmark *benchmark,
                                      const struct bench_sample *sample, uint32_t small)
{
    double limit = iteration_limit(benchmark);
    double minimum = first_big_iterations(benchmark);
    if (sample->ns_per_op <= 0)
        return (uint32_t)limit;   /* too fast to see even at the limit */
    double wanted = small + TARGET_SECONDS * 1e9 / sample->ns_per_op /
                                benchmark->ops_per_iteration;
    return (uint32_t)(wanted < minimum ? minimum : wanted > limit ? limit : wanted);
}

static void show_progress(struct bench_plan *plan, int round, const char *benchmark,
                          const char *column)
{
    double elapsed = now_seconds() - plan->start;
    double left = plan->runs_done ? elapsed / plan->runs_done * (plan->runs_total - plan->runs_done)
                                  : 0;
    bool terminal = isatty(2);
    if (!terminal && plan->round_shown == round + 1)
        return;   /* a log gets one line per round, a terminal one live line */
    plan->round_shown = round + 1;
    fprintf(stderr, "%svmlab bench: round %d/%d%s: %-10s under %-8s  run %d/%d, %.0f s, about %.0f s left%s",
            terminal ? "\r" : "", round + 1, plan->total_rounds,
            plan->calibrating ? " (calibration)" : "", benchmark, column, plan->runs_done + 1,
            plan->runs_total, elapsed, left, terminal ? "\033[K" : "\n");
    fflush(stderr);
}

/* The time bound, or the user's Ctrl-C: no run starts after either. */
static bool out_of_time(struct bench_plan *plan)
{
    struct bench_report *report = plan->report;
    if (now_seconds() - plan->start > report->time_bound_seconds)
        report->time_bound_hit = true;
    return report->time_bound_hit || interrupted;
}

/* Runs the cell's guest at n iterations; on failure, the cell says why. */
static bool run_one(struct bench_plan *plan, int b, int c, uint32_t iterations,
                    struct bench_run_result *result)
{
    struct bench_report *report = plan->report;
    struct bench_run_request request = {
        .column = &report->columns[c], .benchmark = report->benchmarks[b],
        .vmlab = plan->vmlab, .cpubench = plan->cpubench, .work_dir = plan->work_dir,
        .timeout_seconds = CHILD_TIMEOUT_SECONDS, .iterations = iterations,
    };
    bench_run(&request, result);
    plan->runs_done++;
    /* A child stopped by the user's Ctrl-C did not fail: the cell keeps
     * the rounds it has. */
    if (!result->ok && !interrupted)
        snprintf(report->cells[b][c].failure, sizeof report->cells[b][c].failure, "%s",
                 result->failure);
    return result->ok;
}

/* One counted round of one cell: the small run and the big run, differenced. */
static void measure_cell(struct bench_plan *plan, int b, int c)
{
    struct bench_cell *cell = &plan->report->cells[b][c];
    struct bench_run_result small, big;
    if (!run_one(plan, b, c, cell->iters_small, &small) ||
        !run_one(plan, b, c, cell->iters_big, &big))
        return;
    bench_difference(&small, cell->iters_small, &big, cell->iters_big,
                     plan->report->benchmarks[b]->ops_per_iteration,
                     &cell->samples[cell->sample_count++]);
}

/* The calibration round of one cell: the big run grows eightfold until the
 * operations take CALIBRATION_SECONDS of CPU time, enough to see them
 * above the noise of start-up; then the counted rounds are sized from it. */
static void calibrate_cell(struct bench_plan *plan, int b, int c)
{
    const struct bench_benchmark *benchmark = plan->report->benchmarks[b];
    struct bench_cell *cell = &plan->report->cells[b][c];
    struct bench_run_result small, big;
    struct bench_sample sample;
    if (!run_one(plan, b, c, cell->iters_small, &small))
        return;
    for (;;) {
        if (!run_one(plan, b, c, cell->iters_big, &big))
            return;
        bench_difference(&small, cell->iters_small, &big, cell->iters_big,
                         benchmark->ops_per_iteration, &sample);
        if (big.cpu_seconds - small.cpu_seconds >= CALIBRATION_SECONDS ||
            cell->iters_big >= iteration_limit(benchmark) || out_of_time(plan))
            break;
        uint64_t more = (uint64_t)cell->iters_big * 8;
        cell->iters_big = more > iteration_limit(benchmark) ? iteration_limit(benchmark)
                                                            : (uint32_t)more;
        plan->runs_total++;
    }
    /* A second opinion that noise cannot inflate: the guest's own cycles
     * are wall time, and an operation cannot take more CPU time than
     * wall time. A busy host can make the difference of two CPU times
     * look large by chance; then this sizes the rounds instead. */
    double wall_ns = big.cycles_per_op > 0 && plan->report->tsc_ghz > 0
                         ? big.cycles_per_op / plan->report->tsc_ghz
                         : 0;
    if (wall_ns > 0 && (sample.ns_per_op <= 0 || wall_ns < sample.ns_per_op))
        sample.ns_per_op = wall_ns;
    cell->iters_big = calibrated_iterations(benchmark, &sample, cell->iters_small);
}


static void run_rounds(struct bench_plan *plan)
{
    struct bench_report *report = plan->report;
    int runnable = 0;
    for (int c = 0; c < report->column_count; c++)
        runnable += report->columns[c].runs;
    plan->runs_total = plan->total_rounds * report->benchmark_count * runnable * 2;
    for (int b = 0; b < report->benchmark_count; b++)
        for (int c = 0; c < report->column_count; c++) {
            report->cells[b][c].iters_small = small_iterations(report->benchmarks[b], report->quick);
            report->cells[b][c].iters_big = first_big_iterations(report->benchmarks[b]);
            /* pv takes only pv guests: the teaching kernel's pv build has
             * the benchmarks, the cpubench guest is not ported. */
            if (report->benchmarks[b]->is_cpubench && strcmp(report->columns[c].name, "pv") == 0)
                snprintf(report->cells[b][c].failure, sizeof report->cells[b][c].failure,
                         "cpubench.elf is not a pv guest (pv runs kernel-pv.elf's benchmarks)");
        }
    for (int round = 0; round < plan->total_rounds; round++) {
        plan->calibrating = !report->quick && round == 0;
        for (int b = 0; b < report->benchmark_count; b++)
            for (int c = 0; c < report->column_count; c++) {
                if (out_of_time(plan))
                    return;
                if (!report->columns[c].runs || report->cells[b][c].failure[0]) {
                    plan->runs_done += 2 * report->columns[c].runs;
                    continue;
                }
                show_progress(plan, round, report->benchmarks[b]->name, report->columns[c].name);
                if (plan->calibrating)
                    calibrate_cell(plan, b, c);
                else
                    measure_cell(plan, b, c);
            }
        if (!plan->calibrating)
            report->rounds_done++;
    }
}

void bench_measure(struct bench_report *report, const char *vmlab, const char *cpubench,
                   const char *work_dir)
{
    struct bench_plan plan = {
        .report = report, .vmlab = vmlab, .cpubench = cpubench, .work_dir = work_dir,
        .total_rounds = report->rounds_requested + !report->quick, .start = now_seconds(),
    };
    report->tsc_ghz = measure_tsc_ghz();
    run_rounds(&plan);
    if (isatty(2))
        fprintf(stderr, "\r\033[K");   /* the progress line goes away */
    report->elapsed_seconds = now_seconds() - plan.start;
    report->interrupted = interrupted != 0;
}
