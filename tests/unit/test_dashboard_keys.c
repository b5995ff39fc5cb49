/*
 * test_dashboard_keys.c - what each dashboard key asks of the VM, on a VM
 * that is built but not running (the requests are only recorded).
 */
#include <criterion/criterion.h>
#include <curses.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ui/dashboard.h"

static struct vm vm;   /* large: not on the stack */
static struct dashboard *dashboard;
static int guest_input[2];

static void setup(void)
{
    memset(&vm, 0, sizeof vm);
    vm.technique = technique_find("interp");
    cr_assert_not_null(vm.technique);
    dashboard = calloc(1, sizeof *dashboard);
    cr_assert_not_null(dashboard);
    dashboard->vm = &vm;
    table_init(&dashboard->table);
    console_pane_init(&dashboard->console);
    cr_assert_eq(pipe2(guest_input, O_NONBLOCK), 0);
    dashboard->console_to_guest = guest_input[1];
}

static void teardown(void)
{
    close(guest_input[0]);
    close(guest_input[1]);
    free(dashboard);
}

static void press(const char *keys)
{
    for (; *keys; keys++)
        dashboard_handle_key(dashboard, (unsigned char)*keys);
}

TestSuite(dashboard_keys, .init = setup, .fini = teardown);

Test(dashboard_keys, techniques_not_built_say_so)
{
    for (int key = 0; key < DASHBOARD_TECHNIQUE_KEYS; key++) {
        const char *name = dashboard_technique_keys[key];
        if (technique_find(name))
            continue;
        dashboard_handle_key(dashboard, '1' + key);
        char expected[64];
        snprintf(expected, sizeof expected, "%s: not implemented yet", name);
        cr_assert_str_eq(dashboard->status, expected);
        cr_assert_null(atomic_load(&vm.switch_request), "nothing is asked of the VM");
    }
    press("1");
    cr_assert_str_eq(dashboard->status, "already running on interp");
}

Test(dashboard_keys, an_available_technique_is_requested)
{
    const struct technique *hvm = technique_find("hvm");
    char why[256] = "";
    if (!hvm || (hvm->available && !hvm->available(why, sizeof why))) {
        press("4");
        cr_assert(strstr(dashboard->status, "hvm"), "%s", dashboard->status);
        cr_assert_null(atomic_load(&vm.switch_request));
        return;
    }
    press("4");
    cr_assert_eq(atomic_load(&vm.switch_request), hvm);
    cr_assert(strstr(dashboard->status, "switching to hvm"), "%s", dashboard->status);
}

Test(dashboard_keys, pause_step_and_quit)
{
    press("p");
    cr_assert(atomic_load(&vm.paused));
    press("p");
    cr_assert_not(atomic_load(&vm.paused));
    press("s");
    if (vm.technique->can_single_step) {
        cr_assert(atomic_load(&vm.paused), "s pauses first");
        press("s");
        cr_assert_eq(atomic_load(&vm.step_requests), 1);
    } else {
        cr_assert_str_eq(dashboard->status, "single step: not supported by interp");
        cr_assert_eq(atomic_load(&vm.step_requests), 0);
    }
    press("q");
    cr_assert(dashboard->quit);
    cr_assert(atomic_load(&vm.stop_requested));
    cr_assert_eq(vm.exit_status, VMLAB_STATUS_SIGNAL);
}

Test(dashboard_keys, table_keys_change_the_view_only)
{
    press("oz");
    cr_assert_eq(dashboard->table.sort, TABLE_SORT_RATE);
    cr_assert(dashboard->table.hide_zeros);
    press("fio");
    cr_assert(dashboard->editing_filter);
    cr_assert_str_eq(dashboard->table.filter, "", "applied only on Enter");
    dashboard_handle_key(dashboard, KEY_BACKSPACE);
    press("o\r");
    cr_assert_not(dashboard->editing_filter);
    cr_assert_str_eq(dashboard->table.filter, "io");
    press("f\x1b");
    cr_assert_str_eq(dashboard->table.filter, "io", "Esc cancels");
    press("r");
    cr_assert(strstr(dashboard->status, "counters reset"));
    press("h");
    cr_assert(dashboard->show_help);
    press("x");
    cr_assert_not(dashboard->show_help, "any key closes the help");
    cr_assert_not(atomic_load(&vm.stop_requested));
}

Test(dashboard_keys, tab_gives_the_keyboard_to_the_guest)
{
    press("\tticks\rq");
    cr_assert(dashboard->console_focus);
    cr_assert_not(dashboard->quit, "q is the guest's while the console has the keyboard");
    press("\t");
    cr_assert_not(dashboard->console_focus);
    char received[16] = "";
    cr_assert_eq(read(guest_input[0], received, sizeof received - 1), 7);
    cr_assert_str_eq(received, "ticks\rq");
}
