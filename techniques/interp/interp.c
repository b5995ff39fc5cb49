/*
 * interp.c - the interpreter technique's run loop.
 *
 * Between two instructions the loop does what the CPU does between two
 * instructions (SDM vol. 3, 6.9): take a pending external interrupt if
 * EFLAGS.IF allows and no STI/MOV SS shadow blocks it, wake from HLT. Then
 * it fetches the next instruction - from the decoded-instruction cache when
 * possible - and executes it. Faults arrive by longjmp from x86_raise() at a
 * landing pad set up once per run(): EIP goes back to the faulting
 * instruction and the exception is delivered through the IDT.
 */
#include "interp.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_cache.h"
#include "core/vm.h"
#include "core/x86/execute.h"
#include "core/x86/system.h"

/* How often (in instructions) the loop reads the clock. */
#define CLOCK_CHECK_INTERVAL 4096u

struct interp {
    struct emulator emulator;
    struct x86_executor executor;
    struct code_cache cache;
    struct stats_counter *port_counters[65536];
    struct stats_counter *inject_counters[256];
    uint32_t until_clock_check;
};

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS", "#NP",
    "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#21", "#22", "#23",
    "#24", "#25", "#26", "#27", "#28", "#29", "#30", "#31",
};

static bool interp_available(char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    return true;
}

/* emulator->code_written: a write reached a page holding decoded code. */
static void code_written(struct emulator *emulator, uint32_t physical_page)
{
    struct interp *interp = emulator->code_cache;
    code_cache_invalidate_page(&interp->cache, physical_page);
    emulator->ram->page_flags[physical_page >> PAGE_SHIFT] &= (uint8_t)~PAGE_FLAG_CODE;
}

static int interp_attach(struct vm *vm)
{
    if (!(vm->cpu.cr0 & CR0_PE) || (vm->cpu.eflags & EFLAGS_VM)) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "interp: real mode and virtual-8086 mode are not implemented (CR0.PE=0 or EFLAGS.VM=1)");
        return -1;
    }
    struct interp *interp = calloc(1, sizeof *interp);
    if (!interp || code_cache_create(&interp->cache, vm->ram.size) != 0) {
        free(interp);
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "interp: out of memory");
        return -1;
    }
    struct emulator *emulator = &interp->emulator;
    emulator->cpu = &vm->cpu;
    emulator->ram = &vm->ram;
    emulator->bus = &vm->bus;
    emulator->stats = &vm->stats;
    emulator->code_written = code_written;
    emulator->code_cache = interp;
    x86_tlb_flush_all(emulator);
    interp->executor.emulator = emulator;
    interp->executor.cpu = &vm->cpu;
    interp->executor.flags.operation = FLAGS_KNOWN;
    interp->executor.port_counters = interp->port_counters;
    interp->until_clock_check = CLOCK_CHECK_INTERVAL;
    vm->technique_state = interp;
    return 0;
}

static void interp_detach(struct vm *vm)
{
    struct interp *interp = vm->technique_state;
    if (!interp)
        return;
    x86_executor_sync_flags(&interp->executor);
    /* No page may stay marked as code once nobody listens for writes. */
    for (uint32_t frame = 0; frame < vm->ram.size >> PAGE_SHIFT; frame++)
        vm->ram.page_flags[frame] &= (uint8_t)~PAGE_FLAG_CODE;
    code_cache_destroy(&interp->cache);
    free(interp);
    vm->technique_state = NULL;
}

/* ---- events ---------------------------------------------------------------- */

static void count_exception(struct interp *interp, struct vm *vm, int vector)
{
    struct emulator *emulator = &interp->emulator;
    vector &= 31;
    if (!emulator->exception_counters[vector])
        emulator->exception_counters[vector] =
            stats_counter(&vm->stats, "guest-exception", exception_names[vector]);
    char detail[32];
    snprintf(detail, sizeof detail, "error code 0x%x", emulator->fault_error_code);
    stats_log(&vm->stats, emulator->exception_counters[vector], 0, stats_now_ns(),
              emulator->instruction_eip, emulator->fault_has_error_code ? detail : NULL);
}

