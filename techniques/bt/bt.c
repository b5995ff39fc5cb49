/*
 * bt.c - binary translation: the technique and its run loop.
 *
 * The problem (Popek and Goldberg, 1974; trapemu's lesson): some x86
 * instructions are sensitive but do not trap at ring 3 - pushf shows the
 * host's IF, popf ignores IF, mov from a segment register shows the host's
 * selector. Trap-and-emulate cannot see them. Binary translation (VMware,
 * 1999) reads the guest's code before it runs and rewrites it, so that
 * every sensitive instruction becomes a call into the VMM. And since the
 * translator writes the host code anyway, it can write 64-bit code: this
 * technique needs neither 32-bit compatibility mode nor KVM, and runs on
 * every x86-64 Linux host.
 *
 * A guest block and its translation (translate.c):
 *
 *      guest, 32-bit, at 0x101000      host, 64-bit, in the code cache
 *      ----------------------------    --------------------------------------
 *      mov  0x8(%esp),%eax             67 8b 44 24 08     mov 0x8(%esp),%eax
 *      add  0x105000,%eax              67 03 04 25 ...    add 0x105000,%eax (SIB: not RIP-relative)
 *      inc  %ecx                       ff c1              inc %ecx (41 is a REX prefix)
 *      push %eax                       67 89 44 24 fc     mov %eax,-4(%esp)
 *                                      67 8d a4 24 fc..   lea -4(%esp),%esp
 *      cli                             41 c7 47 28 <eip>  context.eip = the cli
 *                                      41 ff 67 40        jmp *context.exit_callout
 *
 * Guest registers live in the host registers of the same number, ESP in
 * RSP, the arithmetic flags in RFLAGS, and R15 points at the context,
 * which no 32-bit instruction can name (enter.c). Guest memory is host
 * memory at the same address: the low 4 GiB of our process, mapped from
 * the RAM memfd by the shadow page table (core/direct/shadow.c) - for
 * code running at CPL 0-2. Code running at CPL 3 gets a view of its own,
 * the same 4 GiB again at DIRECT_USER_VIEW mapping only what CPL 3 may
 * touch, and its translation reaches memory through the GS segment,
 * whose base is that view (translate.c, point_gs_at_user_view). So a
 * system call or its return changes which view the next block uses, and
 * nothing else: no mapping is revoked or given back (README.md, "Two
 * views").
 *
 * The dispatcher (bt_run, below) is the loop around it all:
 *
 *      for (;;)
 *          stop request? interrupt to deliver? HLT? deadline?
 *          the guest's segments flat and 32-bit?   else: the core
 *                                                  interprets (bt-fallback)
 *          block = code cache [EIP, physical]      else: translate it
 *          bt_enter(block) ... exit:
 *              BRANCH   go on at context.eip
 *              CALLOUT  the core executes the one instruction (callout.c)
 *              FAULT    the core executes it and raises the guest's
 *                       exception, or tells the shadow (fault.c)
 *
 * So interrupts are taken when translated code comes back. The devices
 * that raise the interrupt line run in the core's run loop, at the
 * deadline, when chained code comes back too (below), never while
 * translated code runs; and translated code that could let a pending
 * interrupt in - an inline sti or popf setting IF (virtual_state.c) - comes
 * back at once when one is pending (context.interrupt_pending, set at
 * entry). So nothing the guest can observe differs from taking interrupts
 * between instructions.
 *
 * The code cache (code_cache.c) holds translations, found by guest EIP,
 * physical address and what cli/sti/popf may do at the CPL and IOPL
 * (BT_MAY_WRITE_IF in bt_internal.h). Self-modifying code: a guest page that code was
 * translated from is mapped read-only (PAGE_FLAG_CODE); a write to it
 * faults, the page's translations are dropped, and the write is done by
 * the core (bt-smc). Writes by the core itself (callouts, DMA-like
 * device writes, interrupt frames) reach the same invalidation through
 * emulator->code_written.
 *
 * Chaining: a direct exit (jmp, jcc, loop, call) is patched, once the
 * dispatcher has seen it taken, to jump straight into the target's
 * translation, so a loop or a call runs without the dispatcher; a change
 * of the paging state undoes all chains (chain(), check_chains); a change
 * of the CPL or of what cli/sti/popf may do does not (both are in the
 * block key). The jump goes through a gate in the context; a timer
 * signal at the slice's deadline closes the gate (fault.c), and the next
 * chainable exit comes back here, so deadlines hold (bt-chain rows).
 *
 * Indirect exits (ret, jmp/call through a register or memory) have a
 * one-entry inline cache of their last target, filled by the dispatcher
 * like a chain and undone with the chains (translate.c).
 *
 * Adaptive translation (adaptive.c): a store that keeps faulting on a
 * traced guest page table is translated again as a callout that tells the
 * shadow without a fault (run_callout, bt-adaptive rows).
 *
 * Single-stepping runs the one instruction in the core
 * (bt-fallback/single-step).
 */
