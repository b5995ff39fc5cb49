/*
 * interp.c - the interpreter technique's run loop.
 *
 * Between two instructions the CPU takes a pending external interrupt if
 * EFLAGS.IF allows and no STI/MOV SS shadow blocks it, and wakes from HLT
 * (SDM vol. 3, 6.9). Doing those checks - and the lookup of the next
 * decoded instruction - before every guest instruction costs more than most
 * instructions do, so the loop runs *blocks* (code_cache.h): straight-line
 * runs of decoded instructions that end at the first branch or at the first
 * instruction that may change what the checks look at (IF, the shadow, a
 * device, CS, paging). Inside a block nothing can make an interrupt
 * deliverable that was not before (devices are reached by port I/O, which
 * ends a block), so checking between blocks is as good as checking between
 * instructions for everything the guest can observe.
 *
 * Three things keep the work between blocks small:
 *
 *   - the fetch cursor (struct fetch_cursor) finds the next block of the
 *     same code page without a TLB lookup;
 *   - links (struct block_link) remember which block followed a block at
 *     which EIP, so a loop or a call to a known function finds its next
 *     block with two compares; an epoch counter invalidates all links at
 *     once whenever code is overwritten or CS/CPL/paging may have changed;
 *   - run_chain runs block after block without going back to the outer
 *     loop while the blocks end in near branches: the interrupt line is one
 *     load, the clock is due when the count of retired instructions
 *     reaches a mark.
 *
 * The one-instruction path (run_one) serves what blocks cannot:
 *
 *   - an interrupt shadow is pending (after STI, MOV SS, POP SS): exactly one
 *     instruction runs, then the interrupt is taken if one is deliverable;
 *   - vm->single_step: one instruction (or one interrupt delivery) per run();
 *   - code that the block cache cannot hold (no TLB entry for the page yet,
 *     an instruction crossing a page or the CS limit, undecodable bytes,
 *     pages that are rewritten all the time).
 *
 * Where the time goes (callgrind on cpubench, iters=20: 34.8 host
 * instructions per guest instruction, down from 40.9 before this
 * run_chain and the memory fast path of execute_access.h). About 8 host
 * instructions per instruction in the middle of a block (note the slot,
 * call its handler, step on: ~6.6 per guest instruction), about 40 per
 * block between blocks (blocks average 5.9 instructions: ~6.8 per guest
 * instruction), and the rest, about 20, in the handlers (a register ALU
 * operation costs about 15 with its call, a load from [base + disp] about
 * 34). What made the difference, for the
 * student who wants to see it in the assembly: run_chain is one function
 * without setjmp, so interp, vm, the block and the slot stay in registers
 * (the executor is the interp's first member, one register serves both);
 * each test between blocks is made once; the retired-instruction count
 * doubles as the clock countdown; and a guest memory access finds its TLB table
 * without a CPL test and its entry without a NULL test.
 *
 * Tried and measured, not kept: superblocks that go on past a Jcc and
 * leave at it when taken (a side exit through a wrapper handler that sets
 * cpu->eip) ran cpubench at 37.3 host instructions per guest instruction,
 * slower than ending blocks at every Jcc: four Jcc in five are taken here
 * (loops), so side exits are the common case and cost more than the block
 * ends they save. The next steps, for whoever wants to go further:
 * threaded dispatch (each handler jumps to the next slot's; it needs a new
 * handler signature for every fast handler) and operands resolved when a
 * block is built.
 *
 * Faults arrive by longjmp from x86_raise() at a landing pad set up once per
 * run(). The loop notes which slot of which block is running (run_chain),
 * so EIP goes back to the faulting instruction exactly, the instructions of
 * the block before it are counted as retired and the rest are not, and the
 * exception is delivered through the IDT.
 */
#include "interp.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_cache.h"
#include "core/lab.h"
#include "core/vm.h"
#include "core/x86/execute.h"
#include "core/x86/system.h"

/* How often (in instructions, roughly: checked between blocks) the loop
 * reads the clock and the stop request. */
#define CLOCK_CHECK_INTERVAL 4096

