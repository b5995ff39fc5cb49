/*
 * segment.c - segment register loads and control transfers between code
 * segments: MOV/POP Sreg, far JMP/CALL/RET (with call gates), IRET,
 * LLDT/LTR, and the descriptor probes LAR/LSL/VERR/VERW.
 *
 * Every function checks first and commits last: all checks that can fault
 * (descriptor reads, stack reads and writes) happen before the CPU state
 * changes, so a fault leaves the registers as they were (SDM vol. 3, 6.5).
 * Memory written before a fault (a partly built stack frame) stays written,
 * as on hardware.
 *
 * Task switches (JMP/CALL to a TSS or task gate, IRET with NT = 1) go to
 * task.c. Virtual-8086 mode is not implemented: it raises #GP and is
 * reported (statistics row "not-implemented", and stderr the first time).
 */
#include "descriptor.h"

#define TYPE_BUSY_TSS 0x2u   /* the B bit of a TSS descriptor's type */

static bool protected_mode(const struct cpu *cpu)
{
    return (cpu->cr0 & CR0_PE) && !(cpu->eflags & EFLAGS_VM);
}

/* ESP + n as the stack's B flag sees it: a 16-bit stack moves only SP. */
static uint32_t stack_pointer_add(const struct segment *ss, uint32_t esp, uint32_t n)
{
    if (ss->attributes & SEG_ATTR_DB)
        return esp + n;
    return (esp & 0xffff0000u) | ((esp + n) & 0xffffu);
}

static void current_stack(struct emulator *e, struct stack_cursor *stack)
{
    const struct cpu *cpu = e->cpu;
    /* Ordinary stack accesses fault with #SS(0) (SDM vol. 2, CALL/RET/IRET). */
    stack_cursor_init(stack, &cpu->segments[SEG_SS], cpu->regs[REG_ESP], cpu_cpl(cpu), EXC_SS, 0);
}

/* ---- MOV / POP to a segment register -------------------------------------- */

/* Real mode and virtual-8086 mode: the base is selector * 16 and nothing is
 * checked (SDM vol. 3, 20.1.1). A register left unusable by protected mode
 * becomes an ordinary 64 KiB read/write data segment. */
static void load_segment_real_mode(struct cpu *cpu, struct segment *s, uint16_t selector)
{
    s->selector = selector;
    s->base = (uint32_t)selector << 4;
    if (s->attributes & SEG_ATTR_UNUSABLE) {
        s->limit = 0xffff;
        s->attributes = SEG_ATTR_P | SEG_ATTR_S | 0x3u;
    }
    if (cpu->eflags & EFLAGS_VM) /* SDM vol. 3, 20.2.1: virtual-8086 segments have DPL 3 */
        s->attributes = SEG_ATTR_P | SEG_ATTR_S | 0x3u | (3u << 5);
}

/* SDM vol. 2, MOV: "IF SS is loaded" - not null, RPL = CPL, writable data
 * with DPL = CPL (else #GP(selector)), present (else #SS(selector)). */
static void load_stack_segment(struct emulator *e, uint16_t selector)
{
    struct cpu *cpu = e->cpu;
    unsigned cpl = cpu_cpl(cpu);
    struct descriptor d;

    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, EXC_GP, 0);
    descriptor_fetch_or_raise(e, selector, &d, EXC_GP, 0);
    if (SELECTOR_RPL(selector) != cpl || !attributes_is_writable_data(d.attributes) ||
        SEG_ATTR_DPL(d.attributes) != cpl)
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(d.attributes & SEG_ATTR_P))
        x86_raise(e, EXC_SS, SELECTOR_ERROR(selector));
    descriptor_set_accessed(e, selector, &d);
    segment_load_from_descriptor(&cpu->segments[SEG_SS], selector, &d);
}

/* SDM vol. 2, MOV: DS/ES/FS/GS. A null selector loads an unusable segment
 * (the fault comes on use, SDM vol. 3, 5.4.1). Otherwise data or readable
 * code; for data and non-conforming code, both RPL and CPL must be <= DPL
 * (#GP(selector)); present (#NP(selector)). */
