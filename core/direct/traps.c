/*
 * traps.c - guest traps arrive as signals.
 *
 * At host ring 3 every sensitive thing the guest does raises an exception
 * that Linux turns into a signal for us (arch/x86/kernel/traps.c):
 *
 *   #GP  (cli, sti, hlt, in, out, lgdt, mov cr, int n, iret to a guest
 *         selector, a load of a selector the host GDT refuses)   SIGSEGV
 *   #PF  (a guest page the shadow has not mapped yet)           SIGSEGV
 *   #UD  (ud2, sysenter in compat mode on AMD, ...)             SIGILL
 *   #DE                                                         SIGFPE
 *   #BP, #DB (int3, TF)                                         SIGTRAP
 *   #AC, a mapping past the end of the memfd                    SIGBUS
 *   a compat system call (int 0x80) caught by seccomp           SIGSYS
 *
 * The ucontext holds the registers at the fault, the hardware vector
 * (REG_TRAPNO) and error code (REG_ERR), and si_addr is CR2 for a page
 * fault (Linux's sigcontext ABI, arch/x86/include/uapi/asm/sigcontext.h).
 *
 * Every handler runs on a sigaltstack: the guest's stack pointer is a guest
 * address, and the kernel would otherwise push the signal frame there, into
 * guest memory (sigaltstack(2)). Every other substrate signal is blocked
 * while a handler runs, so handlers never nest.
 *
 * The deadline: a POSIX timer aimed at this thread (SIGEV_THREAD_ID) fires
 * at vm->deadline_ns, and then every millisecond, so that a kick lost in
 * the instant between arming it and entering the guest is repeated.
 */
#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <asm/ldt.h>
#include <asm/prctl.h>

#include "core/direct/compat.h"
#include "core/direct/world_switch.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

#define KICK_INTERVAL_NS 1000000

/* The vCPU now running guest code on this thread, and its world-switch
 * frame: a signal handler's only way to them (one guest thread per
 * process; direct_run sets them, the exit clears them). */
static struct direct_vcpu *running_vcpu;
static struct direct_frame running_frame;

static const int fault_signals[] = {SIGSEGV, SIGILL, SIGFPE, SIGTRAP, SIGBUS, SIGSYS};
/* ---- entering the signal handler --------------------------------------- */

static uint16_t read_ds(void)
{
    uint16_t selector;
    __asm__ volatile("mov %%ds, %0" : "=r"(selector));
    return selector;
}

static uint16_t read_es(void)
{
    uint16_t selector;
    __asm__ volatile("mov %%es, %0" : "=r"(selector));
    return selector;
}

/*
 * Stand-in selectors. The guest's DS and ES selectors (0x10, 0x23, ...)
 * name descriptors of the GUEST's GDT; in the host GDT they mean something
 * else or nothing. Yet a guest kernel's entry code saves DS with `push %ds`
 * and restores it with `pop %ds` natively, without trapping, so the value
 * the host holds must let us recover the guest's. We run with selector
 * (guest | 4): TI = 1, entry `index` of an LDT of our own, installed with
 * modify_ldt(2) as a flat 32-bit data segment (DPL 3, base 0, 4 GiB).
 * Whatever the guest pushes and pops, at the next trap "host DS & ~4" is
 * the guest's DS. A selector of the guest's own LDT runs as 0x2b, the
 * host's flat data segment.
 *
 * Signal-handler state, hence globals: which LDT entries exist, and the
 * selectors the guest was last resumed with.
 */
static uint8_t ldt_entry_ready[8192 / 8];
static uint16_t resumed_selector[SEG_COUNT];

static bool install_ldt_entry(unsigned index)
{
    if (ldt_entry_ready[index / 8] & (1u << (index % 8)))
        return true;
    struct user_desc flat = {.entry_number = index, .base_addr = 0, .limit = 0xfffff,
                             .seg_32bit = 1, .contents = 0, .read_exec_only = 0,
                             .limit_in_pages = 1, .seg_not_present = 0, .useable = 1};
    if (syscall(SYS_modify_ldt, 0x11, &flat, sizeof flat) != 0)
        return false;
    ldt_entry_ready[index / 8] |= (uint8_t)(1u << (index % 8));
    return true;
}