/*
 * The fetch cursor remembers the code page of the last block lookup, so that
 * the next block in the same linear page is found with one index - no TLB
 * lookup. It is valid while CS, the CPL and the linear-to-physical mapping
 * cannot have changed: after straight-line code and near branches (see
 * keeps_fetch_context). Every other instruction, every fault and every
 * interrupt forgets it. Writes to the page are caught by the generation
 * check, as for any cached block.
 */
struct fetch_cursor {
    uint32_t linear_page;        /* TLB_INVALID: no cursor */
    uint32_t cs_base;
    uint32_t code_end;           /* code_end() of CS */
    bool cs32;
    const struct code_page *page;
};

struct interp {
    /* First, so that the executor's address is the interp's: the hot loop
     * then keeps one pointer in a register for both. */
    struct x86_executor executor;
    struct emulator emulator;
    struct fetch_cursor cursor;
    struct code_cache cache;
    struct stats_counter *port_counters[65536];
    struct stats_counter *inject_counters[256];
    /* The clock and the stop request are looked at when
     * vm->stats.guest_instructions reaches this (see periodic_check). */
    uint64_t next_clock_check;
    /* The block being executed (NULL between blocks), the EIP of its first
     * instruction and the slot being executed: on a fault they tell which
     * instruction faulted and how many before it retired. */
    const struct code_block *running_block;
    uint32_t running_block_eip;
    const struct block_slot *running_slot;
    /* run_chain executes the slots below this one and then the block's
     * last instruction; code_written lowers it to the block's first slot,
     * so that a block that overwrote code stops after the writing
     * instruction (the rest may be stale). */
    const struct block_slot *run_until;
    /* Block links (struct block_link) are valid while this has not moved
     * on: it moves whenever the fetch cursor is forgotten (CS, CPL or paging
     * may have changed) and whenever guest code is overwritten, the two
     * things after which EIP may no longer lead to the same block. */
    uint64_t link_epoch;
};

static void forget_cursor(struct interp *interp)
{
    interp->cursor.linear_page = TLB_INVALID;
    interp->link_epoch++;
    /* Segment registers may change too: no flat-segment shortcut until
     * find_block_slow looks at them again. */
    x86_executor_forget_flat_segments(&interp->executor);
}


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
    /* LAB 01: BEGIN dropping the blocks of a page the guest wrote to */
    code_cache_invalidate_page(&interp->cache, physical_page);
    emulator->ram->page_flags[physical_page >> PAGE_SHIFT] &= (uint8_t)~PAGE_FLAG_CODE;
    interp->link_epoch++;
    if (interp->running_block)
        interp->run_until = interp->running_block->slots;
    /* LAB 01: STUB
    (void)interp;
    (void)physical_page;
    LAB_NOT_IMPLEMENTED(1, "invalidating cached blocks on a write to code (techniques/interp/interp.c, code_written)");
       LAB 01: END */
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
    x86_executor_init(&interp->executor, emulator, &vm->cpu, &vm->ram, &vm->bus, &vm->stats);
    emulator->code_written = code_written;
    emulator->code_cache = interp;
    pv_attach_emulator(&vm->pv, emulator);            /* a pv guest's hypercalls */
    interp->executor.port_counters = interp->port_counters;
    forget_cursor(interp);
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

static void count_interrupt(struct interp *interp, struct vm *vm, int vector)
{
    struct stats_counter **slot = &interp->inject_counters[vector & 0xff];
    if (!*slot) {
        char reason[STATS_NAME_LEN];
        vm_interrupt_name(vm, vector, reason, sizeof reason);
        *slot = stats_counter(&vm->stats, "inject", reason);
    }
    stats_log(&vm->stats, *slot, 0, stats_now_ns(), vm->cpu.eip, NULL);
}

static enum vm_exit triple_fault(struct interp *interp, struct vm *vm)
{
    snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", interp->emulator.triple_fault_report);
    return VM_EXIT_TRIPLE_FAULT;
}

/* Count `retired` instructions as retired. */
static void count_retired(struct vm *vm, uint32_t retired)
{
    vm->stats.guest_instructions += retired;
}

