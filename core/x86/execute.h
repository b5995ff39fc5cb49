/*
 * execute.h - executing one decoded instruction on a struct emulator.
 *
 * The executor is the instruction semantics: it reads and writes registers
 * and guest memory, computes results and flags, and calls the system
 * architecture (system.h) for everything with protection rules. It is used
 * by the interpreter for every instruction and can be used by the other
 * techniques to emulate a single trapped one.
 *
 * Contract with the caller:
 *   - before x86_execute: emulator->instruction_eip = the instruction's EIP,
 *     cpu->eip = the address of the next instruction, emulator->fault points
 *     at a jmp_buf that will catch x86_raise();
 *   - after a fault (longjmp) the lazy flags are still consistent: the
 *     faulting instruction has not recorded flags yet (results are stored
 *     before flags are recorded);
 *   - x86_executor_sync_flags() before anyone else reads cpu->eflags.
 */
#ifndef VMLAB_X86_EXECUTE_H
#define VMLAB_X86_EXECUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "emulator.h"
#include "flags.h"

struct x86_executor {
    struct emulator *emulator;
    struct cpu *cpu;
    struct lazy_flags flags;

    /* Optional: one statistics row per I/O port, looked up on first use. */
    struct stats_counter **port_counters;

    /* Optional: segment registers (bit 1 << enum segment_register) that are
     * flat - base 0, limit 4 GiB, usable for reads / for writes - so that
     * a data access through them skips the segment checks. Zero (the
     * default) is always correct. A caller that sets them with
     * x86_executor_note_flat_segments must clear them before anything can
     * load a segment register (far transfers, IRET, MOV/POP to a segment
     * register, event delivery, the core between runs) and may set them
     * again once that is over. */
    uint8_t flat_reads, flat_writes;
    /* CPL == 3 when the flat bits were noted. Valid while any flat bit is
     * set: the CPL changes only with CS, and nothing may load CS while they
     * are set (see above), so a flat access skips cpu_cpl(). */
    bool flat_user;
    /* The TLB table (tlb.h: emulator->tlb.user or .supervisor) for that
     * CPL, so that a flat access goes straight to its entry. Valid under
     * the same condition as flat_user. */
    struct tlb_entry *flat_table;
};

/* Ready an emulator and its executor to run instructions on `cpu`, with
 * guest RAM, the bus and the statistics rows; everything else starts at
 * zero (no fault landing, no code-cache hook), the TLB empty and no lazy
 * flags pending (cpu->eflags is the truth). interp, trapemu and hvm's
 * emulation path, and the tests, all start here. */
void x86_executor_init(struct x86_executor *executor, struct emulator *emulator, struct cpu *cpu,
                       struct guest_ram *ram, struct bus *bus, struct stats *stats);

/* Set flat_reads and flat_writes from the current segment registers. */
void x86_executor_note_flat_segments(struct x86_executor *executor);

static inline void x86_executor_forget_flat_segments(struct x86_executor *executor)
{
    executor->flat_reads = executor->flat_writes = 0;
}

enum x86_step {
    STEP_DONE,          /* next instruction at cpu->eip */
    STEP_HALT,          /* HLT executed: cpu->halted is set */
    STEP_SHUTDOWN,      /* a software interrupt's delivery shut the CPU down */
};

/* Execute one decoded instruction (see the contract above). Faults longjmp. */
typedef enum x86_step (*x86_handler)(struct x86_executor *executor,
                                     const struct x86_instruction *insn);

/* The handler for an instruction, specialised for its form where one
 * exists; calling it is the same as x86_execute(). Callers that cache
 * decoded instructions cache the handler with them. */
x86_handler x86_select_handler(const struct x86_instruction *insn);

enum x86_step x86_execute(struct x86_executor *executor, const struct x86_instruction *insn);

/* Make cpu->eflags authoritative (before system.h reads it). */
static inline void x86_executor_sync_flags(struct x86_executor *executor)
{
    flags_materialize(&executor->flags, &executor->cpu->eflags);
}

/* Fetch and decode the instruction at CS:EIP, as the CPU does: raises #PF
 * or #GP for the bytes it cannot fetch, #GP(0) past 15 bytes (SDM vol. 2,
 * 2.3.11) and #UD for an invalid encoding. Used by the techniques that
 * emulate one instruction at a time (hvm's fallback, trapemu's traps). */
void x86_fetch_and_decode(struct emulator *emulator, struct x86_instruction *instruction);

/* The CPUID leaves vmlab reports (documented in execute_system.c). */
void x86_cpuid(uint32_t leaf, uint32_t out[4]);

#endif
