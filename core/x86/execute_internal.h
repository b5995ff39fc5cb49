/*
 * execute_internal.h - helpers shared by the execute_*.c files: operands,
 * the stack, near jumps. Not for use outside core/x86/execute*.c.
 */
#ifndef VMLAB_X86_EXECUTE_INTERNAL_H
#define VMLAB_X86_EXECUTE_INTERNAL_H

#include "execute.h"
#include "execute_access.h"
#include "execute_alu.h"

/* ModRM memory operand offset (SDM vol. 2, 2.1.5); 16-bit addressing wraps
 * at 64 KiB. */
static inline uint32_t effective_address(const struct cpu *cpu, const struct x86_instruction *insn)
{
    uint32_t address = insn->displacement;
    if (insn->base >= 0)
        address += cpu->regs[insn->base];
    if (insn->index >= 0)
        address += cpu->regs[insn->index] << insn->scale;
    if (insn->address_size == 2)
        address &= 0xffff;
    return address;
}

static inline uint32_t operand_read(struct x86_executor *executor,
                                    const struct x86_instruction *insn, unsigned size)
{
    if (insn->has_memory)
        return memory_read(executor, insn->segment, effective_address(executor->cpu, insn), size);
    return register_read(executor->cpu, size, insn->rm);
}

static inline void operand_write(struct x86_executor *executor,
                                 const struct x86_instruction *insn, unsigned size, uint32_t value)
{
    if (insn->has_memory)
        memory_write(executor, insn->segment, effective_address(executor->cpu, insn), size, value);
    else
        register_write(executor->cpu, size, insn->rm, value);
}

/* The stack uses ESP or SP by SS.B (SDM vol. 3, 3.4.5). */
static inline bool stack_is_32bit(const struct cpu *cpu)
{
    return cpu->segments[SEG_SS].attributes & SEG_ATTR_DB;
}

static inline uint32_t stack_offset(const struct cpu *cpu, uint32_t esp)
{
    return stack_is_32bit(cpu) ? esp : esp & 0xffff;
}

/* ESP after moving it by delta, honouring a 16-bit stack. */
static inline uint32_t stack_moved(const struct cpu *cpu, uint32_t esp, uint32_t delta)
{
    if (stack_is_32bit(cpu))
        return esp + delta;
    return (esp & 0xffff0000u) | ((esp + delta) & 0xffff);
}

/* Write first, then move ESP: a faulting push leaves ESP unchanged. */
static inline void stack_push(struct x86_executor *executor, unsigned size, uint32_t value)
{
    struct cpu *cpu = executor->cpu;
    uint32_t esp = stack_moved(cpu, cpu->regs[REG_ESP], 0u - size);
    memory_write(executor, SEG_SS, stack_offset(cpu, esp), size, value);
    cpu->regs[REG_ESP] = esp;
}

static inline uint32_t stack_peek(struct x86_executor *executor, unsigned size, uint32_t depth)
{
    struct cpu *cpu = executor->cpu;
    uint32_t esp = stack_moved(cpu, cpu->regs[REG_ESP], depth);
    return memory_read(executor, SEG_SS, stack_offset(cpu, esp), size);
}

static inline uint32_t stack_pop(struct x86_executor *executor, unsigned size)
{
    uint32_t value = stack_peek(executor, size, 0);
    executor->cpu->regs[REG_ESP] = stack_moved(executor->cpu, executor->cpu->regs[REG_ESP], size);
    return value;
}

/* Near transfer: 16-bit operand size truncates EIP; a target beyond the CS
 * limit is #GP(0) (SDM vol. 2, JMP). */
static inline void jump_near(struct x86_executor *executor, uint32_t target, unsigned size)
{
    if (size == 2)
        target &= 0xffff;
    if (target > executor->cpu->segments[SEG_CS].limit)
        x86_raise(executor->emulator, EXC_GP, 0);
    executor->cpu->eip = target;
}

static inline bool condition_holds(struct x86_executor *executor, unsigned condition)
{
    return flags_condition(&executor->flags, executor->cpu->eflags, condition);
}

/* A handler specialised for the instruction's exact form (execute_fast.c),
 * or NULL if there is none. */
x86_handler x86_select_fast_handler(const struct x86_instruction *insn);

enum x86_step execute_string(struct x86_executor *executor, const struct x86_instruction *insn);
enum x86_step execute_system(struct x86_executor *executor, const struct x86_instruction *insn);
uint32_t execute_port_read(struct x86_executor *executor, uint16_t port, unsigned size);
void execute_port_write(struct x86_executor *executor, uint16_t port, unsigned size,
                        uint32_t value);

#endif
