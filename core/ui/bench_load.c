/*
 * bench_load.c - --from FILE.json: a saved report read back, so that one
 * measurement (taken before the lecture, or by a student for a grader) is
 * printed again in another format or drawn, without running anything.
 * It reads exactly what bench_report.c's JSON writes; the figures are
 * taken as they are, not recomputed.
 */
#include "bench.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static double number_of(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}

static bool bool_of(const cJSON *object, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(object, name));
}

static const char *string_of(const cJSON *object, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int load_columns(struct bench_report *report, const cJSON *columns)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, columns) {
        const char *name = string_of(item, "name"), *why_not = string_of(item, "why_not");
        const char *kind = string_of(item, "kind");
        if (!name || report->column_count == BENCH_MAX_COLUMNS)
            return -1;
        struct bench_column *column = &report->columns[report->column_count++];
        snprintf(column->name, sizeof column->name, "%s", name);
        snprintf(column->why_not, sizeof column->why_not, "%s", why_not ? why_not : "");
        column->is_qemu = kind && strcmp(kind, "reference") == 0;
        column->runs = bool_of(item, "runs");
    }
    return report->column_count ? 0 : -1;
}

static int load_benchmarks(struct bench_report *report, const cJSON *benchmarks)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, benchmarks) {
        const char *name = string_of(item, "name");
        const struct bench_benchmark *benchmark = name ? bench_find(name) : NULL;
        if (!benchmark || report->benchmark_count == BENCH_MAX_BENCHMARKS)
            return -1;
        report->benchmarks[report->benchmark_count++] = benchmark;
    }
    return report->benchmark_count ? 0 : -1;
}

static int index_of_column(const struct bench_report *report, const char *name)
{
    for (int c = 0; name && c < report->column_count; c++)
        if (strcmp(report->columns[c].name, name) == 0)
            return c;
    return -1;
}

static int index_of_benchmark(const struct bench_report *report, const char *name)
{
    for (int b = 0; name && b < report->benchmark_count; b++)
        if (strcmp(report->benchmarks[b]->name, name) == 0)
            return b;
    return -1;
}

/* A figure: its median in the row, its range in the row's "spread". */
static struct bench_figure figure_of(const cJSON *row, const char *name)
{
    const cJSON *median = cJSON_GetObjectItemCaseSensitive(row, name);
    if (!cJSON_IsNumber(median))
        return (struct bench_figure){.present = false};
    const cJSON *range =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(row, "spread"), name);
    return (struct bench_figure){.present = true, .median = median->valuedouble,
                                 .low = number_of(range, "low"), .high = number_of(range, "high")};
}

static int load_row(struct bench_report *report, const cJSON *row)
{
    int b = index_of_benchmark(report, string_of(row, "benchmark"));
    int c = index_of_column(report, string_of(row, "technique"));
    if (b < 0 || c < 0)
        return -1;
    struct bench_cell *cell = &report->cells[b][c];
    const cJSON *iterations = cJSON_GetObjectItemCaseSensitive(row, "iterations");
    cell->iters_small = (uint32_t)number_of(iterations, "small");
    cell->iters_big = (uint32_t)number_of(iterations, "big");
    /* The figures stand for the rounds; the rounds themselves are not saved. */
    cell->sample_count = (int)number_of(row, "samples");
    const char *why_not = string_of(row, "why_not");
    if (report->columns[c].runs && why_not)
        snprintf(cell->failure, sizeof cell->failure, "%s", why_not);
    cell->cycles = figure_of(row, "cycles_per_op");
    cell->ns = figure_of(row, "ns_per_op");
    cell->mips = figure_of(row, "mips");
    cell->instructions = figure_of(row, "instructions_per_op");
    cell->mips_from_interp = bool_of(row, "mips_from_interp");
    const cJSON *event;
    cJSON_ArrayForEach(event, cJSON_GetObjectItemCaseSensitive(row, "events_per_op"))
        if (cJSON_IsNumber(event))
            bench_events_add(&cell->events, event->string, event->valuedouble);
    return 0;
}

static int load_document(struct bench_report *report, const cJSON *root)
{
    const char *version = string_of(root, "vmlab_bench_version");
    if (!version || strcmp(version, "1") != 0)
        return -1;
    report->rounds_requested = (int)number_of(root, "rounds");
    report->rounds_done = (int)number_of(root, "rounds_done");
    report->quick = bool_of(root, "quick");
    report->elapsed_seconds = number_of(root, "elapsed_seconds");
    report->time_bound_seconds = number_of(root, "time_bound_seconds");
    report->time_bound_hit = bool_of(root, "time_bound_hit");
    report->interrupted = bool_of(root, "interrupted");
    report->tsc_ghz = number_of(root, "tsc_ghz");
    if (load_columns(report, cJSON_GetObjectItemCaseSensitive(root, "columns")) < 0 ||
        load_benchmarks(report, cJSON_GetObjectItemCaseSensitive(root, "benchmarks")) < 0)
        return -1;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(root, "rows"))
        if (load_row(report, row) < 0)
            return -1;
    return 0;
}

int bench_load(struct bench_report *report, const char *path, char *error, size_t error_len)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(error, error_len, "--from %s: cannot read it", path);
        return -1;
    }
    char *text = NULL;
    size_t length = 0;
    FILE *copy = open_memstream(&text, &length);
    char buffer[8192];
    size_t got;
    while (copy && (got = fread(buffer, 1, sizeof buffer, file)) > 0)
        fwrite(buffer, 1, got, copy);
    fclose(file);
    if (copy)
        fclose(copy);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    int rc = root ? load_document(report, root) : -1;
    cJSON_Delete(root);
    if (rc < 0)
        snprintf(error, error_len, "--from %s: not a report of vmlab bench --format json", path);
    return rc;
}
