/*
 * debug_exit.h - QEMU's isa-debug-exit device, as configured for vmlab
 * guests (-device isa-debug-exit,iobase=0xf4,iosize=0x04): a write of value v
 * to any of its ports asks the VMM to exit with status (v << 1) | 1. The
 * status is always odd, so a guest cannot fake one of the VMM's own
 * (even) statuses. Reads return 0, as in QEMU.
 */
#ifndef VMLAB_DEBUG_EXIT_H
#define VMLAB_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"

#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_IOSIZE 4

struct debug_exit {
    int status;          /* valid once requested is set */
    uint32_t value;      /* what the guest wrote */
    bool requested;
    void (*on_exit)(void *ctx, int status);
    void *ctx;
};

void debug_exit_init(struct debug_exit *device, void (*on_exit)(void *, int), void *ctx);
/* Claims DEBUG_EXIT_IOSIZE ports from port. Returns 0 or -1. */
int debug_exit_register(struct debug_exit *device, struct bus *bus, uint16_t port);
/* (value << 1) | 1, kept within a non-negative int. */
int debug_exit_status(uint32_t value);

#endif
