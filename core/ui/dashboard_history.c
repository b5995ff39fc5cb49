/*
 * dashboard_history.c - a ring of table samples and the sparkline drawn
 * from it.
 */
#include "core/ui/dashboard_history.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void history_init(struct history *history)
{
    memset(history, 0, sizeof *history);
}

void history_add(struct history *history, uint64_t now_ns, const struct stats_counter *rows,
                 int row_count, uint64_t switch_count, const char *technique)
{
    struct history_sample *sample = &history->samples[history->next % HISTORY_SAMPLES];
    if (row_count > STATS_MAX_COUNTERS)
        row_count = STATS_MAX_COUNTERS;
    sample->time_ns = now_ns;
    sample->switch_count = switch_count;
    snprintf(sample->technique, sizeof sample->technique, "%s", technique ? technique : "");
    sample->row_count = row_count;
    for (int i = 0; i < row_count; i++)
        sample->counts[i] = rows[i].count;
    history->next++;
}

/* The newest sample taken at or before time, or NULL. */
static const struct history_sample *sample_at(const struct history *history, uint64_t time)
{
    uint64_t oldest = history->next > HISTORY_SAMPLES ? history->next - HISTORY_SAMPLES : 0;
    for (uint64_t n = history->next; n > oldest; n--) {
        const struct history_sample *sample = &history->samples[(n - 1) % HISTORY_SAMPLES];
        if (sample->time_ns <= time)
            return sample;
    }
    return NULL;
}

static uint64_t summed_count(const struct history_sample *sample, const int *rows, int row_count)
{
    uint64_t total = 0;
    for (int i = 0; i < row_count; i++)
        if (rows[i] >= 0 && rows[i] < sample->row_count)
            total += sample->counts[rows[i]];
    return total;
}

double history_columns(const struct history *history, const int *rows, int row_count,
                       uint64_t now_ns, uint64_t span_ns, int width, struct spark_column *out)
{
    double max_rate = 0;
    uint64_t start = now_ns > span_ns ? now_ns - span_ns : 0;
    for (int c = 0; c < width; c++) {
        uint64_t from = start + span_ns * (uint64_t)c / (uint64_t)width;
        uint64_t to = start + span_ns * (uint64_t)(c + 1) / (uint64_t)width;
        const struct history_sample *first = sample_at(history, from);
        const struct history_sample *last = sample_at(history, to);
        struct spark_column *column = &out[c];
        memset(column, 0, sizeof *column);
        /* A column is drawn only between two real samples: an empty
         * column means "no data yet", never "zero". */
        if (!first || !last || last->time_ns <= first->time_ns)
            continue;
        column->has_data = true;
        double seconds = (double)(last->time_ns - first->time_ns) / 1e9;
        column->rate = (double)(summed_count(last, rows, row_count) -
                                summed_count(first, rows, row_count)) / seconds;
        column->switched = last->switch_count != first->switch_count;
        snprintf(column->technique, sizeof column->technique, "%s", last->technique);
        if (column->rate > max_rate)
            max_rate = column->rate;
    }
    return max_rate;
}

void history_sparkline(const struct spark_column *columns, int width, double max_rate, char *out)
{
    /* ASCII so that it works on any terminal and with plain libncurses. */
    static const char levels[] = " _.-=+*#";
    const int top = (int)sizeof levels - 2;
    for (int c = 0; c < width; c++) {
        const struct spark_column *column = &columns[c];
        char glyph = ' ';
        if (column->switched) {
            glyph = '|';
        } else if (column->has_data && column->rate > 0 && max_rate > 0) {
            int level = (int)ceil(column->rate / max_rate * top);
            glyph = levels[level < 1 ? 1 : level > top ? top : level];
        }
        out[c] = glyph;
    }
    out[width > 0 ? width : 0] = '\0';
}
