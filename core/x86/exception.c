/*
 * exception.c - raising exceptions inside an instruction, and delivering
 * exceptions and interrupts through the IDT (SDM vol. 3, chapter 6).
 *
 * Delivery is itself a sequence of memory accesses (the IDT, the GDT, the
 * TSS, the new stack) that can fault. Each delivery attempt therefore runs
 * under its own landing pad; a fault restores the CPU to its state before
 * the attempt and is then combined with the event being delivered by the
 * rules of SDM vol. 3, table 6-5: handled serially, turned into a double
 * fault (#DF), or, during #DF delivery, a shutdown ("triple fault").
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/stats.h"
#include "descriptor.h"

/* SDM vol. 3, 6.13 and table 6-1: #DF, #TS, #NP, #SS, #GP, #PF, #AC. */
bool x86_exception_has_error_code(int vector)
{
    switch (vector) {
    case EXC_DF: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP: case EXC_PF: case EXC_AC:
        return true;
    default:
        return false;
    }
}

_Noreturn void x86_raise(struct emulator *e, int vector, uint32_t error_code)
{
    e->fault_vector = vector;
    e->fault_has_error_code = x86_exception_has_error_code(vector);
    e->fault_error_code = e->fault_has_error_code ? error_code : 0;
    if (!e->fault) {
        /* A bug in the caller, not a guest action: nothing can catch this. */
        fprintf(stderr, "vmlab: x86_raise(vector %d, error 0x%x) with no landing pad set\n",
                vector, error_code);
        abort();
    }
    longjmp(*e->fault, 1);
}

/* ---- the events of one delivery, for table 6-5 and the report ------------- */

struct event {
    int vector;
    enum event_kind kind;
    bool has_error_code;
    uint32_t error_code;
};

static bool event_is_exception(const struct event *event)
{
    return event->kind == EVENT_FAULT || event->kind == EVENT_TRAP;
}

enum exception_class { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT, CLASS_DOUBLE_FAULT };

/* SDM vol. 3, table 6-4. Interrupts (external or INT n) are not exceptions
 * and count as benign. */
static enum exception_class exception_class(const struct event *event)
{
    if (!event_is_exception(event))
        return CLASS_BENIGN;
    switch (event->vector) {
    case EXC_DE: case EXC_TS: case EXC_NP: case EXC_SS: case EXC_GP:
        return CLASS_CONTRIBUTORY;
    case EXC_PF:
        return CLASS_PAGE_FAULT;
    case EXC_DF:
        return CLASS_DOUBLE_FAULT;
    default:
        return CLASS_BENIGN;
    }
}

/* SDM vol. 3, table 6-5: contributory then contributory, or #PF then #PF or
 * contributory, make a #DF; every other pair is handled serially. */
static bool makes_double_fault(const struct event *first, const struct event *second)
{
    enum exception_class a = exception_class(first), b = exception_class(second);

    if (a == CLASS_CONTRIBUTORY)
        return b == CLASS_CONTRIBUTORY;
    if (a == CLASS_PAGE_FAULT)
        return b == CLASS_CONTRIBUTORY || b == CLASS_PAGE_FAULT;
    return false;
}

static const char *const exception_names[32] = {   /* SDM vol. 3, table 6-1 */
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP",
    "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#21", "#22", "#23",
    "#24", "#25", "#26", "#27", "#28", "#29", "#30", "#31",
};

const char *x86_exception_name(int vector)
{
    return exception_names[vector & 31];
}

void x86_count_exception(struct emulator *emulator, struct stats *stats, int vector)
{
    vector &= 31;
    if (!emulator->exception_counters[vector])
        emulator->exception_counters[vector] =
            stats_counter(stats, "guest-exception", x86_exception_name(vector));
    char detail[32];
    snprintf(detail, sizeof detail, "error code 0x%x", emulator->fault_error_code);
    stats_log(stats, emulator->exception_counters[vector], 0, stats_now_ns(),
              emulator->instruction_eip, emulator->fault_has_error_code ? detail : NULL);
}

/* "#PF(0x0002)", "#DF", "#UD", "interrupt 0x20", "int 0x80". */
static void event_name(const struct event *event, char *name, size_t length)
{
    if (event->kind == EVENT_EXTERNAL)
        snprintf(name, length, "interrupt 0x%02x", (unsigned)event->vector);
    else if (event->kind == EVENT_SOFTWARE || event->vector >= 32 || event->vector < 0)
        snprintf(name, length, "int 0x%02x", (unsigned)event->vector);
    else if (event->has_error_code && event->vector != EXC_DF)
        snprintf(name, length, "%s(0x%04x)", exception_names[event->vector], event->error_code);
    else
        snprintf(name, length, "%s", exception_names[event->vector]);
}

