/*
 * test_dashboard_history.c - the sparkline's ring and switch markers, the
 * console pane's minimal terminal, the screen layout, and reading guest
 * code for the event log.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/ui/dashboard_console.h"
#include "core/ui/dashboard_disasm.h"
#include "core/ui/dashboard_history.h"
#include "core/ui/dashboard_layout.h"

#define SECOND 1000000000ull

static struct history *new_history(void)
{
    struct history *history = malloc(sizeof *history);
    cr_assert_not_null(history);
    history_init(history);
    return history;
}

/* One row whose rate is `rate` per second, sampled every second. */
static void add_seconds(struct history *history, uint64_t *now, uint64_t *count, int seconds,
                        uint64_t rate, uint64_t switches, const char *technique)
{
    struct stats_counter row = {.category = "trap", .reason = "cli"};
    for (int i = 0; i < seconds; i++) {
        *now += SECOND;
        *count += rate;
        row.count = *count;
        history_add(history, *now, &row, 1, switches, technique);
    }
}

Test(dashboard_history, rates_per_column_and_switch_markers)
{
    struct history *history = new_history();
    uint64_t now = 0, count = 0;
    add_seconds(history, &now, &count, 30, 1000, 0, "interp");
    add_seconds(history, &now, &count, 30, 10, 1, "hvm");   /* switched at 30 s */
    struct spark_column columns[60];
    int rows[] = {0};
    double peak = history_columns(history, rows, 1, now, 60 * SECOND, 60, columns);
    cr_assert_float_eq(peak, 1000, 1e-6);
    cr_assert_not(columns[0].has_data, "the first second has no earlier sample");
    cr_assert(columns[5].has_data);
    cr_assert_float_eq(columns[5].rate, 1000, 1e-6);
    cr_assert_float_eq(columns[50].rate, 10, 1e-6);
    int switches = 0, at = -1;
    for (int c = 0; c < 60; c++)
        if (columns[c].switched) {
            switches++;
            at = c;
        }
    cr_assert_eq(switches, 1);
    cr_assert(at >= 29 && at <= 31, "the marker is where the switch happened (column %d)", at);
    cr_assert_str_eq(columns[at].technique, "hvm");
    char line[61];
    history_sparkline(columns, 60, peak, line);
    cr_assert_eq(strlen(line), 60);
    cr_assert_eq(line[0], ' ');
    cr_assert_eq(line[10], '#', "the peak is the tallest glyph");
    cr_assert_eq(line[at], '|');
    cr_assert_eq(line[50], '_', "a rate far below the peak is the lowest visible glyph");
    free(history);
}

Test(dashboard_history, the_ring_keeps_the_newest)
{
    struct history *history = new_history();
    uint64_t now = 0, count = 0;
    add_seconds(history, &now, &count, HISTORY_SAMPLES + 100, 5, 0, "interp");
    cr_assert_eq(history->next, HISTORY_SAMPLES + 100);
    struct spark_column columns[10];
    int rows[] = {0};
    double peak = history_columns(history, rows, 1, now, 10 * SECOND, 10, columns);
    cr_assert_float_eq(peak, 5, 1e-6);
    for (int c = 0; c < 10; c++)
        cr_assert(columns[c].has_data && !columns[c].switched);
    int missing[] = {7};   /* a row index that no sample has: rate 0, not garbage */
    peak = history_columns(history, missing, 1, now, 10 * SECOND, 10, columns);
    cr_assert_float_eq(peak, 0, 1e-9);
    free(history);
}

static struct console_pane *new_console(void)
{
    struct console_pane *pane = malloc(sizeof *pane);
    cr_assert_not_null(pane);
    console_pane_init(pane);
    return pane;
}

static void feed(struct console_pane *pane, const char *text)
{
    console_pane_feed(pane, (const uint8_t *)text, strlen(text));
}

Test(dashboard_console, newline_return_backspace_tab_escape)
{
    struct console_pane *pane = new_console();
    feed(pane, "vmlab shell\r\nvmlab> tickz\bs");
    cr_assert_str_eq(console_pane_line(pane, 0), "vmlab> ticks");
    cr_assert_str_eq(console_pane_line(pane, 1), "vmlab shell");
    feed(pane, "\rVM");
    cr_assert_str_eq(console_pane_line(pane, 0), "VMlab> ticks", "\\r returns, then overwrites");
    feed(pane, "\na\tb\x1b[1;31mred\x1b[0m\xff\n");
    cr_assert_str_eq(console_pane_line(pane, 1), "a       bred?");
    cr_assert_str_eq(console_pane_line(pane, 0), "");
    cr_assert_str_eq(console_pane_line(pane, 99), "", "past the top");
    free(pane);
}

