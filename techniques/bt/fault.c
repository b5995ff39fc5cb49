/*
 * fault.c - a host fault in translated code.
 *
 * Translated code touches guest memory at guest-virtual = host address
 * (enter.c). When the host page is not mapped, or mapped read-only, the
 * CPU raises #PF and Linux sends SIGSEGV with the registers at the fault
 * in the ucontext, the hardware vector and error code (REG_TRAPNO,
 * REG_ERR) and the address (si_addr, CR2). A #DE in a guest DIV arrives
 * as SIGFPE, and so on. The handler runs on the signal stack
 * (core/direct/signals.c) - RSP is the guest's ESP.
 *
 *   1. Which guest instruction? The faulting RIP is in the code cache; the
 *      block holding it (bt_code_cache_block_at) maps host offsets back to
 *      guest instructions (its fault map). Every translated instruction
 *      touches memory before it changes a register (translate.c), so the
 *      registers in the ucontext ARE the guest's registers before that
 *      instruction: the fault is precise with no roll-back to do.
 *   2. Which guest address? si_addr less the base of the view the block
 *      uses: the supervisor view (0) for code translated for CPL 0-2, the
 *      user view for CPL 3 code (translate.c; core/direct/direct.h). An
 *      address outside the block's view (the guard pages above it) is
 *      left to the core, which wraps at 4 GiB as the guest's CPU does.
 *      A hidden fault: the guest's page tables map the page, only the
 *      shadow had not yet (core/direct/shadow.c, which maps it in the
 *      view of the CPL): map it and return from the signal - the
 *      instruction runs again, the guest never knows.
 *   3. Anything else - a true guest #PF, a page the host cannot map
 *      (MMIO, page 0), a write to a guest page table, a write to a page
 *      holding translated code, #DE - leaves translated code: the context
 *      is rewritten so that sigreturn lands in bt_return on the VMM's
 *      stack (enter.c), with the guest registers in bt_context, and the
 *      run loop executes the instruction in the core emulator, which
 *      raises the guest's own exception where there is one (bt.c).
 *
 * A fault anywhere else is a bug in vmlab: the default action (a core
 * dump) when the instruction runs again.
 *
 * The deadline: chained blocks (bt.c) may loop without ever returning to
 * the dispatcher, so a POSIX timer aimed at this thread (SIGEV_THREAD_ID)
 * fires at vm->deadline_ns, and then every millisecond in case a signal
 * came just before the dispatcher reopened the gate; its handler only
 * closes the gate, wherever the thread is.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "bt_internal.h"
#include "core/vm.h"
#include "core/x86/system.h"

static struct bt *running_bt;

void bt_set_running(struct bt *bt)
{
    running_bt = bt;
}

static const int gpr_slots[8] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX,
                                 REG_RSP, REG_RBP, REG_RSI, REG_RDI};

/* The guest frame a write at linear lands in, if the guest maps it. */
static bool guest_physical(struct bt *bt, uint32_t linear, bool write, uint32_t *physical)
{
    uint32_t error;
    if (!(bt->vm->cpu.cr0 & CR0_PG)) {
        *physical = linear;
        return true;
    }
    return x86_translate(&bt->emulator, linear, write ? ACCESS_WRITE : ACCESS_READ,
                         cpu_cpl(&bt->vm->cpu) == 3, false, physical, &error);
}

static bool holds_code(struct bt *bt, uint32_t physical)
{
    const struct guest_ram *ram = &bt->vm->ram;
    return physical < ram->size && (ram->page_flags[physical >> 12] & PAGE_FLAG_CODE);
}

/* The guest address a host address of the block's view stands for; false
 * outside the view. */
static bool guest_address(const struct bt_block *block, uint64_t address, uint32_t *linear)
{
    uint64_t base = block->user ? DIRECT_USER_VIEW : DIRECT_SUPERVISOR_VIEW;
    if (address < base || address - base >= DIRECT_GUEST_SPACE_END)
        return false;
    *linear = (uint32_t)(address - base);
    return true;
}

/* A page fault on a guest address: resume (hidden fault) or say why not.
 * The shadow maps in the view of the CPU's CPL, which is the block's
 * (the CPL is in the block's key, bt.c). */
static bool resolve_page_fault(struct bt *bt, const ucontext_t *uc, const struct bt_block *block,
                               uint32_t linear, enum bt_fault_kind *kind)
{
    uint32_t error = (uint32_t)uc->uc_mcontext.gregs[REG_ERR], physical;
    bool write = error & 2, present = error & 1;
    *kind = BT_FAULT_EMULATE;
    if (block->user != (cpu_cpl(&bt->vm->cpu) == 3))
        return false;
    if (write && guest_physical(bt, linear, true, &physical) && holds_code(bt, physical)) {
        *kind = BT_FAULT_CODE_WRITE;
        return false;
    }
    switch (shadow_fault(&bt->shadow, linear, write, present)) {
    case SHADOW_MAPPED: return true;
    case SHADOW_PT_WRITE: *kind = BT_FAULT_PT_WRITE; return false;
    case SHADOW_EMULATE: return false;
    }
    return false;
}

