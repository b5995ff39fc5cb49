/*
 * task.c - hardware task switching (Intel SDM vol. 3, ch. 7): a far JMP to
 * a TSS and back, a far CALL to a task that returns with IRET (NT and the
 * previous-task link), INT n and an exception (#DE) through task gates in
 * the IDT, the busy bits (read with LAR), CR0.TS, and the faults of a JMP
 * to a busy TSS and of a CALL to a TSS whose limit is too small.
 */
#include "platform.h"

#define SEL_B      (GDT_FREE << 3)         /* task B: JMP and CALL target */
#define SEL_C      ((GDT_FREE + 1) << 3)   /* task C: INT 0x60's task gate */
#define SEL_D      ((GDT_FREE + 2) << 3)   /* task D: #DE's task gate */
#define SEL_SMALL  ((GDT_FREE + 3) << 3)   /* a TSS with limit 0x20 */
#define SEL_GATE_B ((GDT_FREE + 4) << 3)   /* a task gate in the GDT for B */
#define ACC_TSS 0x89
#define ACC_TASK_GATE 0x85

static struct tss tss_b, tss_c, tss_d, tss_small;
static uint8_t stack_b[4096], stack_c[4096], stack_d[4096];

static uint32_t lar(uint16_t selector)
{
    uint32_t access;
    asm volatile("lar %1, %0" : "=r"(access) : "r"((uint32_t)selector));
    return access >> 8 & 0xff;
}

static uint32_t eflags(void)
{
    uint32_t value;
    asm volatile("pushf; pop %0" : "=r"(value));
    return value;
}

static uint16_t task_register(void)
{
    uint16_t tr;
    asm volatile("str %0" : "=r"(tr));
    return tr;
}

static void jump_to(uint16_t selector) { asm volatile("ljmp *%0" : : "m"((struct { uint32_t o; uint16_t s; }){0, selector}) : "memory"); }
static void call_to(uint16_t selector) { asm volatile("lcall *%0" : : "m"((struct { uint32_t o; uint16_t s; }){0, selector}) : "memory"); }

static void show(const char *where)
{
    printf("%s: TR %x NT %u link %x TS %u; A %x B %x\n", where, task_register(),
           eflags() >> 14 & 1, task_register() == SEL_B ? tss_b.link : 0,
           read_cr0() >> 3 & 1, lar(SEL_TSS), lar(SEL_B));
}

/* Task B: entered by JMP first (goes back by JMP), then by CALL (back by IRET). */
static void task_b(void)
{
    show("B after JMP");
    asm volatile("clts");
    jump_to(SEL_TSS);
    show("B after CALL");
    asm volatile("clts");
    asm volatile("iret");
    printf("FAIL: B resumed\n");
    for (;;)
        ;
}

/* Task C: INT 0x60's handler; each IRET returns, the next INT resumes here. */
static void task_c(void)
{
    for (;;) {
        printf("C by INT 0x60: NT %u link %x, A %x\n", eflags() >> 14 & 1, tss_c.link,
               lar(SEL_TSS));
        asm volatile("clts; iret");
    }
}

/* The TSS a selector names: its base from the GDT descriptor. */
static struct tss *tss_of(uint16_t selector)
{
    struct table_register gdtr;
    asm volatile("sgdt %0" : "=m"(gdtr));
    uint32_t low = peek32(gdtr.base + (selector & ~7u)), high = peek32(gdtr.base + (selector & ~7u) + 4);
    return (struct tss *)phys((low >> 16) | (high & 0xff) << 16 | (high & 0xff000000u));
}

/* Task D: #DE's handler. IRET returns to the faulting DIV, so D fixes the
 * divisor in the interrupted task's saved ECX (in its TSS) first. */
static void task_d(void)
{
    for (;;) {
        struct tss *interrupted = tss_of((uint16_t)tss_d.link);
        printf("D by #DE: link %x, saved ECX %u EAX %u\n", tss_d.link, interrupted->ecx,
               interrupted->eax);
        interrupted->ecx = 3;
        asm volatile("clts; iret");
    }
}

static void make_task(struct tss *t, void (*entry)(void), uint8_t *stack, size_t size)
{
    memset(t, 0, sizeof *t);
    t->eip = (uint32_t)entry;
    t->esp = (uint32_t)(stack + size);
    t->eflags = 0x2;
    t->cs = SEL_KCODE;
    t->ss = t->ds = t->es = t->fs = t->gs = SEL_KDATA;
    t->cr3 = read_cr3();
    t->iomap_base = sizeof *t;
}

static void set_idt_task_gate(int vector, uint16_t tss)
{
    struct table_register idtr;
    asm volatile("sidt %0" : "=m"(idtr));
    volatile uint16_t *gate = phys(idtr.base + 8u * (uint32_t)vector);
    gate[0] = 0;
    gate[1] = tss;
    gate[2] = ACC_TASK_GATE << 8;
    gate[3] = 0;
}

int probe_task(void)
{
    gdt_init();
    idt_init();
    make_task(&tss_b, task_b, stack_b, sizeof stack_b);
    make_task(&tss_c, task_c, stack_c, sizeof stack_c);
    make_task(&tss_d, task_d, stack_d, sizeof stack_d);
    gdt_set_segment(SEL_B >> 3, (uint32_t)&tss_b, sizeof tss_b - 1, ACC_TSS, 0);
    gdt_set_segment(SEL_C >> 3, (uint32_t)&tss_c, sizeof tss_c - 1, ACC_TSS, 0);
    gdt_set_segment(SEL_D >> 3, (uint32_t)&tss_d, sizeof tss_d - 1, ACC_TSS, 0);
    gdt_set_segment(SEL_SMALL >> 3, (uint32_t)&tss_small, 0x20, ACC_TSS, 0);
    gdt_set_gate(SEL_GATE_B >> 3, SEL_B, 0, ACC_TASK_GATE, 0);
    set_idt_task_gate(0x60, SEL_C);
    set_idt_task_gate(0, SEL_D);
    show("A at start");

    jump_to(SEL_B);
    show("A after B jumped back");
    asm volatile("clts");
    call_to(SEL_GATE_B);
    show("A after B's IRET");
    asm volatile("clts");

    asm volatile("int $0x60");
    asm volatile("int $0x60");
    printf("A after two INT 0x60: C %x, C's EIP advanced: %s\n", lar(SEL_C),
           tss_c.eip != (uint32_t)task_c ? "yes" : "no");
    asm volatile("clts");

    /* #DE through a task gate: the fault's EIP is the DIV itself. */
    uint32_t quotient, divisor = 0;
    asm volatile("xor %%edx, %%edx\n div %%ecx" : "=a"(quotient), "+c"(divisor) : "a"(12)
                 : "edx", "cc");
    printf("A after #DE: quotient %u\n", quotient);
    asm volatile("clts");

    /* A JMP to a busy TSS is #GP(selector); a TSS limit below 0x67 is
     * #TS(selector) (SDM vol. 3, 7.2.2 and table 7-1). */
    struct { uint32_t offset; uint16_t selector; } busy = {0, SEL_TSS}, small = {0, SEL_SMALL};
    asm volatile("movl $1f, %0\n ljmp *%1\n 1:" : "=m"(trap_resume_eip) : "m"(busy) : "memory");
    printf("JMP to the busy TSS A: vector %u error %x\n", last_trap.vector, last_trap.error);
    asm volatile("movl $1f, %0\n lcall *%1\n 1:" : "=m"(trap_resume_eip) : "m"(small) : "memory");
    printf("CALL to a TSS with limit 0x20: vector %u error %x\n", last_trap.vector,
           last_trap.error);
    return 0;
}