#include "bt.h"

#include <asm/prctl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bt_internal.h"
#include "core/host.h"
#include "core/lab.h"
#include "core/vm.h"
#include "core/x86/system.h"

/* The clock is read every this many blocks (and after every callout). */
#define BLOCKS_PER_CLOCK_CHECK 16

/* ---- the shadow's host side: guest pages in the two views ------------------ */

static bool frame_holds_code(const struct bt *bt, uint32_t physical)
{
    const struct guest_ram *ram = &bt->vm->ram;
    return physical < ram->size && (ram->page_flags[physical >> 12] & PAGE_FLAG_CODE);
}

/* Guest pages are never executable on the host: only the code cache is. */
static int host_protection(int rights)
{
    return rights ? PROT_READ | (rights & SHADOW_WRITE ? PROT_WRITE : 0) : PROT_NONE;
}

/* The shadow's ops, once per view: context is the struct bt_view. */
static int map_guest_pages(void *context, uint32_t linear, uint32_t physical, uint32_t length,
                           int rights)
{
    const struct bt_view *view = context;
    struct bt *bt = view->bt;
    if (direct_map(view->base, bt->vm->ram.memfd, linear, physical, length,
                   host_protection(rights)) < 0)
        return -1;
    if (rights & SHADOW_WRITE)        /* pages holding translated code stay read-only */
        for (uint32_t offset = 0; offset < length; offset += 4096)
            if (frame_holds_code(bt, physical + offset))
                direct_protect(view->base, linear + offset, 4096, PROT_READ);
    return 0;
}

static int protect_guest_pages(void *context, uint32_t linear, uint32_t physical, uint32_t length,
                               int rights)
{
    const struct bt_view *view = context;
    if (direct_protect(view->base, linear, length, host_protection(rights)) < 0)
        return -1;
    if (rights & SHADOW_WRITE)        /* as in map_guest_pages */
        for (uint32_t offset = 0; offset < length; offset += 4096)
            if (frame_holds_code(view->bt, physical + offset))
                direct_protect(view->base, linear + offset, 4096, PROT_READ);
    return 0;
}

static void unmap_guest_pages(void *context, uint64_t linear, uint64_t length)
{
    const struct bt_view *view = context;
    direct_unmap(view->base, linear, length);
}

/* Translated CPL 3 code reaches guest memory through GS (translate.c),
 * so this thread's GS base must be the user view. Nothing else in the
 * process uses GS (glibc's thread-local storage is FS on x86-64), and it
 * stays set until detach: one arch_prctl per attach on a thread, none per
 * CPL change (this host has no WRGSBASE for user code, and a system call
 * costs about 20 000 cycles here). */
static bool point_gs_at_user_view(struct bt *bt)
{
    if (bt->gs_set && pthread_equal(bt->gs_thread, pthread_self()))
        return true;
    if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)DIRECT_USER_VIEW) < 0)
        return false;
    bt->gs_thread = pthread_self();
    bt->gs_set = true;
    return true;
}

/* The VMM changed the guest's paging itself (a pv guest's mmu_update and
 * mmuext hypercalls, core/pv/mmu.c): the shadow follows at once, as it
 * does for the guest's own page-table writes and INVLPGs. Under direct
 * paging the mirror is kept exact entry by entry, so a TLB flush has
 * nothing left to drop in it. Chains bake in translations: they go. */
static void paging_changed(struct emulator *e, enum paging_change change, uint32_t address)
{
    struct bt *bt = e->code_cache;
    switch (change) {
    case PAGING_ENTRY_WRITTEN:
        shadow_entry_written(&bt->shadow, address);
        return;
    case PAGING_INVLPG:
        if (!bt->shadow.direct_paging)
            shadow_invalidate_page(&bt->shadow, address);
        break;
    case PAGING_FLUSH:
        if (!bt->shadow.direct_paging)
            shadow_flush(&bt->shadow);
        break;
    }
    if (bt->cache.chained) {
        bt_code_cache_unchain_all(&bt->cache);
        stats_count(bt->unchain_row, 0);
    }
}

