/*
 * dashboard_table.c - grouping, sorting and filtering the event table.
 */
#include "core/ui/dashboard_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void table_init(struct event_table *table)
{
    memset(table, 0, sizeof *table);
    table->selected = -1;
}

void table_sample(struct event_table *table, const struct stats_counter *rows, int row_count,
                  uint64_t now_ns)
{
    if (row_count > STATS_MAX_COUNTERS)
        row_count = STATS_MAX_COUNTERS;
    if (row_count < 0)
        row_count = 0;
    if (table->current.time_ns) {
        table->previous = table->current;
        table->have_previous = true;
    }
    memcpy(table->current.rows, rows, (size_t)row_count * sizeof *rows);
    table->current.row_count = row_count;
    table->current.time_ns = now_ns;
}

void table_reset_baseline(struct event_table *table)
{
    table->baseline = table->current;
}

static const struct stats_counter *row_in(const struct table_snapshot *snapshot, int index)
{
    static const struct stats_counter none;   /* a row that did not exist yet: all zero */
    return index < snapshot->row_count ? &snapshot->rows[index] : &none;
}

/* The line for snapshot row `index`, relative to the baseline. */
static struct table_line row_line(const struct event_table *table, int index)
{
    const struct stats_counter *now = &table->current.rows[index];
    const struct stats_counter *base = row_in(&table->baseline, index);
    struct table_line line = {.row = index};
    snprintf(line.category, sizeof line.category, "%s", now->category);
    snprintf(line.reason, sizeof line.reason, "%s", now->reason);
    line.count = now->count - base->count;
    line.total_ns = now->total_ns - base->total_ns;
    /* The counters keep one maximum since the start. If it rose after the
     * reset it is the maximum since the reset; if not, that maximum is only
     * known to be no larger than it. */
    if (line.count > 0) {
        line.max_ns = now->max_ns;
        line.max_is_bound = base->count > 0 && now->max_ns == base->max_ns;
    }
    if (table->have_previous) {
        const struct stats_counter *before = row_in(&table->previous, index);
        double seconds = (double)(table->current.time_ns - table->previous.time_ns) / 1e9;
        if (seconds > 0)
            line.rate = (double)(now->count - before->count) / seconds;
    }
    return line;
}

static bool passes_filters(const struct event_table *table, const struct table_line *line)
{
    if (table->hide_zeros && line->count == 0)
        return false;
    if (!table->filter[0])
        return true;
    char name[2 * STATS_NAME_LEN + 2];
    snprintf(name, sizeof name, "%s/%s", line->category, line->reason);
    return strcasestr(name, table->filter) != NULL;
}

static int compare_names(const struct table_line *a, const struct table_line *b)
{
    int by_category = strcmp(a->category, b->category);
    return by_category ? by_category : strcmp(a->reason, b->reason);
}

static int compare_by_total(const void *left, const void *right)
{
    const struct table_line *a = left, *b = right;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return compare_names(a, b);
}

/* Rate order falls back to totals, so idle rows keep a stable order. */
static int compare_by_rate(const void *left, const void *right)
{
    const struct table_line *a = left, *b = right;
    if (a->rate != b->rate)
        return a->rate > b->rate ? -1 : 1;
    return compare_by_total(left, right);
}

static void sort_lines(struct table_line *lines, int count, enum table_sort sort)
{
    qsort(lines, (size_t)count, sizeof *lines,
          sort == TABLE_SORT_RATE ? compare_by_rate : compare_by_total);
}

static void add_to_category(struct table_line *category, const struct table_line *row)
{
    category->count += row->count;
    category->total_ns += row->total_ns;
    category->rate += row->rate;
    if (row->max_ns > category->max_ns) {
        category->max_ns = row->max_ns;
        category->max_is_bound = row->max_is_bound;
    }
    category->child_count++;
}

static int find_category(struct table_line *categories, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(categories[i].category, name) == 0)
            return i;
    return -1;
}

/* Scratch space for a rebuild: kept off the stack (it is ~50 KiB). */
struct build_scratch {
    struct table_line rows[STATS_MAX_COUNTERS];
    struct table_line categories[TABLE_MAX_CATEGORIES];
};

static int collect(const struct event_table *table, struct build_scratch *scratch,
                   int *row_count)
{
    int categories = 0;
    *row_count = 0;
    for (int i = 0; i < table->current.row_count; i++) {
        struct table_line line = row_line(table, i);
        if (!passes_filters(table, &line))
            continue;
        int slot = find_category(scratch->categories, categories, line.category);
        if (slot < 0) {
            if (categories == TABLE_MAX_CATEGORIES)
                continue;   /* 64 categories is far beyond the schema's dozen */
            slot = categories++;
            scratch->categories[slot] = (struct table_line){.is_category = true, .row = -1};
            snprintf(scratch->categories[slot].category, STATS_NAME_LEN, "%s", line.category);
        }
        add_to_category(&scratch->categories[slot], &line);
        scratch->rows[(*row_count)++] = line;
    }
    return categories;
}

