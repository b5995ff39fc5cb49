/*
 * lapic.c - the local APIC as kvm-unit-tests and xv6 use it (Intel SDM vol.
 * 3, ch. 10 "Advanced Programmable Interrupt Controller"): the APIC base
 * MSR and CPUID bit, the register file at 0xFEE00000, self-IPIs through the
 * ICR with the IRR/ISR/TPR/PPR priority rules, EOI, and the timer in
 * one-shot and periodic modes.
 *
 * Only what does not depend on timing is printed (whether a count went
 * down, never by how much). The initial register values are what QEMU's
 * firmware (SeaBIOS) leaves, which vmlab's loader reproduces.
 */
#include "platform.h"

#define LAPIC 0xfee00000u
enum {
    ID = 0x20, VERSION = 0x30, TPR = 0x80, APR = 0x90, PPR = 0xa0, EOI = 0xb0, LDR = 0xd0,
    DFR = 0xe0, SVR = 0xf0, ISR = 0x100, TMR = 0x180, IRR = 0x200, ESR = 0x280,
    ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_THERMAL = 0x330,
    LVT_PERF = 0x340, LVT_LINT0 = 0x350, LVT_LINT1 = 0x360, LVT_ERROR = 0x370,
    TIMER_INITIAL = 0x380, TIMER_CURRENT = 0x390, TIMER_DIVIDE = 0x3e0,
};
#define ICR_SELF      (1u << 18)   /* destination shorthand 01: self */
#define ICR_PENDING   (1u << 12)   /* delivery status: send pending */
#define LVT_MASKED    (1u << 16)
#define TIMER_PERIODIC (1u << 17)

