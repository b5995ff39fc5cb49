/*
 * test_bus.c - the port bus: registration, overlap rejection, unclaimed
 * ports, wide accesses, and the MMIO map.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/dev/bus.h"

/* A device that records the accesses it sees. */
struct recording_device {
    int reads, writes;
    uint16_t last_port;
    unsigned last_size;
    uint32_t last_value;
    uint32_t read_value;
};

static uint32_t record_read(void *device, uint16_t port, unsigned size)
{
    struct recording_device *d = device;
    d->reads++;
    d->last_port = port;
    d->last_size = size;
    return d->read_value;
}

static void record_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct recording_device *d = device;
    d->writes++;
    d->last_port = port;
    d->last_size = size;
    d->last_value = value;
}

struct unclaimed_log {
    int count;
    uint16_t last_port;
    bool last_is_write;
};

static void log_unclaimed(void *context, uint16_t port, bool is_write)
{
    struct unclaimed_log *log = context;
    log->count++;
    log->last_port = port;
    log->last_is_write = is_write;
}

Test(bus, registers_disjoint_ranges_and_finds_them)
{
    struct bus bus = {0};
    struct recording_device a = {0}, b = {0};
    cr_assert_eq(bus_register_ports(&bus, 0x20, 2, "a", &a, record_read, record_write), 0);
    cr_assert_eq(bus_register_ports(&bus, 0x22, 2, "b", &b, record_read, record_write), 0);
    cr_assert_eq(bus_find_port(&bus, 0x21)->device, &a);
    cr_assert_eq(bus_find_port(&bus, 0x22)->device, &b);
    cr_assert_str_eq(bus_find_port(&bus, 0x23)->name, "b");
    cr_assert_null(bus_find_port(&bus, 0x24));
    cr_assert_null(bus_find_port(&bus, 0x1f));
}

Test(bus, rejects_overlapping_ranges)
{
    struct bus bus = {0};
    struct recording_device a = {0};
    cr_assert_eq(bus_register_ports(&bus, 0x40, 4, "pit", &a, record_read, record_write), 0);
    cr_assert_eq(bus_register_ports(&bus, 0x43, 1, "end", &a, record_read, record_write), -1);
    cr_assert_eq(bus_register_ports(&bus, 0x3e, 3, "start", &a, record_read, record_write), -1);
    cr_assert_eq(bus_register_ports(&bus, 0x30, 0x20, "around", &a, record_read, record_write), -1);
    cr_assert_eq(bus_register_ports(&bus, 0x41, 1, "inside", &a, record_read, record_write), -1);
    cr_assert_eq(bus.port_count, 1);
    cr_assert_eq(bus_register_ports(&bus, 0x44, 1, "after", &a, record_read, record_write), 0);
}

Test(bus, rejects_empty_wrapping_and_overflowing_tables)
{
    struct bus bus = {0};
    struct recording_device a = {0};
    cr_assert_eq(bus_register_ports(&bus, 0x10, 0, "empty", &a, record_read, record_write), -1);
    cr_assert_eq(bus_register_ports(&bus, 0xfffe, 4, "wraps", &a, record_read, record_write), -1);
    cr_assert_eq(bus_register_ports(&bus, 0xfffe, 2, "top", &a, record_read, record_write), 0);
    for (int i = 1; i < BUS_MAX_PORT_RANGES; i++)
        cr_assert_eq(bus_register_ports(&bus, (uint16_t)(i * 8), 1, "x", &a, record_read,
                                        record_write), 0);
    cr_assert_eq(bus_register_ports(&bus, 0x1000, 1, "full", &a, record_read, record_write), -1);
}

Test(bus, unclaimed_ports_read_all_ones_and_are_reported)
{
    struct bus bus = {0};
    struct unclaimed_log log = {0};
    cr_assert_eq(bus_port_read(&bus, 0x80, 1), 0xff);
    bus.unclaimed = log_unclaimed;
    bus.unclaimed_context = &log;
    cr_assert_eq(bus_port_read(&bus, 0x80, 1), 0xff);
    cr_assert_eq(log.count, 1);
    cr_assert_eq(log.last_port, 0x80);
    cr_assert_eq(log.last_is_write, false);
    cr_assert_eq(bus_port_read(&bus, 0x80, 2), 0xffff);
    cr_assert_eq(bus_port_read(&bus, 0x80, 4), 0xffffffffu);
    bus_port_write(&bus, 0x99, 1, 0x12);
    cr_assert_eq(log.last_port, 0x99);
    cr_assert_eq(log.last_is_write, true);
}