/* Send the CPU back to the VMM with the guest at the faulting instruction. */
static void leave_translated_code(struct bt *bt, ucontext_t *uc, const struct bt_block *block,
                                  uint32_t index, int signal_number, uint64_t fault_address,
                                  enum bt_fault_kind kind)
{
    greg_t *g = uc->uc_mcontext.gregs;
    struct bt_context *c = &bt->context;
    for (int i = 0; i < 8; i++)
        c->regs[i] = (uint32_t)g[gpr_slots[i]];
    c->eflags = (uint32_t)g[REG_EFL];
    c->eip = block->eip + block->guest_offset[index];
    c->retired = (uint32_t)g[REG_R14] + index;   /* earlier blocks, then this one's */
    c->exit_reason = BT_EXIT_FAULT;
    c->fault_signal = signal_number;
    c->fault_trap_number = (int)g[REG_TRAPNO];
    c->fault_error_code = (uint32_t)g[REG_ERR];
    c->fault_address = fault_address;
    c->fault_kind = kind;
    g[REG_RIP] = (greg_t)(uintptr_t)bt_return;
    g[REG_RSP] = (greg_t)c->host_rsp;
    g[REG_EFL] = 0x202;              /* DF, AC, TF clear for the VMM's C code */
}

static void bt_fault_signal(int signal_number, siginfo_t *info, void *ucontext)
{
    ucontext_t *uc = ucontext;
    struct bt *bt = running_bt;
    if (signal_number == BT_DEADLINE_SIGNAL) {
        if (bt)
            atomic_store_explicit(&bt->context.gate, (uint64_t)(uintptr_t)bt_exit_branch,
                                  memory_order_relaxed);
        return;
    }
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    const struct bt_block *block = bt ? bt_code_cache_block_at(&bt->cache, rip) : NULL;
    /* A fault signal another process sent (kill -SEGV: si_code SI_USER,
     * SI_QUEUE or SI_TKILL, all <= 0; the CPU's faults have codes > 0,
     * sigaction(2)) is not the guest's even if it lands in translated
     * code: the VMM dies of it, as of a fault of its own. */
    if (!block || info->si_code <= 0) {
        direct_vmm_fault(signal_number, info, uc);
        return;
    }
    enum bt_fault_kind kind = BT_FAULT_EMULATE;
    uint64_t address = (uint64_t)(uintptr_t)info->si_addr;
    uint32_t linear;
    bool in_view = guest_address(block, address, &linear);
    if (signal_number == SIGSEGV && uc->uc_mcontext.gregs[REG_TRAPNO] == EXC_PF && in_view &&
        resolve_page_fault(bt, uc, block, linear, &kind))
        return;                      /* hidden: the instruction runs again */
    leave_translated_code(bt, uc, block, bt_block_instruction_at(block, rip), signal_number,
                          in_view ? linear : address, kind);
}

int bt_take_fault_signals(struct bt *bt, char *why, size_t why_len)
{
    const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, BT_DEADLINE_SIGNAL};
    if (direct_signals_take(&bt->signals, signals, (int)(sizeof signals / sizeof signals[0]),
                            bt_fault_signal, why, why_len) < 0)
        return -1;
    struct sigevent event = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = BT_DEADLINE_SIGNAL};
    event._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) < 0) {
        snprintf(why, why_len, "bt: timer_create: %s", strerror(errno));
        direct_signals_give_back(&bt->signals);
        return -1;
    }
    bt->deadline_timer = timer;
    bt->timer_created = true;
    return 0;
}

void bt_give_back_fault_signals(struct bt *bt)
{
    if (bt->timer_created)
        timer_delete((timer_t)bt->deadline_timer);
    bt->timer_created = false;
    direct_signals_give_back(&bt->signals);
}

void bt_arm_deadline(struct bt *bt, uint64_t deadline_ns)
{
    struct itimerspec when = {
        .it_value = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                     .tv_nsec = (long)(deadline_ns % 1000000000u)},
        .it_interval = {.tv_sec = 0, .tv_nsec = 1000000},
    };
    timer_settime((timer_t)bt->deadline_timer, TIMER_ABSTIME, &when, NULL);
}

void bt_disarm_deadline(struct bt *bt)
{
    struct itimerspec never = {0};
    timer_settime((timer_t)bt->deadline_timer, 0, &never, NULL);
}