static void count_interrupt(struct interp *interp, struct vm *vm, int vector)
{
    struct stats_counter **slot = &interp->inject_counters[vector & 0xff];
    if (!*slot) {
        char reason[STATS_NAME_LEN];
        int master = vm->pic.master.vector_base, slave = vm->pic.slave.vector_base;
        if (vector >= master && vector < master + 8)
            snprintf(reason, sizeof reason, "irq%d", vector - master);
        else if (vector >= slave && vector < slave + 8)
            snprintf(reason, sizeof reason, "irq%d", vector - slave + 8);
        else
            snprintf(reason, sizeof reason, "vector-0x%x", vector);
        *slot = stats_counter(&vm->stats, "inject", reason);
    }
    stats_log(&vm->stats, *slot, 0, stats_now_ns(), vm->cpu.eip, NULL);
}

static enum vm_exit triple_fault(struct interp *interp, struct vm *vm)
{
    snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", interp->emulator.triple_fault_report);
    return VM_EXIT_TRIPLE_FAULT;
}

/* After x86_raise(): the instruction is undone, deliver the exception. */
static bool deliver_fault(struct interp *interp, struct vm *vm)
{
    struct emulator *emulator = &interp->emulator;
    x86_executor_sync_flags(&interp->executor);
    vm->cpu.eip = emulator->instruction_eip;
    count_exception(interp, vm, emulator->fault_vector);
    return x86_deliver_event(emulator, emulator->fault_vector, EVENT_FAULT,
                             emulator->fault_has_error_code, emulator->fault_error_code);
}

/* ---- fetch ------------------------------------------------------------------ */

/* Decode at CS:EIP through system.h (limit, paging and their faults). */
static const struct x86_instruction *decode_slow(struct interp *interp, uint32_t eip, bool big,
                                                 struct x86_instruction *out)
{
    struct emulator *emulator = &interp->emulator;
    uint8_t bytes[X86_MAX_INSTRUCTION_LENGTH];
    unsigned fetched = x86_fetch_code(emulator, eip, bytes, 1, sizeof bytes);
    int length = x86_decode(out, bytes, fetched, big);
    while (length == X86_DECODE_NEED_MORE) {
        /* Needs bytes the prefetch could not get: fetching them faults. */
        fetched = x86_fetch_code(emulator, eip, bytes, fetched + 1, sizeof bytes);
        length = x86_decode(out, bytes, fetched, big);
    }
    if (length == X86_DECODE_TOO_LONG)
        x86_raise(emulator, EXC_GP, 0);     /* SDM vol. 2, 2.3.11 */
    if (length < 0)
        x86_raise(emulator, EXC_UD, 0);
    return out;
}

/* Physical address of a linear code address if the TLB knows it. */
static bool code_physical(struct interp *interp, uint32_t linear, bool user, uint32_t *physical)
{
    struct tlb_entry *entry = tlb_entry_for(&interp->emulator.tlb, user, linear);
    if (entry->read_tag != linear >> PAGE_SHIFT)
        return false;
    *physical = entry->physical_page | (linear & (PAGE_SIZE - 1));
    return true;
}

static const struct x86_instruction *fetch(struct interp *interp, struct x86_instruction *scratch)
{
    struct cpu *cpu = interp->executor.cpu;
    const struct segment *cs = &cpu->segments[SEG_CS];
    bool big = cs->attributes & SEG_ATTR_DB;
    bool user = cpu_cpl(cpu) == 3;
    uint32_t eip = cpu->eip, linear = cs->base + eip, physical;

    if (code_physical(interp, linear, user, &physical)) {
        const struct x86_instruction *cached = code_cache_lookup(&interp->cache, physical);
        if (cached && cached->default_32bit == big && eip <= cs->limit &&
            cs->limit - eip >= cached->length - 1u)
            return cached;
    }
    const struct x86_instruction *insn = decode_slow(interp, eip, big, scratch);
    /* Cache only instructions inside one page whose frame the TLB now knows. */
    if ((linear & (PAGE_SIZE - 1)) + insn->length <= PAGE_SIZE &&
        code_physical(interp, linear, user, &physical)) {
        struct guest_ram *ram = interp->emulator.ram;
        uint8_t *flags = &ram->page_flags[physical >> PAGE_SHIFT];
        if (code_cache_insert(&interp->cache, physical, insn, *flags & PAGE_FLAG_CODE)) {
            *flags |= PAGE_FLAG_CODE;
            tlb_forget_writes_to_physical_page(&interp->emulator.tlb, physical & ~(PAGE_SIZE - 1));
        }
    }
    return insn;
}

