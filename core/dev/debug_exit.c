/*
 * debug_exit.c - QEMU's isa-debug-exit: the guest's way to end the run with
 * a status (used by test guests, where there is no ACPI power-off).
 */
#include "debug_exit.h"

#include <limits.h>

/*
 * QEMU passes (v << 1) | 1 to exit(); the shell only sees its low 8 bits.
 * vmlab returns the status from main too, so the low 8 bits agree with
 * QEMU's for every v; bit 31 is cleared to keep the int non-negative (a
 * 32-bit v shifted left does not fit an int otherwise).
 */
int debug_exit_status(uint32_t value)
{
    return (int)((((uint64_t)value << 1) | 1) & INT_MAX);
}

static uint32_t debug_exit_read(void *device, uint16_t port, unsigned size)
{
    (void)device, (void)port, (void)size;
    return 0;
}

/* Any port of the range and any width: QEMU ignores the address and takes
 * the value as written. QEMU exits on the first write, so a second write
 * made before the VMM stops the CPU cannot change the status. */
static void debug_exit_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct debug_exit *exit_device = device;
    (void)port, (void)size;
    if (exit_device->requested)
        return;
    exit_device->value = value;
    exit_device->status = debug_exit_status(value);
    exit_device->requested = true;
    if (exit_device->on_exit)
        exit_device->on_exit(exit_device->ctx, exit_device->status);
}

void debug_exit_init(struct debug_exit *device, void (*on_exit)(void *, int), void *ctx)
{
    *device = (struct debug_exit){ .on_exit = on_exit, .ctx = ctx };
}

int debug_exit_register(struct debug_exit *device, struct bus *bus, uint16_t port)
{
    return bus_register_ports(bus, port, DEBUG_EXIT_IOSIZE, "isa-debug-exit", device,
                              debug_exit_read, debug_exit_write);
}
