/*
 * host.c - probing what this host can run, once, at start-up.
 *
 * The risky probes (compatibility mode, the LDT) run in a forked child: on a
 * host without the feature the test instruction faults, and a fault in a
 * child is an exit status for us to read, not the death of vmlab. The child
 * touches nothing but its own stack and one fresh page, and leaves with
 * _exit or by the signal.
 *
 * Compatibility mode: the child far-returns (LRETQ) to selector 0x23, the
 * 32-bit user code segment of Linux x86-64 (arch/x86/include/asm/segment.h,
 * __USER32_CS), into a page below 2 GiB that holds a far jump back to the
 * 64-bit code segment 0x33, where an exit system call follows. A kernel
 * booted with ia32_emulation=off (or built without IA32_EMULATION) marks
 * 0x23 not present, so the LRETQ raises #NP (SDM vol. 3, 5.8.1 and 6.15,
 * "Interrupt 11") and the child dies by a signal.
 *
 * LDT: trapemu's stand-in selectors name entries of a local descriptor
 * table that it installs with modify_ldt(2) (core/direct/traps.c). Kernels
 * built without CONFIG_MODIFY_LDT_SYSCALL answer ENOSYS; the child also
 * loads the selector into ES, as trapemu does, in case the descriptor is
 * accepted but not honoured.
 */
#include "core/host.h"

#include <asm/ldt.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct host_fact {
    bool probed, present;
    char why[240];        /* if absent: the fact and the fix, in one line */
};

static struct host_fact facts[HOST_FEATURE_COUNT];

static const char *const feature_names[HOST_FEATURE_COUNT] = {
    [HOST_COMPAT_MODE] = "compat", [HOST_LDT] = "ldt",
    [HOST_SECCOMP] = "seccomp",    [HOST_KVM] = "kvm",
};

const char *host_feature_name(enum host_feature feature)
{
    return feature_names[feature];
}

/* The exit statuses the probe children use to say "it worked". */
enum { PROBE_WORKED = 42, PROBE_NO_PAGE = 43, PROBE_SYSCALL_FAILED = 44 };

/* Runs probe() in a child; returns its exit status, or -signal. */
static int in_child(void (*probe)(void))
{
    fflush(NULL);                   /* the child must not flush our buffers twice */
    pid_t child = fork();
    if (child < 0)
        return -1000;
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);   /* die by the fault, whatever the parent installed */
        signal(SIGBUS, SIG_DFL);
        /* ... and without a core file: dying is the expected answer on a
         * host without the feature, not a crash to debug. */
        setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
        probe();
        _exit(PROBE_SYSCALL_FAILED);
    }
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            return -1000;
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

static void try_compat_mode(void)
{
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (page == MAP_FAILED)
        _exit(PROBE_NO_PAGE);
    uint32_t base = (uint32_t)(uintptr_t)page, back = base + 16;
    /* 32-bit code at base: ljmp $0x33, $back (EA ptr16:32). */
    page[0] = 0xea;
    memcpy(page + 1, &back, 4);
    page[5] = 0x33;
    page[6] = 0x00;
    /* 64-bit code at back: mov $SYS_exit, %eax; mov $PROBE_WORKED, %edi; syscall. */
    static const uint8_t leave[] = {0xb8, SYS_exit, 0, 0, 0, 0xbf, PROBE_WORKED, 0, 0, 0, 0x0f, 0x05};
    memcpy(page + 16, leave, sizeof leave);
    __asm__ volatile("pushq $0x23\n\t"
                     "pushq %0\n\t"
                     "lretq"
                     : : "r"((uint64_t)base) : "memory");
}

static void try_ldt(void)
{
    struct user_desc flat = {.entry_number = 0, .base_addr = 0, .limit = 0xfffff,
                             .seg_32bit = 1, .contents = 0, .read_exec_only = 0,
                             .limit_in_pages = 1, .seg_not_present = 0, .useable = 1};
    if (syscall(SYS_modify_ldt, 0x11, &flat, sizeof flat) != 0)
        _exit(errno == ENOSYS ? PROBE_SYSCALL_FAILED : PROBE_NO_PAGE);
    __asm__ volatile("mov %0, %%es" : : "r"(7u));   /* LDT entry 0, RPL 3 */
    _exit(PROBE_WORKED);
}