/* ---- code pages ------------------------------------------------------------ */

/* From now on a write to this frame must reach us (see the top comment). */
static void watch_code_frame(struct bt *bt, uint32_t physical)
{
    uint8_t *flags = &bt->vm->ram.page_flags[physical >> 12];
    if (*flags & PAGE_FLAG_CODE)
        return;
    *flags |= PAGE_FLAG_CODE;
    tlb_forget_writes_to_physical_page(&bt->emulator.tlb, physical & ~0xfffu);
    shadow_write_protect_frame(&bt->shadow, physical);
}

static void forget_code_frame(struct bt *bt, uint32_t physical_page)
{
    bt_code_cache_invalidate_frame(&bt->cache, physical_page >> 12);
    bt->vm->ram.page_flags[physical_page >> 12] &= (uint8_t)~PAGE_FLAG_CODE;
    stats_count(bt->smc_row, 0);
}

/* emulator->code_written: the core wrote to a frame holding translations. */
static void code_written(struct emulator *emulator, uint32_t physical_page)
{
    forget_code_frame(emulator->code_cache, physical_page);
}

/* The guest frame behind a linear page (no accessed bits set). */
static bool frame_of(struct bt *bt, uint32_t linear, uint32_t *physical)
{
    uint32_t error;
    *physical = linear;
    return !(bt->vm->cpu.cr0 & CR0_PG) ||
           x86_translate(&bt->emulator, linear, ACCESS_READ, false, false, physical, &error);
}

/* ---- finding the block for EIP --------------------------------------------- */

/* The physical address of the code at eip, as an instruction fetch would
 * find it (the accessed bit set); false if it cannot be fetched from RAM
 * (then the core fetches it and raises #PF, or reads MMIO). */
static bool code_physical(struct bt *bt, uint32_t eip, uint32_t *physical)
{
    uint32_t page = eip & ~0xfffu, error;
    if (bt->fetch_valid && bt->fetch_linear == page) {
        *physical = bt->fetch_physical | (eip & 0xfffu);
        return true;
    }
    uint32_t translated = eip;
    if ((bt->vm->cpu.cr0 & CR0_PG) &&
        !x86_translate(&bt->emulator, eip, ACCESS_EXECUTE, cpu_cpl(&bt->vm->cpu) == 3, true,
                       &translated, &error))
        return false;
    if (!guest_ram_pointer(&bt->vm->ram, translated & ~0xfffu))
        return false;
    bt->fetch_linear = page;
    bt->fetch_physical = translated & ~0xfffu;
    bt->fetch_valid = true;
    *physical = translated;
    return true;
}

static struct bt_block *translate(struct bt *bt, uint32_t eip, uint32_t physical,
                                  uint32_t privilege)
{
    struct bt_block *block = bt_code_cache_new_block(&bt->cache, eip, physical, privilege);
    if (!block) {
        bt_code_cache_flush(&bt->cache);
        stats_count(bt->flush_row, 0);
        block = bt_code_cache_new_block(&bt->cache, eip, physical, privilege);
    }
    uint64_t start = stats_now_ns();
    const uint8_t *bytes = guest_ram_pointer(&bt->vm->ram, physical);
    uint8_t *out = bt->cache.writable + (block->code - bt->cache.executable);
    block->code_length = bt_translate_block(block, bytes, 4096 - (physical & 0xfffu), out,
                                            &bt->adaptive);
    bt_code_cache_commit(&bt->cache, block);
    watch_code_frame(bt, physical);
    stats_count(bt->translate_row, stats_now_ns() - start);
    return block;
}

/* The block for eip at the current CPL (CPL 3 code uses the user view);
 * NULL: the core must fetch this instruction itself. */
static struct bt_block *find_block(struct bt *bt, uint32_t eip)
{
    uint32_t physical;
    if (!code_physical(bt, eip, &physical))
        return NULL;
    uint32_t privilege = bt_flags_privilege(&bt->vm->cpu);
    struct bt_block *block = bt_code_cache_find(&bt->cache, eip, physical, privilege);
    return block ? block : translate(bt, eip, physical, privilege);
}

/* ---- can translated code run the guest now? ---------------------------------- */

static bool flat(const struct segment *s)
{
    return !(s->attributes & SEG_ATTR_UNUSABLE) && (s->attributes & SEG_ATTR_P) &&
           s->base == 0 && s->limit == 0xffffffffu;
}