static void shut_down(struct emulator *e, const char *report)
{
    e->triple_fault = true;
    snprintf(e->triple_fault_report, sizeof e->triple_fault_report, "%s", report);
}

/*
 * "triple fault: #GP(0x0043) while delivering #DF, which followed
 *  #GP(0x0073) while delivering #PF(0x0002) at EIP 0x00101234":
 * raised[i] is the exception raised while delivering attempted[i].
 */
static void report_triple_fault(struct emulator *e, const struct event *attempted,
                                const struct event *raised, int count, uint32_t eip)
{
    char report[sizeof e->triple_fault_report];
    size_t used = 0;

    for (int i = count - 1; i >= 0 && used < sizeof report; i--) {
        char fault[32], delivering[32];
        event_name(&raised[i], fault, sizeof fault);
        event_name(&attempted[i], delivering, sizeof delivering);
        const char *lead = i == count - 1 ? "triple fault: " : ", which followed ";
        int n = snprintf(report + used, sizeof report - used, "%s%s while delivering %s", lead,
                         fault, delivering);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < sizeof report)
        snprintf(report + used, sizeof report - used, " at EIP 0x%08x", eip);
    shut_down(e, report);
}

/* ---- one delivery attempt (SDM vol. 3, 6.12.1; vol. 2 "INT n") ------------ */

enum delivery_outcome { DELIVERED, SHUT_DOWN };

static void read_idt_gate(struct emulator *e, const struct event *event, uint32_t ext,
                          struct gate *gate)
{
    const struct cpu *cpu = e->cpu;
    /* Error code naming an IDT entry: index << 3 | IDT (bit 1) | EXT (bit 0), SDM vol. 3, 6.13. */
    uint32_t idt_error = (uint32_t)event->vector * 8 + 2 + ext;
    uint32_t offset = (uint32_t)event->vector * 8;
    struct descriptor descriptor;

    if (offset + 7 > cpu->idtr.limit)
        x86_raise(e, EXC_GP, idt_error);
    /* The IDT is read with supervisor rights whatever the CPL (SDM vol. 3, 4.6.1). */
    descriptor_decode(x86_read_linear(e, cpu->idtr.base + offset, 4, true),
                      x86_read_linear(e, cpu->idtr.base + offset + 4, 4, true), &descriptor);
    gate_decode(&descriptor, gate);

    switch (attributes_is_system(descriptor.attributes) ? gate->type : 0) {
    case SYSTEM_TASK_GATE: case SYSTEM_INTERRUPT_GATE16: case SYSTEM_TRAP_GATE16:
    case SYSTEM_INTERRUPT_GATE32: case SYSTEM_TRAP_GATE32:
        break;
    default:
        x86_raise(e, EXC_GP, idt_error);
    }
    /* INT n, INT3 and INTO may only use gates with DPL >= CPL (SDM vol. 3, 6.12.1.1);
     * hardware events ignore the gate DPL. */
    if (event->kind == EVENT_SOFTWARE && gate->dpl < cpu_cpl(cpu))
        x86_raise(e, EXC_GP, idt_error);
    if (!gate->present)
        x86_raise(e, EXC_NP, idt_error);
}

/* The handler's code segment: not null, a code segment with DPL <= CPL,
 * present (SDM vol. 2, "INT n" pseudo-code, PROTECTED-MODE-INTERRUPT). */
static void check_handler_code_segment(struct emulator *e, uint16_t selector, uint32_t ext,
                                       struct descriptor *code)
{
    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, EXC_GP, ext);
    descriptor_fetch_or_raise(e, selector, code, EXC_GP, ext);
    if (!attributes_is_code(code->attributes) || SEG_ATTR_DPL(code->attributes) > cpu_cpl(e->cpu))
        x86_raise(e, EXC_GP, SELECTOR_ERROR(selector) | ext);
    if (!(code->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector) | ext);
}

/* A task gate switches to the task it names (SDM vol. 3, 6.12.2, task.c);
 * an error code goes onto the new task's stack. */