/* A segment the host's flat data descriptor can stand for: a present,
 * writable, expand-up data segment covering all 4 GiB (base 0 is checked
 * by direct_segments_runnable). */
static bool flat_writable(const struct segment *guest)
{
    uint32_t a = guest->attributes, type = SEG_ATTR_TYPE(a);
    return !(a & SEG_ATTR_UNUSABLE) && (a & SEG_ATTR_P) && (a & SEG_ATTR_S) && !(type & 0x8) &&
           (type & 0x2) && !(type & 0x4) && guest->base == 0 && guest->limit == 0xffffffffu;
}

/* Any other guest segment (null, limited, read-only, expand-down) runs with
 * the NULL selector: every native access through it is a #GP, and the
 * emulator then applies the guest's own limit and type checks. */
static uint16_t stand_in_selector(const struct segment *guest)
{
    uint16_t selector = guest->selector;
    if (!flat_writable(guest))
        return 0;
    if ((selector & ~3u) == 0 || (selector & 4) || !install_ldt_entry(selector >> 3))
        return DIRECT_DATA_SELECTOR;
    return selector | 4;
}

/* The guest selector a host selector found at a trap stands for (0xffff:
 * the null selector). */
static uint16_t guest_selector_of(uint16_t host)
{
    if ((host & ~3u) == 0)
        return 0xffff;
    return (host & 4) ? (uint16_t)(host & ~4u) : host;
}

/* Load the stand-ins for the guest's DS and ES. sigreturn does not restore
 * DS/ES on x86-64 (they are not in the 64-bit sigcontext), so what we load
 * here is what the guest resumes with. */
static void load_stand_ins(const struct cpu *cpu)
{
    resumed_selector[SEG_DS] = stand_in_selector(&cpu->segments[SEG_DS]);
    resumed_selector[SEG_ES] = stand_in_selector(&cpu->segments[SEG_ES]);
    __asm__ volatile("mov %0, %%ds\n\tmov %1, %%es"
                     : : "r"((uint32_t)resumed_selector[SEG_DS]),
                         "r"((uint32_t)resumed_selector[SEG_ES]));
}

static const int gpr_slots[8] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX,
                                 REG_RSP, REG_RBP, REG_RSI, REG_RDI};

static void cpu_from_context(struct cpu *cpu, const ucontext_t *uc)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    for (int i = 0; i < 8; i++)
        cpu->regs[i] = (uint32_t)g[gpr_slots[i]];
    cpu->eip = (uint32_t)g[REG_RIP];
    cpu->eflags = (cpu->eflags & ~DIRECT_NATIVE_EFLAGS) |
                  ((uint32_t)g[REG_EFL] & DIRECT_NATIVE_EFLAGS) | EFLAGS_FIXED;
}

static void cpu_to_context(const struct cpu *cpu, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    for (int i = 0; i < 8; i++)
        g[gpr_slots[i]] = cpu->regs[i];
    g[REG_RIP] = cpu->eip;
    /* Only the native bits reach the host; IF is forced on by the kernel. */
    g[REG_EFL] = (cpu->eflags & DIRECT_NATIVE_EFLAGS) | EFLAGS_FIXED | EFLAGS_IF;
    /* Always compatibility mode, even if the guest had left it. */
    uint64_t segments = (uint64_t)g[REG_CSGSFS];
    segments = (segments & ~0xffffull & ~(0xffffull << 48)) | DIRECT_COMPAT_CODE_SELECTOR |
               ((uint64_t)DIRECT_DATA_SELECTOR << 48);
    g[REG_CSGSFS] = (greg_t)segments;
}

/* REG_CSGSFS packs cs, gs, fs and ss in 16-bit fields (struct sigcontext). */
static uint16_t context_cs(const ucontext_t *uc)
{
    return (uint16_t)(uc->uc_mcontext.gregs[REG_CSGSFS] & 0xffff);
}

