/*
 * callout.c - one guest instruction executed by the core emulator.
 *
 * Whatever the translator does not emit as host code - everything
 * sensitive (cli, sti, in, out, mov to CR3, iret, ...), everything 64-bit
 * mode lacks, and any instruction that faulted in translated code - ends
 * its block, and the run loop calls bt_emulate_instruction: the guest
 * registers are already back in struct cpu (enter.c wrote them to the
 * context, bt.c to the cpu), the core's executor runs the one instruction
 * on the virtual CPU exactly as interp would, and translated code resumes
 * from the new EIP. A guest fault longjmps back here and is delivered
 * through the guest's IDT (x86_deliver_event), with EIP at the faulting
 * instruction (SDM vol. 3, 6.5: faults are reported before the
 * instruction).
 *
 * Each callout is counted under bt-callout/<what the instruction is>.
 */
#include <setjmp.h>
#include <stdio.h>

#include "bt_internal.h"
#include "core/vm.h"
#include "core/x86/system.h"

struct stats_counter *bt_row(struct bt *bt, const char *category, const char *reason)
{
    /* Rows are kept by the address of their (static) reason string: a
     * callout must not pay for a search of the whole table by name. */
    bool fallback = category[3] == 'f';
    size_t slots = fallback ? sizeof bt->fallback_rows / sizeof bt->fallback_rows[0]
                            : sizeof bt->callout_rows / sizeof bt->callout_rows[0];
    for (size_t i = 0; i < slots; i++) {
        const char **slot_reason = fallback ? &bt->fallback_rows[i].reason : &bt->callout_rows[i].reason;
        struct stats_counter **row = fallback ? &bt->fallback_rows[i].row : &bt->callout_rows[i].row;
        if (*slot_reason == reason)
            return *row;
        if (!*slot_reason) {
            *slot_reason = reason;
            return *row = stats_counter(&bt->vm->stats, category, reason);
        }
    }
    return stats_counter(&bt->vm->stats, category, reason);
}

static const char *callout_reason(const struct x86_instruction *insn)
{
    static const char *const cr_names[8] = {"mov-cr0", "mov-cr1", "mov-cr2", "mov-cr3",
                                            "mov-cr4", "mov-cr5", "mov-cr6", "mov-cr7"};
    if (insn->segment_override && (insn->segment == SEG_FS || insn->segment == SEG_GS))
        return "fs-gs-access";
    switch (insn->operation) {
    case OP_IN_IMM: case OP_IN_DX: return "in";
    case OP_OUT_IMM: case OP_OUT_DX: return "out";
    case OP_MOV_CR_REG: return cr_names[insn->reg & 7];
    case OP_MOV_REG_CR: return "read-cr";
    case OP_MOV_SEG_RM: case OP_POP_SEG: case OP_LOAD_FAR_POINTER: return "mov-seg";
    case OP_JMP_FAR_IMM: case OP_JMP_FAR_MEM: return "far-jmp";
    case OP_CALL_FAR_IMM: case OP_CALL_FAR_MEM: return "far-call";
    case OP_RET_FAR: return "far-ret";
    default: return x86_operation_name(insn->operation);
    }
}

static void count_exception(struct bt *bt, int vector)
{
    struct emulator *e = &bt->emulator;
    vector &= 31;
    if (!e->exception_counters[vector])
        e->exception_counters[vector] =
            stats_counter(&bt->vm->stats, "guest-exception", x86_exception_name(vector));
    stats_log(&bt->vm->stats, e->exception_counters[vector], 0, stats_now_ns(),
              e->instruction_eip, NULL);
}

/* INVLPG's operand: the address itself, never read (SDM vol. 2, INVLPG). */
static uint32_t invlpg_address(const struct cpu *cpu, const struct x86_instruction *insn)
{
    uint32_t address = insn->displacement;
    if (insn->base != X86_NO_REGISTER)
        address += cpu->regs[insn->base];
    if (insn->index != X86_NO_REGISTER)
        address += cpu->regs[insn->index] << insn->scale;
    if (insn->address_size == 2)
        address &= 0xffff;
    return address + cpu->segments[insn->segment].base;
}

bool bt_emulate_instruction(struct bt *bt, const char **reason)
{
    struct emulator *e = &bt->emulator;
    struct cpu *cpu = e->cpu;
    struct x86_instruction insn;
    jmp_buf landing;

    e->fault = &landing;
    bt->executor.flags.operation = FLAGS_KNOWN;    /* cpu->eflags is the truth here */
    if (setjmp(landing) != 0) {
        x86_executor_sync_flags(&bt->executor);
        cpu->eip = e->instruction_eip;
        count_exception(bt, e->fault_vector);
        if (!*reason)
            *reason = "guest-exception";
        e->fault = NULL;
        return x86_deliver_event(e, e->fault_vector, EVENT_FAULT, e->fault_has_error_code,
                                 e->fault_error_code);
    }
    e->instruction_eip = cpu->eip;
    x86_fetch_and_decode(e, &insn);
    if (!*reason)
        *reason = callout_reason(&insn);
    cpu->eip += insn.length;
    bool shadowed = cpu->interrupt_shadow;
    enum x86_step step = x86_execute(&bt->executor, &insn);
    x86_executor_sync_flags(&bt->executor);
    if (shadowed)
        cpu->interrupt_shadow = false;
    if (insn.operation == OP_INVLPG)
        shadow_invalidate_page(&bt->shadow, invlpg_address(cpu, &insn));
    bt->vm->stats.guest_instructions++;
    e->fault = NULL;
    return step != STEP_SHUTDOWN;
}