/* ---- the loop ------------------------------------------------------------------ */

/* Checks made every CLOCK_CHECK_INTERVAL instructions. Returns true to leave. */
static bool periodic_check(struct interp *interp, struct vm *vm, enum vm_exit *exit)
{
    interp->until_clock_check = CLOCK_CHECK_INTERVAL;
    if (stats_now_ns() >= vm->deadline_ns) {
        *exit = VM_EXIT_DEADLINE;
        return true;
    }
    if (!(vm->cpu.cr0 & CR0_PE) || (vm->cpu.eflags & EFLAGS_VM)) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "interp: the guest left protected mode (real/virtual-8086 mode not implemented) at EIP 0x%x",
                 vm->cpu.eip);
        *exit = VM_EXIT_ERROR;
        return true;
    }
    return false;
}

static enum vm_exit run_instructions(struct interp *interp, struct vm *vm)
{
    struct cpu *cpu = &vm->cpu;
    struct emulator *emulator = &interp->emulator;
    struct x86_executor *executor = &interp->executor;
    struct x86_instruction scratch;
    enum vm_exit exit;

    for (;;) {
        if (atomic_load_explicit(&vm->stop_requested, memory_order_relaxed)) {
            exit = VM_EXIT_STOP;
            break;
        }
        if (--interp->until_clock_check == 0 && periodic_check(interp, vm, &exit))
            break;
        if (vm_interrupt_deliverable(vm)) {
            int vector = vm_acknowledge_interrupt(vm);
            x86_executor_sync_flags(executor);
            cpu->halted = false;
            count_interrupt(interp, vm, vector);
            if (!x86_deliver_event(emulator, vector, EVENT_EXTERNAL, false, 0)) {
                exit = triple_fault(interp, vm);
                break;
            }
        }
        if (cpu->halted) {
            exit = VM_EXIT_HALT;
            break;
        }

        bool shadowed = cpu->interrupt_shadow;
        emulator->instruction_eip = cpu->eip;
        const struct x86_instruction *insn = fetch(interp, &scratch);
        cpu->eip += insn->length;
        if (!insn->default_32bit)
            cpu->eip &= 0xffff;              /* 16-bit code segment: IP wraps */
        enum x86_step step = x86_execute(executor, insn);
        vm->stats.guest_instructions++;
        /* The shadow of STI / MOV SS covers exactly one instruction. */
        if (shadowed)
            cpu->interrupt_shadow = false;
        if (step == STEP_SHUTDOWN) {
            exit = triple_fault(interp, vm);
            break;
        }
        /* STEP_HALT: loop once more so a pending interrupt wakes the CPU at once. */
    }
    return exit;
}

static enum vm_exit interp_run(struct vm *vm)
{
    struct interp *interp = vm->technique_state;
    jmp_buf landing;
    enum vm_exit exit;

    interp->emulator.fault = &landing;
    if (setjmp(landing) != 0) {
        if (!deliver_fault(interp, vm)) {
            exit = triple_fault(interp, vm);
            goto out;
        }
    }
    exit = run_instructions(interp, vm);
out:
    x86_executor_sync_flags(&interp->executor);
    interp->emulator.fault = NULL;
    return exit;
}

const struct technique interp_technique = {
    .name = "interp",
    .summary = "decode and execute every guest instruction in C",
    .available = interp_available,
    .attach = interp_attach,
    .run = interp_run,
    .detach = interp_detach,
};
