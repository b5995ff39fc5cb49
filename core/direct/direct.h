/*
 * direct.h - the direct-execution substrate: running guest code natively on
 * the host CPU, inside the vmlab process, and getting control back when it
 * does something only the VMM may do. Shared by trapemu (and later bt, pv).
 *
 * The picture (docs/design.md, "The direct-execution substrate"):
 *
 *   - The low 4 GiB of the process belong to the guest: guest-virtual
 *     address v is host address v (address_space.c, shadow.c).
 *   - The guest runs in 32-bit compatibility mode with the host's flat
 *     selectors (code 0x23, data 0x2b), at host ring 3, whatever its
 *     virtual privilege level. Its own selectors and descriptor caches live
 *     in struct cpu only.
 *   - The world switch into the guest is an IRETQ from 64-bit code
 *     (world_switch.c); the way back is a signal: a privileged instruction
 *     at ring 3 is a #GP, which Linux turns into SIGSEGV with the guest's
 *     registers in the ucontext (traps.c). The technique's trap handler
 *     then either resumes the guest or asks to return to the VMM's run loop.
 *
 * Everything here is x86-64 Linux specific and cannot run under
 * AddressSanitizer, whose shadow memory occupies the low 4 GiB:
 * direct_supported() says so.
 */
#ifndef VMLAB_DIRECT_H
#define VMLAB_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"

/* Linux x86-64 GDT selectors (arch/x86/include/asm/segment.h): entry 4 is
 * __USER32_CS, entry 5 __USER_DS, entry 6 __USER_CS, all DPL 3. */
#define DIRECT_COMPAT_CODE_SELECTOR 0x23
#define DIRECT_DATA_SELECTOR        0x2b
#define DIRECT_HOST_CODE_SELECTOR   0x33

#define DIRECT_GUEST_SPACE_END (1ull << 32)

/* The EFLAGS bits the guest owns natively: the host CPU computes them and
 * the guest reads them with no trap. Every other bit (IF, IOPL, TF, NT, AC,
 * VM, ...) is virtual: kept in struct cpu, never given to the host (at ring
 * 3 the host would ignore IF/IOPL anyway - which is the pushf/popf lesson). */
#define DIRECT_NATIVE_EFLAGS (EFLAGS_ARITHMETIC | EFLAGS_DF)

/* Why the guest stopped running natively. */
enum direct_trap_kind {
    DIRECT_TRAP_FAULT,       /* SIGSEGV, SIGILL, SIGFPE, SIGTRAP, SIGBUS from guest code */
    DIRECT_TRAP_SYSCALL,     /* SIGSYS: seccomp caught a system call from guest code */
    DIRECT_TRAP_DEADLINE,    /* the deadline timer fired while the guest ran */
    DIRECT_TRAP_LEFT_COMPAT, /* guest code runs in 64-bit mode (it far-jumped to 0x33) */
};

struct direct_trap {
    enum direct_trap_kind kind;
    int signal;
    int si_code;
    int trap_number;          /* the hardware vector (uc REG_TRAPNO): 13 #GP, 14 #PF, ... */
    uint32_t error_code;      /* uc REG_ERR: the hardware error code */
    uint64_t fault_address;   /* si_addr (CR2 for a page fault) */
    uint64_t rip;             /* host RIP at the trap (64 bits: may be outside the guest) */
    uint16_t cs;              /* host CS at the trap */
    uint32_t syscall_arch;    /* SIGSYS: AUDIT_ARCH_I386 or AUDIT_ARCH_X86_64 */
    int syscall_number;       /* SIGSYS: the number the guest asked for */
    /* Data selectors the guest loaded natively since the last trap (a
     * segment load that happened to name a valid host selector does not
     * trap, SDM vol. 3, 5.4.1): 0 if none. Indexed by enum segment_register. */
    uint16_t native_selector[SEG_COUNT];
};

enum direct_verdict {
    DIRECT_RESUME,           /* go on running the guest with the state in struct cpu */
    DIRECT_EXIT,             /* return from direct_run() with *exit_code */
};

/* Called in signal context, on the signal stack, with *cpu already holding
 * the guest's registers, EIP and native flags at the trap. */
typedef enum direct_verdict (*direct_trap_handler)(void *context, struct direct_trap *trap,
                                                   int *exit_code);

struct direct_vcpu {
    struct cpu *cpu;
    direct_trap_handler handler;
    void *context;
    int deadline_signal;
    void *timer;                 /* timer_t, kept opaque */
    bool timer_created;
};

/* Can direct execution run in this process at all? */
bool direct_supported(char *why, size_t why_len);

/* Reserve the guest's 4 GiB (idempotent; address_space.c). */
int direct_reserve_guest_space(char *why, size_t why_len);
/* The lowest guest address the host lets us map (vm.mmap_min_addr). */
uint32_t direct_lowest_mappable(void);
/* Map length bytes of guest RAM (memfd offset physical) at linear. */
int direct_map(int memfd, uint32_t linear, uint32_t physical, uint32_t length, int prot);
int direct_protect(uint32_t linear, uint32_t length, int prot);
/* Make [linear, linear+length) inaccessible again (back to the reservation). */
int direct_unmap(uint64_t linear, uint64_t length);

/* Signals, signal stack and deadline timer for the calling thread (traps.c):
 * direct_run must be called on the thread that attached. */
int direct_vcpu_attach(struct direct_vcpu *vcpu, char *why, size_t why_len);
void direct_vcpu_detach(struct direct_vcpu *vcpu);

/* Run the guest natively from *cpu until the trap handler asks to exit or
 * deadline_ns (CLOCK_MONOTONIC) passes; returns the handler's exit code. */
int direct_run(struct direct_vcpu *vcpu, uint64_t deadline_ns);

/* True if the guest's segment state can run on the host's flat selectors:
 * CS a 32-bit code segment and CS/SS/DS/ES based at 0. Else says why. */
bool direct_segments_runnable(const struct cpu *cpu, char *why, size_t why_len);

/* Confine the whole process with seccomp (containment.c). Idempotent. */
int direct_contain_process(char *why, size_t why_len);

#endif