Test(bus, byte_access_reaches_the_device)
{
    struct bus bus = {0};
    struct recording_device d = { .read_value = 0x1234 };
    bus_register_ports(&bus, 0x3f8, 8, "uart", &d, record_read, record_write);
    cr_assert_eq(bus_port_read(&bus, 0x3fd, 1), 0x34, "masked to the access size");
    cr_assert_eq(d.last_port, 0x3fd);
    cr_assert_eq(d.last_size, 1);
    bus_port_write(&bus, 0x3f8, 1, 0x141);
    cr_assert_eq(d.last_value, 0x41, "masked to the access size");
}

Test(bus, wide_access_inside_one_device_is_one_call)
{
    struct bus bus = {0};
    struct recording_device d = { .read_value = 0xdeadbeef };
    bus_register_ports(&bus, 0x1f0, 8, "ata", &d, record_read, record_write);
    cr_assert_eq(bus_port_read(&bus, 0x1f0, 4), 0xdeadbeef);
    cr_assert_eq(d.reads, 1);
    cr_assert_eq(d.last_size, 4);
    bus_port_write(&bus, 0x1f0, 2, 0xabcd);
    cr_assert_eq(d.writes, 1);
    cr_assert_eq(d.last_size, 2);
    cr_assert_eq(d.last_value, 0xabcd);
}

Test(bus, wide_access_across_a_range_end_is_split_into_bytes)
{
    struct bus bus = {0};
    struct unclaimed_log log = {0};
    struct recording_device d = { .read_value = 0x5a };
    bus.unclaimed = log_unclaimed;
    bus.unclaimed_context = &log;
    bus_register_ports(&bus, 0x60, 2, "two", &d, record_read, record_write);
    cr_assert_eq(bus_port_read(&bus, 0x61, 4), 0xffffff5a);
    cr_assert_eq(d.reads, 1);
    cr_assert_eq(d.last_size, 1);
    cr_assert_eq(log.count, 3);
    bus_port_write(&bus, 0x5f, 2, 0x1122);
    cr_assert_eq(d.writes, 1);
    cr_assert_eq(d.last_port, 0x60);
    cr_assert_eq(d.last_value, 0x11);
}

Test(bus, invalid_sizes_never_reach_a_device)
{
    struct bus bus = {0};
    struct recording_device d = {0};
    bus_register_ports(&bus, 0x70, 2, "rtc", &d, record_read, record_write);
    cr_assert_eq(bus_port_read(&bus, 0x70, 3), 0xffffffffu);
    bus_port_write(&bus, 0x70, 0, 1);
    bus_port_write(&bus, 0x70, 8, 1);
    cr_assert_eq(d.reads + d.writes, 0);
}

Test(bus, device_without_read_callback_reads_open_bus)
{
    struct bus bus = {0};
    struct recording_device d = {0};
    bus_register_ports(&bus, 0x80, 1, "post", &d, NULL, record_write);
    cr_assert_eq(bus_port_read(&bus, 0x80, 1), 0xff);
    bus_port_write(&bus, 0x80, 1, 7);
    cr_assert_eq(d.last_value, 7);
}

Test(bus, mmio_ranges_register_find_and_reject_overlap)
{
    struct bus bus = {0};
    int device;
    cr_assert_eq(bus_register_mmio(&bus, 0xfee00000, 0x1000, "lapic", &device, NULL, NULL), 0);
    cr_assert_eq(bus_register_mmio(&bus, 0xfee00800, 0x1000, "overlap", &device, NULL, NULL), -1);
    cr_assert_eq(bus_register_mmio(&bus, 0xfffff000, 0x2000, "wraps", &device, NULL, NULL), -1);
    cr_assert_eq(bus_register_mmio(&bus, 0xfec00000, 0, "empty", &device, NULL, NULL), -1);
    cr_assert_eq(bus_register_mmio(&bus, 0xfffff000, 0x1000, "top", &device, NULL, NULL), 0);
    cr_assert_str_eq(bus_find_mmio(&bus, 0xfee00fff)->name, "lapic");
    cr_assert_null(bus_find_mmio(&bus, 0xfee01000));
    cr_assert_str_eq(bus_find_mmio(&bus, 0xffffffff)->name, "top");
}