static void probe_compat_mode(struct host_fact *fact)
{
    int status = in_child(try_compat_mode);
    fact->present = status == PROBE_WORKED;
    if (status < 0 && status > -1000)
        snprintf(fact->why, sizeof fact->why,
                 "this kernel has 32-bit emulation disabled (a far jump to the 32-bit code "
                 "selector 0x23 dies by %s): boot it with ia32_emulation=on", strsignal(-status));
    else if (!fact->present)
        snprintf(fact->why, sizeof fact->why,
                 "cannot test for 32-bit compatibility mode (probe status %d)", status);
}

static void probe_ldt(struct host_fact *fact)
{
    int status = in_child(try_ldt);
    fact->present = status == PROBE_WORKED;
    if (status == PROBE_SYSCALL_FAILED)
        snprintf(fact->why, sizeof fact->why,
                 "this kernel has no modify_ldt(2) (built without CONFIG_MODIFY_LDT_SYSCALL), "
                 "which trapemu's stand-in selectors need");
    else if (status < 0 && status > -1000)
        snprintf(fact->why, sizeof fact->why,
                 "this kernel accepts an LDT entry but loading its selector dies by %s",
                 strsignal(-status));
    else if (!fact->present)
        snprintf(fact->why, sizeof fact->why, "modify_ldt(2) refused a flat data segment");
}

static void probe_seccomp(struct host_fact *fact)
{
    /* SECCOMP_GET_ACTION_AVAIL (Linux 4.14) answers without installing anything. */
    uint32_t action = SECCOMP_RET_TRAP;
    fact->present = prctl(PR_GET_SECCOMP) == 0 &&
                    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
    if (!fact->present)
        snprintf(fact->why, sizeof fact->why,
                 "this kernel offers no seccomp filter with SECCOMP_RET_TRAP (%s): vmlab will "
                 "not run guest code natively unconfined", strerror(errno));
}

static void probe_kvm(struct host_fact *fact)
{
    fact->present = access("/dev/kvm", F_OK) == 0;
    if (!fact->present)
        snprintf(fact->why, sizeof fact->why,
                 "/dev/kvm does not exist: this kernel has no KVM (load kvm_intel or kvm_amd, "
                 "or enable VT-x/AMD-V in the firmware)");
}

bool host_pretends_without(enum host_feature feature)
{
    const char *list = getenv("VMLAB_PRETEND_HOST");
    if (!list)
        return false;
    char want[32];
    snprintf(want, sizeof want, "no-%s", feature_names[feature]);
    size_t length = strlen(want);
    for (const char *p = list; (p = strstr(p, want)) != NULL; p += length)
        if ((p == list || p[-1] == ',') && (p[length] == '\0' || p[length] == ','))
            return true;
    return false;
}

void host_probe(void)
{
    static void (*const probes[HOST_FEATURE_COUNT])(struct host_fact *) = {
        [HOST_COMPAT_MODE] = probe_compat_mode, [HOST_LDT] = probe_ldt,
        [HOST_SECCOMP] = probe_seccomp,         [HOST_KVM] = probe_kvm,
    };
    for (int i = 0; i < HOST_FEATURE_COUNT; i++) {
        struct host_fact *fact = &facts[i];
        if (fact->probed)
            continue;
        fact->probed = true;
        if (host_pretends_without(i)) {
            snprintf(fact->why, sizeof fact->why,
                     "this host is treated as having no %s (VMLAB_PRETEND_HOST=%s)",
                     i == HOST_COMPAT_MODE ? "32-bit compatibility mode" : feature_names[i],
                     getenv("VMLAB_PRETEND_HOST"));
            continue;
        }
        probes[i](fact);
    }
}

bool host_has(enum host_feature feature, char *why, size_t why_len)
{
    host_probe();
    const struct host_fact *fact = &facts[feature];
    if (!fact->present && why_len)
        snprintf(why, why_len, "%s", fact->why);
    return fact->present;
}
