/*
 * vflags.c - the sensitive instructions bt translates inline
 * (techniques/bt/virtual_state.c): cli, sti, pushf, popf, push sreg and
 * mov r/m,sreg, at every privilege that changes what they do, and the
 * interrupt they let in. tests/bt/run.sh compares the transcript under bt
 * and interp with QEMU's (tests/bt/expected/vflags.out).
 *
 *  1. One probe (below) runs at CPL 0, at CPL 3 with IOPL 0 and at CPL 3
 *     with IOPL 3, twice each (translated, then from the code cache): the
 *     same guest code is translated for each privilege (the block key).
 *     SDM vol. 2, CLI/STI: #GP(0) if CPL > IOPL; POPF: IOPL changes only at
 *     CPL 0, IF only if CPL <= IOPL, silently.
 *  2. An interrupt already pending when sti runs is taken after the one
 *     instruction that follows sti (SDM vol. 3, 6.8.3); when popf sets IF,
 *     right after the popf.
 */
#include "guest.h"

/* probe(value, out): what cli, sti, popf(value), push and mov from
 * segment registers show. #GP on cli or sti is skipped by the handler. */
void probe(void);
__asm__(".globl probe\n"
        "probe:\n"                          /* eax = the value to popf, ebx = out[8] */
        "    cli\n"
        "    pushfl\n popl 0(%ebx)\n"
        "    sti\n"
        "    pushfl\n popl 4(%ebx)\n"
        "    pushl %eax\n popfl\n"
        "    pushfl\n popl 8(%ebx)\n"
        "    cli\n"
        "    pushl %cs\n popl %ecx\n movzwl %cx, %ecx\n movl %ecx, 12(%ebx)\n"
        "    pushl %ss\n popl %ecx\n movzwl %cx, %ecx\n movl %ecx, 16(%ebx)\n"
        "    movl $0xdeadbeef, %ecx\n movl %ds, %ecx\n movl %ecx, 20(%ebx)\n"
        "    movl $0xdeadbeef, %ecx\n movw %es, %cx\n movl %ecx, 24(%ebx)\n"
        "    movl $0xffffffff, 28(%ebx)\n movw %ss, 28(%ebx)\n"
        "    ret\n");

/* out[0..7] at CPL 0 or CPL 3 IOPL 0, out[8..15] at CPL 3 IOPL 3 */
volatile uint32_t out[16];
static int gp_count;

static void print_probe(const char *where)
{
    printf("%s: cli->%08x sti->%08x popf->%08x cs=%x ss=%x ds=%08x es=%08x ss16=%08x #GP=%d\n",
           where, out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], gp_count);
    gp_count = 0;
}

/* The value popf gets: every arithmetic flag, IF, IOPL 3, AC and ID. */
#define POPF_VALUE 0x00243ad7u

static void general_protection(struct trapframe *tf)
{
    uint8_t opcode = *(const uint8_t *)tf->eip;
    if (opcode != 0xfa && opcode != 0xfb) {
        printf("FAIL: #GP at %08x (opcode %02x)\n", tf->eip, opcode);
        guest_exit(2);
    }
    gp_count++;
    tf->eip += 1;
}

/* int 0x80 from ring 3: eax = 1 sets IOPL 3 in the frame iret returns
 * with, 2 clears it, 3 goes back to the kernel. */
static void syscall(struct trapframe *tf)
{
    switch (tf->eax) {
    case 1: tf->eflags |= 0x3000; break;
    case 2: tf->eflags &= ~0x3000u; break;
    default: user_return(0);
    }
}

static uint8_t user_stack[4096] __attribute__((aligned(16)));
void user_main(void);
__asm__(".globl user_main\n"
        "user_main:\n"
        "    movl $" "0x00243ad7" ", %eax\n movl $out, %ebx\n call probe\n"
        "    movl $1, %eax\n int $0x80\n"
        "    movl $out+32, %ebx\n movl $" "0x00243ad7" ", %eax\n call probe\n"
        "    movl $2, %eax\n int $0x80\n"
        "    movl $3, %eax\n int $0x80\n");

static void ring3_probes(void)
{
    run_user(user_main, user_stack + sizeof user_stack);
    print_probe("cpl 3 iopl 0");
    for (int i = 0; i < 8; i++)
        out[i] = out[i + 8];
    print_probe("cpl 3 iopl 3");
}

/* ---- interrupts ---------------------------------------------------------------- */

volatile uint32_t after;
static volatile uint32_t seen, taken;

/* The first tick after the window opens records how far the guest got;
 * more ticks may follow before the cli (the PIT does not wait for a
 * loaded host), and are not counted. */
static void timer(struct trapframe *tf)
{
    (void)tf;
    if (!taken++)
        seen = after;
    pic_eoi(0);
}

static void wait_for_pending_tick(void)
{
    cli();
    while (!(pic_read_irr() & 1))
        ;
    taken = 0;
}

static void report_window(int round, const char *what)
{
    if (taken)
        printf("round %d: %s, a tick pending: taken after %u instruction(s)\n", round, what, seen);
    else
        printf("round %d: %s, a tick pending: not taken\n", round, what);
}

static void interrupt_windows(int round)
{
    wait_for_pending_tick();
    asm volatile("movl $0, after\n sti\n movl $1, after\n movl $2, after\n cli" ::: "memory");
    report_window(round, "sti");
    wait_for_pending_tick();
    asm volatile("movl $0, after\n pushl $0x202\n popfl\n movl $1, after\n movl $2, after\n cli"
                 ::: "memory", "cc");
    report_window(round, "popf setting IF");
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    trap_set_handler(13, general_protection);
    idt_set(0x80, GATE_INT | GATE_DPL3);
    trap_set_handler(0x80, syscall);
    pic_remap(0x20, 0x28);
    trap_set_handler(0x20, timer);

    for (int round = 0; round < 2; round++) {
        printf("round %d\n", round);
        asm volatile("call probe\n"
                     "pushl $2\n popfl"             /* IOPL 0, IF 0 again */
                     : : "a"(POPF_VALUE), "b"(out) : "ecx", "memory", "cc");
        print_probe("cpl 0");
        ring3_probes();
    }
    uint32_t flags;
    asm volatile("pushl $0x8d7\n popfl\n std\n pushfl\n popl %0\n cld\n pushl $2\n popfl"
                 : "=r"(flags) : : "memory", "cc");
    printf("cpl 0: popf 0x8d7, std: pushf %08x\n", flags);

    pit_start_periodic(1000);
    pic_mask(0, false);
    for (int round = 0; round < 3; round++)
        interrupt_windows(round);
    pic_mask(0, true);
    return 0;
}
