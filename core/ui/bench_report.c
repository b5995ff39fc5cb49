/*
 * bench_report.c - the report in four formats.
 *
 * table and markdown are one grid of text (a benchmark is a few lines:
 * cycles, the multiple of native, ns, MIPS, events per operation; a
 * technique is a column; the published figures are the last three
 * columns), printed with aligned spaces or with pipes. A column that could
 * not run here says "-" and a numbered note says why. csv and json are one
 * record per (benchmark, technique), for graders and scripts.
 */
#include "bench.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRID_LINES 160
#define GRID_COLUMNS (BENCH_MAX_COLUMNS + 5)
#define CELL_LEN 64
#define MAX_NOTES 16

/* ---- numbers ------------------------------------------------------------- */

/* 12,345 / 123 / 12.3 / 1.23 / 0.012: as many digits as a reader needs. */
static void format_number(double value, char *text, size_t length)
{
    double magnitude = fabs(value);
    if (magnitude >= 1000) {
        char digits[32];
        snprintf(digits, sizeof digits, "%.0f", magnitude);
        size_t n = strlen(digits), used = 0;
        if (value < 0 && used + 1 < length)
            text[used++] = '-';
        for (size_t i = 0; i < n && used + 2 < length; i++) {
            if (i && (n - i) % 3 == 0)
                text[used++] = ',';
            text[used++] = digits[i];
        }
        text[used] = '\0';
    } else if (magnitude >= 100) {
        snprintf(text, length, "%.0f", value);
    } else if (magnitude >= 10) {
        snprintf(text, length, "%.1f", value);
    } else if (magnitude >= 0.1 || magnitude == 0) {
        snprintf(text, length, "%.2f", value);
    } else {
        snprintf(text, length, "%.3f", value);
    }
}

static void format_figure(const struct bench_figure *figure, char *text, size_t length)
{
    char number[32];
    format_number(figure->median, number, sizeof number);
    snprintf(text, length, "%s ±%.0f%%", number, bench_spread_percent(figure));
}

/* "io 1.00 inject 0.01": the categories that happen at least once per 200
 * operations, most frequent first, at most three. */
static void format_events(const struct bench_events *events, char *text, size_t length)
{
    bool shown[BENCH_MAX_CATEGORIES] = {false};
    text[0] = '\0';
    for (int n = 0; n < 3; n++) {
        int best = -1;
        for (int i = 0; i < events->count; i++)
            if (!shown[i] && fabs(events->item[i].value) >= 0.005 &&
                (best < 0 || events->item[i].value > events->item[best].value))
                best = i;
        if (best < 0)
            break;
        shown[best] = true;
        char number[32];
        format_number(events->item[best].value, number, sizeof number);
        size_t used = strlen(text);
        snprintf(text + used, length - used, "%s%s %s", used ? " " : "",
                 events->item[best].category, number);
    }
    if (!text[0])
        snprintf(text, length, "none");
}

/* ---- notes: why a column or a cell has no figure ---------------------------- */

struct notes {
    int count;
    char text[MAX_NOTES][BENCH_WHY_LEN + BENCH_NAME_LEN + 8];
};

/* The note's number, adding it if new. */
static int note_number(struct notes *notes, const char *who, const char *why)
{
    char text[sizeof notes->text[0]];
    snprintf(text, sizeof text, "%s: %s", who, why);
    for (int i = 0; i < notes->count; i++)
        if (strcmp(notes->text[i], text) == 0)
            return i + 1;
    if (notes->count == MAX_NOTES)
        return MAX_NOTES;
    snprintf(notes->text[notes->count], sizeof notes->text[0], "%s", text);
    return ++notes->count;
}

/* ---- the grid -------------------------------------------------------------- */

struct grid {
    int lines, columns;
    char cell[GRID_LINES][GRID_COLUMNS][CELL_LEN];
    bool rule_before[GRID_LINES];    /* a benchmark starts here */
};

static char *grid_cell(struct grid *grid, int line, int column)
{
    return grid->cell[line][column];
}

static int grid_new_line(struct grid *grid)
{
    if (grid->lines == GRID_LINES)
        return GRID_LINES - 1;   /* never with 24 benchmarks of 6 lines */
    memset(grid->cell[grid->lines], 0, sizeof grid->cell[0]);
    return grid->lines++;
}

enum figure_line { LINE_CYCLES, LINE_NATIVE, LINE_NS, LINE_MIPS, LINE_EVENTS };