static void load_data_segment(struct emulator *e, int segment, uint16_t selector)
{
    struct cpu *cpu = e->cpu;
    unsigned cpl = cpu_cpl(cpu);
    struct descriptor d;

    if (SELECTOR_IS_NULL(selector)) {
        segment_make_unusable(&cpu->segments[segment], selector);
        return;
    }
    descriptor_fetch_or_raise(e, selector, &d, EXC_GP, 0);
    if (!attributes_is_readable(d.attributes))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!attributes_is_conforming_code(d.attributes) &&
        (SELECTOR_RPL(selector) > SEG_ATTR_DPL(d.attributes) || cpl > SEG_ATTR_DPL(d.attributes)))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(d.attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
    descriptor_set_accessed(e, selector, &d);
    segment_load_from_descriptor(&cpu->segments[segment], selector, &d);
}

/*
 * A selector trapemu leaked into guest memory (see stand_in_selectors_leaked
 * in cpu.h): an LDT selector (TI = 1) while the guest has no LDT. A real CPU
 * would raise #GP on it (SDM vol. 3, 3.4.2: TI selects the LDT); it can only
 * be trapemu's stand-in for the GDT selector with TI clear, so we load that
 * one, and count it so the leak stays visible.
 */
static uint16_t undo_stand_in(struct emulator *e, uint16_t selector)
{
    struct cpu *cpu = e->cpu;
    bool no_ldt = (cpu->ldtr.attributes & SEG_ATTR_UNUSABLE) || (cpu->ldtr.selector & ~3u) == 0;
    if (!cpu->stand_in_selectors_leaked || !(selector & 4) || !no_ldt)
        return selector;
    if (e->stats)
        stats_count(stats_counter(e->stats, "leak", "trapemu-stand-in-selector"), 0);
    return (uint16_t)(selector & ~4u);
}

void x86_load_segment(struct emulator *e, int segment, uint16_t selector)
{
    struct cpu *cpu = e->cpu;

    if (segment < 0 || segment >= SEG_COUNT || segment == SEG_CS)
        x86_raise(e, EXC_UD, 0);       /* MOV CS is #UD (SDM vol. 2, MOV) */
    if (!protected_mode(cpu))
        load_segment_real_mode(cpu, &cpu->segments[segment], selector);
    else if (segment == SEG_SS)
        load_stack_segment(e, selector);
    else
        load_data_segment(e, segment, undo_stand_in(e, selector));
    /* SDM vol. 2, MOV: a load of SS inhibits interrupts until after the
     * next instruction, so SS:ESP can be changed as a pair. */
    if (segment == SEG_SS)
        cpu->interrupt_shadow = true;
}

/* ---- code segment targets ---------------------------------------------------- */

/* SDM vol. 2, JMP/CALL to a code segment at the same privilege: conforming
 * needs DPL <= CPL, non-conforming RPL <= CPL and DPL = CPL (#GP(selector));
 * present (#NP(selector)). */
static void check_direct_code_target(struct emulator *e, uint16_t selector,
                                     const struct descriptor *code)
{
    unsigned cpl = cpu_cpl(e->cpu);
    unsigned dpl = SEG_ATTR_DPL(code->attributes);

    bool allowed = attributes_is_conforming_code(code->attributes)
                       ? dpl <= cpl
                       : SELECTOR_RPL(selector) <= cpl && dpl == cpl;

    if (!allowed)
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(code->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
}

/* The code segment a call gate points to (SDM vol. 2, CALL, "CALL-GATE"):
 * not null (#GP(0)), code with DPL <= CPL (#GP(selector)), present. */
static void check_gate_code_target(struct emulator *e, uint16_t selector, struct descriptor *code)
{
    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, EXC_GP, 0);
    descriptor_fetch_or_raise(e, selector, code, EXC_GP, 0);
    if (!attributes_is_code(code->attributes) || SEG_ATTR_DPL(code->attributes) > cpu_cpl(e->cpu))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(code->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
}

/* The call gate itself: DPL >= CPL and DPL >= RPL (#GP(selector)), present
 * (#NP(selector)) (SDM vol. 3, 5.8.4). */
static void check_call_gate(struct emulator *e, uint16_t selector, const struct gate *gate)
{
    if (gate->dpl < cpu_cpl(e->cpu) || gate->dpl < SELECTOR_RPL(selector))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!gate->present)
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
}