/* A present, writable, expand-up data segment (SDM vol. 3, 3.4.5.1). */
static bool flat_writable_data(const struct segment *s)
{
    uint32_t type = SEG_ATTR_TYPE(s->attributes);
    return flat(s) && (s->attributes & SEG_ATTR_S) && !(type & 0x8) && (type & 0x2) &&
           !(type & 0x4);
}

/* NULL if translated code can run the guest as it is; else why not (the
 * bt-fallback row). Translated code computes addresses with base 0 and no
 * limit checks, and decodes guest code as 32-bit code. */
static const char *cannot_translate(const struct cpu *cpu)
{
    if (!(cpu->cr0 & CR0_PE) || (cpu->eflags & EFLAGS_VM))
        return "real-or-v86-mode";
    const struct segment *cs = &cpu->segments[SEG_CS];
    if (!(cs->attributes & SEG_ATTR_DB))
        return "16-bit-code";
    if (!flat(cs))
        return "non-flat-cs";
    if (!flat_writable_data(&cpu->segments[SEG_SS]))
        return "non-flat-ss";
    if (!flat_writable_data(&cpu->segments[SEG_DS]) || !flat_writable_data(&cpu->segments[SEG_ES]))
        return "non-flat-ds-es";
    return NULL;
}

/* ---- events between blocks --------------------------------------------------- */

static enum vm_exit triple_fault(struct bt *bt)
{
    snprintf(bt->vm->stop_reason, sizeof bt->vm->stop_reason, "%s",
             bt->emulator.triple_fault_report);
    return VM_EXIT_TRIPLE_FAULT;
}

static void count_interrupt(struct bt *bt, int vector)
{
    struct vm *vm = bt->vm;
    struct stats_counter **slot = &bt->inject_rows[vector & 0xff];
    if (!*slot) {
        char reason[STATS_NAME_LEN];
        vm_interrupt_name(vm, vector, reason, sizeof reason);
        *slot = stats_counter(&vm->stats, "inject", reason);
    }
    stats_log(&vm->stats, *slot, 0, stats_now_ns(), vm->cpu.eip, NULL);
}

/* The PIC's interrupt, through the guest IDT (SDM vol. 3, 6.8.1). */
static bool deliver_interrupt(struct bt *bt)
{
    struct vm *vm = bt->vm;
    int vector = vm_acknowledge_interrupt(vm);
    vm->cpu.halted = false;
    count_interrupt(bt, vector);
    return x86_deliver_event(&bt->emulator, vector, EVENT_EXTERNAL, false, 0);
}

/* Chains stay valid while the paging state they were made under holds
 * (see chain()); else they are all undone. A change of the CPL or of the
 * flags privilege does not undo them: both are in the block key
 * (bt_internal.h, BT_USER and BT_MAY_WRITE_IF), a chain only joins blocks
 * of one key, and translated code cannot change either (only a callout,
 * a fault or an interrupt changes them, and those return to the
 * dispatcher). So a system call and its return keep both sides' chains. */
static void check_chains(struct bt *bt)
{
    const struct cpu *cpu = &bt->vm->cpu;
    uint64_t drops = bt->shadow.invlpgs->count + bt->shadow.flushes->count;
    if (cpu->cr0 == bt->chain_context.cr0 && cpu->cr3 == bt->chain_context.cr3 &&
        cpu->cr4 == bt->chain_context.cr4 && drops == bt->chain_context.shadow_drops)
        return;
    if (bt->cache.chained) {
        bt_code_cache_unchain_all(&bt->cache);
        stats_count(bt->unchain_row, 0);
    }
    bt->chain_context.cr0 = cpu->cr0;
    bt->chain_context.cr3 = cpu->cr3;
    bt->chain_context.cr4 = cpu->cr4;
    bt->chain_context.shadow_drops = drops;
}

/* After the core ran anything: paging, CR3, the CPL or the segments may
 * have changed. */
static void core_ran(struct bt *bt)
{
    bt->fetch_valid = false;
    shadow_follow_cpu(&bt->shadow);
    check_chains(bt);
}

/* One instruction in the core, counted under category/reason. */
static bool run_in_core(struct bt *bt, const char *category, const char *reason)
{
    uint64_t start = stats_now_ns();
    uint32_t eip = bt->vm->cpu.eip;
    const char *why = reason;
    bool alive = bt_emulate_instruction(bt, &why);
    /* An STI or MOV SS holds interrupts off for one more instruction
     * (SDM vol. 3, 6.8.3): if one is waiting, run that one here too. */
    if (alive && bt->vm->cpu.interrupt_shadow) {
        if (bt->vm->pic.intr && !bt->vm->cpu.halted) {
            const char *next = "interrupt-shadow";
            alive = bt_emulate_instruction(bt, &next);
        }
        bt->vm->cpu.interrupt_shadow = false;
    }
    core_ran(bt);
    uint64_t now = stats_now_ns();
    stats_log(&bt->vm->stats, bt_row(bt, category, why), now - start, now, eip, NULL);
    return alive;
}

