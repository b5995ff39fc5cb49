/*
 * stats.c - the shared event table: (category, reason) rows and a ring of
 * recent events.
 */
#include "stats.h"

#include <string.h>
#include <time.h>

uint64_t stats_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

void stats_init(struct stats *stats, uint64_t start_ns)
{
    memset(stats, 0, sizeof *stats);
    stats->start_ns = start_ns;
}

static void copy_name(char *to, const char *from)
{
    strncpy(to, from, STATS_NAME_LEN - 1);
    to[STATS_NAME_LEN - 1] = '\0';
}

struct stats_counter *stats_counter(struct stats *stats, const char *category, const char *reason)
{
    for (int i = 0; i < stats->counter_count; i++) {
        struct stats_counter *row = &stats->counters[i];
        if (strncmp(row->category, category, STATS_NAME_LEN - 1) == 0 &&
            strncmp(row->reason, reason, STATS_NAME_LEN - 1) == 0)
            return row;
    }
    /* The last row is kept for overflow, so a full table still counts. */
    if (stats->counter_count >= STATS_MAX_COUNTERS - 1) {
        struct stats_counter *overflow = &stats->counters[STATS_MAX_COUNTERS - 1];
        if (stats->counter_count == STATS_MAX_COUNTERS - 1) {
            copy_name(overflow->category, "stats");
            copy_name(overflow->reason, "overflow");
            atomic_store_explicit(&stats->counter_count, STATS_MAX_COUNTERS, memory_order_release);
        }
        return overflow;
    }
    int index = atomic_load_explicit(&stats->counter_count, memory_order_relaxed);
    struct stats_counter *row = &stats->counters[index];
    copy_name(row->category, category);
    copy_name(row->reason, reason);
    atomic_store_explicit(&stats->counter_count, index + 1, memory_order_release);
    return row;
}

void stats_log(struct stats *stats, struct stats_counter *counter, uint64_t handling_ns,
               uint64_t now_ns, uint32_t eip, const char *detail)
{
    stats_count(counter, handling_ns);
    uint64_t next = atomic_load_explicit(&stats->ring_next, memory_order_relaxed);
    struct stats_event *event = &stats->ring[next % STATS_RING_SIZE];
    event->time_ns = now_ns - stats->start_ns;
    event->eip = eip;
    event->counter = (uint16_t)(counter - stats->counters);
    event->detail[0] = '\0';
    if (detail) {
        strncpy(event->detail, detail, sizeof event->detail - 1);
        event->detail[sizeof event->detail - 1] = '\0';
    }
    atomic_store_explicit(&stats->ring_next, next + 1, memory_order_release);
}