/* The one commit of every far transfer: CS (with RPL = CPL) and EIP. The
 * offset was checked against the limit by the caller. Setting the accessed
 * bit can fault (#PF on a read-only GDT page), so it comes first and
 * callers change no register before this call; callers that also load SS
 * set both accessed bits before touching SS. */
static void enter_code_segment(struct emulator *e, uint16_t selector, struct descriptor *code,
                               uint32_t offset, unsigned cpl)
{
    descriptor_set_accessed(e, selector, code);
    load_code_segment(e->cpu, selector, code, cpl);
    e->cpu->eip = offset;
}

static void check_offset_in_code(struct emulator *e, const struct descriptor *code, uint32_t offset)
{
    if (offset > code->limit)
        x86_raise(e, EXC_GP, 0);
}

/* SDM vol. 2, JMP and CALL, "TASK-GATE" and "TASK-STATE-SEGMENT": the
 * gate's or TSS's DPL must be >= CPL and >= RPL (#GP(selector)); a gate
 * must be present (#NP(gate selector)) and name a TSS in the GDT. The
 * switch itself, with its checks of the TSS, is task.c's. */
static void far_task_switch(struct emulator *e, uint16_t selector, const struct descriptor *d,
                            enum task_switch_source source)
{
    unsigned dpl = SEG_ATTR_DPL(d->attributes);
    if (dpl < cpu_cpl(e->cpu) || dpl < SELECTOR_RPL(selector))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    uint16_t tss = selector;
    if (SEG_ATTR_TYPE(d->attributes) == SYSTEM_TASK_GATE) {
        struct gate gate;
        gate_decode(d, &gate);
        if (!gate.present)
            x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
        tss = gate.selector;
    } else if (SEG_ATTR_TYPE(d->attributes) & TYPE_BUSY_TSS) {
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));   /* a busy TSS: no recursion */
    }
    x86_task_switch(e, tss, source, e->cpu->eip, 0);
}

/* Fetches the descriptor of a far JMP/CALL target: null is #GP(0), outside
 * the table #GP(selector). */
static void fetch_far_target(struct emulator *e, uint16_t selector, struct descriptor *d)
{
    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, EXC_GP, 0);
    descriptor_fetch_or_raise(e, selector, d, EXC_GP, 0);
}

static bool is_call_gate(const struct descriptor *d)
{
    unsigned type = SEG_ATTR_TYPE(d->attributes);
    return attributes_is_system(d->attributes) &&
           (type == SYSTEM_CALL_GATE16 || type == SYSTEM_CALL_GATE32);
}

static bool is_task_target(const struct descriptor *d)
{
    unsigned type = SEG_ATTR_TYPE(d->attributes);
    return attributes_is_system(d->attributes) &&
           (type == SYSTEM_TASK_GATE || type == SYSTEM_TSS16_AVAILABLE ||
            type == SYSTEM_TSS32_AVAILABLE || type == SYSTEM_TSS16_BUSY ||
            type == SYSTEM_TSS32_BUSY);
}

/* ---- far JMP ----------------------------------------------------------------- */

static void real_mode_far_jump(struct cpu *cpu, uint16_t selector, uint32_t offset)
{
    cpu->segments[SEG_CS].selector = selector;
    cpu->segments[SEG_CS].base = (uint32_t)selector << 4;
    cpu->eip = offset;
}

/* SDM vol. 2, JMP, protected mode. A JMP never changes privilege, even
 * through a call gate: the target must be at the current CPL. */
