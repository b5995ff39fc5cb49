/*
 * dashboard_screen.c - drawing the panes with ncurses.
 *
 * The whole screen is redrawn into stdscr at every refresh; ncurses sends
 * the terminal only what changed. Layout comes from dashboard_layout.c,
 * numbers from the models: this file only places text.
 */
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/ui/dashboard.h"
#include "core/ui/dashboard_format.h"
#include "core/ui/dashboard_layout.h"
#include "core/ui/dashboard_memory.h"

#define LINE_MAX_TEXT 512
#define NUMBER_COLUMNS 35   /* " total rate/s avg max" as "%7s %7s %8s %9s" with spaces */

/* Formats one line and writes it at (y, x), cut or padded to width. */
static void put_line(int y, int x, int width, attr_t attributes, const char *format, ...)
    __attribute__((format(printf, 5, 6)));
static void put_line(int y, int x, int width, attr_t attributes, const char *format, ...)
{
    char text[LINE_MAX_TEXT];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (width <= 0)
        return;
    attrset(attributes);
    mvaddnstr(y, x, text, width);
    int used = (int)strlen(text);
    for (int i = used; i < width; i++)
        mvaddch(y, x + i, ' ');
    attrset(A_NORMAL);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "running (12% in HLT)", "paused", "halted: ...", "stopped: ...". */
static void describe_state(const struct dashboard *dashboard, char *out, size_t length)
{
    const struct vm *vm = dashboard->vm;
    if (atomic_load(&dashboard->vm_finished))
        snprintf(out, length, "%s (status %d): %s",
                 dashboard->vm_status == VMLAB_STATUS_HALTED ? "halted" : "stopped",
                 dashboard->vm_status, vm->stop_reason);
    else if (atomic_load(&vm->paused))
        snprintf(out, length, "paused at EIP 0x%08x", vm->cpu.eip);
    else
        snprintf(out, length, "running, %.0f%% in HLT",
                 dashboard->rates.halt_fraction * 100);
}

static bool counts_instructions(const struct dashboard *dashboard, const struct technique *t)
{
    for (int i = 0; i < dashboard->rates.counting_count; i++)
        if (dashboard->rates.counting[i] == t)
            return true;
    return false;
}

/* Why a technique cannot be chosen, in full or abbreviated; "" if it can. */
static const char *technique_note(const char *why, bool brief)
{
    if (!why[0] || !brief)
        return why;
    return strstr(why, "not implemented") ? "not impl." : "unavailable";
}

/* "1 interp*  2 trapemu (not implemented yet) ..." with the reasons, or a
 * shorter form when that does not fit. */
static void describe_techniques(const struct dashboard *dashboard, bool brief, char *out,
                                size_t length)
{
    size_t used = (size_t)snprintf(out, length, "%s", brief ? "" : "techniques: ");
    for (int i = 0; i < DASHBOARD_TECHNIQUE_KEYS && used < length; i++) {
        const char *name = dashboard_technique_keys[i];
        const char *note = technique_note(dashboard->availability[i], brief);
        const struct technique *current = dashboard->vm->technique;
        used += (size_t)snprintf(out + used, length - used, "%s%d %s%s%s%s%s",
                                 i == 0 ? "" : brief ? " " : "  ", i + 1, name,
                                 current && strcmp(current->name, name) == 0 ? "*" : "",
                                 note[0] ? " (" : "", note, note[0] ? ")" : "");
    }
}

static void draw_header(const struct dashboard *dashboard, const struct pane *pane)
{
    const struct vm *vm = dashboard->vm;
    char state[600], uptime[32], rate[64], text[LINE_MAX_TEXT];
    describe_state(dashboard, state, sizeof state);
    format_uptime(uptime, sizeof uptime, stats_now_ns() - vm->stats.start_ns);
    const struct technique *technique = vm->technique;
    put_line(pane->y, pane->x, pane->width, A_REVERSE | A_BOLD,
             " vmlab  guest %s  technique %s  up %s  %s", base_name(dashboard->options.guest_path),
             technique ? technique->name : "-", uptime, state);
    if (technique && counts_instructions(dashboard, technique)) {
        format_count(rate, sizeof rate, dashboard->rates.instructions_per_second);
        strcat(rate, " instr/s");
    } else {
        snprintf(rate, sizeof rate, "instr/s - (%s does not count)",
                 technique ? technique->name : "-");
    }
    put_line(pane->y + 1, pane->x, pane->width, A_NORMAL,
             " guest %s   host CPU %.0f%%   switches %llu   PIT ticks lost %llu", rate,
             dashboard->rates.cpu_percent, (unsigned long long)vm->switch_count,
             (unsigned long long)vm->pit.ticks_lost);
    describe_techniques(dashboard, false, text, sizeof text);
    if ((int)strlen(text) + 1 > pane->width)
        describe_techniques(dashboard, true, text, sizeof text);
    put_line(pane->y + 2, pane->x, pane->width, A_NORMAL, " %s", text);
}

static void draw_status(const struct dashboard *dashboard, const struct pane *pane)
{
    if (dashboard->editing_filter)
        put_line(pane->y, pane->x, pane->width, A_BOLD,
                 " filter (substring of category/reason; Enter applies, Esc cancels): %s_",
                 dashboard->filter_edit);
    else if (atomic_load(&dashboard->vm_finished) && !dashboard->status[0])
        put_line(pane->y, pane->x, pane->width, A_BOLD, " the guest has stopped; q quits");
    else
        put_line(pane->y, pane->x, pane->width, A_BOLD, " %s", dashboard->status);
}

static void table_cells(const struct table_line *line, char *total, char *rate, char *average,
                        char *maximum)
{
    char max_text[16];
    format_count(total, 16, (double)line->count);
    format_rate(rate, 16, line->rate);
    format_duration_ns(average, 16, line->count ? (double)line->total_ns / (double)line->count : 0);
    format_duration_ns(max_text, sizeof max_text, (double)line->max_ns);
    snprintf(maximum, 32, "%s%s", line->max_is_bound ? "<=" : "", max_text);
}

static void draw_table_line(const struct dashboard *dashboard, const struct table_line *line,
                            int y, const struct pane *pane, bool selected)
{
    char name[2 * STATS_NAME_LEN + 16], total[16], rate[16], average[16], maximum[32];
    if (line->is_category)
        snprintf(name, sizeof name, "%c %s (%d)", line->expanded ? '-' : '+', line->category,
                 line->child_count);
    else
        snprintf(name, sizeof name, "    %s", line->reason);
    table_cells(line, total, rate, average, maximum);
    int name_width = pane->width - NUMBER_COLUMNS;
    attr_t attributes = selected ? (dashboard->console_focus ? A_BOLD : A_REVERSE)
                                 : line->is_category ? A_BOLD : A_NORMAL;
    put_line(y, pane->x, pane->width, attributes, "%-*.*s %7s %7s %8s %9s", name_width, name_width,
             name, total, rate, average, maximum);
}

/* The view settings: "events by total, filter "io", zeros hidden, since
 * reset", or briefly "by total f="io" z r" when the column is narrow. */
static void table_title(const struct event_table *table, bool brief, char *out, size_t length)
{
    const char *sort = table->sort == TABLE_SORT_RATE ? "rate" : "total";
    bool filtered = table->filter[0], reset = table->baseline.time_ns != 0;
    if (brief)
        snprintf(out, length, "by %s%s%s%s%s%s", sort, filtered ? " f=\"" : "", table->filter,
                 filtered ? "\"" : "", table->hide_zeros ? " z" : "", reset ? " r" : "");
    else
        snprintf(out, length, "events by %s%s%s%s%s%s", sort, filtered ? ", filter \"" : "",
                 table->filter, filtered ? "\"" : "", table->hide_zeros ? ", zeros hidden" : "",
                 reset ? ", since reset" : "");
}

static void draw_table(const struct dashboard *dashboard, const struct pane *pane)
{
    const struct event_table *table = &dashboard->table;
    if (pane->height < 2)
        return;
    char title[128];
    int name_width = pane->width - NUMBER_COLUMNS;
    table_title(table, false, title, sizeof title);
    if ((int)strlen(title) > name_width)
        table_title(table, true, title, sizeof title);
    put_line(pane->y, pane->x, pane->width, A_UNDERLINE, "%-*.*s %7s %7s %8s %9s", name_width,
             name_width, title, "total", "rate/s", "avg", "max");
    int rows = pane->height - 1;
    int first = table->selected >= rows ? table->selected - rows + 1 : 0;
    for (int i = 0; i < rows; i++) {
        int index = first + i;
        if (index < table->line_count)
            draw_table_line(dashboard, &table->lines[index], pane->y + 1 + i, pane,
                            index == table->selected);
        else
            put_line(pane->y + 1 + i, pane->x, pane->width, A_NORMAL,
                     index == 0 ? "  (no events%s)" : "%s", index == 0 && table->filter[0]
                                                                 ? " match the filter" : "");
    }
}

/* The most recent switch in the history window, for the legend. */
static const char *last_switch_label(const struct spark_column *columns, int width, char *out,
                                     size_t length)
{
    for (int c = width - 1; c > 0; c--)
        if (columns[c].switched) {
            snprintf(out, length, ", | = switch (to %s)", columns[c].technique);
            return out;
        }
    snprintf(out, length, ", | marks a technique switch");
    return out;
}

static void draw_history(const struct dashboard *dashboard, const struct pane *pane)
{
    const struct table_line *line = table_selected_line(&dashboard->table);
    if (pane->height < 2)
        return;
    if (!line) {
        put_line(pane->y, pane->x, pane->width, A_UNDERLINE, "history: select a row");
        put_line(pane->y + 1, pane->x, pane->width, A_NORMAL, "%s", "");
        return;
    }
    struct spark_column columns[LINE_MAX_TEXT];
    int rows[STATS_MAX_COUNTERS];
    int width = pane->width < LINE_MAX_TEXT ? pane->width : LINE_MAX_TEXT - 1;
    int row_count = table_line_rows(&dashboard->table, line, rows, STATS_MAX_COUNTERS);
    double max_rate = history_columns(dashboard->history, rows, row_count, stats_now_ns(),
                                      HISTORY_SPAN_NS, width, columns);
    char peak[16], legend[64], spark[LINE_MAX_TEXT];
    format_rate(peak, sizeof peak, max_rate);
    put_line(pane->y, pane->x, pane->width, A_UNDERLINE, "history of %s%s%s: last 60 s, peak %s/s%s",
             line->category, line->is_category ? "" : "/", line->reason, peak,
             last_switch_label(columns, width, legend, sizeof legend));
    history_sparkline(columns, width, max_rate, spark);
    move(pane->y + 1, pane->x);
    for (int c = 0; c < width; c++) {
        attrset(columns[c].switched ? (A_BOLD | A_REVERSE) : A_NORMAL);
        addch((chtype)(unsigned char)spark[c]);
    }
    attrset(A_NORMAL);
}

static void memory_text(const struct memory_item *item, char *out, size_t length)
{
    char count[16], rate[16];
    if (item->count < 0) {
        snprintf(out, length, "%s -", item->label);
        return;
    }
    format_count(count, sizeof count, (double)item->count);
    format_rate(rate, sizeof rate, item->rate);
    snprintf(out, length, "%s %s (%s/s)", item->label, count, rate);
}

/* Items flow left to right, line by line, in the pane. */
static void draw_memory(const struct dashboard *dashboard, const struct pane *pane)
{
    struct memory_item items[MEMORY_ITEMS_MAX];
    int count = memory_pane_collect(&dashboard->table, items, MEMORY_ITEMS_MAX);
    char line[LINE_MAX_TEXT] = "memory:";
    int y = pane->y, end = pane->y + pane->height;
    for (int i = 0; i <= count && y < end; i++) {
        char text[128];
        if (i < count)
            memory_text(&items[i], text, sizeof text);
        else if (count == MEMORY_FIXED_ITEMS)
            snprintf(text, sizeof text, "kvm -");   /* no KVM rows: hvm has not run */
        else
            break;
        if (strlen(line) + strlen(text) + 2 > (size_t)pane->width) {
            put_line(y++, pane->x, pane->width, A_NORMAL, "%s", line);
            snprintf(line, sizeof line, "       ");
            if (y == end)
                break;
        }
        snprintf(line + strlen(line), sizeof line - strlen(line), "  %s", text);
    }
    if (y < end)
        put_line(y++, pane->x, pane->width, A_NORMAL, "%s", line);
    while (y < end)
        put_line(y++, pane->x, pane->width, A_NORMAL, "%s", "");
}

/* A category's count (reason NULL: all its rows), or one row's. */
static long long row_count(const struct dashboard *dashboard, const char *category,
                           const char *reason)
{
    int64_t count = table_count_since_baseline(&dashboard->table, category, reason);
    return count < 0 ? 0 : (long long)count;     /* no row yet: none happened */
}

/* pv on the bt engine: what paravirtualization changes - hypercalls and
 * events instead of traps, the tables mirrored whole instead of hidden
 * faults (techniques/pv). */
static void draw_pv(const struct dashboard *dashboard, const struct pane *pane)
{
    put_line(pane->y, pane->x, pane->width, A_NORMAL,
             "pv on bt: hypercalls %lld  upcalls %lld  mirrored %lld/%lld  hidden faults %lld",
             row_count(dashboard, "hypercall", NULL), row_count(dashboard, "inject", "pv-upcall"),
             row_count(dashboard, "shadow", "mirror-all"),
             row_count(dashboard, "shadow", "mirror-entry"),
             row_count(dashboard, "shadow", "shadow-pf"));
}

static void draw_bt(const struct dashboard *dashboard, const struct pane *pane)
{
    const struct vm *vm = dashboard->vm;
    if (pane->height < 1)
        return;
    if (vm->technique && strcmp(vm->technique->name, "pv") == 0)
        draw_pv(dashboard, pane);
    else if (!technique_find("bt"))
        put_line(pane->y, pane->x, pane->width, A_NORMAL,
                 "bt code cache: not in use (bt is not implemented yet)");
    else if (!vm->technique || strcmp(vm->technique->name, "bt") != 0)
        put_line(pane->y, pane->x, pane->width, A_NORMAL, "bt code cache: not in use (running %s)",
                 vm->technique ? vm->technique->name : "-");
    else    /* bt's mechanisms, each a category of the event table (techniques/bt) */
        put_line(pane->y, pane->x, pane->width, A_NORMAL,
                 "bt: translations %lld  callouts %lld  chains %lld  code writes %lld  "
                 "fallbacks %lld",
                 row_count(dashboard, "bt-translate", NULL),
                 row_count(dashboard, "bt-callout", NULL), row_count(dashboard, "bt-chain", NULL),
                 row_count(dashboard, "bt-smc", NULL), row_count(dashboard, "bt-fallback", NULL));
}

static void draw_console(const struct dashboard *dashboard, const struct pane *pane)
{
    if (pane->height < 2)
        return;
    const struct console_pane *console = &dashboard->console;
    if (dashboard->console_focus)
        put_line(pane->y, pane->x, pane->width, A_REVERSE,
                 "guest console: FOCUSED, typing goes to the guest (tab leaves, PgUp/PgDn scroll)%s",
                 console->scroll ? " [scrolled back]" : "");
    else
        put_line(pane->y, pane->x, pane->width, A_UNDERLINE, "guest console (tab to type)%s",
                 console->scroll ? " [scrolled back]" : "");
    int rows = pane->height - 1;
    for (int i = 0; i < rows; i++)
        put_line(pane->y + pane->height - 1 - i, pane->x, pane->width, A_NORMAL, "%s",
                 console_pane_line(console, i));
    if (dashboard->console_focus && console->scroll == 0) {
        /* Show where typing lands: the end of the last line. */
        int column = (int)strlen(console_pane_line(console, 0));
        if (column < pane->width)
            mvchgat(pane->y + pane->height - 1, pane->x + column, 1, A_REVERSE, 0, NULL);
    }
}

static void draw_log(struct dashboard *dashboard, const struct pane *pane)
{
    if (pane->height < 2)
        return;
    const struct vm *vm = dashboard->vm;
    put_line(pane->y, pane->x, pane->width, A_UNDERLINE, "%-8s %-8s %-20s %-22s %s", "time", "EIP",
             "event", "instruction at EIP", "detail");
    struct guest_view view = {.ram = &vm->ram, .cr0 = vm->cpu.cr0, .cr3 = vm->cpu.cr3,
                              .cr4 = vm->cpu.cr4, .code_base = vm->cpu.segments[SEG_CS].base};
    for (int i = 0; i < pane->height - 1; i++) {
        if (i >= dashboard->log_count) {
            put_line(pane->y + 1 + i, pane->x, pane->width, A_NORMAL, "%s", "");
            continue;
        }
        const struct stats_event *event = &dashboard->log[i];
        const struct table_snapshot *rows = &dashboard->table.current;
        char name[2 * STATS_NAME_LEN + 2] = "?", code[96];
        if (event->counter < rows->row_count)
            snprintf(name, sizeof name, "%s/%s", rows->rows[event->counter].category,
                     rows->rows[event->counter].reason);
        disassemble_guest(&dashboard->disassembler, &view, event->eip, code, sizeof code);
        put_line(pane->y + 1 + i, pane->x, pane->width, A_NORMAL, "%7.3fs %08x %-20.20s %-22.22s %s",
                 (double)event->time_ns / 1e9, event->eip, name, code, event->detail);
    }
}

static const char *const help_lines[] = {
    "1 interp  2 trapemu  3 bt  4 hvm  5 pv   switch technique live",
    "p  pause / resume        s  single step (pauses first)",
    "o  sort by total / rate  f  filter rows (substring)",
    "z  hide / show zero rows r  reset counters (a baseline)",
    "up/down j/k  select      Enter/space  fold / unfold a category",
    "tab  focus the guest console (typing goes to the guest)",
    "PgUp/PgDn  scroll the console (when focused)",
    "h  this help             q  quit (stops the guest)",
    "",
    "any key closes this help",
};

static void draw_help(int lines, int columns)
{
    int count = (int)(sizeof help_lines / sizeof *help_lines);
    int width = 64 < columns - 2 ? 64 : columns - 2;
    int top = (lines - count - 2) / 2, left = (columns - width) / 2;
    put_line(top, left, width, A_REVERSE | A_BOLD, " vmlab dashboard: keys");
    for (int i = 0; i < count; i++)
        put_line(top + 1 + i, left, width, A_REVERSE, " %s", help_lines[i]);
    put_line(top + 1 + count, left, width, A_REVERSE, "%s", "");
}

static const char *pane_keys(int width)
{
    if (width >= 100)
        return " 1-5 technique  p pause  s step  o sort  f filter  z zeros  r reset  tab console  h help"
               "  q quit";
    return " 1-5 tech p pause s step o sort f filter z 0s r reset tab console h help q quit";
}

void dashboard_draw(struct dashboard *dashboard)
{
    struct dashboard_layout layout;
    int lines, columns;
    getmaxyx(stdscr, lines, columns);
    dashboard_layout_compute(lines, columns, &layout);
    erase();
    if (layout.too_small) {
        put_line(0, 0, columns, A_BOLD, "terminal too small: the dashboard needs %dx%d (now %dx%d)",
                 LAYOUT_MIN_COLUMNS, LAYOUT_MIN_LINES, columns, lines);
        put_line(1, 0, columns, A_NORMAL, "q quits");
        refresh();
        return;
    }
    draw_header(dashboard, &layout.header);
    draw_status(dashboard, &layout.status);
    draw_table(dashboard, &layout.table);
    draw_history(dashboard, &layout.history);
    draw_memory(dashboard, &layout.memory);
    draw_bt(dashboard, &layout.bt);
    draw_console(dashboard, &layout.console);
    draw_log(dashboard, &layout.log);
    put_line(layout.keys.y, layout.keys.x, layout.keys.width, A_REVERSE, "%s",
             pane_keys(layout.keys.width));
    if (dashboard->show_help)
        draw_help(lines, columns);
    refresh();
}
