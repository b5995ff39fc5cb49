/*
 * stats.h - one event schema for every technique.
 *
 * Everything a technique wants to show (a trap, a VM exit, a shadow page
 * fault, an interrupt injection, a port access) is counted in one table of
 * (category, reason) rows with a count, the total and maximum handling time,
 * and is optionally logged in a ring of recent events with the guest EIP.
 * The dashboard, --stats-json and the comparison reports all read this table,
 * so one guest can be put side by side under every technique.
 *
 * Hot paths look a row up once (stats_counter) and keep the pointer.
 */
#ifndef VMLAB_STATS_H
#define VMLAB_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define STATS_NAME_LEN 32
#define STATS_MAX_COUNTERS 512
#define STATS_RING_SIZE 256

struct stats_counter {
    char category[STATS_NAME_LEN];   /* trap, exit, io, inject, guest-exception, ... */
    char reason[STATS_NAME_LEN];     /* cli, out, port-0x3f8, irq0, #PF, ...         */
    uint64_t count;
    uint64_t total_ns;
    uint64_t max_ns;
};

struct stats_event {
    uint64_t time_ns;                /* since the VM started */
    uint32_t eip;
    uint16_t counter;                /* index into stats.counters */
    char detail[46];
};

struct stats {
    struct stats_counter counters[STATS_MAX_COUNTERS];
    _Atomic int counter_count;       /* published after a new row's names */
    struct stats_event ring[STATS_RING_SIZE];
    /* Events ever logged; ring index = ring_next % size. Published with
     * release order after the entry is written, so another thread (the
     * dashboard) that reads it with acquire sees complete entries. */
    _Atomic uint64_t ring_next;
    uint64_t start_ns;
    uint64_t guest_instructions;     /* retired, where the technique can count them */
};

void stats_init(struct stats *stats, uint64_t start_ns);

/* The row for (category, reason), created on first use. Never NULL: when the
 * table is full the row "stats/overflow" absorbs the rest, so nothing is lost
 * silently. */
struct stats_counter *stats_counter(struct stats *stats, const char *category, const char *reason);

static inline void stats_count(struct stats_counter *counter, uint64_t handling_ns)
{
    counter->count++;
    counter->total_ns += handling_ns;
    if (handling_ns > counter->max_ns)
        counter->max_ns = handling_ns;
}

/* Counts and also logs an event in the ring. detail may be NULL. */
void stats_log(struct stats *stats, struct stats_counter *counter, uint64_t handling_ns,
               uint64_t now_ns, uint32_t eip, const char *detail);

/* Monotonic host time in nanoseconds. */
uint64_t stats_now_ns(void);

#endif