static const char *const line_names[] = {"cycles/op", "x A&A native", "ns/op", "MIPS",
                                         "events/op"};

/* The text of one cell of one figure line. */
static void cell_text(const struct bench_report *report, int b, int c, enum figure_line line,
                      bool first_line, struct notes *notes, char *text)
{
    const struct bench_column *column = &report->columns[c];
    const struct bench_cell *cell = &report->cells[b][c];
    const struct bench_reference_row *reference = bench_reference_find(report->benchmarks[b]->name);
    text[0] = '\0';
    if (!column->runs || cell->failure[0] || cell->sample_count == 0) {
        if (!first_line)
            return;
        if (!column->runs)
            snprintf(text, CELL_LEN, "- (%d)", note_number(notes, column->name, column->why_not));
        else if (cell->failure[0])
            snprintf(text, CELL_LEN, "failed (%d)",
                     note_number(notes, column->name, cell->failure));
        else
            snprintf(text, CELL_LEN, "not measured (%d)",
                     note_number(notes, report->interrupted ? "interrupted" : "time bound",
                                 "no round reached this cell before the run stopped"));
        return;
    }
    switch (line) {
    case LINE_CYCLES:
        if (cell->cycles.present)
            format_figure(&cell->cycles, text, CELL_LEN);
        break;
    case LINE_NATIVE:
        if (cell->cycles.present && reference)
            format_number(cell->cycles.median / reference->native, text, CELL_LEN);
        break;
    case LINE_NS:
        format_figure(&cell->ns, text, CELL_LEN);
        break;
    case LINE_MIPS:
        if (cell->mips.present) {
            format_figure(&cell->mips, text, CELL_LEN);
            if (cell->mips_from_interp)
                snprintf(text + strlen(text), CELL_LEN - strlen(text), " (%d)",
                         note_number(notes, "MIPS",
                                     "QEMU counts no instructions: interp's count of the same "
                                     "deterministic guest over QEMU's time"));
        } else {
            snprintf(text, CELL_LEN, "not counted");
        }
        break;
    case LINE_EVENTS:
        if (column->is_qemu)
            snprintf(text, CELL_LEN, "no counters");
        else
            format_events(&cell->events, text, CELL_LEN);
        break;
    }
}

/* The three published figures of a line, into text[0..2]. */
static void reference_text(const struct bench_reference_row *reference, enum figure_line line,
                           char *const text[3])
{
    double figures[3] = {reference->native, reference->bt, reference->vtx};
    for (int i = 0; i < 3; i++) {
        text[i][0] = '\0';
        if (line == LINE_CYCLES)
            format_number(figures[i], text[i], CELL_LEN);
        else if (line == LINE_NATIVE)
            format_number(figures[i] / reference->native, text[i], CELL_LEN);
    }
}

/* Which lines a benchmark has: cycles only where the guest prints them,
 * the multiple of native only for the published rows, MIPS only for the
 * guest-speed rows, events only where some column counted events. */
static bool has_line(const struct bench_report *report, int b, enum figure_line line)
{
    const struct bench_benchmark *benchmark = report->benchmarks[b];
    bool counted = false;
    for (int c = 0; c < report->column_count; c++)
        counted = counted || (report->columns[c].runs && !report->columns[c].is_qemu);
    switch (line) {
    case LINE_CYCLES: return !benchmark->is_cpubench;
    case LINE_NATIVE: return bench_reference_find(benchmark->name) != NULL;
    case LINE_NS: return true;
    case LINE_MIPS: return benchmark->is_cpubench || strcmp(benchmark->name, "cpu") == 0;
    case LINE_EVENTS: return counted;
    }
    return false;
}

