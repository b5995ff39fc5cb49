/*
 * test_bench.c - vmlab bench's arithmetic, without running a guest:
 * differencing two runs into per-operation figures, medians and spread,
 * QEMU's MIPS from interp's instruction count, the formats' shape for a
 * column that cannot run, and the published figures.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ui/bench.h"

static struct bench_run_result run(double cpu_seconds, double cycles, double instructions,
                                   double io_events)
{
    struct bench_run_result result = {.ok = true, .cpu_seconds = cpu_seconds,
                                      .cycles_per_op = cycles,
                                      .guest_instructions = instructions};
    bench_events_add(&result.events, "io", io_events);
    bench_events_add(&result.events, "halt", 0);
    return result;
}

Test(bench, difference_cancels_what_both_runs_share)
{
    /* 1000 and 11000 iterations; start-up: 0.3 s, 50,000 instructions and
     * 70 port accesses in both. */
    struct bench_run_result small = run(0.30 + 1000 * 100e-9, 500, 50000 + 4000, 70 + 1000);
    struct bench_run_result big = run(0.30 + 11000 * 100e-9, 420, 50000 + 44000, 70 + 11000);
    struct bench_sample sample;
    bench_difference(&small, 1000, &big, 11000, 1, &sample);
    cr_assert_float_eq(sample.ns_per_op, 100, 1e-6);
    cr_assert_float_eq(sample.instructions_per_op, 4, 1e-9);
    cr_assert_float_eq(bench_events_get(&sample.events, "io"), 1, 1e-9);
    cr_assert_float_eq(sample.cycles_per_op, 420, 0, "the big run's own figure");
}

Test(bench, two_operations_per_iteration_halve_the_figures)
{
    struct bench_run_result small = run(0.1, 900, 0, 0), big = run(0.1 + 1e-3, 900, 0, 0);
    struct bench_sample sample;
    bench_difference(&small, 0, &big, 1000, 2, &sample);   /* ctxsw */
    cr_assert_float_eq(sample.ns_per_op, 500, 1e-6);
    cr_assert_float_eq(sample.instructions_per_op, 0, 0, "not counted: stays 0");
}

static struct bench_report *report_with(int columns, const char *const *names)
{
    struct bench_report *report = calloc(1, sizeof *report);
    cr_assert_not_null(report);
    report->benchmarks[0] = bench_find("in");
    report->benchmark_count = 1;
    report->column_count = columns;
    for (int c = 0; c < columns; c++) {
        snprintf(report->columns[c].name, sizeof report->columns[c].name, "%s", names[c]);
        report->columns[c].is_qemu = strcmp(names[c], BENCH_QEMU_COLUMN) == 0;
        report->columns[c].runs = strcmp(names[c], "bt") != 0;
        if (!report->columns[c].runs)
            snprintf(report->columns[c].why_not, sizeof report->columns[c].why_not,
                     "not implemented yet");
    }
    report->rounds_requested = report->rounds_done = 3;
    return report;
}

static void add_samples(struct bench_cell *cell, const double *ns, const double *cycles,
                        double instructions)
{
    for (int i = 0; i < 3; i++) {
        struct bench_sample *sample = &cell->samples[cell->sample_count++];
        sample->ns_per_op = ns[i];
        sample->cycles_per_op = cycles[i];
        sample->instructions_per_op = instructions;
    }
}

Test(bench, medians_spread_and_qemu_mips_from_interp)
{
    static const char *const names[] = {"interp", "bt", BENCH_QEMU_COLUMN};
    struct bench_report *report = report_with(3, names);
    add_samples(&report->cells[0][0], (double[]){120, 100, 110}, (double[]){300, 200, 250}, 4);
    add_samples(&report->cells[0][2], (double[]){40, 50, 60}, (double[]){90, 100, 110}, 0);
    bench_summarize(report);
    const struct bench_cell *interp = &report->cells[0][0], *qemu = &report->cells[0][2];
    cr_assert_float_eq(interp->ns.median, 110, 1e-9);
    cr_assert_float_eq(interp->ns.low, 100, 1e-9);
    cr_assert_float_eq(interp->ns.high, 120, 1e-9);
    cr_assert_float_eq(bench_spread_percent(&interp->ns), 10 / 110.0 * 100, 1e-9);
    cr_assert_float_eq(interp->cycles.median, 250, 1e-9);
    cr_assert_float_eq(interp->instructions.median, 4, 1e-9);
    /* 4 instructions in 110 ns: 36.4 million per second */
    cr_assert_float_eq(interp->mips.median, 4 / 110.0 * 1e3, 1e-9);
    cr_assert(qemu->mips.present && qemu->mips_from_interp);
    cr_assert_float_eq(qemu->mips.median, 4 / 50.0 * 1e3, 1e-9);
    cr_assert(!report->cells[0][1].ns.present, "bt did not run: no figure");
    free(report);
}

/* The report written to a string in one format. */
static char *written(const struct bench_report *report, enum bench_format format)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    cr_assert_not_null(out);
    bench_report_write(out, report, format);
    fclose(out);
    return text;
}

Test(bench, a_column_that_cannot_run_says_why_in_every_format)
{
    static const char *const names[] = {"interp", "bt"};
    struct bench_report *report = report_with(2, names);
    add_samples(&report->cells[0][0], (double[]){120, 100, 110}, (double[]){300, 200, 250}, 4);
    bench_summarize(report);
    char *table = written(report, BENCH_TABLE);
    cr_assert(strstr(table, "- (1)"), "%s", table);
    cr_assert(strstr(table, "\n(1) bt: not implemented yet\n"), "%s", table);
    cr_assert(strstr(table, "| 3,209"), "the published in row beside: %s", table);
    char *csv = written(report, BENCH_CSV);
    cr_assert(strstr(csv, "\nin,bt,no,0,"), "%s", csv);
    cr_assert(strstr(csv, "\"not implemented yet\"\n"), "%s", csv);
    char *json = written(report, BENCH_JSON);
    cr_assert(strstr(json, "\"why_not\":\t\"not implemented yet\""), "%s", json);
    free(table);
    free(csv);
    free(json);
    free(report);
}

Test(bench, published_figures)
{
    const struct bench_reference_row *row = bench_reference_find("cr3");
    cr_assert_not_null(row);
    cr_assert_str_eq(row->their_name, "cr8wr");
    cr_assert_float_eq(row->native, 150, 0);
    cr_assert_float_eq(row->bt, 35, 0);
    cr_assert_float_eq(row->vtx, 177, 0);
    cr_assert_null(bench_reference_find("cli-sti"), "not a row of the paper");
    cr_assert_not_null(bench_find("cpubench"));
    cr_assert(bench_find("ctxsw")->ops_per_iteration == 2);
}
