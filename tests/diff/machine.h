/*
 * machine.h - the guest machine a sequence runs in, for the two sides that
 * emulate one: the interpreter's core (interp_runner.c) and the bt
 * technique (bt_runner.c).
 *
 * Both put the region of layout.h at the same physical addresses in their
 * guest RAM and build the same CPU state from a struct interp_setup: flat
 * 32-bit protected mode, paging off or an identity mapping through 4 KiB
 * or 4 MiB pages (SDM vol. 3, 4.3), CPL 0 or 3 with the host's selectors,
 * maybe one read-only or absent data page. The IDT is empty (limit 0), so
 * an exception cannot be delivered: under bt it becomes a triple fault
 * that ends the run with the state the faulting instruction left
 * (bt_runner.c), and nothing is pushed on the compared stack.
 */
#ifndef VMLAB_DIFF_MACHINE_H
#define VMLAB_DIFF_MACHINE_H

#include <stdint.h>

#include "core/cpu.h"
#include "layout.h"

/* Guest RAM just large enough to hold the region at its own addresses. */
#define MACHINE_RAM_SIZE (DIFF_REGION_BASE + DIFF_REGION_SIZE)

/* Writes both identity-mapping page directories and their tables into
 * guest RAM (ram points at physical address 0, MACHINE_RAM_SIZE bytes). */
void machine_build_page_tables(uint8_t *ram);

/* The memory side of setup: the PTEs of the read-only page candidates
 * (layout.h) and the TSS's I/O map base. */
void machine_prepare(uint8_t *ram, struct interp_setup setup);

/* The CPU state for one run: flat protected mode, paging and CPL as setup
 * says, the registers and EFLAGS of initial, EIP at CODE_BASE, an empty
 * IDT. */
void machine_reset(struct cpu *cpu, const struct machine_state *initial, struct interp_setup setup);

/* Copies the code, then `filler` bytes (end_length of them) after it, and
 * both data areas into guest RAM. */
void machine_load(uint8_t *ram, const uint8_t *code, unsigned length, const uint8_t *filler,
                  unsigned end_length, const uint8_t *data);
/* Copies only the data areas (data: DATA_BUFFER_SIZE bytes). */
void machine_load_data(uint8_t *ram, const uint8_t *data);

#endif