static void build_grid(const struct bench_report *report, struct grid *grid, struct notes *notes)
{
    int columns = report->column_count;
    grid->columns = columns + 5;
    int header = grid_new_line(grid);
    snprintf(grid_cell(grid, header, 0), CELL_LEN, "benchmark");
    snprintf(grid_cell(grid, header, 1), CELL_LEN, "figure");
    for (int c = 0; c < columns; c++)
        snprintf(grid_cell(grid, header, 2 + c), CELL_LEN, "%s", report->columns[c].name);
    snprintf(grid_cell(grid, header, 2 + columns), CELL_LEN, "A&A native");
    snprintf(grid_cell(grid, header, 3 + columns), CELL_LEN, "A&A BT");
    snprintf(grid_cell(grid, header, 4 + columns), CELL_LEN, "A&A VT-x");
    for (int b = 0; b < report->benchmark_count; b++) {
        const struct bench_reference_row *reference = bench_reference_find(report->benchmarks[b]->name);
        bool first = true;
        for (int line = LINE_CYCLES; line <= LINE_EVENTS; line++) {
            if (!has_line(report, b, (enum figure_line)line))
                continue;
            int row = grid_new_line(grid);
            grid->rule_before[row] = first;
            if (first)
                snprintf(grid_cell(grid, row, 0), CELL_LEN, "%s", report->benchmarks[b]->name);
            snprintf(grid_cell(grid, row, 1), CELL_LEN, "%s", line_names[line]);
            for (int c = 0; c < columns; c++)
                cell_text(report, b, c, (enum figure_line)line, first, notes,
                          grid_cell(grid, row, 2 + c));
            if (reference) {
                char *const text[3] = {grid_cell(grid, row, 2 + columns),
                                       grid_cell(grid, row, 3 + columns),
                                       grid_cell(grid, row, 4 + columns)};
                reference_text(reference, (enum figure_line)line, text);
            }
            first = false;
        }
    }
}

/* ---- table and markdown ------------------------------------------------------ */

static void write_method(FILE *out, const struct bench_report *report, const char *prefix)
{
    fprintf(out, "%svmlab bench: %d benchmarks, median of %d round%s (%d asked), interleaved%s; "
            "%.0f s%s\n", prefix, report->benchmark_count, report->rounds_done,
            report->rounds_done == 1 ? "" : "s", report->rounds_requested,
            report->quick ? ", quick mode" : ", after a calibration round",
            report->elapsed_seconds,
            report->interrupted      ? " (interrupted)"
            : report->time_bound_hit ? " (stopped at the time bound)"
                                     : "");
    fprintf(out, "%scycles/op: the guest's rdtsc around its loop (host TSC, %.2f GHz). "
            "ns/op: CPU time of the child, two iteration counts differenced.\n",
            prefix, report->tsc_ghz);
    fprintf(out, "%sevents/op: the --stats-json counters by category, differenced the same way. "
            "±: half the range over the rounds.\n", prefix);
    fprintf(out, "%sx A&A native: cycles over the Pentium 4's native cycles for the same "
            "operation (%s).\n", prefix, bench_reference_source);
}

static void write_table(FILE *out, const struct bench_report *report, const struct grid *grid)
{
    int width[GRID_COLUMNS] = {0};
    for (int l = 0; l < grid->lines; l++)
        for (int k = 0; k < grid->columns; k++) {
            int n = (int)strlen(grid->cell[l][k]);
            width[k] = n > width[k] ? n : width[k];
        }
    int total = 0;
    for (int k = 0; k < grid->columns; k++)
        total += width[k] + 2 + (k == grid->columns - 3 ? 2 : 0);
    write_method(out, report, "");
    fputc('\n', out);
    for (int l = 0; l < grid->lines; l++) {
        if (grid->rule_before[l] || l == 1) {
            for (int i = 0; i < total; i++)
                fputc('-', out);
            fputc('\n', out);
        }
        char line[GRID_COLUMNS * (CELL_LEN + 4)];
        size_t used = 0;
        for (int k = 0; k < grid->columns; k++)
            used += (size_t)snprintf(line + used, sizeof line - used, "%s%-*s  ",
                                     k == grid->columns - 3 ? "| " : "", width[k],
                                     grid->cell[l][k]);
        while (used > 0 && line[used - 1] == ' ')
            line[--used] = '\0';   /* no trailing blanks */
        fprintf(out, "%s\n", line);
    }
}

static void write_markdown(FILE *out, const struct bench_report *report, const struct grid *grid)
{
    write_method(out, report, "> ");
    fputc('\n', out);
    for (int l = 0; l < grid->lines; l++) {
        fputc('|', out);
        for (int k = 0; k < grid->columns; k++)
            fprintf(out, " %s |", grid->cell[l][k]);
        fputc('\n', out);
        if (l == 0) {
            fputc('|', out);
            for (int k = 0; k < grid->columns; k++)
                fputs(k < 2 ? "---|" : "---:|", out);
            fputc('\n', out);
        }
    }
}