/* Rewrite the context so that sigreturn lands in direct_world_exit, in
 * 64-bit mode on the VMM's stack (see world_switch.c). */
static void return_to_vmm(ucontext_t *uc, int exit_code)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uint64_t segments = (uint64_t)g[REG_CSGSFS];
    segments = (segments & ~0xffffull & ~(0xffffull << 48)) | DIRECT_HOST_CODE_SELECTOR |
               ((uint64_t)DIRECT_DATA_SELECTOR << 48);
    g[REG_CSGSFS] = (greg_t)segments;
    g[REG_RIP] = (greg_t)(uintptr_t)direct_world_exit;
    g[REG_RSP] = (greg_t)running_frame.host_rsp;
    g[REG_RAX] = exit_code;
    g[REG_EFL] = EFLAGS_FIXED | EFLAGS_IF;     /* DF, AC, TF clear for C code */
    running_vcpu = NULL;
}

static enum direct_trap_kind classify(int signal_number, const struct direct_vcpu *vcpu,
                                      uint16_t cs)
{
    if (cs != DIRECT_COMPAT_CODE_SELECTOR)
        return DIRECT_TRAP_LEFT_COMPAT;
    if (signal_number == vcpu->deadline_signal)
        return DIRECT_TRAP_DEADLINE;
    if (signal_number == SIGSYS)
        return DIRECT_TRAP_SYSCALL;
    return DIRECT_TRAP_FAULT;
}

/* Guest code is compatibility-mode code (CS 0x23), or guest code that left
 * it for 64-bit mode but still runs in the guest's 4 GiB. Anything else
 * interrupted the VMM itself. */
static bool interrupted_guest(const ucontext_t *uc)
{
    uint16_t cs = context_cs(uc);
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    return running_vcpu && (cs == DIRECT_COMPAT_CODE_SELECTOR ||
                            (cs == DIRECT_HOST_CODE_SELECTOR && rip < DIRECT_GUEST_SPACE_END));
}

static void fill_trap(struct direct_trap *trap, int signal_number, const siginfo_t *info,
                      const ucontext_t *uc, enum direct_trap_kind kind)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    memset(trap, 0, sizeof *trap);
    trap->kind = kind;
    trap->signal = signal_number;
    trap->si_code = info->si_code;
    trap->trap_number = (int)g[REG_TRAPNO];
    trap->error_code = (uint32_t)g[REG_ERR];
    trap->fault_address = (uint64_t)(uintptr_t)info->si_addr;
    trap->rip = (uint64_t)g[REG_RIP];
    trap->cs = context_cs(uc);
    if (signal_number == SIGSYS) {
        trap->syscall_arch = info->si_arch;
        trap->syscall_number = info->si_syscall;
    }
    uint16_t ds = read_ds(), es = read_es();
    if (ds != resumed_selector[SEG_DS])
        trap->native_selector[SEG_DS] = guest_selector_of(ds);
    if (es != resumed_selector[SEG_ES])
        trap->native_selector[SEG_ES] = guest_selector_of(es);
}

/* kill -SEGV from another process (si_code SI_USER or SI_TKILL, <= 0) is
 * never a fault of guest code, wherever it lands; the deadline timer's
 * signal (SI_TIMER, also <= 0) is ours. */
static bool sent_by_a_process(int signal_number, const siginfo_t *info)
{
    return info->si_code <= 0 && signal_number != running_vcpu->deadline_signal;
}

void direct_signal_dispatch(int signal_number, siginfo_t *info, void *ucontext)
{
    ucontext_t *uc = ucontext;
    int saved_errno = errno;
    if (!interrupted_guest(uc) || sent_by_a_process(signal_number, info)) {
        direct_vmm_fault(signal_number, info, uc);
        errno = saved_errno;
        return;
    }
    struct direct_vcpu *vcpu = running_vcpu;
    struct direct_trap trap;
    fill_trap(&trap, signal_number, info, uc, classify(signal_number, vcpu, context_cs(uc)));
    cpu_from_context(vcpu->cpu, uc);
    if (signal_number == SIGSYS)
        vcpu->cpu->regs[REG_EAX] = (uint32_t)info->si_syscall;  /* the kernel put -ENOSYS there */
    int exit_code = 0;
    if (vcpu->handler(vcpu->context, &trap, &exit_code) == DIRECT_RESUME) {
        cpu_to_context(vcpu->cpu, uc);
        load_stand_ins(vcpu->cpu);
    } else {
        return_to_vmm(uc, exit_code);
    }
    errno = saved_errno;
}