static enum delivery_outcome deliver_through_task_gate(struct emulator *e,
                                                       const struct event *event,
                                                       const struct gate *gate, uint32_t ext)
{
    struct cpu *cpu = e->cpu;
    x86_task_switch(e, gate->selector, TASK_SWITCH_INTERRUPT, cpu->eip, ext);
    if (event->has_error_code) {
        struct stack_cursor stack;
        stack_cursor_init(&stack, &cpu->segments[SEG_SS], cpu->regs[REG_ESP], cpu_cpl(cpu),
                          EXC_SS, ext);
        stack_push(e, &stack, 4, event->error_code);
        cpu->regs[REG_ESP] = stack.esp;
    }
    cpu->halted = false;
    return DELIVERED;
}

/* The handler's stack. With a privilege change it comes from the TSS for the
 * new CPL (SDM vol. 3, 6.12.1, figure 6-4), faulting with #TS or
 * #SS(selector | EXT); otherwise it is the current stack, #SS(EXT). Returns
 * true for a stack switch. */
static bool handler_stack(struct emulator *e, unsigned new_cpl, uint32_t ext,
                          struct stack_cursor *stack, struct descriptor *stack_descriptor)
{
    struct cpu *cpu = e->cpu;
    unsigned cpl = cpu_cpl(cpu);
    uint16_t selector;
    uint32_t esp;
    struct segment ss;

    if (new_cpl == cpl) {
        stack_cursor_init(stack, &cpu->segments[SEG_SS], cpu->regs[REG_ESP], cpl, EXC_SS, ext);
        return false;
    }
    tss_read_ring_stack(e, new_cpl, ext, &selector, &esp);
    check_new_stack_segment(e, selector, new_cpl, EXC_TS, ext, stack_descriptor);
    segment_load_from_descriptor(&ss, selector, stack_descriptor);
    stack_cursor_init(stack, &ss, esp, new_cpl, EXC_SS, SELECTOR_ERROR(selector) | ext);
    return true;
}

/* SDM vol. 3, 17.3.1.1: "for any fault-class exception except a debug
 * exception generated in response to an instruction breakpoint, the value
 * pushed for RF is 1", so that IRET restarts the instruction without
 * re-triggering its instruction breakpoint. Fault-class vectors per table
 * 6-1; #DB is left out (its faults are instruction breakpoints, the rest
 * are traps) and #DF is an abort. */
static bool pushes_resume_flag(const struct event *event)
{
    if (event->kind != EVENT_FAULT)
        return false;
    switch (event->vector) {
    case EXC_DE: case EXC_BR: case EXC_UD: case EXC_NM: case EXC_TS: case EXC_NP: case EXC_SS:
    case EXC_GP: case EXC_PF: case EXC_MF: case EXC_AC: case 19: case 20:
        return true;
    default:
        return false;
    }
}

/* SDM vol. 3, figure 6-4: [SS, ESP,] EFLAGS, CS, EIP [, error code], in the
 * gate's size. */
static void push_interrupt_frame(struct emulator *e, struct stack_cursor *stack, unsigned size,
                                 bool stack_switch, const struct event *event)
{
    const struct cpu *cpu = e->cpu;
    uint32_t eflags = cpu->eflags | (pushes_resume_flag(event) ? EFLAGS_RF : 0);

    if (stack_switch) {
        stack_push(e, stack, size, cpu->segments[SEG_SS].selector);
        stack_push(e, stack, size, cpu->regs[REG_ESP]);
    }
    stack_push(e, stack, size, eflags);
    stack_push(e, stack, size, cpu->segments[SEG_CS].selector);
    stack_push(e, stack, size, cpu->eip);
    if (event->has_error_code)
        stack_push(e, stack, size, event->error_code);
}

static enum delivery_outcome deliver_once(struct emulator *e, const struct event *event)
{
    struct cpu *cpu = e->cpu;
    /* EXT: the event is not the direct result of an INT n (SDM vol. 3, 6.13). */
    uint32_t ext = event->kind == EVENT_SOFTWARE ? 0 : 1;
    struct gate gate;
    struct descriptor code, stack_descriptor;
    struct stack_cursor stack;

    read_idt_gate(e, event, ext, &gate);
    if (gate.type == SYSTEM_TASK_GATE)
        return deliver_through_task_gate(e, event, &gate, ext);
    check_handler_code_segment(e, gate.selector, ext, &code);

    /* A conforming handler runs at the current CPL (SDM vol. 3, 6.12.1.1). */
    bool conforming = attributes_is_conforming_code(code.attributes);
    unsigned new_cpl = conforming ? cpu_cpl(cpu) : SEG_ATTR_DPL(code.attributes);
    bool stack_switch = handler_stack(e, new_cpl, ext, &stack, &stack_descriptor);
    if (gate.offset > code.limit)
        x86_raise(e, EXC_GP, ext);
    push_interrupt_frame(e, &stack, (gate.type & 0x8u) ? 4 : 2, stack_switch, event);