/* ---- running a block ------------------------------------------------------------ */

/* The arithmetic flags and DF go into RFLAGS (enter.c); IF, IOPL and
 * the rest stay virtual in the context, where the inline cli, sti, pushf
 * and popf work on them (virtual_state.c). */
static void context_from_cpu(struct bt *bt)
{
    struct bt_context *c = &bt->context;
    const struct cpu *cpu = &bt->vm->cpu;
    memcpy(c->regs, cpu->regs, sizeof c->regs);
    c->eflags = (cpu->eflags & (EFLAGS_ARITHMETIC | EFLAGS_DF)) | EFLAGS_FIXED;
    c->virtual_if = cpu->eflags & EFLAGS_IF;
    /* Bit 1 is always set, VM is 0 here (cannot_translate), and RF is
     * cleared when an instruction completes (SDM vol. 3, 17.3.1.1). */
    c->virtual_flags = cpu->eflags & ~(EFLAGS_ARITHMETIC | EFLAGS_DF | EFLAGS_IF | EFLAGS_FIXED |
                                       EFLAGS_RF | EFLAGS_VM);
    c->interrupt_pending = vm_intr(bt->vm) ? EFLAGS_IF : 0;
    for (int i = 0; i < SEG_COUNT; i++)
        c->selectors[i] = cpu->segments[i].selector;
    c->exit_site = BT_NO_SITE;
}

static void cpu_from_context(struct cpu *cpu, const struct bt_context *c)
{
    memcpy(cpu->regs, c->regs, sizeof c->regs);
    cpu->eip = c->eip;
    cpu->eflags = c->virtual_flags | c->virtual_if |
                  (c->eflags & (EFLAGS_ARITHMETIC | EFLAGS_DF)) | EFLAGS_FIXED;
}

/* Translated code faulted at context.eip: the core takes over (fault.c). */
static bool handle_fault(struct bt *bt)
{
    struct bt_context *c = &bt->context;
    switch (c->fault_kind) {
    case BT_FAULT_CODE_WRITE: {
        uint32_t physical;
        if (frame_of(bt, (uint32_t)c->fault_address, &physical))
            forget_code_frame(bt, physical & ~0xfffu);
        return run_in_core(bt, "bt-callout", "code-write");
    }
    case BT_FAULT_PT_WRITE: {
        uint32_t physical = 0, error, code;
        uint32_t linear = (uint32_t)c->fault_address;
        x86_translate(&bt->emulator, linear, ACCESS_WRITE, cpu_cpl(&bt->vm->cpu) == 3, false,
                      &physical, &error);
        bool adapt = code_physical(bt, c->eip, &code) &&
                     bt_adaptive_note_fault(&bt->adaptive, code);
        uint32_t before = bt->vm->cpu.regs[REG_ECX];
        bool alive = run_in_core(bt, "bt-callout", "pt-write");
        bool string = before != bt->vm->cpu.regs[REG_ECX];   /* rep stos/movs: many entries */
        shadow_pt_written(&bt->shadow, physical, 8, string);
        if (adapt) {              /* translated again, with this store a callout */
            bt_code_cache_invalidate_frame(&bt->cache, code >> 12);
            stats_count(bt->adaptive_row, 0);
        }
        return alive;
    }
    case BT_FAULT_EMULATE:
        break;
    }
    const char *reason = c->fault_signal == SIGSEGV ? "fault-segv"
                       : c->fault_signal == SIGFPE ? "fault-fpe"
                       : c->fault_signal == SIGBUS ? "fault-bus" : "fault-other";
    return run_in_core(bt, "bt-callout", reason);
}

/* Translated code left through the direct exit `site`, to cpu->eip: from
 * now on that exit jumps straight into the target's translation. A chain
 * bakes in what the dispatcher checks before it enters a block: that the
 * target's linear page maps the physical page it was translated from, and
 * that the CPL may execute it. Those can change only by CR0, CR3 and CR4
 * writes, INVLPG and a shadow flush - all done by the core, never by
 * translated code (a guest that edits a page-table entry must INVLPG
 * before relying on it: the TLB may keep the old translation, SDM vol. 3,
 * 4.10.4.2) - and then every chain is undone (core_ran). The CPL is the
 * same for both ends of a chain (it is in the block key, and only the
 * core changes it), so it was checked for the CPL the chain runs at. */
