/*
 * dashboard_table.h - the event table as the dashboard shows it: the
 * shared (category, reason) counters, grouped by category, with rates,
 * sorting, a substring filter, zero rows hidden, folding, and a "reset"
 * that is only a baseline: the vCPU's own counters are never written.
 *
 * The model works on snapshots (copies of struct stats_counter arrays), so
 * it needs neither ncurses nor a running VM and is unit-tested directly.
 * Rows of struct stats are append-only, so the row at index i of an older
 * snapshot is the same (category, reason) as row i now: deltas are index by
 * index.
 */
#ifndef VMLAB_DASHBOARD_TABLE_H
#define VMLAB_DASHBOARD_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/stats.h"

#define TABLE_MAX_CATEGORIES 64
#define TABLE_MAX_LINES (STATS_MAX_COUNTERS + TABLE_MAX_CATEGORIES)
#define TABLE_FILTER_LEN 48

enum table_sort { TABLE_SORT_TOTAL, TABLE_SORT_RATE };

struct table_snapshot {
    struct stats_counter rows[STATS_MAX_COUNTERS];
    int row_count;
    uint64_t time_ns;
};

/* One line of the table: a category (the sum of its rows) or one row. */
struct table_line {
    bool is_category;
    bool expanded;                 /* categories: children shown */
    int child_count;               /* categories: rows that pass the filters */
    int row;                       /* rows: index into the snapshot */
    char category[STATS_NAME_LEN];
    char reason[STATS_NAME_LEN];   /* "" for a category */
    uint64_t count;                /* since the baseline */
    uint64_t total_ns;             /* since the baseline */
    double rate;                   /* per second, between the last two samples */
    uint64_t max_ns;
    bool max_is_bound;             /* max_ns predates the reset: the true max is <= it */
};

struct event_table {
    struct table_snapshot baseline, previous, current;
    bool have_previous;
    enum table_sort sort;
    char filter[TABLE_FILTER_LEN];
    bool hide_zeros;
    char expanded[TABLE_MAX_CATEGORIES][STATS_NAME_LEN];
    int expanded_count;
    struct table_line lines[TABLE_MAX_LINES];
    int line_count;
    /* The selection follows its (category, reason) across rebuilds. */
    char selected_category[STATS_NAME_LEN];
    char selected_reason[STATS_NAME_LEN];
    int selected;                  /* index into lines, -1 when empty */
};

void table_init(struct event_table *table);
/* Takes a new snapshot of rows (copied). Call once per refresh. */
void table_sample(struct event_table *table, const struct stats_counter *rows, int row_count,
                  uint64_t now_ns);
/* r: counts are shown from now on; the VM's counters stay as they are. */
void table_reset_baseline(struct event_table *table);
/* Recomputes lines from the snapshots and the view settings. */
void table_build(struct event_table *table);

void table_toggle_sort(struct event_table *table);
void table_set_filter(struct event_table *table, const char *filter);
void table_toggle_hide_zeros(struct event_table *table);
/* Expands or collapses the category of the selected line. */
void table_toggle_fold(struct event_table *table);
void table_set_expanded(struct event_table *table, const char *category, bool expanded);
bool table_is_expanded(const struct event_table *table, const char *category);
void table_move_selection(struct event_table *table, int delta);
const struct table_line *table_selected_line(const struct event_table *table);

/* Snapshot row indices that make up a line (one row, or a category's
 * rows); returns how many were written to out (at most max). */
int table_line_rows(const struct event_table *table, const struct table_line *line, int *out,
                    int max);

/* Row i's count since the baseline. */
uint64_t table_row_delta(const struct event_table *table, int row);

/* The count of (category, reason) since the baseline, or -1 if there is no
 * such row; reason NULL sums the whole category. */
int64_t table_count_since_baseline(const struct event_table *table, const char *category,
                                   const char *reason);

#endif
