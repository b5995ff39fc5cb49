/*
 * ioapic.c - the I/O APIC at 0xFEC00000 (Intel 82093AA datasheet) as xv6
 * programs it: ID and version, the redirection table's reset state and
 * read-back, then ISA interrupts routed through it to the local APIC with
 * the 8259s masked: the PIT's IRQ 0 (on pin 2, edge) and COM1's IRQ 4
 * (level-triggered, to see remote IRR clear on the local APIC's EOI).
 */
#include "platform.h"

#define IOAPIC 0xfec00000u
#define LAPIC_EOI 0xfee000b0u
#define RTE_MASKED (1u << 16)
#define RTE_LEVEL (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define COM1 0x3f8

static uint32_t ioapic_read(uint32_t reg)
{
    poke32(IOAPIC, reg);
    return peek32(IOAPIC + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
    poke32(IOAPIC, reg);
    poke32(IOAPIC + 0x10, value);
}

static void route(int pin, uint32_t low)
{
    ioapic_write(0x10 + 2 * pin + 1, 0);   /* destination: APIC ID 0 */
    ioapic_write(0x10 + 2 * pin, low);
}

static volatile uint32_t timer_ticks, uart_interrupts, remote_irr_in_handler;

static void timer(struct trapframe *tf)
{
    (void)tf;
    timer_ticks++;
    poke32(LAPIC_EOI, 0);
}

/* THR empty (16550A): reading IIR clears it; IER = 0 keeps it off. */
static void uart(struct trapframe *tf)
{
    (void)tf;
    uart_interrupts++;
    remote_irr_in_handler = ioapic_read(0x10 + 2 * 4) & RTE_REMOTE_IRR;
    inb(COM1 + 2);
    outb(COM1 + 1, 0);
    poke32(LAPIC_EOI, 0);
}

static void print_table(void)
{
    int masked = 0;
    for (int pin = 0; pin < 24; pin++)
        if (ioapic_read(0x10 + 2 * pin) == RTE_MASKED && ioapic_read(0x11 + 2 * pin) == 0)
            masked++;
    printf("%d of 24 entries masked with vector 0, destination 0\n", masked);
}

int probe_ioapic(void)
{
    printf("ID %x version %x arbitration %x\n", ioapic_read(0), ioapic_read(1), ioapic_read(2));
    print_table();
    ioapic_write(0x10 + 2 * 9, 0xffffffff);
    ioapic_write(0x11 + 2 * 9, 0xffffffff);
    printf("entry 9 after writing all ones: %x %x\n", ioapic_read(0x11 + 2 * 9),
           ioapic_read(0x10 + 2 * 9));
    ioapic_write(0x10 + 2 * 9, RTE_MASKED);
    ioapic_write(0x11 + 2 * 9, 0);

    gdt_init();
    idt_init();
    pic_remap(0x20, 0x28);
    outb(0x21, 0xff);       /* both 8259s masked: everything comes through the APICs */
    outb(0xa1, 0xff);
    trap_set_handler(0x52, timer);
    trap_set_handler(0x54, uart);

    route(2, 0x52);         /* edge, active high, fixed, physical */
    pit_start_periodic(1000);
    for (uint32_t spins = 0; timer_ticks < 5 && spins < 100000000u; spins++)
        asm volatile("sti; nop; cli");
    printf("PIT through pin 2: at least 5 interrupts: %s\n", timer_ticks >= 5 ? "yes" : "no");
    route(2, RTE_MASKED | 0x52);
    sti();                  /* a tick already in the local APIC's IRR comes in now */
    asm volatile("nop");
    cli();
    uint32_t before = timer_ticks;
    for (volatile int i = 0; i < 3000000; i++)
        ;
    sti();
    asm volatile("nop");
    cli();
    printf("pin 2 masked: %u more\n", timer_ticks - before);

    route(4, RTE_LEVEL | 0x54);
    outb(COM1 + 4, 0x08);   /* MCR.OUT2: the 16550A's interrupt output enable */
    outb(COM1 + 1, 0x02);   /* IER: THR empty */
    sti();
    asm volatile("nop");
    cli();
    printf("COM1 through pin 4, level: %u interrupt, remote IRR %s in the handler, "
           "%s after EOI\n", uart_interrupts, remote_irr_in_handler ? "set" : "clear",
           ioapic_read(0x10 + 2 * 4) & RTE_REMOTE_IRR ? "set" : "clear");
    route(4, RTE_MASKED);
    return 0;
}