/*
 * A REP string instruction runs at most a slice of iterations per call and
 * then leaves EIP at itself (core/x86/execute_string.c), so one counted
 * instruction may stand for thousands of iterations - of port I/O to a
 * device, say, each far slower than an instruction. An unfinished one
 * makes the clock check due at once; else --timeout, a stop request or
 * the end of the time slice could wait for CLOCK_CHECK_INTERVAL slices.
 */
static void note_repeat_slice(struct interp *interp, const struct x86_instruction *insn,
                              uint32_t insn_eip, const struct cpu *cpu)
{
    if (__builtin_expect(insn->repeat != REPEAT_NONE && cpu->eip == insn_eip, 0))
        interp->next_clock_check = 0;
}

/* The clock check is due (see periodic_check). */
static bool clock_check_due(const struct interp *interp, const struct vm *vm)
{
    return vm->stats.guest_instructions >= interp->next_clock_check;
}

/* The EIP of slot `index` of the running block. */
static uint32_t slot_eip(const struct interp *interp, uint32_t index)
{
    uint32_t eip = interp->running_block_eip;
    for (uint32_t i = 0; i < index; i++)
        eip += interp->running_block->slots[i].insn.length;
    return eip;
}

/* After x86_raise(): the instruction is undone, deliver the exception. */
static bool deliver_fault(struct interp *interp, struct vm *vm)
{
    struct emulator *emulator = &interp->emulator;
    x86_executor_sync_flags(&interp->executor);
    forget_cursor(interp);
    if (interp->running_block) {
        /* The instructions before the faulting one retired. */
        uint32_t index = (uint32_t)(interp->running_slot - interp->running_block->slots);
        emulator->instruction_eip = slot_eip(interp, index);
        count_retired(vm, index);
        interp->running_block = NULL;
    }
    vm->cpu.eip = emulator->instruction_eip;
    x86_count_exception(emulator, &vm->stats, emulator->fault_vector);
    return x86_deliver_event(emulator, emulator->fault_vector, EVENT_FAULT,
                             emulator->fault_has_error_code, emulator->fault_error_code);
}

/* ---- building blocks -------------------------------------------------------- */

/* Operations that may stand anywhere in a block, not just last: after them
 * the next instruction is the next one in memory, and they change nothing
 * but registers, the arithmetic flags, DF and guest memory (see
 * code_cache.h). Everything else ends its block. */
static const bool block_continues[OP_COUNT] = {
    [OP_ALU_RM_REG] = true, [OP_ALU_REG_RM] = true, [OP_ALU_ACC_IMM] = true,
    [OP_ALU_RM_IMM] = true, [OP_INC_REG] = true, [OP_DEC_REG] = true,
    [OP_PUSH_REG] = true, [OP_POP_REG] = true, [OP_PUSH_SEG] = true,
    [OP_DAA] = true, [OP_DAS] = true, [OP_AAA] = true, [OP_AAS] = true,
    [OP_PUSHA] = true, [OP_POPA] = true, [OP_BOUND] = true, [OP_ARPL] = true,
    [OP_PUSH_IMM] = true, [OP_IMUL_REG_RM_IMM] = true, [OP_TEST_RM_REG] = true,
    [OP_XCHG_RM_REG] = true, [OP_MOV_RM_REG] = true, [OP_MOV_REG_RM] = true,
    [OP_MOV_RM_SEG] = true, [OP_LEA] = true, [OP_POP_RM] = true, [OP_NOP] = true,
    [OP_XCHG_ACC_REG] = true, [OP_CBW] = true, [OP_CWD] = true, [OP_SAHF] = true,
    [OP_LAHF] = true, [OP_MOV_ACC_MOFFS] = true, [OP_MOV_MOFFS_ACC] = true,
    [OP_TEST_ACC_IMM] = true, [OP_MOV_REG_IMM] = true, [OP_SHIFT] = true,
    [OP_SHIFT_CL] = true, [OP_MOV_RM_IMM] = true, [OP_ENTER] = true, [OP_LEAVE] = true,
    [OP_AAM] = true, [OP_AAD] = true, [OP_SALC] = true, [OP_XLAT] = true, [OP_CMC] = true,
    [OP_TEST_RM_IMM] = true, [OP_NOT] = true, [OP_NEG] = true, [OP_MUL] = true,
    [OP_IMUL_ACC] = true, [OP_DIV] = true, [OP_IDIV] = true, [OP_CLC] = true,
    [OP_STC] = true, [OP_CLD] = true, [OP_STD] = true, [OP_INC_RM] = true,
    [OP_DEC_RM] = true, [OP_PUSH_RM] = true, [OP_CMOVCC] = true, [OP_SETCC] = true,
    [OP_BT_RM_REG] = true, [OP_BT_RM_IMM] = true, [OP_SHLD_IMM] = true,
    [OP_SHLD_CL] = true, [OP_SHRD_IMM] = true, [OP_SHRD_CL] = true, [OP_CMPXCHG] = true,
    [OP_XADD] = true, [OP_CMPXCHG8B] = true, [OP_MOVZX] = true, [OP_MOVSX] = true,
    [OP_BSF] = true, [OP_BSR] = true, [OP_BSWAP] = true, [OP_IMUL_REG_RM] = true,
};

