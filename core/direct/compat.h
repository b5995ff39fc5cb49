/*
 * compat.h - running the guest's own code in 32-bit compatibility mode
 * (trapemu): the part of the direct-execution substrate that needs the
 * host's 32-bit code selector 0x23 and LDT stand-in selectors for the
 * guest's DS and ES (world_switch.c, traps.c). core/host.c probes both;
 * a host without them (IA-32 emulation off) cannot use anything here, but
 * can still use direct.h (bt does).
 *
 *   - The guest runs in 32-bit compatibility mode with the host's flat
 *     selectors (code 0x23, data 0x2b), at host ring 3, whatever its
 *     virtual privilege level. Its own selectors and descriptor caches live
 *     in struct cpu only.
 *   - The world switch into the guest is an IRETQ from 64-bit code
 *     (world_switch.c); the way back is a signal: a privileged instruction
 *     at ring 3 is a #GP, which Linux turns into SIGSEGV with the guest's
 *     registers in the ucontext (traps.c). The technique's trap handler
 *     then either resumes the guest or asks to return to the VMM's run loop.
 */
#ifndef VMLAB_DIRECT_COMPAT_H
#define VMLAB_DIRECT_COMPAT_H

#include "core/direct/direct.h"

/* Linux x86-64 GDT selectors (arch/x86/include/asm/segment.h): entry 4 is
 * __USER32_CS, entry 5 __USER_DS, entry 6 __USER_CS, all DPL 3. */
#define DIRECT_COMPAT_CODE_SELECTOR 0x23
#define DIRECT_DATA_SELECTOR        0x2b
#define DIRECT_HOST_CODE_SELECTOR   0x33

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
    struct direct_signals signals;
    direct_trap_handler handler;
    void *context;
    int deadline_signal;
    void *timer;                 /* timer_t, kept opaque */
    bool timer_created;
};

/* Signals, signal stack and deadline timer for the calling thread (traps.c):
 * direct_run must be called on the thread that attached. */
int direct_vcpu_attach(struct direct_vcpu *vcpu, char *why, size_t why_len);
void direct_vcpu_detach(struct direct_vcpu *vcpu);

/* Run the guest natively from *cpu until the trap handler asks to exit or
 * deadline_ns (CLOCK_MONOTONIC) passes; returns the handler's exit code. */
int direct_run(struct direct_vcpu *vcpu, uint64_t deadline_ns);

#endif
