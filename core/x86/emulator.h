/*
 * emulator.h - what the x86 instruction semantics operate on.
 *
 * core/x86 is the CPU in C: the decoder, the instruction semantics, the
 * segmentation and paging rules, exception and interrupt delivery. The
 * interpreter runs every instruction through it; the direct-execution
 * techniques call it to emulate the one instruction that trapped. Both build
 * a struct emulator around the VM's CPU state, memory and bus.
 *
 * Faults: an instruction that faults calls x86_raise(), which records the
 * exception and longjmps to emulator->fault. The instruction has then had no
 * architectural effect except what the SDM says a faulting instruction
 * leaves behind (nothing, for the instructions we model), so the catcher
 * resets EIP to the start of the instruction and delivers the exception.
 */
#ifndef VMLAB_EMULATOR_H
#define VMLAB_EMULATOR_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "../cpu.h"
#include "../dev/bus.h"
#include "../mem.h"
#include "../stats.h"
#include "tlb.h"

struct emulator;
struct pv;

/* What the VMM changed in the guest's paging (emulator->paging_changed). */
enum paging_change {
    PAGING_ENTRY_WRITTEN,    /* address: the guest-physical address of the entry */
    PAGING_INVLPG,           /* address: the linear address */
    PAGING_FLUSH,            /* the whole TLB (address unused) */
};

struct emulator {
    struct cpu *cpu;
    struct guest_ram *ram;
    struct bus *bus;
    struct stats *stats;
    struct tlb tlb;

    /* Where x86_raise() longjmps. Set by whoever runs instructions. */
    jmp_buf *fault;
    /* The exception being raised, valid after the longjmp. */
    int fault_vector;
    bool fault_has_error_code;
    uint32_t fault_error_code;

    /* EIP of the first byte of the instruction being executed. */
    uint32_t instruction_eip;

    /* Set by event delivery when the CPU shuts down; the report names the
     * faults involved and the EIP, for the user. */
    bool triple_fault;
    char triple_fault_report[256];

    /* A write hit a physical page marked PAGE_FLAG_CODE: the decoded-code
     * cache (if any) must drop that page. May be NULL. */
    void (*code_written)(struct emulator *emulator, uint32_t physical_page);
    void *code_cache;

    /* The VMM changed the guest's paging entries or TLB itself, on the
     * guest's behalf (pv's mmu_update writes the entry at a guest-physical
     * address; mmuext's INVLPG and flush name a linear page, or all): a
     * technique that mirrors the tables in host mappings (bt's shadow)
     * must follow. May be NULL. */
    void (*paging_changed)(struct emulator *emulator, enum paging_change change,
                           uint32_t address);

    /* Set (by pv_attach_emulator) when the VM runs a pv guest: an OUT to
     * PV_HYPERCALL_PORT is then a hypercall, not port I/O, and page-fault
     * delivery tells the guest CR2. Calls, not a link to core/pv, so that
     * core/x86 stands alone (tests/diff links it without the rest). */
    struct pv *pv;
    void (*pv_hypercall)(struct pv *pv, struct emulator *emulator);
    void (*pv_page_fault)(struct pv *pv, uint32_t cr2);
    /* Where statistics rows are counted; the run loop fills these. */
    struct stats_counter *exception_counters[32];
};

#endif