Test(dashboard_console, scrollback_is_bounded_and_scrolls)
{
    struct console_pane *pane = new_console();
    char line[32];
    for (int i = 0; i < CONSOLE_PANE_LINES + 50; i++) {
        snprintf(line, sizeof line, "line %d\n", i);
        feed(pane, line);
    }
    cr_assert_eq(console_pane_line_count(pane), CONSOLE_PANE_LINES);
    cr_assert_str_eq(console_pane_line(pane, 1), "line 549");
    console_pane_scroll(pane, 10, 5);
    cr_assert_str_eq(console_pane_line(pane, 1), "line 539");
    feed(pane, "more\n");   /* new output does not move what the reader looks at */
    cr_assert_str_eq(console_pane_line(pane, 1), "line 539");
    console_pane_scroll(pane, -1000, 5);
    cr_assert_eq(pane->scroll, 0);
    console_pane_scroll(pane, 100000, 5);
    cr_assert_eq(pane->scroll, CONSOLE_PANE_LINES - 5);
    char long_line[CONSOLE_PANE_WIDTH + 11];
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    console_pane_scroll(pane, -100000, 5);
    feed(pane, long_line);
    cr_assert_eq(strlen(console_pane_line(pane, 0)), 10, "long lines wrap");
    cr_assert_eq(strlen(console_pane_line(pane, 1)), CONSOLE_PANE_WIDTH);
    free(pane);
}

static void assert_inside(const struct pane *pane, int lines, int columns, const char *name)
{
    cr_assert(pane->height > 0, "%s is shown", name);
    cr_assert(pane->y >= 0 && pane->y + pane->height <= lines, "%s fits vertically", name);
    cr_assert(pane->x >= 0 && pane->x + pane->width <= columns, "%s fits horizontally", name);
}

Test(dashboard_layout, every_pane_fits_from_80x24_up)
{
    int sizes[][2] = {{24, 80}, {40, 120}, {30, 100}, {60, 200}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        int lines = sizes[i][0], columns = sizes[i][1];
        struct dashboard_layout layout;
        dashboard_layout_compute(lines, columns, &layout);
        cr_assert_not(layout.too_small);
        const struct pane *panes[] = {&layout.header, &layout.status, &layout.table, &layout.history,
                                      &layout.memory, &layout.bt, &layout.console, &layout.log,
                                      &layout.keys};
        const char *names[] = {"header", "status", "table", "history", "memory", "bt", "console",
                               "log", "keys"};
        for (size_t p = 0; p < sizeof panes / sizeof *panes; p++)
            assert_inside(panes[p], lines, columns, names[p]);
        cr_assert(layout.table.height >= 4 && layout.console.height >= 4,
                  "%dx%d: room for rows", columns, lines);
    }
    struct dashboard_layout small;
    dashboard_layout_compute(23, 80, &small);
    cr_assert(small.too_small);
    struct dashboard_layout big, classic;
    dashboard_layout_compute(60, 200, &big);
    dashboard_layout_compute(24, 80, &classic);
    cr_assert(big.table.height > classic.table.height, "bigger terminals show more");
}

Test(dashboard_disasm, reads_through_page_tables_and_never_faults)
{
    struct guest_ram ram;
    char error[256];
    cr_assert_eq(guest_ram_create(&ram, 4u << 20, error, sizeof error), 0, "%s", error);
    static const uint8_t code[] = {0xee, 0x0f, 0x22, 0xd8};   /* out dx, al; mov cr3, eax */
    memcpy(ram.host + 0x200000, code, sizeof code);
    /* Page directory at 0x10000, one page table at 0x11000 mapping
     * 0x40000000 -> 0x200000. */
    uint32_t pde = 0x11000 | 1, pte = 0x200000 | 1;
    memcpy(ram.host + 0x10000 + (0x40000000u >> 22) * 4, &pde, 4);
    memcpy(ram.host + 0x11000, &pte, 4);
    struct disassembler disassembler;
    cr_assert_eq(disassembler_open(&disassembler), 0);
    char text[64];
    struct guest_view flat = {.ram = &ram};
    disassemble_guest(&disassembler, &flat, 0x200000, text, sizeof text);
    cr_assert_str_eq(text, "out dx, al");
    struct guest_view paged = {.ram = &ram, .cr0 = CR0_PG | CR0_PE, .cr3 = 0x10000};
    disassemble_guest(&disassembler, &paged, 0x40000001, text, sizeof text);
    cr_assert_str_eq(text, "mov cr3, eax");
    disassemble_guest(&disassembler, &paged, 0x80000000, text, sizeof text);
    cr_assert_str_eq(text, "?", "not mapped");
    disassemble_guest(&disassembler, &flat, 0xfffffffe, text, sizeof text);
    cr_assert_str_eq(text, "?", "beyond RAM");
    disassemble_guest(&disassembler, &flat, 0xA0000, text, sizeof text);
    cr_assert_str_eq(text, "?", "the legacy hole is not RAM");
    uint8_t bytes[8];
    cr_assert_eq(guest_read_linear(&flat, (4u << 20) - 2, bytes, sizeof bytes), 2,
                 "a read stops at the end of RAM");
    disassembler_close(&disassembler);
    guest_ram_destroy(&ram);
}
