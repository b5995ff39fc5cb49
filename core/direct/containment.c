/*
 * containment.c - confining the vmlab process before guest code runs.
 *
 * Guest code runs natively inside our process. At host ring 3 it can do
 * anything a user program can, and two things matter:
 *
 *   1. Compatibility-mode system calls. `int 0x80` (and, on AMD, `syscall`)
 *      in compatibility mode are Linux i386 system calls. A guest kernel's
 *      int 0x80 is meant for the guest kernel, never for Linux. They are
 *      recognised by ARCH (seccomp_data.arch == AUDIT_ARCH_I386), not by
 *      instruction pointer: for a compat `syscall` Linux has already moved
 *      the IP to a vDSO landing pad when seccomp looks (do_fast_syscall_32),
 *      so an IP test would let it through.
 *   2. Leaving compatibility mode. A far jump to selector 0x33 (the host's
 *      64-bit user code segment, DPL 3) needs no privilege, and then guest
 *      code runs 64-bit code and issues 64-bit system calls. Those whose
 *      instruction pointer is in the guest's 4 GiB are guest code.
 *
 * Both get SECCOMP_RET_TRAP: the system call is not made and a SIGSYS
 * reaches the trap handler, which makes it a guest event or stops the VM.
 * That part is a small classic-BPF program (seccomp(2) and
 * Documentation/userspace-api/seccomp_filter.rst), because libseccomp rules
 * can test system-call arguments but not the instruction pointer.
 *
 * A second filter, built with libseccomp, allows only the 64-bit system
 * calls the VMM itself makes once the guest runs; everything else fails
 * with EPERM. That covers guest code that jumps into the VMM's own code
 * (a "return into libc"): no exec, no sockets, no signals to others, no
 * process creation, and no open of any kind - open, openat, openat2 and
 * creat are simply not on the list. What the VMM can still do to files is
 * through descriptors it already holds, plus rename and unlink, which the
 * --stats-json temporary needs (below). Those two take any path: code that
 * escaped could still move or delete a file it can name; seccomp sees a
 * path only as a pointer, so it cannot limit them to the stats file.
 *
 * Filters stack, and the most restrictive action wins (TRAP before ERRNO
 * before ALLOW). SECCOMP_FILTER_FLAG_TSYNC applies them to every thread
 * (the dashboard runs the guest in a thread of its own).
 *
 * "No open" is a promise the rest of vmlab keeps by opening everything it
 * will ever need before the first technique attaches, because trapemu may
 * attach first (--technique trapemu) and contain the process at once:
 *   - vm_create() asks every technique's available() first; that is where
 *     hvm opens /dev/kvm and keeps the fd, so a live switch to hvm later
 *     opens nothing;
 *   - --stats-json: the temporary file next to FILE is created at start-up
 *     and written, fsynced and renamed at the end (core/stats_json.h);
 *   - --stats-out, --disk and the guest image are opened at start-up;
 *   - trapemu reads /proc/sys/vm/mmap_min_addr before it calls us;
 *   - the dashboard's newterm() reads the terminfo entry when its screen
 *     starts: before any switch a key can ask for, but after vm_create(),
 *     so --technique trapemu --dashboard needs the screen started before
 *     vm_create() (not done yet: core/ui/dashboard.c).
 * An open that was forgotten fails with EPERM instead of happening: a
 * guest that escaped to 64-bit code and jumped into libc finds no way to
 * a new file (tests/trapemu/containment.sh checks the filter in force).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/direct/direct.h"

#define X32_SYSCALL_BIT 0x40000000u

static bool contained;

/* Filter 1: compat system calls, x32 system calls and system calls from the
 * guest's 4 GiB trap. seccomp_data is little-endian: the high half of the
 * instruction pointer is at offset + 4. */
static int install_guest_trap_filter(char *why, size_t why_len)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),          /* i386 (or anything else) */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),          /* x32 */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),          /* IP below 4 GiB: guest code */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program) != 0) {
        snprintf(why, why_len, "seccomp (guest trap filter): %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The VMM's own system calls once a guest runs (console, disk, timers,
 * memory for the shadow page table, signals, threads, hvm's ioctls). */
static const int vmm_syscalls[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
    SCMP_SYS(statx), SCMP_SYS(ioctl), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select),
    SCMP_SYS(pselect6), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fcntl),
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap), SCMP_SYS(madvise),
    SCMP_SYS(brk), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack), SCMP_SYS(timer_create),
    SCMP_SYS(timer_settime), SCMP_SYS(timer_gettime), SCMP_SYS(timer_delete),
    SCMP_SYS(timer_getoverrun), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(exit),
    SCMP_SYS(exit_group), SCMP_SYS(futex), SCMP_SYS(rename), SCMP_SYS(renameat),
    SCMP_SYS(renameat2), SCMP_SYS(unlink), SCMP_SYS(getrandom), SCMP_SYS(sched_yield),
    SCMP_SYS(restart_syscall), SCMP_SYS(arch_prctl), SCMP_SYS(rseq), SCMP_SYS(set_robust_list),
    SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(pipe2),
    SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getrusage), SCMP_SYS(prlimit64), SCMP_SYS(set_tid_address),
    SCMP_SYS(modify_ldt),      /* stand-in selectors for the guest's DS/ES (traps.c) */
};

static int add_conditional_rules(scmp_filter_ctx filter)
{
    pid_t self = getpid();
    int rc = 0;
    /* Signals only to ourselves (abort(3) uses tgkill on itself). */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, self));
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, self));
    /* Threads, not processes: clone must share the address space and
     * thread group. clone3 says ENOSYS so that glibc falls back to clone. */
    rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM,
                                   CLONE_THREAD | CLONE_VM));
    rc |= seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* No rule for open, openat, openat2 or creat: the default (EPERM). */
    return rc;
}

static int install_vmm_allow_list(char *why, size_t why_len)
{
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!filter) {
        snprintf(why, why_len, "seccomp_init failed");
        return -1;
    }
    int rc = seccomp_attr_set(filter, SCMP_FLTATR_CTL_TSYNC, 1);
    /* Other architectures are filter 1's business: trap, never kill. */
    rc |= seccomp_attr_set(filter, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
    for (size_t i = 0; i < sizeof vmm_syscalls / sizeof vmm_syscalls[0]; i++)
        rc |= seccomp_rule_add(filter, SCMP_ACT_ALLOW, vmm_syscalls[i], 0);
    rc |= add_conditional_rules(filter);
    if (rc == 0)
        rc = seccomp_load(filter);
    seccomp_release(filter);
    if (rc != 0) {
        snprintf(why, why_len, "seccomp (VMM allow-list): %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int direct_contain_process(char *why, size_t why_len)
{
    if (contained)
        return 0;
    /* Required to install a filter without CAP_SYS_ADMIN, and right anyway. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(why, why_len, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    if (install_guest_trap_filter(why, why_len) < 0 || install_vmm_allow_list(why, why_len) < 0)
        return -1;
    contained = true;
    return 0;
}