void x86_far_jump(struct emulator *e, uint16_t selector, uint32_t offset, unsigned operand_size)
{
    struct cpu *cpu = e->cpu;
    unsigned cpl = cpu_cpl(cpu);
    struct descriptor d, code;
    struct gate gate;

    if (operand_size == 2)
        offset &= 0xffffu;
    if (!protected_mode(cpu)) {
        real_mode_far_jump(cpu, selector, offset);
        return;
    }
    fetch_far_target(e, selector, &d);
    if (attributes_is_code(d.attributes)) {
        check_direct_code_target(e, selector, &d);
        check_offset_in_code(e, &d, offset);
        enter_code_segment(e, selector, &d, offset, cpl);
        return;
    }
    if (is_task_target(&d)) {
        far_task_switch(e, selector, &d, TASK_SWITCH_JMP);
        return;
    }
    if (!is_call_gate(&d))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));

    gate_decode(&d, &gate);
    check_call_gate(e, selector, &gate);
    check_gate_code_target(e, gate.selector, &code);
    if (!attributes_is_conforming_code(code.attributes) && SEG_ATTR_DPL(code.attributes) != cpl)
        x86_raise(e, EXC_GP, SELECTOR_ERROR(gate.selector));
    check_offset_in_code(e, &code, gate.offset);
    enter_code_segment(e, gate.selector, &code, gate.offset, cpl);
}

/* ---- far CALL ------------------------------------------------------------------ */

static void push_return_address(struct emulator *e, struct stack_cursor *stack, unsigned size,
                                uint32_t return_eip)
{
    stack_push(e, stack, size, e->cpu->segments[SEG_CS].selector);
    stack_push(e, stack, size, return_eip);
}

/*
 * SDM vol. 2, CALL, "MORE-PRIVILEGE" (and vol. 3, 5.8.5, figure 5-13): the
 * new stack comes from the TSS for the target DPL; the caller's SS, ESP,
 * parameter_count parameters copied from the caller's stack, CS and EIP go
 * onto it, all in the gate's size.
 */
static void call_gate_inner(struct emulator *e, const struct gate *gate, struct descriptor *code,
                            uint32_t return_eip)
{
    struct cpu *cpu = e->cpu;
    unsigned new_cpl = SEG_ATTR_DPL(code->attributes);
    unsigned size = (gate->type & 0x8u) ? 4 : 2;
    uint32_t parameters[32], esp;
    uint16_t stack_selector;
    struct descriptor stack_descriptor;
    struct stack_cursor old_stack, new_stack;
    struct segment ss;

    tss_read_ring_stack(e, new_cpl, 0, &stack_selector, &esp);
    check_new_stack_segment(e, stack_selector, new_cpl, EXC_TS, 0, &stack_descriptor);
    segment_load_from_descriptor(&ss, stack_selector, &stack_descriptor);
    stack_cursor_init(&new_stack, &ss, esp, new_cpl, EXC_SS, SELECTOR_ERROR(stack_selector));
    current_stack(e, &old_stack);
    check_offset_in_code(e, code, gate->offset);

    for (unsigned i = 0; i < gate->parameter_count; i++)
        parameters[i] = stack_peek(e, &old_stack, i * size, size);
    stack_push(e, &new_stack, size, cpu->segments[SEG_SS].selector);
    stack_push(e, &new_stack, size, cpu->regs[REG_ESP]);
    for (unsigned i = gate->parameter_count; i-- > 0;)
        stack_push(e, &new_stack, size, parameters[i]);
    push_return_address(e, &new_stack, size, return_eip);

    /* Set both accessed bits (which can fault) before any register changes. */
    descriptor_set_accessed(e, gate->selector, code);
    descriptor_set_accessed(e, stack_selector, &stack_descriptor);
    segment_load_from_descriptor(&cpu->segments[SEG_SS], stack_selector, &stack_descriptor);
    cpu->regs[REG_ESP] = new_stack.esp;
    enter_code_segment(e, gate->selector, code, gate->offset, new_cpl);
}

