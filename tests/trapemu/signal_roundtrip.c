/*
 * signal_roundtrip.c - the floor under every trapemu trap: what a bare
 * SIGSEGV round trip costs when the faulting instruction is a `cli` in
 * 32-bit compatibility mode (host ring 3, IOPL 0: #GP, SDM vol. 2 CLI),
 * with a handler that only steps over it. trapemu's own trap cost is this
 * plus decoding and emulating; tests/trapemu/bench.sh prints both.
 *
 *   signal_roundtrip [ITERATIONS]  prints "ns_per_signal=N tsc_per_ns=F"
 *
 * Standalone on purpose (no vmlab code): the code and stack live in a page
 * below 4 GiB (MAP_32BIT), entered with IRETQ to selector 0x23 and left by
 * rewriting the signal context to 64-bit code, as core/direct does.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <x86intrin.h>

/* Signal-handler state: globals, the handler has no other way in. */
static volatile long remaining;
uint64_t saved_rsp;   /* read by the assembly */

void roundtrip_enter(uint32_t code, uint32_t stack);
void roundtrip_back(void);

__asm__(".text\n"
        ".globl roundtrip_enter\n"
        "roundtrip_enter:\n"              /* edi = code, esi = stack (both < 4 GiB) */
        "    push %rbp\n push %rbx\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "    mov %rsp, saved_rsp(%rip)\n"
        "    pushq $0x2b\n"
        "    push %rsi\n"
        "    pushq $0x202\n"
        "    pushq $0x23\n"
        "    push %rdi\n"
        "    mov $0x2b, %eax\n mov %eax, %ds\n mov %eax, %es\n"
        "    iretq\n"
        ".globl roundtrip_back\n"
        "roundtrip_back:\n"
        "    xor %ecx, %ecx\n mov %ecx, %ds\n mov %ecx, %es\n"
        "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbx\n pop %rbp\n"
        "    ret\n");

static void on_segv(int signal_number, siginfo_t *info, void *context)
{
    (void)signal_number;
    (void)info;
    greg_t *g = ((ucontext_t *)context)->uc_mcontext.gregs;
    if (--remaining > 0) {
        g[REG_RIP] += 1;                  /* step over the 1-byte cli */
        return;
    }
    g[REG_CSGSFS] = (g[REG_CSGSFS] & ~(greg_t)0xffff) | 0x33;   /* back to 64-bit mode */
    g[REG_RIP] = (greg_t)(uintptr_t)roundtrip_back;
    g[REG_RSP] = (greg_t)saved_rsp;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    uint8_t *page = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (page == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    const uint8_t loop[] = {0xfa, 0xeb, 0xfd};    /* 1: cli; jmp 1b */
    memcpy(page, loop, sizeof loop);
    static uint8_t signal_stack[1 << 16];
    stack_t stack = {.ss_sp = signal_stack, .ss_size = sizeof signal_stack};
    sigaltstack(&stack, NULL);
    struct sigaction action = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigaction(SIGSEGV, &action, NULL);

    remaining = iterations;
    double start = now_ns();
    uint64_t tsc_start = __rdtsc();
    roundtrip_enter((uint32_t)(uintptr_t)page, (uint32_t)(uintptr_t)(page + 2 * 4096));
    uint64_t tsc = __rdtsc() - tsc_start;
    double elapsed = now_ns() - start;
    printf("ns_per_signal=%.0f tsc_per_ns=%.3f\n", elapsed / iterations, tsc / elapsed);
    return 0;
}
