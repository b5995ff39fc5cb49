/*
 * test_dashboard_table.c - the dashboard's models without a terminal:
 * number formats, the event table (grouping, sorting, filter, hide zeros,
 * folding, baseline reset) and the memory pane's choice of rows.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/ui/dashboard_format.h"
#include "core/ui/dashboard_memory.h"
#include "core/ui/dashboard_table.h"

#define SECOND 1000000000ull

static struct stats_counter rows[8];
static int row_count;

static void add_row(const char *category, const char *reason, uint64_t count, uint64_t total_ns,
                    uint64_t max_ns)
{
    struct stats_counter *row = &rows[row_count++];
    snprintf(row->category, sizeof row->category, "%s", category);
    snprintf(row->reason, sizeof row->reason, "%s", reason);
    row->count = count;
    row->total_ns = total_ns;
    row->max_ns = max_ns;
}

/* The table is ~200 KiB: on the heap, as the dashboard keeps it. */
static struct event_table *new_table(void)
{
    struct event_table *table = malloc(sizeof *table);
    cr_assert_not_null(table);
    table_init(table);
    return table;
}

static void sample(struct event_table *table, uint64_t now)
{
    table_sample(table, rows, row_count, now);
    table_build(table);
}

static void three_rows(void)
{
    row_count = 0;
    add_row("io", "port-0x3f8", 100, 100000, 2000);
    add_row("io", "port-0x20", 10, 5000, 900);
    add_row("inject", "irq0", 50, 0, 0);
}

Test(dashboard_format, counts_rates_and_times)
{
    char text[32];
    format_count(text, sizeof text, 999);
    cr_assert_str_eq(text, "999");
    format_count(text, sizeof text, 12345);
    cr_assert_str_eq(text, "12.3k");
    format_count(text, sizeof text, 4.5e6);
    cr_assert_str_eq(text, "4.50M");
    format_count(text, sizeof text, 123456789);
    cr_assert_str_eq(text, "123M");
    format_rate(text, sizeof text, 0);
    cr_assert_str_eq(text, "0");
    format_rate(text, sizeof text, 0.05);
    cr_assert_str_eq(text, "<0.1");
    format_rate(text, sizeof text, 2.25);
    cr_assert_str_eq(text, "2.2");
    format_duration_ns(text, sizeof text, 0);
    cr_assert_str_eq(text, "-");
    format_duration_ns(text, sizeof text, 850);
    cr_assert_str_eq(text, "850ns");
    format_duration_ns(text, sizeof text, 12345);
    cr_assert_str_eq(text, "12.3us");
    format_duration_ns(text, sizeof text, 4.56e6);
    cr_assert_str_eq(text, "4.56ms");
    format_duration_ns(text, sizeof text, 1.5e9);
    cr_assert_str_eq(text, "1.50s");
    format_uptime(text, sizeof text, 42 * SECOND + SECOND / 10);
    cr_assert_str_eq(text, "42.1s");
    format_uptime(text, sizeof text, 723 * SECOND);
    cr_assert_str_eq(text, "12:03");
    format_uptime(text, sizeof text, 3723 * SECOND);
    cr_assert_str_eq(text, "1:02:03");
}

Test(dashboard_table, categories_fold_their_rows)
{
    struct event_table *table = new_table();
    three_rows();
    sample(table, SECOND);
    cr_assert_eq(table->line_count, 2, "collapsed: one line per category");
    cr_assert(table->lines[0].is_category);
    cr_assert_str_eq(table->lines[0].category, "io");
    cr_assert_eq(table->lines[0].count, 110, "a category sums its rows");
    cr_assert_eq(table->lines[0].child_count, 2);
    cr_assert_eq(table->lines[0].max_ns, 2000);
    table_toggle_fold(table);   /* the selection starts on the first line: io */
    cr_assert_eq(table->line_count, 4);
    cr_assert_str_eq(table->lines[1].reason, "port-0x3f8", "children follow, largest first");
    cr_assert_str_eq(table->lines[2].reason, "port-0x20");
    cr_assert_str_eq(table->lines[3].category, "inject");
    table_move_selection(table, 1);
    table_toggle_fold(table);   /* folding from a child folds its category */
    cr_assert_eq(table->line_count, 2);
    cr_assert_str_eq(table_selected_line(table)->category, "io");
    free(table);
}

