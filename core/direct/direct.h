/*
 * direct.h - the direct-execution substrate: running guest code (or code
 * made from it) on the host CPU, inside the vmlab process, and getting
 * control back when it does something only the VMM may do. Shared by
 * trapemu, bt (and later pv).
 *
 * The picture (docs/design.md, "The direct-execution substrate"):
 *
 *   - The low 4 GiB of the process belong to the guest: guest-virtual
 *     address v is host address v (address_space.c), mapped from the RAM
 *     memfd as the guest's page tables say (shadow.c).
 *   - bt also maps the guest's 4 GiB a second time, at DIRECT_USER_VIEW,
 *     with only what CPL 3 may touch (the user view, below); its CPL 3
 *     code addresses that view through GS. trapemu runs the guest's own
 *     bytes, which address memory without our help, so it has one view
 *     and revokes the kernel's pages on entry to CPL 3 instead.
 *   - While guest code runs, the stack pointer is the guest's: every
 *     signal runs on an alternate stack (signals.c).
 *   - Guest code may reach Linux only through the VMM: the process is
 *     confined with seccomp before the first guest instruction runs
 *     (containment.c).
 *
 * How guest code is entered and left depends on the mode it runs in:
 * trapemu runs the guest's own bytes in 32-bit compatibility mode, which
 * needs the host's 32-bit code selector and our LDT stand-in selectors
 * (compat.h: world_switch.c, traps.c); bt runs translated 64-bit code
 * (techniques/bt) and needs neither.
 *
 * Everything here is x86-64 Linux specific and cannot run under
 * AddressSanitizer, whose shadow memory occupies the low 4 GiB:
 * direct_supported() says so.
 */
#ifndef VMLAB_DIRECT_H
#define VMLAB_DIRECT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"

#define DIRECT_GUEST_SPACE_END (1ull << 32)

/* The signals a technique takes while its guest code runs (signals.c). */
#define DIRECT_MAX_SIGNALS 8
#define DIRECT_FOREIGN_SIGNALS 3     /* SIGINT, SIGTERM, SIGHUP: made SA_ONSTACK */

struct direct_signals {
    int count;
    int numbers[DIRECT_MAX_SIGNALS];
    struct sigaction saved[DIRECT_MAX_SIGNALS];
    struct sigaction saved_foreign[DIRECT_FOREIGN_SIGNALS];
    bool taken;
};

/* Can direct execution run in this process at all? */
bool direct_supported(char *why, size_t why_len);

/* Reserve the guest's 4 GiB (idempotent; address_space.c). */
int direct_reserve_guest_space(char *why, size_t why_len);
/* 64-bit code that computes a guest address in 32 bits (a 0x67 prefix)
 * still accesses the bytes after it without wrapping: a 4-byte access at
 * 0xfffffffe touches 0x100000000. These inaccessible pages above the
 * guest's 4 GiB turn that into a fault (bt; idempotent). */
#define DIRECT_GUARD_SIZE (64u << 10)
int direct_reserve_guard_above(char *why, size_t why_len);
/*
 * Views: where in the process guest address 0 is. The supervisor view is
 * the one described above (guest-virtual = host address). bt keeps a
 * second one, the user view, for code running at CPL 3: it maps only what
 * CPL 3 may touch, with CPL 3's rights, and translated user code reaches
 * it through the GS segment (techniques/bt/README.md). It is an ordinary
 * address above the VMM's reach of guest code: 8 GiB, below where Linux
 * puts executables, heap and libraries on x86-64.
 */
#define DIRECT_SUPERVISOR_VIEW 0ull
#define DIRECT_USER_VIEW (8ull << 30)
/* Reserve the user view's 4 GiB and its guard pages (idempotent). */
int direct_reserve_user_view(char *why, size_t why_len);
/* The lowest guest address the host lets us map (vm.mmap_min_addr). */
uint32_t direct_lowest_mappable(void);
/* Map length bytes of guest RAM (memfd offset physical) at guest address
 * linear of the view (host address view + linear). */
int direct_map(uint64_t view, int memfd, uint32_t linear, uint32_t physical, uint32_t length,
               int prot);
int direct_protect(uint64_t view, uint32_t linear, uint32_t length, int prot);
/* Make [linear, linear+length) of the view inaccessible again (back to
 * the reservation). */
int direct_unmap(uint64_t view, uint64_t linear, uint64_t length);

/* The calling thread's alternate signal stack (signals.c). */
int direct_signal_stack(char *why, size_t why_len);
/* Install entry (SA_SIGINFO, on the signal stack, every signal of the set
 * blocked while it runs) for numbers[0..count), make SIGINT, SIGTERM and
 * SIGHUP run on the signal stack, and unblock the set in this thread. */
int direct_signals_take(struct direct_signals *set, const int *numbers, int count,
                        void (*entry)(int, siginfo_t *, void *), char *why, size_t why_len);
/* Put back the actions direct_signals_take replaced. */
void direct_signals_give_back(struct direct_signals *set);
/* What a technique's handler does with a fault signal that did not come
 * from guest code: report it, restore the terminal, die by the signal. */
struct ucontext_t;
void direct_vmm_fault(int signal_number, const siginfo_t *info, const struct ucontext_t *uc);

/* True if the guest's segment state can run on the host's flat selectors:
 * CS a 32-bit code segment and CS/SS/DS/ES based at 0. Else says why. */
bool direct_segments_runnable(const struct cpu *cpu, char *why, size_t why_len);

/* Confine the whole process with seccomp (containment.c). Idempotent. */
int direct_contain_process(char *why, size_t why_len);

#endif