static void write_notes(FILE *out, const struct notes *notes, bool markdown)
{
    if (notes->count)
        fputc('\n', out);
    for (int i = 0; i < notes->count; i++)
        fprintf(out, "%s(%d) %s\n", markdown ? "- " : "", i + 1, notes->text[i]);
}

/* ---- csv ------------------------------------------------------------------------ */

static void csv_text(FILE *out, const char *text)
{
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

static void csv_figure(FILE *out, const struct bench_figure *figure)
{
    if (figure->present)
        fprintf(out, ",%.6g,%.6g,%.6g", figure->median, figure->low, figure->high);
    else
        fputs(",,,", out);
}

static void write_csv(FILE *out, const struct bench_report *report)
{
    fputs("benchmark,technique,runs,samples,iters_small,iters_big,"
          "cycles_per_op,cycles_low,cycles_high,ns_per_op,ns_low,ns_high,"
          "mips,mips_low,mips_high,events_per_op,ref_native,ref_bt,ref_vtx,why_not\n", out);
    for (int b = 0; b < report->benchmark_count; b++)
        for (int c = 0; c < report->column_count; c++) {
            const struct bench_column *column = &report->columns[c];
            const struct bench_cell *cell = &report->cells[b][c];
            const struct bench_reference_row *reference =
                bench_reference_find(report->benchmarks[b]->name);
            fprintf(out, "%s,%s,%s,%d,%u,%u", report->benchmarks[b]->name, column->name,
                    column->runs ? "yes" : "no", cell->sample_count, cell->iters_small,
                    cell->iters_big);
            csv_figure(out, &cell->cycles);
            csv_figure(out, &cell->ns);
            csv_figure(out, &cell->mips);
            fputc(',', out);
            char events[512] = "";
            for (int i = 0; i < cell->events.count; i++)
                snprintf(events + strlen(events), sizeof events - strlen(events), "%s%s=%.6g",
                         i ? ";" : "", cell->events.item[i].category, cell->events.item[i].value);
            csv_text(out, events);
            if (reference)
                fprintf(out, ",%g,%g,%g,", reference->native, reference->bt, reference->vtx);
            else
                fputs(",,,,", out);
            csv_text(out, !column->runs ? column->why_not : cell->failure);
            fputc('\n', out);
        }
}

/* ---- json ------------------------------------------------------------------------ */

static void json_figure(cJSON *row, const char *name, const struct bench_figure *figure,
                        cJSON *spread)
{
    if (!figure->present) {
        cJSON_AddNullToObject(row, name);
        return;
    }
    cJSON_AddNumberToObject(row, name, figure->median);
    cJSON *range = cJSON_AddObjectToObject(spread, name);
    cJSON_AddNumberToObject(range, "low", figure->low);
    cJSON_AddNumberToObject(range, "high", figure->high);
}

static cJSON *json_row(const struct bench_report *report, int b, int c)
{
    const struct bench_column *column = &report->columns[c];
    const struct bench_cell *cell = &report->cells[b][c];
    const struct bench_reference_row *reference = bench_reference_find(report->benchmarks[b]->name);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "benchmark", report->benchmarks[b]->name);
    cJSON_AddStringToObject(row, "technique", column->name);
    cJSON_AddBoolToObject(row, "runs", column->runs);
    if (column->runs && !cell->failure[0])
        cJSON_AddNullToObject(row, "why_not");
    else
        cJSON_AddStringToObject(row, "why_not", column->runs ? cell->failure : column->why_not);
    cJSON_AddNumberToObject(row, "samples", cell->sample_count);
    cJSON *iterations = cJSON_AddObjectToObject(row, "iterations");
    cJSON_AddNumberToObject(iterations, "small", cell->iters_small);
    cJSON_AddNumberToObject(iterations, "big", cell->iters_big);
    cJSON *spread = cJSON_CreateObject();
    json_figure(row, "cycles_per_op", &cell->cycles, spread);
    json_figure(row, "ns_per_op", &cell->ns, spread);
    json_figure(row, "mips", &cell->mips, spread);
    json_figure(row, "instructions_per_op", &cell->instructions, spread);
    cJSON_AddBoolToObject(row, "mips_from_interp", cell->mips_from_interp);
    if (cell->sample_count == 0 || column->is_qemu) {
        cJSON_AddNullToObject(row, "events_per_op");
    } else {
        cJSON *events = cJSON_AddObjectToObject(row, "events_per_op");
        for (int i = 0; i < cell->events.count; i++)
            cJSON_AddNumberToObject(events, cell->events.item[i].category,
                                    cell->events.item[i].value);
    }
    cJSON_AddItemToObject(row, "spread", spread);
    if (reference && cell->cycles.present)
        cJSON_AddNumberToObject(row, "ratio_to_reference_native",
                                cell->cycles.median / reference->native);
    else
        cJSON_AddNullToObject(row, "ratio_to_reference_native");
    return row;
}

