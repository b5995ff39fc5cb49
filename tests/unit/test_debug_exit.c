/*
 * test_debug_exit.c - isa-debug-exit: the status arithmetic and the callback.
 */
#include <criterion/criterion.h>

#include "core/dev/bus.h"
#include "core/dev/debug_exit.h"

struct exit_log {
    int calls;
    int status;
};

static void record_exit(void *ctx, int status)
{
    struct exit_log *log = ctx;
    log->calls++;
    log->status = status;
}

Test(debug_exit, status_is_value_shifted_left_plus_one)
{
    cr_assert_eq(debug_exit_status(0), 1);
    cr_assert_eq(debug_exit_status(1), 3);
    cr_assert_eq(debug_exit_status(0x10), 0x21);
    cr_assert_eq(debug_exit_status(0x7f), 0xff);
    cr_assert_eq(debug_exit_status(0xffffffffu) & 0xff, 0xff, "low byte as QEMU's exit()");
    cr_assert_geq(debug_exit_status(0xffffffffu), 0);
}

Test(debug_exit, a_guest_write_requests_the_exit_once)
{
    struct bus bus = {0};
    struct debug_exit device;
    struct exit_log log = {0};
    debug_exit_init(&device, record_exit, &log);
    cr_assert_eq(debug_exit_register(&device, &bus, DEBUG_EXIT_PORT), 0);
    cr_assert_not(device.requested);
    bus_port_write(&bus, 0xf4, 1, 0x05);
    cr_assert(device.requested);
    cr_assert_eq(device.status, 11);
    cr_assert_eq(log.calls, 1);
    cr_assert_eq(log.status, 11);
    bus_port_write(&bus, 0xf4, 1, 0x00);
    cr_assert_eq(device.status, 11, "the first exit wins, as in QEMU");
    cr_assert_eq(log.calls, 1);
}

Test(debug_exit, covers_four_ports_and_any_width)
{
    struct bus bus = {0};
    struct debug_exit device;
    debug_exit_init(&device, NULL, NULL);
    debug_exit_register(&device, &bus, DEBUG_EXIT_PORT);
    cr_assert_str_eq(bus_find_port(&bus, 0xf7)->name, "isa-debug-exit");
    cr_assert_null(bus_find_port(&bus, 0xf8));
    cr_assert_eq(bus_port_read(&bus, 0xf4, 4), 0);
    bus_port_write(&bus, 0xf6, 2, 0x0102);
    cr_assert(device.requested, "no callback needed");
    cr_assert_eq(device.status, 0x0205);
}
