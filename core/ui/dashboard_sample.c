/*
 * dashboard_sample.c - one look at the running VM per refresh: the event
 * table, its history, the recent events and the header's rates.
 *
 * Everything here reads memory the vCPU thread writes, without locks (see
 * dashboard.h for why that is sound for what we show).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "core/ui/dashboard.h"

void dashboard_say(struct dashboard *dashboard, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(dashboard->status, sizeof dashboard->status, format, args);
    va_end(args);
}

static uint64_t process_cpu_ns(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) < 0)
        return 0;
    return (uint64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000ull;
}

/* Time the guest spent asleep in HLT: the core's ("halt", ...) rows. */
static uint64_t halt_ns(const struct table_snapshot *snapshot)
{
    uint64_t total = 0;
    for (int i = 0; i < snapshot->row_count; i++)
        if (strcmp(snapshot->rows[i].category, "halt") == 0)
            total += snapshot->rows[i].total_ns;
    return total;
}

static void remember_counting(struct dashboard_rates *rates, const struct technique *technique)
{
    for (int i = 0; i < rates->counting_count; i++)
        if (rates->counting[i] == technique)
            return;
    if (rates->counting_count < 8)
        rates->counting[rates->counting_count++] = technique;
}

static void update_rates(struct dashboard *dashboard, uint64_t now)
{
    struct dashboard_rates *rates = &dashboard->rates;
    uint64_t instructions = dashboard->vm->stats.guest_instructions;
    uint64_t cpu = process_cpu_ns();
    uint64_t halted = halt_ns(&dashboard->table.current);
    if (rates->time_ns && now > rates->time_ns) {
        double seconds = (double)(now - rates->time_ns) / 1e9;
        rates->instructions_per_second = (double)(instructions - rates->instructions) / seconds;
        rates->cpu_percent = (double)(cpu - rates->cpu_ns) / 1e9 / seconds * 100;
        /* A sleep is counted when it ends, so one interval can receive a
         * little more than its length: clamp, never show over 100%. */
        rates->halt_fraction = (double)(halted - rates->halt_ns) / 1e9 / seconds;
        if (rates->halt_fraction > 1)
            rates->halt_fraction = 1;
        /* Credit the technique that ran the whole interval, so that the
         * one switched to is not praised for its predecessor's count. */
        bool one_technique = dashboard->vm->switch_count == rates->switch_count;
        if (instructions > rates->instructions && one_technique && rates->technique)
            remember_counting(rates, rates->technique);
    }
    rates->technique = dashboard->vm->technique;
    rates->switch_count = dashboard->vm->switch_count;
    rates->time_ns = now;
    rates->instructions = instructions;
    rates->cpu_ns = cpu;
    rates->halt_ns = halted;
}

/* The newest events of the ring, newest first. stats_log publishes
 * ring_next (release) after it fills the entry, so every entry below it is
 * complete. An entry is kept only if the vCPU cannot have started
 * overwriting it while we copied it. */
static void copy_recent_events(struct dashboard *dashboard)
{
    const struct stats *stats = &dashboard->vm->stats;
    uint64_t end = atomic_load_explicit(&stats->ring_next, memory_order_acquire);
    uint64_t newest_complete = end;   /* one past the last complete entry */
    int count = 0;
    for (uint64_t n = newest_complete; n > 0 && count < DASHBOARD_LOG_EVENTS; n--) {
        if (end - (n - 1) >= STATS_RING_SIZE)
            break;
        dashboard->log[count++] = stats->ring[(n - 1) % STATS_RING_SIZE];
    }
    atomic_thread_fence(memory_order_acquire);
    uint64_t after = stats->ring_next;
    while (count > 0 && after - (newest_complete - (uint64_t)count) >= STATS_RING_SIZE)
        count--;
    dashboard->log_count = count;
}

void dashboard_sample(struct dashboard *dashboard)
{
    struct vm *vm = dashboard->vm;
    uint64_t now = stats_now_ns();
    /* The row count first: rows below it are complete (names are written
     * before the count grows). */
    int rows = atomic_load_explicit(&vm->stats.counter_count, memory_order_acquire);
    table_sample(&dashboard->table, vm->stats.counters, rows, now);
    table_build(&dashboard->table);
    const struct technique *technique = vm->technique;
    history_add(dashboard->history, now, dashboard->table.current.rows, rows, vm->switch_count,
                technique ? technique->name : "");
    update_rates(dashboard, now);
    copy_recent_events(dashboard);
}