static void emit_lines(struct event_table *table, struct build_scratch *scratch, int categories,
                       int rows)
{
    table->line_count = 0;
    for (int c = 0; c < categories; c++) {
        struct table_line *category = &scratch->categories[c];
        category->expanded = table_is_expanded(table, category->category);
        table->lines[table->line_count++] = *category;
        if (!category->expanded)
            continue;
        for (int r = 0; r < rows; r++)
            if (strcmp(scratch->rows[r].category, category->category) == 0)
                table->lines[table->line_count++] = scratch->rows[r];
    }
}

static void restore_selection(struct event_table *table)
{
    table->selected = table->line_count ? 0 : -1;
    for (int i = 0; i < table->line_count; i++) {
        const struct table_line *line = &table->lines[i];
        if (strcmp(line->category, table->selected_category) == 0) {
            if (strcmp(line->reason, table->selected_reason) == 0) {
                table->selected = i;
                return;
            }
            if (line->is_category)
                table->selected = i;   /* the row is folded away: its category */
        }
    }
}

void table_build(struct event_table *table)
{
    struct build_scratch *scratch = malloc(sizeof *scratch);
    if (!scratch) {
        table->line_count = 0;
        table->selected = -1;
        return;
    }
    int rows;
    int categories = collect(table, scratch, &rows);
    sort_lines(scratch->categories, categories, table->sort);
    sort_lines(scratch->rows, rows, table->sort);
    emit_lines(table, scratch, categories, rows);
    free(scratch);
    restore_selection(table);
}

void table_toggle_sort(struct event_table *table)
{
    table->sort = table->sort == TABLE_SORT_TOTAL ? TABLE_SORT_RATE : TABLE_SORT_TOTAL;
}

void table_set_filter(struct event_table *table, const char *filter)
{
    snprintf(table->filter, sizeof table->filter, "%s", filter ? filter : "");
}

void table_toggle_hide_zeros(struct event_table *table)
{
    table->hide_zeros = !table->hide_zeros;
}

bool table_is_expanded(const struct event_table *table, const char *category)
{
    for (int i = 0; i < table->expanded_count; i++)
        if (strcmp(table->expanded[i], category) == 0)
            return true;
    return false;
}

void table_set_expanded(struct event_table *table, const char *category, bool expanded)
{
    for (int i = 0; i < table->expanded_count; i++) {
        if (strcmp(table->expanded[i], category) != 0)
            continue;
        if (!expanded)
            memcpy(table->expanded[i], table->expanded[--table->expanded_count], STATS_NAME_LEN);
        return;
    }
    if (expanded && table->expanded_count < TABLE_MAX_CATEGORIES)
        snprintf(table->expanded[table->expanded_count++], STATS_NAME_LEN, "%s", category);
}

void table_toggle_fold(struct event_table *table)
{
    const struct table_line *line = table_selected_line(table);
    if (!line)
        return;
    char category[STATS_NAME_LEN];
    snprintf(category, sizeof category, "%s", line->category);
    table_set_expanded(table, category, !table_is_expanded(table, category));
    /* The selection stays on the category (collapsing from a child too). */
    snprintf(table->selected_category, sizeof table->selected_category, "%s", category);
    table->selected_reason[0] = '\0';
    table_build(table);
}

void table_move_selection(struct event_table *table, int delta)
{
    if (table->line_count == 0)
        return;
    int selected = table->selected + delta;
    if (selected < 0)
        selected = 0;
    if (selected >= table->line_count)
        selected = table->line_count - 1;
    table->selected = selected;
    snprintf(table->selected_category, STATS_NAME_LEN, "%s", table->lines[selected].category);
    snprintf(table->selected_reason, STATS_NAME_LEN, "%s", table->lines[selected].reason);
}

const struct table_line *table_selected_line(const struct event_table *table)
{
    if (table->selected < 0 || table->selected >= table->line_count)
        return NULL;
    return &table->lines[table->selected];
}

int table_line_rows(const struct event_table *table, const struct table_line *line, int *out,
                    int max)
{
    if (!line->is_category) {
        if (max < 1)
            return 0;
        out[0] = line->row;
        return 1;
    }
    int count = 0;
    for (int i = 0; i < table->current.row_count && count < max; i++)
        if (strcmp(table->current.rows[i].category, line->category) == 0)
            out[count++] = i;
    return count;
}

int64_t table_count_since_baseline(const struct event_table *table, const char *category,
                                   const char *reason)
{
    int64_t total = -1;
    for (int i = 0; i < table->current.row_count; i++) {
        const struct stats_counter *now = &table->current.rows[i];
        if (strcmp(now->category, category) != 0 || (reason && strcmp(now->reason, reason) != 0))
            continue;
        total = (total < 0 ? 0 : total) +
                (int64_t)(now->count - row_in(&table->baseline, i)->count);
    }
    return total;
}

uint64_t table_row_delta(const struct event_table *table, int row)
{
    if (row < 0 || row >= table->current.row_count)
        return 0;
    return table->current.rows[row].count - row_in(&table->baseline, row)->count;
}
