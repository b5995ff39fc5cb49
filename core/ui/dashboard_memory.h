/*
 * dashboard_memory.h - the memory-virtualisation pane's numbers, picked out
 * of the shared event table by name.
 *
 * Techniques name their rows by the schema of docs/design.md; this file is the
 * one place that says which rows mean what:
 *   shadow page faults    category "shadow-pf" (all reasons), and the
 *                         "shadow-pf" reason of "trap" or "exit" (trapemu);
 *                         without those, "shadow"/"shadow-pf" and
 *                         "shadow"/"dirty" (bt and pv: no traps)
 *   guest page faults     "guest-exception"/"#PF", and category "guest-pf"
 *   CR3 switches          reason "mov-cr3", outside category "kvm"; without
 *                         one, "shadow"/"cr3-switch" (bt and pv)
 *   shadow flushes        category starting with "shadow", reason containing "flush"
 *   write-protect traps   reason "pt-write" (trapemu), containing
 *                         "write-protect" or starting "wp-"
 *   KVM                   category "kvm", reasons containing "pf", "nested",
 *                         "tlb", "mmu" or "invlpg" (KVM's own binary stats)
 * A number no row produces is shown as "—" (count -1): the current
 * technique does not report it, which is not the same as zero.
 * No ncurses here.
 */
#ifndef VMLAB_DASHBOARD_MEMORY_H
#define VMLAB_DASHBOARD_MEMORY_H

#include <stdint.h>

#include "core/ui/dashboard_table.h"

#define MEMORY_ITEMS_MAX 24
#define MEMORY_FIXED_ITEMS 5

struct memory_item {
    char label[STATS_NAME_LEN + 8];
    int64_t count;               /* since the baseline; -1: no such row */
    double rate;                 /* per second, last refresh */
};

/* Fills items: the five fixed ones first, then KVM's rows (largest first).
 * Returns how many. */
int memory_pane_collect(const struct event_table *table, struct memory_item *items, int max);

#endif
