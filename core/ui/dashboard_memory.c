/*
 * dashboard_memory.c - which rows of the event table are about memory.
 */
#include "core/ui/dashboard_memory.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*row_matches)(const struct stats_counter *row);

/* Every hidden fault once: trapemu counts each as a trap ("trap",
 * "shadow-pf", with its handling time) and breaks them down again in its
 * "shadow" category (new mapping, dirty bit, ...), which is not summed. */
static bool is_shadow_fault(const struct stats_counter *row)
{
    return strcmp(row->category, "shadow-pf") == 0 ||
           ((strcmp(row->category, "trap") == 0 || strcmp(row->category, "exit") == 0) &&
            strcmp(row->reason, "shadow-pf") == 0);
}

/* bt and pv have no trap: their hidden faults are the shadow MMU's own
 * rows (a first touch, or a first write that sets D). */
static bool is_shadow_mmu_fault(const struct stats_counter *row)
{
    return strcmp(row->category, "shadow") == 0 &&
           (strcmp(row->reason, "shadow-pf") == 0 || strcmp(row->reason, "dirty") == 0);
}

static bool is_shadow_mmu_cr3_switch(const struct stats_counter *row)
{
    return strcmp(row->category, "shadow") == 0 && strcmp(row->reason, "cr3-switch") == 0;
}

static bool is_guest_fault(const struct stats_counter *row)
{
    return (strcmp(row->category, "guest-exception") == 0 && strcmp(row->reason, "#PF") == 0) ||
           strcmp(row->category, "guest-pf") == 0;
}

/* The guest's MOV to CR3, counted where it trapped or exited; not the
 * shadow MMU's own "cr3-switch" row, which counts the same writes again. */
static bool is_cr3_switch(const struct stats_counter *row)
{
    return strcmp(row->category, "kvm") != 0 && strcmp(row->reason, "mov-cr3") == 0;
}

static bool is_shadow_flush(const struct stats_counter *row)
{
    return strncmp(row->category, "shadow", 6) == 0 && strstr(row->reason, "flush") != NULL;
}

static bool is_write_protect(const struct stats_counter *row)
{
    return strstr(row->reason, "write-protect") != NULL || strncmp(row->reason, "wp-", 3) == 0 ||
           strcmp(row->reason, "pt-write") == 0;
}

static bool is_kvm_memory(const struct stats_counter *row)
{
    static const char *const words[] = {"pf", "nested", "tlb", "mmu", "invlpg", NULL};
    if (strcmp(row->category, "kvm") != 0)
        return false;
    for (int i = 0; words[i]; i++)
        if (strstr(row->reason, words[i]))
            return true;
    return false;
}

/* One row's rate between the table's last two samples. */
static double row_rate(const struct event_table *table, int row)
{
    if (!table->have_previous)
        return 0;
    double seconds = (double)(table->current.time_ns - table->previous.time_ns) / 1e9;
    uint64_t before = row < table->previous.row_count ? table->previous.rows[row].count : 0;
    return seconds > 0 ? (double)(table->current.rows[row].count - before) / seconds : 0;
}

static struct memory_item sum_matching(const struct event_table *table, const char *label,
                                       row_matches matches)
{
    struct memory_item item = {.count = -1};
    snprintf(item.label, sizeof item.label, "%s", label);
    for (int i = 0; i < table->current.row_count; i++) {
        if (!matches(&table->current.rows[i]))
            continue;
        item.count = (item.count < 0 ? 0 : item.count) + (int64_t)table_row_delta(table, i);
        item.rate += row_rate(table, i);
    }
    return item;
}

static int larger_count_first(const void *left, const void *right)
{
    const struct memory_item *a = left, *b = right;
    return a->count != b->count ? (a->count > b->count ? -1 : 1) : strcmp(a->label, b->label);
}

int memory_pane_collect(const struct event_table *table, struct memory_item *items, int max)
{
    /* otherwise: the rows to count when no row matches (bt and pv, whose
     * events are not traps or exits). */
    static const struct {
        const char *label;
        row_matches matches, otherwise;
    } fixed[MEMORY_FIXED_ITEMS] = {
        {"shadow page faults", is_shadow_fault, is_shadow_mmu_fault},
        {"guest page faults", is_guest_fault, NULL},
        {"CR3 switches", is_cr3_switch, is_shadow_mmu_cr3_switch},
        {"shadow flushes", is_shadow_flush, NULL},
        {"write-protect traps", is_write_protect, NULL},
    };
    int count = 0;
    for (int i = 0; i < MEMORY_FIXED_ITEMS && count < max; i++) {
        items[count] = sum_matching(table, fixed[i].label, fixed[i].matches);
        if (items[count].count < 0 && fixed[i].otherwise)
            items[count] = sum_matching(table, fixed[i].label, fixed[i].otherwise);
        count++;
    }
    int first_kvm = count;
    for (int i = 0; i < table->current.row_count && count < max; i++) {
        const struct stats_counter *row = &table->current.rows[i];
        if (!is_kvm_memory(row))
            continue;
        struct memory_item *item = &items[count++];
        snprintf(item->label, sizeof item->label, "kvm %s", row->reason);
        item->count = (int64_t)table_row_delta(table, i);
        item->rate = row_rate(table, i);
    }
    qsort(items + first_kvm, (size_t)(count - first_kvm), sizeof *items, larger_count_first);
    return count;
}
