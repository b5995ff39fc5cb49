/*
 * host.c - run the flags tester as a 32-bit Linux process, so that the
 * host's own CPU executes every case: real silicon as a third reference
 * next to QEMU and vmlab. (Only the flags families run at CPL 3 without
 * help; a #DE from a divide arrives as SIGFPE instead of through the IDT.)
 *
 * It replaces the guest library's hardware parts: output goes to stdout
 * through the i386 system-call gate (int 0x80, Linux i386 ABI: EAX = call
 * number, EBX, ECX, EDX, ESI = arguments), the trap catch is a SIGFPE
 * handler, and "verbose=1" is any command-line argument.
 *
 *   build/guests/flags-host            one hash line per family
 *   build/guests/flags-host verbose    every case
 */
#include "guest.h"

#define SYS_EXIT 1
#define SYS_WRITE 4
#define SYS_RT_SIGRETURN 173
#define SYS_RT_SIGACTION 174
#define SIGFPE 8
#define SA_SIGINFO 0x00000004
#define SA_RESTORER 0x04000000
#define SA_NODEFER 0x40000000

/* i386 ucontext: uc_flags, uc_link, uc_stack (12 bytes), then the
 * sigcontext: gs fs es ds (4 bytes each), edi esi ebp esp ebx edx ecx eax,
 * trapno, err, eip (arch/x86/include/uapi/asm/sigcontext.h). */
#define UC_TRAPNO 68
#define UC_EIP 76

static int syscall4(int n, int a, int b, int c, int d)
{
    int r;
    asm volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
    return r;
}

static char out[1 << 16];
static int out_len;
static bool verbose_arg;

static void flush(void)
{
    syscall4(SYS_WRITE, 1, (int)out, out_len, 0);
    out_len = 0;
}

void uart_putc(char c)
{
    if (out_len == sizeof out)
        flush();
    out[out_len++] = c;
}

void putstr(const char *s)
{
    while (*s)
        uart_putc(*s++);
}

void guest_exit(uint32_t code)
{
    flush();
    syscall4(SYS_EXIT, (int)code, 0, 0, 0);
    for (;;)
        ;
}

/* The parts of the guest library flags uses, reduced to what Linux allows. */
int checks_failed;
const struct multiboot_info *boot_info;
volatile struct trap_record last_trap;
volatile uint32_t trap_resume_eip;
void gdt_init(void) {}
void idt_init(void) {}

uint32_t cmdline_uint(const char *key, uint32_t fallback)
{
    (void)fallback;
    return str_eq(key, "verbose") && verbose_arg;
}

/* The same contract as lib/trap.c's catch: record, resume at trap_resume_eip. */
static void sigfpe(int sig, void *info, uint8_t *ucontext)
{
    (void)sig, (void)info;
    uint32_t *eip = (uint32_t *)(ucontext + UC_EIP);
    last_trap.vector = *(uint32_t *)(ucontext + UC_TRAPNO);
    last_trap.eip = *eip;
    last_trap.count++;
    *eip = trap_resume_eip;
    trap_resume_eip = 0;
}

#define STRING(x) #x
#define EXPAND_STRING(x) STRING(x)
void sigreturn_trampoline(void);
asm(".text\nsigreturn_trampoline:\n\tmovl $" EXPAND_STRING(SYS_RT_SIGRETURN) ", %eax\n\tint $0x80\n");

int guest_main(void);

void host_main(int argc)
{
    verbose_arg = argc > 1;
    struct {
        void (*handler)(int, void *, uint8_t *);
        uint32_t flags;
        void (*restorer)(void);
        uint32_t mask[2];
    } action = { sigfpe, SA_SIGINFO | SA_RESTORER | SA_NODEFER, sigreturn_trampoline, { 0, 0 } };
    if (syscall4(SYS_RT_SIGACTION, SIGFPE, (int)&action, 0, sizeof action.mask) != 0) {
        putstr("flags-host: rt_sigaction failed\n");
        guest_exit(9);
    }
    int code = guest_main();
    guest_exit(code == 0 && checks_failed ? 1 : (uint32_t)code);
}

/* The process starts with argc at (%esp). */
asm(".text\n.globl _start\n_start:\n\tpushl (%esp)\n\tcall host_main\n");
