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

/*
 * The fetch cursor remembers the code page of the last fetch, so that the
 * next instruction in the same linear page is found with one index - no TLB
 * or page-table lookups. It is valid while CS and the linear-to-physical
 * mapping cannot have changed: straight-line code and near branches. Every
 * instruction that can change CS, CPL, paging or the TLB (far transfers,
 * IRET, INT, SYSENTER/SYSEXIT, MOV CR, INVLPG, LMSW, CLTS, task switches),
 * every fault and every interrupt forgets it. Writes to the page are caught
 * by the per-slot generation check, as for any cached instruction.
 */
struct fetch_cursor {
    uint32_t linear_page;        /* TLB_INVALID: no cursor */
    uint32_t cs_base, cs_limit;
    uint32_t cs_limit_fast;      /* EIP up to here: any instruction is inside the limit */
    bool cs32;
    struct code_page *page;
};

struct interp {
    struct emulator emulator;
    struct fetch_cursor cursor;
    struct x86_executor executor;
    struct code_cache cache;
    struct stats_counter *port_counters[65536];
    struct stats_counter *inject_counters[256];
    uint32_t until_clock_check;
};

static void forget_cursor(struct interp *interp)
{
    interp->cursor.linear_page = TLB_INVALID;
}

/* The countdown to the next clock check doubles as the retired-instruction
 * counter: fold what it counted into the statistics. */
static void count_retired(struct interp *interp, struct vm *vm)
{
    vm->stats.guest_instructions += CLOCK_CHECK_INTERVAL - interp->until_clock_check;
    interp->until_clock_check = CLOCK_CHECK_INTERVAL;
}

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
    forget_cursor(interp);
    count_retired(interp, vm);
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

/* Operations after which the fetch cursor may be wrong (see struct fetch_cursor). */
static const bool changes_fetch_context[OP_COUNT] = {
    [OP_CALL_FAR_IMM] = true, [OP_JMP_FAR_IMM] = true, [OP_CALL_FAR_MEM] = true,
    [OP_JMP_FAR_MEM] = true, [OP_RET_FAR] = true, [OP_IRET] = true, [OP_INT3] = true,
    [OP_INT] = true, [OP_INTO] = true, [OP_SYSENTER] = true, [OP_SYSEXIT] = true,
    [OP_MOV_CR_REG] = true, [OP_INVLPG] = true, [OP_LMSW] = true, [OP_CLTS] = true,
    [OP_HLT] = true, [OP_LTR] = true, [OP_LLDT] = true, [OP_MOV_SEG_RM] = true,
    [OP_POP_SEG] = true, [OP_LOAD_FAR_POINTER] = true, [OP_WRMSR] = true,
};

static void set_cursor(struct interp *interp, uint32_t linear, uint32_t physical)
{
    const struct segment *cs = &interp->executor.cpu->segments[SEG_CS];
    struct code_page *page = code_cache_page(&interp->cache, physical);
    if (!page || page->uncacheable)
        return;
    interp->cursor.linear_page = linear >> PAGE_SHIFT;
    interp->cursor.cs_base = cs->base;
    interp->cursor.cs_limit = cs->limit;
    interp->cursor.cs_limit_fast = cs->limit >= X86_MAX_INSTRUCTION_LENGTH - 1
                                       ? cs->limit - (X86_MAX_INSTRUCTION_LENGTH - 1) : 0;
    interp->cursor.cs32 = cs->attributes & SEG_ATTR_DB;
    interp->cursor.page = page;
}

static const struct code_slot *fetch_slow(struct interp *interp, struct code_slot *scratch)
{
    struct cpu *cpu = interp->executor.cpu;
    const struct segment *cs = &cpu->segments[SEG_CS];
    bool big = cs->attributes & SEG_ATTR_DB;
    bool user = cpu_cpl(cpu) == 3;
    uint32_t eip = cpu->eip, linear = cs->base + eip, physical;

    if (code_physical(interp, linear, user, &physical)) {
        const struct code_slot *cached = code_cache_lookup(&interp->cache, physical);
        if (cached && cached->insn.default_32bit == big && eip <= cs->limit &&
            cs->limit - eip >= cached->insn.length - 1u) {
            set_cursor(interp, linear, physical);
            return cached;
        }
    }
    const struct x86_instruction *insn = decode_slow(interp, eip, big, &scratch->insn);
    scratch->handler = x86_select_handler(insn);
    /* Cache only instructions inside one page whose frame the TLB now knows. */
    if ((linear & (PAGE_SIZE - 1)) + insn->length <= PAGE_SIZE &&
        code_physical(interp, linear, user, &physical)) {
        struct guest_ram *ram = interp->emulator.ram;
        uint8_t *flags = &ram->page_flags[physical >> PAGE_SHIFT];
        if (code_cache_insert(&interp->cache, physical, insn, *flags & PAGE_FLAG_CODE)) {
            *flags |= PAGE_FLAG_CODE;
            tlb_forget_writes_to_physical_page(&interp->emulator.tlb, physical & ~(PAGE_SIZE - 1));
        }
        set_cursor(interp, linear, physical);
    }
    return scratch;
}