static void call_through_gate(struct emulator *e, uint16_t selector, const struct descriptor *d,
                              uint32_t return_eip)
{
    struct cpu *cpu = e->cpu;
    unsigned cpl = cpu_cpl(cpu);
    struct gate gate;
    struct descriptor code;
    struct stack_cursor stack;

    gate_decode(d, &gate);
    check_call_gate(e, selector, &gate);
    check_gate_code_target(e, gate.selector, &code);
    if (!attributes_is_conforming_code(code.attributes) && SEG_ATTR_DPL(code.attributes) < cpl) {
        call_gate_inner(e, &gate, &code, return_eip);
        return;
    }
    /* "SAME-PRIVILEGE": push on the current stack in the gate's size. */
    check_offset_in_code(e, &code, gate.offset);
    current_stack(e, &stack);
    push_return_address(e, &stack, (gate.type & 0x8u) ? 4 : 2, return_eip);
    enter_code_segment(e, gate.selector, &code, gate.offset, cpl);
    cpu->regs[REG_ESP] = stack.esp;
}

void x86_far_call(struct emulator *e, uint16_t selector, uint32_t offset, unsigned operand_size,
                  uint32_t return_eip)
{
    struct cpu *cpu = e->cpu;
    struct descriptor d;
    struct stack_cursor stack;

    if (operand_size == 2)
        offset &= 0xffffu;
    if (!protected_mode(cpu)) {
        current_stack(e, &stack);
        push_return_address(e, &stack, operand_size, return_eip);
        cpu->regs[REG_ESP] = stack.esp;
        real_mode_far_jump(cpu, selector, offset);
        return;
    }
    fetch_far_target(e, selector, &d);
    if (attributes_is_code(d.attributes)) {
        check_direct_code_target(e, selector, &d);
        check_offset_in_code(e, &d, offset);
        current_stack(e, &stack);
        push_return_address(e, &stack, operand_size, return_eip);
        enter_code_segment(e, selector, &d, offset, cpu_cpl(cpu));
        cpu->regs[REG_ESP] = stack.esp;
        return;
    }
    if (is_task_target(&d)) {
        far_task_switch(e, selector, &d, TASK_SWITCH_CALL);
        return;
    }
    if (!is_call_gate(&d))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    call_through_gate(e, selector, &d, return_eip);
}

/* ---- far RET and IRET ------------------------------------------------------------ */

/* SDM vol. 2, RET/IRET, "return code segment": not null (#GP(0)), code,
 * RPL >= CPL, conforming DPL <= RPL or non-conforming DPL = RPL
 * (#GP(selector)), present (#NP(selector)). */
static void check_return_code_segment(struct emulator *e, uint16_t selector,
                                      struct descriptor *code)
{
    unsigned rpl = SELECTOR_RPL(selector);
    unsigned dpl;

    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, EXC_GP, 0);
    descriptor_fetch_or_raise(e, selector, code, EXC_GP, 0);
    dpl = SEG_ATTR_DPL(code->attributes);
    if (!attributes_is_code(code->attributes) || rpl < cpu_cpl(e->cpu) ||
        (attributes_is_conforming_code(code->attributes) ? dpl > rpl : dpl != rpl))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(code->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
}

/*
 * The outer-level part shared by RET and IRET: the caller's SS:ESP sits on
 * the stack at `skip`; SS must satisfy the stack rules for the new CPL with
 * #GP(selector) (SDM vol. 2, RET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
 */
struct outer_stack {
    uint16_t selector;
    uint32_t esp;
    struct descriptor descriptor;
};

static void read_outer_stack(struct emulator *e, const struct stack_cursor *stack, uint32_t skip,
                             unsigned size, unsigned new_cpl, struct outer_stack *outer)
{
    outer->esp = stack_peek(e, stack, skip, size);
    outer->selector = (uint16_t)stack_peek(e, stack, skip + size, size);
    check_new_stack_segment(e, outer->selector, new_cpl, EXC_GP, 0, &outer->descriptor);
}

static void commit_outer_stack(struct emulator *e, struct outer_stack *outer, unsigned size,
                               uint32_t pop_bytes)
{
    struct cpu *cpu = e->cpu;
    struct segment *ss = &cpu->segments[SEG_SS];
    /* A 16-bit pop gives SP only: on a 32-bit stack it is zero-extended, on
     * a 16-bit stack the upper half of ESP is kept (B flag of the new SS). */
    uint32_t popped = size == 2 ? outer->esp & 0xffffu : outer->esp;

    segment_load_from_descriptor(ss, outer->selector, &outer->descriptor);

    uint32_t esp = (ss->attributes & SEG_ATTR_DB) ? popped
                                                  : (cpu->regs[REG_ESP] & 0xffff0000u) | popped;

    cpu->regs[REG_ESP] = stack_pointer_add(ss, esp, pop_bytes);
    null_inaccessible_data_segments(cpu);
}