/* Operations after which the fetch cursor stays valid: those that may
 * continue a block, and near control transfers and string instructions,
 * which change neither CS, nor the CPL, nor paging. */
static bool keeps_fetch_context(unsigned operation)
{
    switch (operation) {
    case OP_JCC: case OP_JMP_REL: case OP_JMP_RM: case OP_CALL_REL: case OP_CALL_RM:
    case OP_RET_NEAR: case OP_LOOP: case OP_LOOPE: case OP_LOOPNE: case OP_JCXZ:
    case OP_MOVS: case OP_CMPS: case OP_STOS: case OP_LODS: case OP_SCAS:
        return true;
    default:
        return operation < OP_COUNT && block_continues[operation];
    }
}

/* The highest EIP (inclusive) that a block's bytes may reach under the
 * current CS: its limit, and for 16-bit code at most 0xfffe, so that IP
 * never reaches 0x10000 inside a block and needs no masking there (an
 * instruction ending at 0xffff, after which IP wraps to 0, takes the
 * one-instruction path). */
static uint32_t code_end(const struct segment *cs)
{
    if (!(cs->attributes & SEG_ATTR_DB) && cs->limit > 0xfffe)
        return 0xfffe;
    return cs->limit;
}

/* Decode the block that starts at `eip` (physical address `physical`,
 * host bytes `host`) into `block`. Stops before anything it cannot decode:
 * if that is the first instruction the block stays empty, and the
 * one-instruction path raises the fault. */
static void build_block(struct code_block *block, const uint8_t *host, uint32_t physical,
                        uint32_t eip, const struct segment *cs)
{
    bool big = cs->attributes & SEG_ATTR_DB;
    uint32_t end = code_end(cs), offset = physical & (PAGE_SIZE - 1);
    block->cs32 = big;
    while (block->count < BLOCK_MAX_INSTRUCTIONS) {
        uint32_t at = eip + block->bytes;
        if (at > end || at < eip)
            break;
        uint64_t available = (uint64_t)end - at + 1;
        if (available > PAGE_SIZE - offset - block->bytes)
            available = PAGE_SIZE - offset - block->bytes;
        if (available > X86_MAX_INSTRUCTION_LENGTH)
            available = X86_MAX_INSTRUCTION_LENGTH;
        struct block_slot *slot = &block->slots[block->count];
        if (available == 0 || x86_decode(&slot->insn, host + block->bytes, (unsigned)available, big) <= 0)
            break;
        slot->handler = x86_select_handler(&slot->insn);
        block->last_offset = block->bytes;
        block->last = slot;
        block->count++;
        block->bytes += slot->insn.length;
        if (!block_continues[slot->insn.operation])
            break;
    }
    block->keeps_fetch_context =
        block->count > 0 && keeps_fetch_context(block->slots[block->count - 1].insn.operation);
}