static inline const struct code_slot *fetch(struct interp *interp, struct code_slot *scratch)
{
    const struct fetch_cursor *cursor = &interp->cursor;
    uint32_t eip = interp->executor.cpu->eip;
    uint32_t linear = cursor->cs_base + eip;
    if (linear >> PAGE_SHIFT == cursor->linear_page) {
        const struct code_slot *slot = &cursor->page->slots[linear & (PAGE_SIZE - 1)];
        if (slot->generation == cursor->page->generation && slot->insn.default_32bit == cursor->cs32 &&
            (eip <= cursor->cs_limit_fast ||
             (eip <= cursor->cs_limit && cursor->cs_limit - eip >= slot->insn.length - 1u)))
            return slot;
    }
    return fetch_slow(interp, scratch);
}

/* ---- the loop ------------------------------------------------------------------ */

/* Checks made every CLOCK_CHECK_INTERVAL instructions. Returns true to leave. */
/* Checks made every CLOCK_CHECK_INTERVAL instructions, and on entry
 * without the clock: each run() executes at least one interval, so a
 * deadline that is already past when run() starts cannot stop all progress.
 * Returns true to leave run(). */
static bool periodic_check(struct interp *interp, struct vm *vm, bool check_clock,
                           enum vm_exit *exit)
{
    count_retired(interp, vm);
    if (atomic_load_explicit(&vm->stop_requested, memory_order_relaxed)) {
        *exit = VM_EXIT_STOP;
        return true;
    }
    if (check_clock && stats_now_ns() >= vm->deadline_ns) {
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

/* Between instructions: take a pending external interrupt (SDM vol. 3, 6.9). */
static bool take_interrupt(struct interp *interp, struct vm *vm, enum vm_exit *exit)
{
    int vector = vm_acknowledge_interrupt(vm);
    forget_cursor(interp);
    x86_executor_sync_flags(&interp->executor);
    vm->cpu.halted = false;
    count_interrupt(interp, vm, vector);
    if (!x86_deliver_event(&interp->emulator, vector, EVENT_EXTERNAL, false, 0)) {
        *exit = triple_fault(interp, vm);
        return true;
    }
    return false;
}

/*
 * The hot loop. The stop request and the clock are looked at every
 * CLOCK_CHECK_INTERVAL instructions (a few tens of microseconds), the
 * interrupt line before every instruction.
 */
static enum vm_exit run_instructions(struct interp *interp, struct vm *vm)
{
    struct cpu *cpu = &vm->cpu;
    struct emulator *emulator = &interp->emulator;
    struct x86_executor *executor = &interp->executor;
    struct code_slot scratch;
    enum vm_exit exit;

    if (periodic_check(interp, vm, false, &exit))
        return exit;
    for (;;) {
        if (vm_interrupt_deliverable(vm) && take_interrupt(interp, vm, &exit))
            break;
        if (cpu->halted) {
            exit = VM_EXIT_HALT;
            break;
        }
        do {
            bool shadowed = cpu->interrupt_shadow;
            emulator->instruction_eip = cpu->eip;
            const struct code_slot *slot = fetch(interp, &scratch);
            const struct x86_instruction *insn = &slot->insn;
            cpu->eip += insn->length;
            if (!insn->default_32bit)
                cpu->eip &= 0xffff;          /* 16-bit code segment: IP wraps */
            enum x86_step step = slot->handler(executor, insn);
            /* The shadow of STI / MOV SS covers exactly one instruction. */
            if (shadowed)
                cpu->interrupt_shadow = false;
            if (changes_fetch_context[insn->operation])
                forget_cursor(interp);
            if (step == STEP_SHUTDOWN) {
                exit = triple_fault(interp, vm);
                goto out;
            }
            if (--interp->until_clock_check == 0 && periodic_check(interp, vm, true, &exit))
                goto out;
            /* STEP_HALT: cpu->halted is set; the outer loop takes a pending
             * interrupt at once or returns VM_EXIT_HALT. */
            if (step != STEP_DONE)
                break;
        } while (!vm_interrupt_deliverable(vm));
    }
out:
    count_retired(interp, vm);
    return exit;
}

static enum vm_exit interp_run(struct vm *vm)
{
    struct interp *interp = vm->technique_state;
    jmp_buf landing;
    enum vm_exit exit;

    interp->emulator.fault = &landing;
    forget_cursor(interp);            /* the core may have changed anything */
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
