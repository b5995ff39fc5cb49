/*
 * dashboard_disasm.h - the guest instruction at an event's EIP, for the
 * event log: read from guest RAM without the CPU's help and disassembled
 * with Capstone.
 *
 * The read is best effort and must never fault: with paging on, the guest's
 * page tables are walked by hand in vm->ram (4 KiB and 4 MiB pages, as the
 * core models them), and anything that is not present or not RAM ends the
 * read. The CR3 used is the current one, which may not be the one of the
 * event (the log shows recent events, often in the same address space).
 * No ncurses here.
 */
#ifndef VMLAB_DASHBOARD_DISASM_H
#define VMLAB_DASHBOARD_DISASM_H

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"

/* The paging state to translate with (copied from struct cpu). */
struct guest_view {
    const struct guest_ram *ram;
    uint32_t cr0, cr3, cr4;
    uint32_t code_base;          /* CS base: linear = code_base + EIP */
};

/* Copies up to length bytes at linear address `linear`; stops at the first
 * byte that is not mapped or not RAM. Returns the bytes copied. */
size_t guest_read_linear(const struct guest_view *view, uint32_t linear, uint8_t *out,
                         size_t length);

struct disassembler {
    csh handle;
    bool open;
};

/* Returns 0, or -1 if Capstone cannot be opened (then everything is "?"). */
int disassembler_open(struct disassembler *disassembler);
void disassembler_close(struct disassembler *disassembler);
/* "in al, dx" for the instruction at EIP, or "?" if it cannot be read or
 * decoded. */
void disassemble_guest(struct disassembler *disassembler, const struct guest_view *view,
                       uint32_t eip, char *out, size_t length);

#endif