Test(dashboard_table, rates_and_sorting)
{
    struct event_table *table = new_table();
    three_rows();
    sample(table, SECOND);
    rows[2].count += 1000;   /* inject: 1000 in the next second */
    rows[0].count += 10;
    sample(table, 2 * SECOND);
    cr_assert_str_eq(table->lines[0].category, "inject", "by total: 1050 > 120");
    cr_assert_float_eq(table->lines[0].rate, 1000, 1e-9);
    cr_assert_float_eq(table->lines[1].rate, 10, 1e-9);
    rows[0].count += 5000;   /* io now leads the total, inject keeps its rate */
    rows[2].count += 1000;
    rows[1].count += 1;
    sample(table, 3 * SECOND);
    cr_assert_str_eq(table->lines[0].category, "io");
    table_toggle_sort(table);
    table_build(table);
    cr_assert_eq(table->sort, TABLE_SORT_RATE);
    cr_assert_str_eq(table->lines[0].category, "io", "5001/s beats 1000/s");
    rows[0].count += 1;
    rows[2].count += 1000;
    sample(table, 4 * SECOND);
    cr_assert_str_eq(table->lines[0].category, "inject", "by rate: 1000/s > 1/s");
    free(table);
}

Test(dashboard_table, filter_and_hide_zeros)
{
    struct event_table *table = new_table();
    three_rows();
    add_row("exit", "hlt", 0, 0, 0);
    sample(table, SECOND);
    cr_assert_eq(table->line_count, 3);
    table_toggle_hide_zeros(table);
    table_build(table);
    cr_assert_eq(table->line_count, 2, "exit has no events");
    table_set_filter(table, "3F8");   /* case-insensitive substring of category/reason */
    table_build(table);
    cr_assert_eq(table->line_count, 1);
    cr_assert_eq(table->lines[0].count, 100, "only the matching row counts");
    cr_assert_eq(table->lines[0].child_count, 1);
    table_set_filter(table, "inject/");
    table_build(table);
    cr_assert_eq(table->line_count, 1);
    cr_assert_str_eq(table->lines[0].category, "inject");
    table_set_filter(table, "nothing-matches");
    table_build(table);
    cr_assert_eq(table->line_count, 0);
    cr_assert_null(table_selected_line(table));
    free(table);
}

Test(dashboard_table, reset_is_a_baseline)
{
    struct event_table *table = new_table();
    three_rows();
    sample(table, SECOND);
    struct stats_counter before = rows[0];
    table_reset_baseline(table);
    rows[0].count += 7;
    rows[0].total_ns += 700;   /* no new maximum */
    add_row("switch", "interp->hvm", 1, 4000, 4000);   /* a row born after the reset */
    sample(table, 2 * SECOND);
    cr_assert_eq(before.count, 100, "the VM's counters are not touched");
    table_set_expanded(table, "io", true);
    table_build(table);
    const struct table_line *io = NULL, *port = NULL, *switched = NULL;
    for (int i = 0; i < table->line_count; i++) {
        const struct table_line *line = &table->lines[i];
        if (line->is_category && strcmp(line->category, "io") == 0)
            io = line;
        if (strcmp(line->reason, "port-0x3f8") == 0)
            port = line;
        if (line->is_category && strcmp(line->category, "switch") == 0)
            switched = line;
    }
    cr_assert(io && port && switched);
    cr_assert_eq(io->count, 7);
    cr_assert_eq(port->total_ns, 700);
    cr_assert_eq(port->max_ns, 2000);
    cr_assert(port->max_is_bound, "the maximum predates the reset: only a bound");
    cr_assert_eq(switched->count, 1);
    cr_assert_not(switched->max_is_bound, "a new row's maximum is exact");
    cr_assert_eq(table_count_since_baseline(table, "io", NULL), 7);
    cr_assert_eq(table_count_since_baseline(table, "io", "port-0x20"), 0);
    cr_assert_eq(table_count_since_baseline(table, "shadow-pf", NULL), -1);
    free(table);
}

