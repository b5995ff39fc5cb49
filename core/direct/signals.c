/*
 * signals.c - the signal plumbing every direct-execution technique needs,
 * whatever mode its guest code runs in (trapemu: 32-bit compatibility mode,
 * bt: translated 64-bit code).
 *
 * Guest code runs on the guest's stack: while it runs, the host stack
 * pointer is a guest address. A signal delivered then would have its frame
 * written there, into guest memory (or fault and kill the process). So:
 *
 *   - every handler of ours runs on a sigaltstack (sigaltstack(2));
 *   - the signals the rest of vmlab handles (SIGINT, SIGTERM, SIGHUP) get
 *     SA_ONSTACK too while a technique has them;
 *   - while one of our handlers runs, all the others are blocked, so that
 *     handlers never nest on the one alternate stack.
 *
 * What the handler does with the signal is the technique's business.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/direct/direct.h"
#include "core/terminal.h"

#define SIGNAL_STACK_SIZE (1u << 20)

/* Signals the rest of vmlab handles that may interrupt guest code. */
static const int foreign_signals[DIRECT_FOREIGN_SIGNALS] = {SIGINT, SIGTERM, SIGHUP};

static int fail(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "%s: %s", what, strerror(errno));
    return -1;
}

/* The calling thread's signal stack: the one it has, if it is big enough
 * (a technique's detach leaves it installed: a foreign signal may still
 * use it), else a new one. It is the thread's for good. */
int direct_signal_stack(char *why, size_t why_len)
{
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE) &&
        current.ss_size >= SIGNAL_STACK_SIZE)
        return 0;
    stack_t stack = {.ss_sp = malloc(SIGNAL_STACK_SIZE), .ss_size = SIGNAL_STACK_SIZE};
    if (!stack.ss_sp)
        return fail(why, why_len, "signal stack");
    if (sigaltstack(&stack, NULL) < 0) {
        free(stack.ss_sp);
        return fail(why, why_len, "sigaltstack");
    }
    return 0;
}

/* The mask every one of our handlers runs with: all our signals blocked. */
static void our_signals(const struct direct_signals *set, sigset_t *mask)
{
    sigemptyset(mask);
    for (int i = 0; i < set->count; i++)
        sigaddset(mask, set->numbers[i]);
}

int direct_signals_take(struct direct_signals *set, const int *numbers, int count,
                        void (*entry)(int, siginfo_t *, void *), char *why, size_t why_len)
{
    if (count > DIRECT_MAX_SIGNALS) {
        snprintf(why, why_len, "too many signals (%d)", count);
        return -1;
    }
    set->count = count;
    for (int i = 0; i < count; i++)
        set->numbers[i] = numbers[i];
    if (direct_signal_stack(why, why_len) < 0)
        return -1;
    struct sigaction action = {.sa_sigaction = entry, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    our_signals(set, &action.sa_mask);
    for (int i = 0; i < count; i++)
        if (sigaction(numbers[i], &action, &set->saved[i]) < 0)
            return fail(why, why_len, "sigaction");
    for (int i = 0; i < DIRECT_FOREIGN_SIGNALS; i++) {
        struct sigaction theirs;
        sigaction(foreign_signals[i], NULL, &theirs);
        set->saved_foreign[i] = theirs;
        theirs.sa_flags |= SA_ONSTACK;
        sigaction(foreign_signals[i], &theirs, NULL);
    }
    sigset_t mask;
    our_signals(set, &mask);
    pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
    set->taken = true;
    return 0;
}

void direct_signals_give_back(struct direct_signals *set)
{
    if (!set->taken)
        return;
    for (int i = 0; i < set->count; i++)
        sigaction(set->numbers[i], &set->saved[i], NULL);
    for (int i = 0; i < DIRECT_FOREIGN_SIGNALS; i++)
        sigaction(foreign_signals[i], &set->saved_foreign[i], NULL);
    set->taken = false;
}

/* A fault in the VMM's own code is a vmlab bug: give the terminal back
 * (core/terminal.h), then take the default action (a core dump) when the
 * instruction runs again. The deadline signals and SIGSYS from VMM code are
 * harmless leftovers and are ignored. A signal sent from outside (kill
 * -SEGV) would not recur on return, so it is raised again. */
void direct_vmm_fault(int signal_number, const siginfo_t *info, const ucontext_t *uc)
{
    if (signal_number == SIGSYS || signal_number >= SIGRTMIN)
        return;
    char message[160];
    int length = snprintf(message, sizeof message,
                          "vmlab: internal error: signal %d in the VMM itself at RIP 0x%llx "
                          "(address 0x%llx)\n", signal_number,
                          (unsigned long long)uc->uc_mcontext.gregs[REG_RIP],
                          (unsigned long long)(uintptr_t)info->si_addr);
    terminal_rescue_now();   /* cooked mode, cursor on, before the process dies */
    if (write(STDERR_FILENO, message, (size_t)length) < 0)
        length = 0;
    signal(signal_number, SIG_DFL);
    if (info->si_code <= 0)
        raise(signal_number);
}