static uint32_t lapic_read(uint32_t reg) { return peek32(LAPIC + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { poke32(LAPIC + reg, v); }

/* SDM 10.8.4: ISR/TMR/IRR are eight 32-bit registers, 16 bytes apart. */
static bool vector_bit(uint32_t base, int vector)
{
    return lapic_read(base + 0x10 * (vector / 32)) >> (vector % 32) & 1;
}

static volatile int order[8], delivered;
static volatile uint32_t isr_seen, ppr_seen;

static void record(struct trapframe *tf)
{
    if (delivered < 8)
        order[delivered] = (int)tf->vector;
    delivered++;
    isr_seen = vector_bit(ISR, (int)tf->vector);
    ppr_seen = lapic_read(PPR);
    lapic_write(EOI, 0);
}

static void print_registers(void)
{
    printf("ID %x version %x TPR %x PPR %x LDR %x DFR %x SVR %x ESR %x\n", lapic_read(ID),
           lapic_read(VERSION), lapic_read(TPR), lapic_read(PPR), lapic_read(LDR),
           lapic_read(DFR), lapic_read(SVR), lapic_read(ESR));
    printf("LVT timer %x thermal %x perf %x LINT0 %x LINT1 %x error %x\n", lapic_read(LVT_TIMER),
           lapic_read(LVT_THERMAL), lapic_read(LVT_PERF), lapic_read(LVT_LINT0),
           lapic_read(LVT_LINT1), lapic_read(LVT_ERROR));
    printf("timer initial %x current %x divide %x\n", lapic_read(TIMER_INITIAL),
           lapic_read(TIMER_CURRENT), lapic_read(TIMER_DIVIDE));
}

static void self_ipi(int vector)
{
    lapic_write(ICR_HIGH, 0);
    lapic_write(ICR_LOW, ICR_SELF | (uint32_t)vector);
}

static void show_order(const char *what)
{
    printf("%s: %d delivered:", what, delivered);
    for (int i = 0; i < delivered && i < 8; i++)
        printf(" %x", order[i]);
    printf("\n");
    delivered = 0;
}

static void probe_ipis(void)
{
    cli();
    self_ipi(0x40);
    printf("self-IPI 0x40 with IF=0: IRR %d ISR %d, ICR %x (delivery %s)\n",
           vector_bit(IRR, 0x40), vector_bit(ISR, 0x40), lapic_read(ICR_LOW),
           lapic_read(ICR_LOW) & ICR_PENDING ? "pending" : "idle");
    sti();
    asm volatile("nop");
    cli();
    show_order("after STI");
    printf("in the handler: ISR bit %u, PPR %x; after EOI: ISR %d IRR %d\n", isr_seen,
           ppr_seen, vector_bit(ISR, 0x40), vector_bit(IRR, 0x40));

    /* SDM 10.8.3.1: a vector is delivered only if its class (vector >> 4)
     * is above PPR's, PPR being the larger of TPR and the ISR's top class. */
    lapic_write(TPR, 0x50);
    self_ipi(0x45);
    sti();
    asm volatile("nop");
    cli();
    printf("TPR 50, vector 0x45: PPR %x, IRR %d, ", lapic_read(PPR), vector_bit(IRR, 0x45));
    show_order("held");
    lapic_write(TPR, 0);
    sti();
    asm volatile("nop");
    cli();
    show_order("TPR 0");

    /* The highest pending vector first (SDM 10.8.3.1). */
    self_ipi(0x50);
    self_ipi(0x62);
    self_ipi(0x61);
    sti();
    asm volatile("nop; nop");
    cli();
    show_order("three pending");
}

static volatile uint32_t timer_ticks;
static void timer(struct trapframe *tf)
{
    (void)tf;
    timer_ticks++;
    lapic_write(EOI, 0);
}

static void wait_ticks(uint32_t n)
{
    for (uint32_t spins = 0; timer_ticks < n && spins < 200000000u; spins++)
        asm volatile("sti; nop; cli");
}

static void probe_timer(void)
{
    /* SDM 10.5.4: divide configuration 1011 = divide by 1. */
    lapic_write(TIMER_DIVIDE, 0xb);
    lapic_write(LVT_TIMER, 0x70);
    lapic_write(TIMER_INITIAL, 100000000);   /* 100 ms: long enough to see it count */
    uint32_t first = lapic_read(TIMER_CURRENT);
    for (volatile int i = 0; i < 10000; i++)   /* QEMU's clock may not move between two reads */
        ;
    uint32_t second = lapic_read(TIMER_CURRENT);
    printf("one-shot: LVT %x, initial %u, current counts down: %s\n", lapic_read(LVT_TIMER),
           lapic_read(TIMER_INITIAL), second < first && first <= 100000000 ? "yes" : "no");
    lapic_write(TIMER_INITIAL, 2000000);     /* a new initial count starts it again */
    wait_ticks(1);
    for (volatile int i = 0; i < 2000000; i++)
        ;
    printf("one-shot: %u interrupt, current count now %u\n", timer_ticks,
           lapic_read(TIMER_CURRENT));

    timer_ticks = 0;
    lapic_write(TIMER_DIVIDE, 0x3);   /* divide by 16 */
    lapic_write(LVT_TIMER, TIMER_PERIODIC | 0x70);
    lapic_write(TIMER_INITIAL, 200000);
    wait_ticks(5);
    printf("periodic, divide %x: at least 5 interrupts: %s\n", lapic_read(TIMER_DIVIDE),
           timer_ticks >= 5 ? "yes" : "no");
    lapic_write(LVT_TIMER, LVT_MASKED | TIMER_PERIODIC | 0x70);
    /* An interrupt already in the IRR stays there when the LVT is masked
     * (SDM 10.5.1 masks only new ones): let it in first. */
    sti();
    asm volatile("nop");
    cli();
    uint32_t before = timer_ticks;
    for (volatile int i = 0; i < 2000000; i++)
        ;
    sti();
    asm volatile("nop");
    cli();
    printf("masked: %u more interrupts, still counting: %s\n", timer_ticks - before,
           lapic_read(TIMER_CURRENT) ? "yes" : "no");
    lapic_write(TIMER_INITIAL, 0);
    printf("stopped: current %u\n", lapic_read(TIMER_CURRENT));
}

int probe_lapic(void)
{
    uint32_t low, high, out[4];
    asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(0x1b));
    asm volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(1));
    printf("IA32_APIC_BASE %x:%x, CPUID.1 EDX APIC bit %u\n", high, low, out[3] >> 9 & 1);
    print_registers();
    lapic_write(TPR, 0x20);
    printf("TPR 20: TPR %x PPR %x\n", lapic_read(TPR), lapic_read(PPR));
    lapic_write(TPR, 0);

    gdt_init();
    idt_init();
    /* The 8259s out of the way, as xv6 does: QEMU's firmware leaves the
     * PIT's IRQ 0 unmasked at vector 8. */
    pic_remap(0x20, 0x28);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    for (int v = 0x40; v < 0x70; v++)
        trap_set_handler(v, record);
    trap_set_handler(0x70, timer);
    lapic_write(SVR, 0x1ff);   /* software enable, spurious vector 0xff */
    printf("SVR %x\n", lapic_read(SVR));
    probe_ipis();
    probe_timer();
    lapic_write(ESR, 0);
    printf("ESR %x\n", lapic_read(ESR));
    return 0;
}