Test(dashboard_table, selection_follows_its_row)
{
    struct event_table *table = new_table();
    three_rows();
    sample(table, SECOND);
    table_move_selection(table, 1);
    cr_assert_str_eq(table_selected_line(table)->category, "inject");
    rows[0].count = 0;   /* cannot happen in a VM; here it reorders the table */
    rows[1].count = 0;
    sample(table, 2 * SECOND);
    cr_assert_str_eq(table->lines[0].category, "inject");
    cr_assert_str_eq(table_selected_line(table)->category, "inject");
    table_move_selection(table, -5);
    cr_assert_eq(table->selected, 0, "clamped");
    free(table);
}

Test(dashboard_memory, named_rows_or_a_dash)
{
    struct event_table *table = new_table();
    row_count = 0;
    add_row("guest-exception", "#PF", 12, 0, 0);
    add_row("trap", "mov-cr3", 5, 0, 0);
    add_row("kvm", "pf_fixed", 40, 0, 0);
    add_row("kvm", "exits", 99, 0, 0);
    add_row("io", "port-0x3f8", 3, 0, 0);
    sample(table, SECOND);
    struct memory_item items[MEMORY_ITEMS_MAX];
    int count = memory_pane_collect(table, items, MEMORY_ITEMS_MAX);
    cr_assert_eq(count, MEMORY_FIXED_ITEMS + 1, "kvm/exits is not about memory");
    cr_assert_str_eq(items[0].label, "shadow page faults");
    cr_assert_eq(items[0].count, -1, "no technique produced it: a dash, not zero");
    cr_assert_eq(items[1].count, 12);
    cr_assert_eq(items[2].count, 5);
    cr_assert_eq(items[3].count, -1);
    cr_assert_str_eq(items[MEMORY_FIXED_ITEMS].label, "kvm pf_fixed");
    cr_assert_eq(items[MEMORY_FIXED_ITEMS].count, 40);
    free(table);
}

/* The rows bt writes (a pagefault run of kernel-pv under bt): no trap
 * rows, so the shadow MMU's own rows are the hidden faults and CR3 loads. */
Test(dashboard_memory, bt_rows_from_the_shadow)
{
    struct event_table *table = new_table();
    row_count = 0;
    add_row("shadow", "shadow-pf", 930, 0, 0);
    add_row("shadow", "dirty", 262, 0, 0);
    add_row("shadow", "shadow-flush", 62, 0, 0);
    add_row("shadow", "cr3-switch", 48, 0, 0);
    add_row("bt-callout", "mov", 5, 0, 0);
    add_row("guest-exception", "#PF", 35, 0, 0);
    sample(table, SECOND);
    struct memory_item items[MEMORY_ITEMS_MAX];
    int count = memory_pane_collect(table, items, MEMORY_ITEMS_MAX);
    cr_assert_eq(count, MEMORY_FIXED_ITEMS);
    cr_assert_eq(items[0].count, 930 + 262, "hidden faults: first touches and first writes");
    cr_assert_eq(items[1].count, 35);
    cr_assert_eq(items[2].count, 48, "CR3 loads from the shadow's own row");
    cr_assert_eq(items[3].count, 62);
    free(table);
}

/* The rows trapemu writes (a sched run under trapemu, --stats-json): each
 * event once, though the shadow MMU counts some of them again. */
Test(dashboard_memory, trapemu_rows_counted_once)
{
    struct event_table *table = new_table();
    row_count = 0;
    add_row("shadow", "shadow-pf", 250, 0, 0);
    add_row("shadow", "dirty", 88, 0, 0);
    add_row("shadow", "shadow-flush", 24, 0, 0);
    add_row("shadow", "cr3-switch", 18, 0, 0);
    add_row("shadow", "pt-write", 3, 0, 0);
    add_row("trap", "mov-cr3", 19, 0, 0);
    add_row("trap", "shadow-pf", 338, 0, 0);
    add_row("guest-exception", "#PF", 3, 0, 0);
    sample(table, SECOND);
    struct memory_item items[MEMORY_ITEMS_MAX];
    int count = memory_pane_collect(table, items, MEMORY_ITEMS_MAX);
    cr_assert_eq(count, MEMORY_FIXED_ITEMS);
    int64_t expected[MEMORY_FIXED_ITEMS] = {338, 3, 19, 24, 3};
    for (int i = 0; i < MEMORY_FIXED_ITEMS; i++)
        cr_assert_eq(items[i].count, expected[i], "%s: %lld", items[i].label,
                     (long long)items[i].count);
    free(table);
}