/* ---- attaching a thread ------------------------------------------------------ */

static int fail(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "%s: %s", what, strerror(errno));
    return -1;
}

static int create_timer(struct direct_vcpu *vcpu, char *why, size_t why_len)
{
    struct sigevent event = {.sigev_notify = SIGEV_THREAD_ID,
                             .sigev_signo = vcpu->deadline_signal};
    event._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) < 0)
        return fail(why, why_len, "timer_create");
    vcpu->timer = timer;
    vcpu->timer_created = true;
    return 0;
}

static void remember_fs_base(void)
{
    direct_have_wrfsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
    unsigned long base = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &base);
    direct_vmm_fs_base = base;
}

/* Every fault a guest instruction can cause, and the deadline. */
static int substrate_signals(const struct direct_vcpu *vcpu, int *numbers)
{
    int count = 0;
    for (size_t i = 0; i < sizeof fault_signals / sizeof fault_signals[0]; i++)
        numbers[count++] = fault_signals[i];
    numbers[count++] = vcpu->deadline_signal;
    return count;
}

int direct_vcpu_attach(struct direct_vcpu *vcpu, char *why, size_t why_len)
{
    vcpu->deadline_signal = SIGRTMIN + 2;   /* hvm's deadline uses SIGRTMIN */
    remember_fs_base();                     /* this thread's: FS is per thread */
    int numbers[DIRECT_MAX_SIGNALS];
    int count = substrate_signals(vcpu, numbers);
    if (direct_signals_take(&vcpu->signals, numbers, count, direct_signal_entry, why, why_len) < 0)
        return -1;
    return create_timer(vcpu, why, why_len);
}

void direct_vcpu_detach(struct direct_vcpu *vcpu)
{
    if (vcpu->timer_created)
        timer_delete((timer_t)vcpu->timer);
    vcpu->timer_created = false;
    direct_signals_give_back(&vcpu->signals);
    /* The signal stack stays installed: a foreign signal may still use it
     * (signals.c). */
}

/* ---- running ------------------------------------------------------------------- */

static void arm_deadline(struct direct_vcpu *vcpu, uint64_t deadline_ns)
{
    struct itimerspec when = {
        .it_value = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                     .tv_nsec = (long)(deadline_ns % 1000000000u)},
        .it_interval = {.tv_sec = 0, .tv_nsec = KICK_INTERVAL_NS},
    };
    timer_settime((timer_t)vcpu->timer, TIMER_ABSTIME, &when, NULL);
}

static void disarm_deadline(struct direct_vcpu *vcpu)
{
    struct itimerspec never = {0};
    timer_settime((timer_t)vcpu->timer, 0, &never, NULL);
}

int direct_run(struct direct_vcpu *vcpu, uint64_t deadline_ns)
{
    const struct cpu *cpu = vcpu->cpu;
    for (int i = 0; i < 8; i++)
        running_frame.regs[i] = cpu->regs[i];
    running_frame.eip = cpu->eip;
    running_frame.eflags = (cpu->eflags & DIRECT_NATIVE_EFLAGS) | EFLAGS_FIXED | EFLAGS_IF;
    resumed_selector[SEG_DS] = running_frame.ds = stand_in_selector(&cpu->segments[SEG_DS]);
    resumed_selector[SEG_ES] = running_frame.es = stand_in_selector(&cpu->segments[SEG_ES]);
    arm_deadline(vcpu, deadline_ns);
    running_vcpu = vcpu;
    int exit_code = (int)direct_world_enter(&running_frame);
    disarm_deadline(vcpu);
    return exit_code;
}