static void chain(struct bt *bt, uint32_t site)
{
    /* LAB 04: BEGIN patching a direct exit to jump into its target's translation */
    struct bt_code_cache *cache = &bt->cache;
    uint32_t eip = bt->vm->cpu.eip, exit = site % BT_BLOCK_MAX_EXITS;
    if (site == BT_NO_SITE || site / BT_BLOCK_MAX_EXITS >= cache->block_count)
        return;
    struct bt_block *from = &cache->blocks[site / BT_BLOCK_MAX_EXITS];
    bool indirect = exit == BT_INDIRECT_EXIT && from->has_indirect_exit;
    if ((!indirect && (exit >= from->exit_count || from->exit_target[exit] != eip)) ||
        cannot_translate(&bt->vm->cpu) || from->user != (cpu_cpl(&bt->vm->cpu) == 3))
        return;
    uint32_t blocks_before = cache->block_count;
    struct bt_block *to = find_block(bt, eip);
    if (!to || to->callout_first || cache->block_count < blocks_before)   /* a flush */
        return;
    bt_code_cache_chain(cache, from, exit, to);
    stats_count(bt->chain_row, 0);
    /* LAB 04: STUB
    (void)bt;
    (void)site;
    LAB_NOT_IMPLEMENTED(4, "chaining a direct exit to its target (techniques/bt/bt.c, chain): "
                           "every block returns to the dispatcher");
       LAB 04: END */
}

/* Where the store at guest-physical `code` writes, as a guest-physical
 * address; false if it cannot tell (the core will fault or it is no store). */
static bool store_target(struct bt *bt, uint32_t code, uint32_t *physical)
{
    struct x86_instruction insn;
    struct cpu *cpu = &bt->vm->cpu;
    uint32_t error;
    const uint8_t *bytes = guest_ram_pointer(&bt->vm->ram, code);
    if (!bytes || x86_decode(&insn, bytes, 4096 - (code & 0xfffu), true) <= 0 || !insn.has_memory)
        return false;
    *physical = x86_operand_linear_address(cpu, &insn);
    return !(cpu->cr0 & CR0_PG) ||
           x86_translate(&bt->emulator, *physical, ACCESS_WRITE, cpu_cpl(cpu) == 3, false,
                         physical, &error);
}

/*
 * The callout at cpu->eip. A store made a callout by adaptive.c (it kept
 * faulting on traced page tables) is done by the core like any callout,
 * and then the shadow is told what the fault would have told it - without
 * the host fault, the signal and the sigreturn (bt-adaptive/pt-store).
 */
static bool run_callout(struct bt *bt)
{
    uint32_t code, target;
    if (!code_physical(bt, bt->vm->cpu.eip, &code) ||
        !bt_adaptive_is_store_callout(&bt->adaptive, code))
        return run_in_core(bt, "bt-callout", NULL);
    bool traced = store_target(bt, code, &target) && shadow_is_page_table(&bt->shadow, target);
    uint32_t before = bt->vm->cpu.regs[REG_ECX];
    bool alive = run_in_core(bt, "bt-adaptive", traced ? "pt-store" : "other-store");
    if (traced)
        shadow_pt_written(&bt->shadow, target, 8, before != bt->vm->cpu.regs[REG_ECX]);
    return alive;
}

/* Run translated code from `block` on; false if the CPU shut down. */
static bool run_block(struct bt *bt, struct bt_block *block)
{
    struct cpu *cpu = &bt->vm->cpu;
    context_from_cpu(bt);
    bt_enter(&bt->context, block->code);
    cpu_from_context(cpu, &bt->context);
    bt->vm->stats.guest_instructions += bt->context.retired;
    switch ((enum bt_exit_reason)bt->context.exit_reason) {
    case BT_EXIT_BRANCH:
        chain(bt, bt->context.exit_site);
        return true;
    case BT_EXIT_CALLOUT:
        return run_callout(bt);
    case BT_EXIT_FAULT:
        return handle_fault(bt);
    }
    return true;
}

/* ---- the dispatcher ------------------------------------------------------------------ */

/* Chained blocks run without the dispatcher: the deadline timer's signal
 * handler closes the gate (fault.c), and the next chainable exit returns. */
