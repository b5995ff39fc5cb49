/*
 * dashboard_history.h - the last minute of the event table, one sample per
 * dashboard refresh, drawn as a sparkline with a marker at every technique
 * switch, so "the trap rate fell when we moved to hvm" can be seen.
 *
 * A sample keeps every row's cumulative count, so the rate of any row or of
 * a whole category can be drawn afterwards, whichever the user selects.
 * No ncurses here: the screen draws the characters this file chooses.
 */
#ifndef VMLAB_DASHBOARD_HISTORY_H
#define VMLAB_DASHBOARD_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/stats.h"

/* 10 Hz for a minute and a half: more than the sparkline's minute even at
 * the fastest refresh. */
#define HISTORY_SAMPLES 900
#define HISTORY_SPAN_NS 60000000000ull
#define HISTORY_TECHNIQUE_LEN 16

struct history_sample {
    uint64_t time_ns;
    uint64_t switch_count;
    char technique[HISTORY_TECHNIQUE_LEN];
    int row_count;
    uint64_t counts[STATS_MAX_COUNTERS];
};

struct history {
    struct history_sample samples[HISTORY_SAMPLES];
    uint64_t next;                 /* samples ever added; ring index = next % size */
};

/* One column of a sparkline. */
struct spark_column {
    bool has_data;                 /* history reaches back this far */
    double rate;                   /* events per second in this column's time */
    bool switched;                 /* a technique switch happened in it */
    char technique[HISTORY_TECHNIQUE_LEN];   /* the technique at its end */
};

void history_init(struct history *history);
void history_add(struct history *history, uint64_t now_ns, const struct stats_counter *rows,
                 int row_count, uint64_t switch_count, const char *technique);

/* Splits [now - span, now] into width columns and computes the summed rate
 * of rows[0..row_count) in each. Returns the largest rate. */
double history_columns(const struct history *history, const int *rows, int row_count,
                       uint64_t now_ns, uint64_t span_ns, int width, struct spark_column *out);

/* The sparkline as text: one character per column, from ' ' (zero) up to
 * '#' (the largest rate), '|' where a switch happened, and ' ' where the
 * history does not reach. out holds width + 1 bytes. */
void history_sparkline(const struct spark_column *columns, int width, double max_rate, char *out);

#endif