/* The block to run at CS:EIP, built if needed, or NULL to take the
 * one-instruction path. Never faults: it only looks at the TLB and at RAM. */
static struct code_block *find_block_slow(struct interp *interp, struct cpu *cpu);

static inline struct code_block *find_block(struct interp *interp, struct cpu *cpu)
{
    const struct fetch_cursor *cursor = &interp->cursor;
    uint32_t eip = cpu->eip, linear = cursor->cs_base + eip;
    if (linear >> PAGE_SHIFT == cursor->linear_page) {
        struct code_block *block = cursor->page->blocks[linear & (PAGE_SIZE - 1)];
        if (block && block->generation == cursor->page->generation &&
            block->cs32 == cursor->cs32 && eip <= cursor->code_end &&
            cursor->code_end - eip >= block->bytes - 1u)
            return block;
    }
    return find_block_slow(interp, cpu);
}

static void set_cursor(struct interp *interp, const struct segment *cs, uint32_t linear,
                       uint32_t physical)
{
    const struct code_page *page = code_cache_page(&interp->cache, physical);
    if (!page)
        return;
    interp->cursor.linear_page = linear >> PAGE_SHIFT;
    interp->cursor.cs_base = cs->base;
    interp->cursor.code_end = code_end(cs);
    interp->cursor.cs32 = cs->attributes & SEG_ATTR_DB;
    interp->cursor.page = page;
}

static struct code_block *find_block_slow(struct interp *interp, struct cpu *cpu)
{
    /* Between instructions the segment registers are what they are until
     * the next instruction that ends the fetch context (see forget_cursor,
     * and run_chain and run_one, which forget before such an instruction). */
    x86_executor_note_flat_segments(&interp->executor);
    const struct segment *cs = &cpu->segments[SEG_CS];
    uint32_t eip = cpu->eip, linear = cs->base + eip;
    struct tlb_entry *entry = tlb_entry_for(&interp->emulator.tlb, cpu_cpl(cpu) == 3, linear);
    if (entry->read_tag != linear >> PAGE_SHIFT)
        return NULL;           /* the one-instruction path walks the page tables */
    uint32_t physical = entry->physical_page | (linear & (PAGE_SIZE - 1));
    bool big = cs->attributes & SEG_ATTR_DB;
    struct code_block *block = code_cache_lookup(&interp->cache, physical);
    if (!block || block->cs32 != big) {
        struct code_block *built = code_cache_block_for_build(&interp->cache, physical);
        if (!built)
            return NULL;
        build_block(built, entry->host + (linear & (PAGE_SIZE - 1)), physical, eip, cs);
        if (built->count == 0) {
            built->generation = 0;          /* never valid: pages start at 1 */
            return NULL;
        }
        uint8_t *flags = &interp->emulator.ram->page_flags[physical >> PAGE_SHIFT];
        if (!(*flags & PAGE_FLAG_CODE)) {
            /* From now on writes to the page must reach code_written. */
            *flags |= PAGE_FLAG_CODE;
            tlb_forget_writes_to_physical_page(&interp->emulator.tlb, physical & ~(PAGE_SIZE - 1));
        }
        block = built;
    }
    set_cursor(interp, cs, linear, physical);
    uint32_t end = code_end(cs);
    if (eip > end || end - eip < block->bytes - 1u)
        return NULL;           /* runs past the CS limit: the slow path faults where due */
    return block;
}

/* ---- running --------------------------------------------------------------- */

/* Run exactly one instruction, wherever it is, and end an interrupt shadow
 * that was pending before it (the shadow covers one instruction). */
static enum x86_step run_one(struct interp *interp, struct vm *vm)
{
    struct cpu *cpu = &vm->cpu;
    bool shadowed = cpu->interrupt_shadow;
    struct x86_instruction scratch;
    const struct x86_instruction *insn = &scratch;
    x86_handler handler;

