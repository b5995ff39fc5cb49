/*
 * execute_string.c - MOVS CMPS STOS LODS SCAS INS OUTS and their REP forms
 * (SDM vol. 2, "REP/REPE/REPZ/REPNE/REPNZ").
 *
 * The source is seg:(E)SI with seg = DS unless overridden; the destination
 * is always ES:(E)DI. The address size picks SI/DI/CX or ESI/EDI/ECX.
 * EFLAGS.DF chooses the direction.
 *
 * A repeated instruction runs at most REPEAT_BUDGET iterations per call and
 * then leaves EIP at itself, with ECX/ESI/EDI describing the remaining
 * work - exactly the state an interrupt between iterations leaves on real
 * hardware - so a long REP MOVS cannot keep interrupts out.
 */
#include "execute_internal.h"

#define REPEAT_BUDGET 4096u

static void advance(struct cpu *cpu, unsigned address_size, unsigned reg, uint32_t delta)
{
    register_write(cpu, address_size, reg, register_read(cpu, address_size, reg) + delta);
}

/* One iteration. Returns false when a REPE/REPNE condition ends the loop. */
static void iterate(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size, asize = insn->address_size;
    uint32_t delta = (cpu->eflags & EFLAGS_DF) ? 0u - size : size;
    uint32_t source = register_read(cpu, asize, REG_ESI);
    uint32_t destination = register_read(cpu, asize, REG_EDI);
    uint32_t a, b;

    switch (insn->operation) {
    case OP_MOVS:
        a = memory_read(executor, insn->segment, source, size);
        memory_write(executor, SEG_ES, destination, size, a);
        advance(cpu, asize, REG_ESI, delta);
        advance(cpu, asize, REG_EDI, delta);
        break;
    case OP_CMPS:
        a = memory_read(executor, insn->segment, source, size);
        b = memory_read(executor, SEG_ES, destination, size);
        advance(cpu, asize, REG_ESI, delta);
        advance(cpu, asize, REG_EDI, delta);
        alu_binary(&executor->flags, cpu->eflags, ALU_CMP, size, a, b);
        break;
    case OP_STOS:
        memory_write(executor, SEG_ES, destination, size, register_read(cpu, size, REG_EAX));
        advance(cpu, asize, REG_EDI, delta);
        break;
    case OP_LODS:
        a = memory_read(executor, insn->segment, source, size);
        register_write(cpu, size, REG_EAX, a);
        advance(cpu, asize, REG_ESI, delta);
        break;
    case OP_SCAS:
        b = memory_read(executor, SEG_ES, destination, size);
        advance(cpu, asize, REG_EDI, delta);
        alu_binary(&executor->flags, cpu->eflags, ALU_CMP, size, register_read(cpu, size, REG_EAX), b);
        break;
    case OP_INS: {
        uint16_t port = (uint16_t)cpu->regs[REG_EDX];
        /* The I/O permission comes before any memory access (SDM vol. 2 INS
         * "Operation"): a denied port is #GP(0) even if ES:EDI would fault.
         * Then the destination, so a fault does not lose port data. */
        x86_check_io_permission(executor->emulator, port, size);
        x86_check_write(executor->emulator, SEG_ES, destination, size);
        a = execute_port_read(executor, port, size);
        memory_write(executor, SEG_ES, destination, size, a);
        advance(cpu, asize, REG_EDI, delta);
        break;
    }
    case OP_OUTS: {
        uint16_t port = (uint16_t)cpu->regs[REG_EDX];
        x86_check_io_permission(executor->emulator, port, size);   /* before the read, as INS */
        a = memory_read(executor, insn->segment, source, size);
        execute_port_write(executor, port, size, a);
        advance(cpu, asize, REG_ESI, delta);
        break;
    }
    }
}

enum x86_step execute_string(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned asize = insn->address_size;
    if (insn->repeat == REPEAT_NONE) {
        iterate(executor, insn);
        return STEP_DONE;
    }
    bool compares = insn->operation == OP_CMPS || insn->operation == OP_SCAS;
    for (unsigned budget = REPEAT_BUDGET; budget; budget--) {
        uint32_t count = register_read(cpu, asize, REG_ECX);
        if (count == 0)
            return STEP_DONE;
        iterate(executor, insn);
        register_write(cpu, asize, REG_ECX, count - 1);
        /* REPE stops when ZF = 0, REPNE when ZF = 1 (checked after the count). */
        if (compares && count - 1 != 0 &&
            condition_holds(executor, insn->repeat == REPEAT_REPE ? CC_NE : CC_E))
            return STEP_DONE;
    }
    if (register_read(cpu, asize, REG_ECX) != 0)
        cpu->eip = executor->emulator->instruction_eip;   /* resume later */
    return STEP_DONE;
}