static void real_mode_far_return(struct emulator *e, unsigned size, uint16_t pop_bytes)
{
    struct cpu *cpu = e->cpu;
    struct stack_cursor stack;

    current_stack(e, &stack);
    uint32_t eip = stack_peek(e, &stack, 0, size);
    uint16_t selector = (uint16_t)stack_peek(e, &stack, size, size);
    cpu->regs[REG_ESP] = stack_pointer_add(&stack.ss, stack.esp, 2 * size + pop_bytes);
    real_mode_far_jump(cpu, selector, eip);
}

/* SDM vol. 2, RET (far), protected mode. */
void x86_far_return(struct emulator *e, unsigned operand_size, uint16_t pop_bytes)
{
    struct cpu *cpu = e->cpu;
    unsigned size = operand_size;
    struct stack_cursor stack;
    struct descriptor code;

    if (!protected_mode(cpu)) {
        real_mode_far_return(e, size, pop_bytes);
        return;
    }
    current_stack(e, &stack);
    uint32_t eip = stack_peek(e, &stack, 0, size);
    uint16_t selector = (uint16_t)stack_peek(e, &stack, size, size);
    unsigned rpl = SELECTOR_RPL(selector);

    check_return_code_segment(e, selector, &code);
    if (rpl == cpu_cpl(cpu)) {
        check_offset_in_code(e, &code, eip);
        enter_code_segment(e, selector, &code, eip, rpl);
        cpu->regs[REG_ESP] = stack_pointer_add(&stack.ss, stack.esp, 2 * size + pop_bytes);
        return;
    }
    struct outer_stack outer;
    read_outer_stack(e, &stack, 2 * size + pop_bytes, size, rpl, &outer);
    check_offset_in_code(e, &code, eip);
    descriptor_set_accessed(e, outer.selector, &outer.descriptor);
    enter_code_segment(e, selector, &code, eip, rpl);
    commit_outer_stack(e, &outer, size, pop_bytes);
}

/*
 * SDM vol. 2, IRET, "RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL": which EFLAGS
 * bits the popped image may change depends on the CPL before the return:
 * IOPL (and VIF/VIP) only at CPL 0, IF only when CPL <= IOPL. A 16-bit
 * IRET changes only the low 16 bits. VM is never set here (see x86_iret).
 */
static uint32_t iret_eflags(uint32_t old, uint32_t popped, unsigned cpl, unsigned size)
{
    uint32_t changeable = EFLAGS_ARITHMETIC | EFLAGS_TF | EFLAGS_DF | EFLAGS_NT | EFLAGS_RF |
                          EFLAGS_AC | EFLAGS_ID;
    unsigned iopl = (old & EFLAGS_IOPL) >> 12;

    if (cpl <= iopl)
        changeable |= EFLAGS_IF;
    if (cpl == 0)
        changeable |= EFLAGS_IOPL | EFLAGS_VIF | EFLAGS_VIP;
    if (size == 2)
        changeable &= 0xffffu;
    return (old & ~changeable) | (popped & changeable) | EFLAGS_FIXED;
}

/* Real-mode IRET (SDM vol. 2, IRET, "REAL-ADDRESS-MODE"): pops EIP, CS and
 * EFLAGS with no checks. Virtual-8086 IRET is not implemented (we never
 * enter virtual-8086 mode). */
