/*
 * bench_summary.c - from runs to figures.
 *
 * One sample is the difference of a small and a big run of the same guest:
 * whatever both runs do once (start the process, boot the kernel, print,
 * write the statistics) cancels, and what is left is the operations
 * themselves. Over the rounds, each figure is the median of its samples,
 * with the lowest and highest as the spread: on a shared machine the median
 * is what a quiet run looks like, the spread how loud the host was.
 */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bench_difference(const struct bench_run_result *small, uint32_t small_iterations,
                      const struct bench_run_result *big, uint32_t big_iterations,
                      unsigned ops_per_iteration, struct bench_sample *sample)
{
    double ops = (double)(big_iterations - small_iterations) * ops_per_iteration;
    memset(sample, 0, sizeof *sample);
    sample->cycles_per_op = big->cycles_per_op;
    sample->ns_per_op = (big->cpu_seconds - small->cpu_seconds) * 1e9 / ops;
    if (small->guest_instructions > 0 && big->guest_instructions > 0)
        sample->instructions_per_op = (big->guest_instructions - small->guest_instructions) / ops;
    for (int i = 0; i < big->events.count; i++) {
        const char *category = big->events.item[i].category;
        double difference = big->events.item[i].value - bench_events_get(&small->events, category);
        bench_events_add(&sample->events, category, difference / ops);
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median, lowest and highest of n values (n >= 1); sorts them. */
static struct bench_figure figure_of(double *values, int n)
{
    qsort(values, (size_t)n, sizeof values[0], compare_doubles);
    double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    return (struct bench_figure){.present = true, .median = median, .low = values[0],
                                 .high = values[n - 1]};
}

/* Half the range over the median, in percent: "1,050 ±3%". */
double bench_spread_percent(const struct bench_figure *figure)
{
    if (!figure->present || figure->median == 0)
        return 0;
    return (figure->high - figure->low) / 2 / fabs(figure->median) * 100;
}

static void summarize_cell(struct bench_cell *cell)
{
    double values[BENCH_MAX_ROUNDS];
    int n = cell->sample_count;
    if (n == 0)
        return;
    bool cycles = true, counted = true, instructions = true;
    for (int i = 0; i < n; i++) {
        cycles = cycles && cell->samples[i].cycles_per_op >= 0;
        counted = counted && cell->samples[i].instructions_per_op > 0;
        instructions = counted && cell->samples[i].ns_per_op > 0;   /* noise can make it <= 0 */
    }
    if (counted) {
        for (int i = 0; i < n; i++)
            values[i] = cell->samples[i].instructions_per_op;
        cell->instructions = figure_of(values, n);
    }
    if (cycles) {
        for (int i = 0; i < n; i++)
            values[i] = cell->samples[i].cycles_per_op;
        cell->cycles = figure_of(values, n);
    }
    for (int i = 0; i < n; i++)
        values[i] = cell->samples[i].ns_per_op;
    cell->ns = figure_of(values, n);
    if (instructions) {
        /* instructions per ns, times 1000: millions per second */
        for (int i = 0; i < n; i++)
            values[i] = cell->samples[i].instructions_per_op / cell->samples[i].ns_per_op * 1e3;
        cell->mips = figure_of(values, n);
    }
    /* Every category any round saw; a round that did not see it counts 0. */
    memset(&cell->events, 0, sizeof cell->events);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < cell->samples[i].events.count; k++)
            bench_events_add(&cell->events, cell->samples[i].events.item[k].category, 0);
    for (int k = 0; k < cell->events.count; k++) {
        for (int i = 0; i < n; i++)
            values[i] = bench_events_get(&cell->samples[i].events, cell->events.item[k].category);
        cell->events.item[k].value = figure_of(values, n).median;
    }
}

/* QEMU counts no instructions; the guests are deterministic, so interp's
 * count of the same benchmark is QEMU's too (within the timer interrupts
 * that fall differently). */
static void qemu_mips_from_interp(struct bench_report *report, int b)
{
    int interp = -1, qemu = -1;
    for (int c = 0; c < report->column_count; c++) {
        if (strcmp(report->columns[c].name, "interp") == 0)
            interp = c;
        if (report->columns[c].is_qemu)
            qemu = c;
    }
    if (interp < 0 || qemu < 0)
        return;
    struct bench_cell *from = &report->cells[b][interp], *to = &report->cells[b][qemu];
    if (!from->mips.present || !to->ns.present || to->ns.low <= 0)
        return;
    double instructions_per_op = from->instructions.median;
    /* The spread is QEMU's own: the same instruction count over each round's time. */
    to->mips = (struct bench_figure){
        .present = true,
        .median = instructions_per_op / to->ns.median * 1e3,
        .low = instructions_per_op / to->ns.high * 1e3,
        .high = instructions_per_op / to->ns.low * 1e3,
    };
    to->mips_from_interp = true;
}

void bench_summarize(struct bench_report *report)
{
    for (int b = 0; b < report->benchmark_count; b++) {
        for (int c = 0; c < report->column_count; c++)
            summarize_cell(&report->cells[b][c]);
        qemu_mips_from_interp(report, b);
    }
}