static bool gate_closed(const struct bt *bt)
{
    return atomic_load_explicit(&bt->context.gate, memory_order_relaxed) !=
           (uint64_t)(uintptr_t)bt_chain_stub;
}

static void open_gate(struct bt *bt)
{
    atomic_store_explicit(&bt->context.gate, (uint64_t)(uintptr_t)bt_chain_stub,
                          memory_order_relaxed);
}

static enum vm_exit dispatch(struct bt *bt)
{
    struct vm *vm = bt->vm;
    struct cpu *cpu = &vm->cpu;
    uint32_t blocks = 0;
    core_ran(bt);                       /* the core may have changed anything */
    for (;;) {
        if (atomic_load_explicit(&vm->stop_requested, memory_order_relaxed))
            return VM_EXIT_STOP;
        if (vm_interrupt_deliverable(vm)) {
            if (!deliver_interrupt(bt))
                return triple_fault(bt);
            core_ran(bt);
        }
        if (cpu->halted)
            return VM_EXIT_HALT;
        if (gate_closed(bt) || ++blocks % BLOCKS_PER_CLOCK_CHECK == 0) {
            if (stats_now_ns() >= vm->deadline_ns)
                return VM_EXIT_DEADLINE;
            open_gate(bt);        /* closed by the previous slice's timer */
        }
        const char *fallback = cannot_translate(cpu);
        if (fallback) {
            if (!run_in_core(bt, "bt-fallback", fallback))
                return triple_fault(bt);
            continue;
        }
        struct bt_block *block = find_block(bt, cpu->eip);
        bool alive = !block ? run_in_core(bt, "bt-callout", "fetch")
                   : block->callout_first ? run_callout(bt)
                   : run_block(bt, block);
        if (!alive)
            return triple_fault(bt);
    }
}

/* vm->single_step (the dashboard's step key): one instruction, or one
 * interrupt delivery, per run(), executed by the core - there is nothing to
 * translate for one instruction (as interp does it). */
static enum vm_exit single_step(struct bt *bt)
{
    struct vm *vm = bt->vm;
    core_ran(bt);
    if (vm_interrupt_deliverable(vm))
        return deliver_interrupt(bt) ? VM_EXIT_DEADLINE : triple_fault(bt);
    if (vm->cpu.halted)
        return VM_EXIT_HALT;
    uint64_t start = stats_now_ns();
    uint32_t eip = vm->cpu.eip;
    const char *why = NULL;
    bool alive = bt_emulate_instruction(bt, &why);
    core_ran(bt);
    uint64_t now = stats_now_ns();
    stats_log(&vm->stats, bt_row(bt, "bt-fallback", "single-step"), now - start, now, eip, NULL);
    return alive ? VM_EXIT_DEADLINE : triple_fault(bt);
}

/* While translated code runs, RSP is the guest's ESP: a signal whose
 * handler is not on the signal stack would write its frame into guest
 * memory. All signals but the faults wait until run() returns (at most a
 * time slice). */
static void block_asynchronous_signals(sigset_t *saved)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, BT_DEADLINE_SIGNAL);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGTRAP);
    pthread_sigmask(SIG_BLOCK, &all, saved);
}

static enum vm_exit bt_run(struct vm *vm)
{
    struct bt *bt = vm->technique_state;
    char why[300];
    if (!bt) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "bt: run() without attach");
        return VM_EXIT_ERROR;
    }
    /* As trapemu: confined before the first translated instruction, where
     * the host has seccomp (core/direct/containment.c). */
    if (host_has(HOST_SECCOMP, why, sizeof why) && direct_contain_process(why, sizeof why) < 0) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "bt: cannot confine the process: %s", why);
        return VM_EXIT_ERROR;
    }
    if (vm->single_step)
        return single_step(bt);
    if (!point_gs_at_user_view(bt)) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "bt: cannot point GS at the user view (arch_prctl): %s", strerror(errno));
        return VM_EXIT_ERROR;
    }
    sigset_t saved;
    block_asynchronous_signals(&saved);
    bt_set_running(bt);
    bt_arm_deadline(bt, vm->deadline_ns);
    enum vm_exit exit = dispatch(bt);
    bt_disarm_deadline(bt);
    bt_set_running(NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return exit;
}

/* ---- attach and detach ----------------------------------------------------------------- */

static bool bt_available(char *why, size_t why_len)
{
    return direct_supported(why, why_len);
}

static int refuse(struct vm *vm, const char *why)
{
    snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", why);
    return -1;
}

