/*
 * dashboard_keys.c - what each key does.
 *
 * With the console focused (tab), keys go to the guest's serial line; tab
 * comes back. Otherwise they control the dashboard. Nothing here touches
 * the vCPU's state directly: every request goes through the core's
 * thread-safe calls.
 */
#include <curses.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/ui/dashboard.h"


const char *const dashboard_technique_keys[DASHBOARD_TECHNIQUE_KEYS] = {
    "interp", "trapemu", "bt", "hvm", "pv",
};

static void switch_technique(struct dashboard *dashboard, int index)
{
    const char *name = dashboard_technique_keys[index];
    const struct technique *technique = technique_find(name);
    char why[200] = "";
    if (!technique) {
        dashboard_say(dashboard, "%s: %s", name,
                      technique_is_planned(name) ? "not implemented yet" : "unknown technique");
    } else if (atomic_load(&dashboard->vm_finished)) {
        dashboard_say(dashboard, "the guest has stopped: nothing to switch");
    } else if (technique == dashboard->vm->technique) {
        dashboard_say(dashboard, "already running on %s", name);
    } else if (technique->available && !technique->available(why, sizeof why)) {
        dashboard_say(dashboard, "%s is not available here: %s", name, why);
    } else {
        vm_request_switch(dashboard->vm, technique);
        dashboard_say(dashboard, "switching to %s (at the end of the current slice)", name);
    }
}

static void toggle_pause(struct dashboard *dashboard)
{
    bool paused = !atomic_load(&dashboard->vm->paused);
    vm_set_paused(dashboard->vm, paused);
    dashboard_say(dashboard, paused ? "paused (p resumes, s steps one instruction)" : "resumed");
}

static void single_step(struct dashboard *dashboard)
{
    const struct technique *technique = dashboard->vm->technique;
    if (!technique->can_single_step) {
        dashboard_say(dashboard, "single step: not supported by %s", technique->name);
        return;
    }
    if (!atomic_load(&dashboard->vm->paused)) {
        vm_set_paused(dashboard->vm, true);
        dashboard_say(dashboard, "paused; s again steps one instruction");
        return;
    }
    vm_request_step(dashboard->vm);
    dashboard_say(dashboard, "stepped one instruction");
}

static void quit(struct dashboard *dashboard)
{
    if (!atomic_load(&dashboard->vm_finished))
        vm_request_stop(dashboard->vm, VMLAB_STATUS_SIGNAL, "stopped from the dashboard (q)");
    dashboard->quit = true;
}

static void send_to_guest(struct dashboard *dashboard, const char *bytes, size_t length)
{
    ssize_t wrote;
    do
        wrote = write(dashboard->console_to_guest, bytes, length);
    while (wrote < 0 && errno == EINTR);
    if (wrote != (ssize_t)length)
        dashboard_say(dashboard, "console input dropped: the guest is not reading");
}

static void console_key(struct dashboard *dashboard, int key)
{
    int visible = 10;
    if (key == KEY_PPAGE) {
        console_pane_scroll(&dashboard->console, visible, visible);
    } else if (key == KEY_NPAGE) {
        console_pane_scroll(&dashboard->console, -visible, visible);
    } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        send_to_guest(dashboard, "\r", 1);   /* what a serial terminal sends for Enter */
    } else if (key == KEY_BACKSPACE) {
        send_to_guest(dashboard, "\x7f", 1);
    } else if (key >= 0 && key < 256) {
        char byte = (char)key;
        send_to_guest(dashboard, &byte, 1);
    }
}

/* f: the filter is edited on the status line; Enter applies, Esc cancels. */
static void filter_key(struct dashboard *dashboard, int key)
{
    size_t length = strlen(dashboard->filter_edit);
    if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        table_set_filter(&dashboard->table, dashboard->filter_edit);
        table_build(&dashboard->table);
        dashboard->editing_filter = false;
        dashboard_say(dashboard, dashboard->filter_edit[0] ? "filter: %s" : "filter cleared%s",
                      dashboard->filter_edit);
    } else if (key == 27) {
        dashboard->editing_filter = false;
        dashboard_say(dashboard, "filter unchanged");
    } else if ((key == KEY_BACKSPACE || key == 127 || key == '\b') && length > 0) {
        dashboard->filter_edit[length - 1] = '\0';
    } else if (key >= 0x20 && key < 0x7f && length + 1 < sizeof dashboard->filter_edit) {
        dashboard->filter_edit[length] = (char)key;
        dashboard->filter_edit[length + 1] = '\0';
    }
}

static void table_key(struct dashboard *dashboard, int key)
{
    struct event_table *table = &dashboard->table;
    switch (key) {
    case KEY_UP: case 'k': table_move_selection(table, -1); break;
    case KEY_DOWN: case 'j': table_move_selection(table, 1); break;
    case KEY_PPAGE: table_move_selection(table, -10); break;
    case KEY_NPAGE: table_move_selection(table, 10); break;
    case KEY_HOME: table_move_selection(table, -TABLE_MAX_LINES); break;
    case KEY_END: table_move_selection(table, TABLE_MAX_LINES); break;
    default: table_toggle_fold(table); break;   /* Enter, space, left, right */
    }
}

static void command_key(struct dashboard *dashboard, int key)
{
    struct event_table *table = &dashboard->table;
    switch (key) {
    case '1': case '2': case '3': case '4': case '5': switch_technique(dashboard, key - '1'); break;
    case 'p': toggle_pause(dashboard); break;
    case 's': single_step(dashboard); break;
    case 'o':
        table_toggle_sort(table);
        table_build(table);
        dashboard_say(dashboard, "sorted by %s", table->sort == TABLE_SORT_RATE ? "rate" : "total");
        break;
    case 'f':
        dashboard->editing_filter = true;
        snprintf(dashboard->filter_edit, sizeof dashboard->filter_edit, "%s", table->filter);
        break;
    case 'z':
        table_toggle_hide_zeros(table);
        table_build(table);
        dashboard_say(dashboard, table->hide_zeros ? "zero rows hidden" : "zero rows shown");
        break;
    case 'r':
        table_reset_baseline(table);
        table_build(table);
        dashboard_say(dashboard, "counters reset: counts from now on (the VM's own are unchanged)");
        break;
    case 'h': case '?': dashboard->show_help = !dashboard->show_help; break;
    case 'q': quit(dashboard); break;
    case KEY_UP: case KEY_DOWN: case KEY_PPAGE: case KEY_NPAGE: case KEY_HOME: case KEY_END:
    case 'j': case 'k': case '\n': case '\r': case KEY_ENTER: case ' ': case KEY_LEFT: case KEY_RIGHT:
        table_key(dashboard, key);
        break;
    case KEY_RESIZE: case ERR: break;
    default: dashboard_say(dashboard, "unknown key (h shows the keys)"); break;
    }
}

void dashboard_handle_key(struct dashboard *dashboard, int key)
{
    if (dashboard->editing_filter) {
        filter_key(dashboard, key);
    } else if (key == '\t') {
        dashboard->console_focus = !dashboard->console_focus;
        dashboard_say(dashboard, dashboard->console_focus
                                     ? "console focused: typing goes to the guest (tab leaves)"
                                     : "dashboard focused");
    } else if (dashboard->console_focus) {
        console_key(dashboard, key);
    } else if (dashboard->show_help && key != 'q' && key != KEY_RESIZE) {
        dashboard->show_help = false;   /* any key closes the help */
    } else {
        command_key(dashboard, key);
    }
}