static void real_mode_iret(struct emulator *e, unsigned size)
{
    struct cpu *cpu = e->cpu;
    struct stack_cursor stack;

    if (cpu->eflags & EFLAGS_VM) {
        report_not_implemented(e, "iret-in-vm86", "IRET in virtual-8086 mode");
        x86_raise(e, EXC_GP, 0);
    }
    current_stack(e, &stack);
    uint32_t eip = stack_peek(e, &stack, 0, size);
    uint16_t selector = (uint16_t)stack_peek(e, &stack, size, size);
    uint32_t flags = stack_peek(e, &stack, 2 * size, size);
    cpu->eflags = iret_eflags(cpu->eflags, flags, 0, size);
    cpu->regs[REG_ESP] = stack_pointer_add(&stack.ss, stack.esp, 3 * size);
    real_mode_far_jump(cpu, selector, eip);
}

void x86_iret(struct emulator *e, unsigned operand_size)
{
    struct cpu *cpu = e->cpu;
    unsigned size = operand_size, cpl = cpu_cpl(cpu);
    struct stack_cursor stack;
    struct descriptor code;

    if (!protected_mode(cpu)) {
        real_mode_iret(e, size);
        return;
    }
    /* NT = 1: return from a nested task through the TSS's previous-task
     * link (SDM vol. 2, IRET, "TASK-RETURN"; vol. 3, 7.3). */
    if (cpu->eflags & EFLAGS_NT) {
        x86_task_switch(e, x86_task_link(e), TASK_SWITCH_IRET, cpu->eip, 0);
        return;
    }
    current_stack(e, &stack);
    uint32_t eip = stack_peek(e, &stack, 0, size);
    uint16_t selector = (uint16_t)stack_peek(e, &stack, size, size);
    uint32_t flags = stack_peek(e, &stack, 2 * size, size);
    if (size == 4 && (flags & EFLAGS_VM) && cpl == 0) {
        report_not_implemented(e, "iret-to-vm86", "IRET to virtual-8086 mode");
        x86_raise(e, EXC_GP, 0);
    }
    unsigned rpl = SELECTOR_RPL(selector);
    uint32_t new_eflags = iret_eflags(cpu->eflags, flags, cpl, size);

    check_return_code_segment(e, selector, &code);
    if (rpl == cpl) {
        check_offset_in_code(e, &code, eip);
        enter_code_segment(e, selector, &code, eip, rpl);
        cpu->regs[REG_ESP] = stack_pointer_add(&stack.ss, stack.esp, 3 * size);
        cpu->eflags = new_eflags;
        return;
    }
    struct outer_stack outer;
    read_outer_stack(e, &stack, 3 * size, size, rpl, &outer);
    check_offset_in_code(e, &code, eip);
    descriptor_set_accessed(e, outer.selector, &outer.descriptor);
    enter_code_segment(e, selector, &code, eip, rpl);
    cpu->eflags = new_eflags;
    commit_outer_stack(e, &outer, size, 0);
}

/* ---- LLDT and LTR ------------------------------------------------------------------ */

/* LLDT and LTR exist only in protected mode (#UD otherwise) and only at
 * CPL 0 (#GP(0)), SDM vol. 2. */
static void check_system_table_load(struct emulator *e)
{
    if (!protected_mode(e->cpu))
        x86_raise(e, EXC_UD, 0);
    if (cpu_cpl(e->cpu) != 0)
        x86_raise(e, EXC_GP, 0);
}

/* SDM vol. 2, LLDT: null makes the LDT unusable; otherwise a present LDT
 * descriptor in the GDT. */