static void setup_emulator(struct bt *bt, struct vm *vm)
{
    x86_executor_init(&bt->executor, &bt->emulator, &vm->cpu, &vm->ram, &vm->bus, &vm->stats);
    bt->executor.port_counters = bt->port_rows;
    bt->emulator.code_written = code_written;
    bt->emulator.code_cache = bt;
    bt->emulator.paging_changed = paging_changed;
    pv_attach_emulator(&vm->pv, &bt->emulator);          /* its hypercall callouts */
    bt->vm = vm;
    bt->context.exit_branch = (uint64_t)(uintptr_t)bt_exit_branch;
    bt->context.exit_callout = (uint64_t)(uintptr_t)bt_exit_callout;
    open_gate(bt);
    bt->translate_row = stats_counter(&vm->stats, "bt-translate", "block");
    bt->flush_row = stats_counter(&vm->stats, "bt-translate", "cache-flush");
    bt->smc_row = stats_counter(&vm->stats, "bt-smc", "page-invalidated");
    bt->chain_row = stats_counter(&vm->stats, "bt-chain", "direct-exit");
    bt->unchain_row = stats_counter(&vm->stats, "bt-chain", "unchain-all");
    bt->adaptive_row = stats_counter(&vm->stats, "bt-adaptive", "retranslate");
}

static void free_bt(struct bt *bt)
{
    bt_code_cache_destroy(&bt->cache);
    free(bt);
}

static int bt_attach(struct vm *vm)
{
    char why[300];
    if (!bt_available(why, sizeof why))
        return refuse(vm, why);
    if (!(vm->cpu.cr0 & CR0_PE) || (vm->cpu.eflags & EFLAGS_VM))
        return refuse(vm, "bt: real mode and virtual-8086 mode are not implemented (CR0.PE=0 or "
                          "EFLAGS.VM=1)");
    if (direct_reserve_guest_space(why, sizeof why) < 0 ||
        direct_reserve_guard_above(why, sizeof why) < 0 ||
        direct_reserve_user_view(why, sizeof why) < 0)
        return refuse(vm, why);
    struct bt *bt = calloc(1, sizeof *bt);
    if (!bt)
        return refuse(vm, "bt: out of memory");
    setup_emulator(bt, vm);
    if (bt_code_cache_create(&bt->cache, vm->ram.size >> 12, why, sizeof why) < 0) {
        free(bt);
        return refuse(vm, why);
    }
    bt->supervisor_view = (struct bt_view){bt, DIRECT_SUPERVISOR_VIEW};
    bt->user_view = (struct bt_view){bt, DIRECT_USER_VIEW};
    struct shadow_ops ops = {.map = map_guest_pages, .unmap = unmap_guest_pages,
                             .protect = protect_guest_pages, .context = &bt->supervisor_view};
    if (shadow_init(&bt->shadow, &bt->emulator, &ops, direct_lowest_mappable(), &vm->stats) < 0) {
        free_bt(bt);
        return refuse(vm, "bt: out of memory");
    }
    ops.context = &bt->user_view;
    shadow_use_user_view(&bt->shadow, &ops);
    if (vm->pv.direct_paging)          /* the pv technique runs on this engine */
        shadow_use_direct_paging(&bt->shadow);
    if (bt_take_fault_signals(bt, why, sizeof why) < 0) {
        shadow_destroy(&bt->shadow);
        free_bt(bt);
        return refuse(vm, why);
    }
    vm->technique_state = bt;
    return 0;
}

static void bt_detach(struct vm *vm)
{
    struct bt *bt = vm->technique_state;
    if (!bt)
        return;
    bt_give_back_fault_signals(bt);     /* and deletes the deadline timer */
    shadow_flush(&bt->shadow);           /* no guest page stays in either view */
    if (bt->gs_set && pthread_equal(bt->gs_thread, pthread_self()))
        syscall(SYS_arch_prctl, ARCH_SET_GS, 0ul);      /* as we found it */
    shadow_destroy(&bt->shadow);
    /* No page may stay marked as code once nobody listens for writes. */
    for (uint32_t frame = 0; frame < vm->ram.size >> PAGE_SHIFT; frame++)
        vm->ram.page_flags[frame] &= (uint8_t)~PAGE_FLAG_CODE;
    free_bt(bt);
    vm->technique_state = NULL;
}

const struct technique bt_technique = {
    .name = "bt",
    .summary = "translate guest code to 64-bit host code; sensitive instructions call the VMM",
    .available = bt_available,
    .attach = bt_attach,
    .run = bt_run,
    .detach = bt_detach,
    .can_single_step = true,
};