static cJSON *json_reference(void)
{
    cJSON *reference = cJSON_CreateObject();
    cJSON_AddStringToObject(reference, "source", bench_reference_source);
    cJSON_AddStringToObject(reference, "unit", "cycles");
    cJSON *rows = cJSON_AddArrayToObject(reference, "rows");
    for (int i = 0; bench_benchmark_at(i); i++) {
        const struct bench_reference_row *row = bench_reference_find(bench_benchmark_at(i)->name);
        if (!row)
            continue;
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "benchmark", row->benchmark);
        cJSON_AddStringToObject(item, "their_name", row->their_name);
        cJSON_AddNumberToObject(item, "native", row->native);
        cJSON_AddNumberToObject(item, "bt", row->bt);
        cJSON_AddNumberToObject(item, "vtx", row->vtx);
        cJSON_AddItemToArray(rows, item);
    }
    return reference;
}

static void write_json(FILE *out, const struct bench_report *report)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "vmlab_bench_version", "1");
    cJSON_AddNumberToObject(root, "rounds", report->rounds_requested);
    cJSON_AddNumberToObject(root, "rounds_done", report->rounds_done);
    cJSON_AddBoolToObject(root, "quick", report->quick);
    cJSON_AddNumberToObject(root, "elapsed_seconds", report->elapsed_seconds);
    cJSON_AddNumberToObject(root, "time_bound_seconds", report->time_bound_seconds);
    cJSON_AddBoolToObject(root, "time_bound_hit", report->time_bound_hit);
    cJSON_AddBoolToObject(root, "interrupted", report->interrupted);
    cJSON_AddNumberToObject(root, "tsc_ghz", report->tsc_ghz);
    cJSON *columns = cJSON_AddArrayToObject(root, "columns");
    for (int c = 0; c < report->column_count; c++) {
        cJSON *column = cJSON_CreateObject();
        cJSON_AddStringToObject(column, "name", report->columns[c].name);
        cJSON_AddStringToObject(column, "kind", report->columns[c].is_qemu ? "reference" : "technique");
        cJSON_AddBoolToObject(column, "runs", report->columns[c].runs);
        if (report->columns[c].runs)
            cJSON_AddNullToObject(column, "why_not");
        else
            cJSON_AddStringToObject(column, "why_not", report->columns[c].why_not);
        cJSON_AddItemToArray(columns, column);
    }
    cJSON *benchmarks = cJSON_AddArrayToObject(root, "benchmarks");
    for (int b = 0; b < report->benchmark_count; b++) {
        cJSON *benchmark = cJSON_CreateObject();
        cJSON_AddStringToObject(benchmark, "name", report->benchmarks[b]->name);
        cJSON_AddStringToObject(benchmark, "what", report->benchmarks[b]->what);
        cJSON_AddNumberToObject(benchmark, "ops_per_iteration", report->benchmarks[b]->ops_per_iteration);
        cJSON_AddItemToArray(benchmarks, benchmark);
    }
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int b = 0; b < report->benchmark_count; b++)
        for (int c = 0; c < report->column_count; c++)
            cJSON_AddItemToArray(rows, json_row(report, b, c));
    cJSON_AddItemToObject(root, "reference", json_reference());
    char *text = cJSON_Print(root);
    if (text)
        fprintf(out, "%s\n", text);
    free(text);
    cJSON_Delete(root);
}

void bench_report_write(FILE *out, const struct bench_report *report, enum bench_format format)
{
    if (format == BENCH_CSV) {
        write_csv(out, report);
        return;
    }
    if (format == BENCH_JSON) {
        write_json(out, report);
        return;
    }
    struct grid *grid = calloc(1, sizeof *grid);
    struct notes notes = {0};
    if (!grid)
        return;
    build_grid(report, grid, &notes);
    if (format == BENCH_MARKDOWN)
        write_markdown(out, report, grid);
    else
        write_table(out, report, grid);
    write_notes(out, &notes, format == BENCH_MARKDOWN);
    free(grid);
}