void x86_load_ldtr(struct emulator *e, uint16_t selector)
{
    struct cpu *cpu = e->cpu;
    struct descriptor d;

    check_system_table_load(e);
    if (SELECTOR_IS_NULL(selector)) {
        segment_make_unusable(&cpu->ldtr, selector);
        return;
    }
    if (selector & SELECTOR_TI)
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    descriptor_fetch_or_raise(e, selector, &d, EXC_GP, 0);
    if (!attributes_is_system(d.attributes) || SEG_ATTR_TYPE(d.attributes) != SYSTEM_LDT)
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(d.attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
    segment_load_from_descriptor(&cpu->ldtr, selector, &d);
}

/* SDM vol. 2, LTR: a present, available TSS descriptor in the GDT, which
 * LTR marks busy (type bit 1) in memory and in TR. */
void x86_load_task_register(struct emulator *e, uint16_t selector)
{
    struct cpu *cpu = e->cpu;
    struct descriptor d;

    check_system_table_load(e);
    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, EXC_GP, 0);
    if (selector & SELECTOR_TI)
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    descriptor_fetch_or_raise(e, selector, &d, EXC_GP, 0);
    unsigned type = SEG_ATTR_TYPE(d.attributes);
    if (!attributes_is_system(d.attributes) ||
        (type != SYSTEM_TSS16_AVAILABLE && type != SYSTEM_TSS32_AVAILABLE))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector));
    if (!(d.attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));

    d.attributes |= 0x2u;                   /* busy */
    d.high |= 0x2u << 8;
    x86_write_linear(e, cpu->gdtr.base + SELECTOR_INDEX(selector) * 8u + 5, 1,
                     (d.high >> 8) & 0xffu, true);
    segment_load_from_descriptor(&cpu->tr, selector, &d);
}

/* ---- LAR, LSL, VERR, VERW ------------------------------------------------------------ */

/* The probes see a descriptor only if the selector is not null, lies in
 * its table, and (except for conforming code) DPL >= CPL and DPL >= RPL
 * (SDM vol. 2, LAR). They set ZF instead of faulting. */
static bool probe_descriptor(struct emulator *e, uint16_t selector, struct descriptor *d)
{
    unsigned cpl = cpu_cpl(e->cpu);

    if (SELECTOR_IS_NULL(selector) || !descriptor_fetch(e, selector, d))
        return false;
    if (attributes_is_conforming_code(d->attributes))
        return true;
    unsigned dpl = SEG_ATTR_DPL(d->attributes);
    return dpl >= cpl && dpl >= SELECTOR_RPL(selector);
}

/* System types LAR accepts (SDM vol. 2, LAR, table 3-60): TSSs, LDT and gates
 * (not interrupt or trap gates). */
static bool lar_accepts_system_type(unsigned type)
{
    switch (type) {
    case SYSTEM_TSS16_AVAILABLE: case SYSTEM_LDT: case SYSTEM_TSS16_BUSY: case SYSTEM_CALL_GATE16:
    case SYSTEM_TASK_GATE: case SYSTEM_TSS32_AVAILABLE: case SYSTEM_TSS32_BUSY:
    case SYSTEM_CALL_GATE32:
        return true;
    default:
        return false;
    }
}

/* LSL accepts only the system descriptors that have a limit: TSSs and the LDT. */
static bool lsl_accepts_system_type(unsigned type)
{
    return type == SYSTEM_TSS16_AVAILABLE || type == SYSTEM_LDT || type == SYSTEM_TSS16_BUSY ||
           type == SYSTEM_TSS32_AVAILABLE || type == SYSTEM_TSS32_BUSY;
}

uint32_t x86_lar(struct emulator *e, uint16_t selector, bool *zf)
{
    struct descriptor d;

    *zf = probe_descriptor(e, selector, &d) &&
          (!attributes_is_system(d.attributes) ||
           lar_accepts_system_type(SEG_ATTR_TYPE(d.attributes)));
    /* The access rights: the high doubleword masked with 0x00f0ff00. */
    return *zf ? d.high & 0x00f0ff00u : 0;
}

uint32_t x86_lsl(struct emulator *e, uint16_t selector, bool *zf)
{
    struct descriptor d;

    *zf = probe_descriptor(e, selector, &d) &&
          (!attributes_is_system(d.attributes) ||
           lsl_accepts_system_type(SEG_ATTR_TYPE(d.attributes)));
    return *zf ? d.limit : 0;   /* in bytes, scaled by G */
}

/* VERR: a data segment or readable code segment (SDM vol. 2, VERR). */
bool x86_verr(struct emulator *e, uint16_t selector)
{
    struct descriptor d;
    return probe_descriptor(e, selector, &d) && attributes_is_readable(d.attributes);
}

/* VERW: a writable data segment. */
bool x86_verw(struct emulator *e, uint16_t selector)
{
    struct descriptor d;
    return probe_descriptor(e, selector, &d) && attributes_is_writable_data(d.attributes);
}