    interp->emulator.instruction_eip = cpu->eip;
    const struct code_block *block = find_block(interp, cpu);
    if (block) {
        insn = &block->slots[0].insn;
        handler = block->slots[0].handler;
    } else {
        x86_fetch_and_decode(&interp->emulator, &scratch);
        handler = x86_select_handler(&scratch);
    }
    cpu->eip += insn->length;
    if (!insn->default_32bit)
        cpu->eip &= 0xffff;          /* 16-bit code segment: IP wraps */
    if (!keeps_fetch_context(insn->operation))
        x86_executor_forget_flat_segments(&interp->executor);   /* it may load one */
    enum x86_step step = handler(&interp->executor, insn);
    if (shadowed)
        cpu->interrupt_shadow = false;
    if (!keeps_fetch_context(insn->operation))
        forget_cursor(interp);
    count_retired(vm, 1);
    note_repeat_slice(interp, insn, interp->emulator.instruction_eip, cpu);
    return step;
}

/* Checks made every CLOCK_CHECK_INTERVAL instructions, and on entry
 * without the clock: each run() executes at least one interval, so a
 * deadline that is already past when run() starts cannot stop all progress.
 * Returns true to leave run(). */
static bool periodic_check(struct interp *interp, struct vm *vm, bool check_clock,
                           enum vm_exit *exit)
{
    if (check_clock)
        interp->next_clock_check = vm->stats.guest_instructions + CLOCK_CHECK_INTERVAL;
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
 * vm->single_step: one step is one instruction, or - when an interrupt is
 * deliverable before it - the delivery of that interrupt (as a CPU with
 * EFLAGS.TF traps after the first instruction... of the handler; here the
 * step ends at the handler's first instruction, not after it). A halted CPU
 * with nothing to deliver does not step: run() reports VM_EXIT_HALT.
 */
static enum vm_exit run_single_step(struct interp *interp, struct vm *vm)
{
    enum vm_exit exit = VM_EXIT_DEADLINE;
    if (vm_interrupt_deliverable(vm)) {
        take_interrupt(interp, vm, &exit);
        return exit;
    }
    if (vm->cpu.halted)
        return VM_EXIT_HALT;
    if (run_one(interp, vm) == STEP_SHUTDOWN)
        return triple_fault(interp, vm);
    return VM_EXIT_DEADLINE;
}

/*
 * The block after `block`, which just ran and left the CPU at EIP: from
 * its links if one matches (no lookup at all), else found and linked.
 */
static inline struct code_block *next_block(struct interp *interp, struct code_block *block,
                                            struct cpu *cpu)
{
    uint32_t eip = cpu->eip;
    /* Both links written out (no loop to index): this runs once per block. */
    if (block->links[0].eip == eip && block->links[0].epoch == interp->link_epoch)
        return block->links[0].block;
    if (block->links[1].eip == eip && block->links[1].epoch == interp->link_epoch)
        return block->links[1].block;
    struct code_block *next = find_block(interp, cpu);
    if (next) {
        block->links[1] = block->links[0];
        block->links[0] = (struct block_link){ eip, interp->link_epoch, next };
    }
    return next;
}

/*
 * Run blocks one after the other for as long as nothing that the checks
 * between instructions look at can have changed: the blocks that keep the
 * fetch context contain no instruction that touches EFLAGS.IF, the
 * interrupt shadow, a device (port I/O) or the CPU mode. Returns the last
 * step; leaves when a block ends otherwise, when the clock check is due or
 * when an interrupt is pending.
 *
 * The executor's contract (execute.h) asks for cpu->eip = the next
 * instruction before each handler, and for instruction_eip = the
 * instruction's own EIP. The instructions in the middle of a block never
 * read either (they are not control transfers, and x86_raise does not look
 * at them), so only the slot being run is noted for them - the fault path
 * works both EIPs out from it (see deliver_fault) - and cpu->eip and
 * instruction_eip are set properly for the last instruction, which may be
 * a string, system or software-interrupt instruction that reads them.
 *
 * This is the hottest code of vmlab: everything here runs once per guest
 * instruction (the inner loop) or once per block (the rest), so each test
 * is made once, and a block that may leave the fetch context takes a side
 * path out of the loop. It is kept out of interp_run (noinline): a
 * function that calls setjmp keeps its variables in memory, not registers.
 */
static __attribute__((noinline)) enum x86_step run_chain(struct interp *interp, struct vm *vm, struct code_block *block)
{
    struct x86_executor *executor = &interp->executor;
    struct cpu *cpu = &vm->cpu;
    enum x86_step step;

    for (;;) {
        const struct block_slot *slot = block->slots, *last = block->last;
        uint32_t eip = cpu->eip;

        interp->running_block = block;
        interp->running_block_eip = eip;
        interp->run_until = last;
        while (slot < interp->run_until) {
            interp->running_slot = slot;
            slot->handler(executor, &slot->insn);     /* STEP_DONE: they continue blocks */
            slot++;
        }
        if (__builtin_expect(interp->run_until != last, 0)) {
            /* Guest code was overwritten: stop here, as if the block ended. */
            uint32_t done = (uint32_t)(slot - block->slots);
            cpu->eip = slot_eip(interp, done);
            count_retired(vm, done);
            step = STEP_DONE;
            break;
        }
        interp->running_slot = last;
        interp->emulator.instruction_eip = eip + block->last_offset;
        cpu->eip = eip + block->bytes;            /* the end of the last instruction */
        if (__builtin_expect(!block->keeps_fetch_context, 0)) {
            x86_executor_forget_flat_segments(executor);   /* it may load one */
            step = last->handler(executor, &last->insn);
            forget_cursor(interp);
            count_retired(vm, block->count);
            note_repeat_slice(interp, &last->insn, interp->emulator.instruction_eip, cpu);
            break;
        }
        step = last->handler(executor, &last->insn);
        count_retired(vm, block->count);
        note_repeat_slice(interp, &last->insn, interp->emulator.instruction_eip, cpu);
        if (step != STEP_DONE || interp->run_until != last || clock_check_due(interp, vm) ||
            vm_interrupt_deliverable(vm))
            break;
        block = next_block(interp, block, cpu);
        if (!block)
            break;                                  /* step is STEP_DONE */
    }
    interp->running_block = NULL;
    return step;
}

/*
 * The hot loop: a chain of blocks per iteration. The interrupt line is
 * looked at between blocks; the stop request and the clock about every
 * CLOCK_CHECK_INTERVAL instructions (a few tens of microseconds).
 */
static enum vm_exit run_blocks(struct interp *interp, struct vm *vm)
{
    struct cpu *cpu = &vm->cpu;
    enum vm_exit exit;

    if (periodic_check(interp, vm, false, &exit))
        return exit;
    for (;;) {
        if (vm_interrupt_deliverable(vm) && take_interrupt(interp, vm, &exit))
            return exit;
        if (cpu->halted)
            return VM_EXIT_HALT;
        struct code_block *block = cpu->interrupt_shadow ? NULL : find_block(interp, cpu);
        /* STEP_HALT: cpu->halted is set; the next iteration takes a
         * pending interrupt at once or returns VM_EXIT_HALT. */
        enum x86_step step = block ? run_chain(interp, vm, block) : run_one(interp, vm);
        if (step == STEP_SHUTDOWN)
            return triple_fault(interp, vm);
        if (clock_check_due(interp, vm) && periodic_check(interp, vm, true, &exit))
            return exit;
    }
}

static enum vm_exit interp_run(struct vm *vm)
{
    struct interp *interp = vm->technique_state;
    jmp_buf landing;
    enum vm_exit exit;

    interp->emulator.fault = &landing;
    interp->running_block = NULL;
    forget_cursor(interp);            /* the core may have changed anything */
    /* Set once per run(), not after each fault: a guest that faults every
     * few instructions must still see the clock. */
    interp->next_clock_check = vm->stats.guest_instructions + CLOCK_CHECK_INTERVAL;
    if (setjmp(landing) != 0) {
        if (!deliver_fault(interp, vm)) {
            exit = triple_fault(interp, vm);
            goto out;
        }
        if (vm->single_step) {
            exit = VM_EXIT_DEADLINE;    /* the faulting instruction was the step */
            goto out;
        }
    }
    exit = vm->single_step ? run_single_step(interp, vm) : run_blocks(interp, vm);
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
    .can_single_step = true,
};