    /* Everything that can fault is done except the accessed bits: commit. */
    descriptor_set_accessed(e, gate.selector, &code);
    if (stack_switch) {
        descriptor_set_accessed(e, stack.ss.selector, &stack_descriptor);
        segment_load_from_descriptor(&cpu->segments[SEG_SS], stack.ss.selector, &stack_descriptor);
    }
    cpu->regs[REG_ESP] = stack.esp;
    load_code_segment(cpu, gate.selector, &code, new_cpl);
    cpu->eip = gate.offset;
    /* SDM vol. 3, 6.12.1.3: TF, NT, RF and VM are cleared; an interrupt gate
     * also clears IF, a trap gate leaves it. */
    cpu->eflags &= ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM);
    if (gate.type == SYSTEM_INTERRUPT_GATE16 || gate.type == SYSTEM_INTERRUPT_GATE32)
        cpu->eflags &= ~EFLAGS_IF;
    cpu->halted = false;
    return DELIVERED;
}

/* Runs one attempt under its own landing pad. Returns true if it ran to the
 * end (delivered or shut down, in *outcome); false with *fault set if an
 * exception was raised during delivery. */
static bool try_deliver(struct emulator *e, const struct event *event,
                        enum delivery_outcome *outcome, struct event *fault)
{
    jmp_buf landing;
    jmp_buf *outer = e->fault;

    e->fault = &landing;
    if (setjmp(landing) != 0) {
        e->fault = outer;
        fault->vector = e->fault_vector;
        fault->kind = EVENT_FAULT;
        fault->has_error_code = e->fault_has_error_code;
        fault->error_code = e->fault_error_code;
        return false;
    }
    *outcome = deliver_once(e, event);
    e->fault = outer;
    return true;
}

#define MAX_CHAIN 8

/* A shut-down CPU keeps the registers it had when the first event arrived
 * (CR2 excepted: page faults during delivery did set it), so the user and
 * the dashboard see the state the report talks about. */
static bool shut_down_with_state(struct cpu *cpu, const struct cpu *original)
{
    uint32_t cr2 = cpu->cr2;

    *cpu = *original;
    cpu->cr2 = cr2;
    return false;
}

bool x86_deliver_event(struct emulator *e, int vector, enum event_kind kind,
                       bool has_error_code, uint32_t error_code)
{
    struct cpu *cpu = e->cpu;
    const struct cpu original = *cpu;
    struct event attempted[MAX_CHAIN], raised[MAX_CHAIN];
    /* For the report: the instruction that caused the first event. */
    uint32_t first_eip = kind == EVENT_SOFTWARE ? e->instruction_eip : cpu->eip;

    /* A pv kernel cannot read CR2: the shared info page tells it. */
    if (e->pv && vector == EXC_PF && kind == EVENT_FAULT)
        e->pv_page_fault(e->pv, cpu->cr2);
    if (!(cpu->cr0 & CR0_PE)) {
        shut_down(e, "shutdown: real-mode interrupt delivery is not implemented");
        return false;
    }
    attempted[0] = (struct event){ vector, kind, has_error_code, error_code };
    for (int n = 0; n < MAX_CHAIN; n++) {
        struct cpu before = *cpu;
        enum delivery_outcome outcome;

        if (try_deliver(e, &attempted[n], &outcome, &raised[n]))
            return outcome == DELIVERED || shut_down_with_state(cpu, &original);

        /* The faulting attempt has no effect on the CPU, except CR2 if it
         * was a page fault (SDM vol. 3, 6.15 "Interrupt 14"). */
        uint32_t cr2 = cpu->cr2;
        *cpu = before;
        cpu->cr2 = cr2;

        if (exception_class(&attempted[n]) == CLASS_DOUBLE_FAULT || n + 1 == MAX_CHAIN) {
            report_triple_fault(e, attempted, raised, n + 1, first_eip);
            return shut_down_with_state(cpu, &original);
        }
        /* A fault while delivering INT n belongs to the INT instruction: its
         * return address is the instruction itself (SDM vol. 3, 6.5). */
        if (attempted[n].kind == EVENT_SOFTWARE)
            cpu->eip = e->instruction_eip;
        if (makes_double_fault(&attempted[n], &raised[n]))
            attempted[n + 1] = (struct event){ EXC_DF, EVENT_FAULT, true, 0 };
        else
            attempted[n + 1] = raised[n];
    }
    return false; /* not reached: the loop reports at MAX_CHAIN */
}
