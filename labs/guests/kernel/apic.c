/*
 * apic.c - the "apic=1" mode: the tick from the local APIC's timer and the
 * console's IRQ 4 through the I/O APIC, with both 8259s masked, as xv6
 * does (Intel SDM vol. 3, ch. 10; 82093AA I/O APIC datasheet).
 *
 * The local APIC timer counts the APIC bus clock, which QEMU and vmlab
 * both run at 1 GHz; on real hardware a kernel measures it against the
 * PIT first.
 */
#include "kernel.h"
#include "arch.h"
#include "trapnum.h"

#define LAPIC_BASE  0xfee00000u
#define IOAPIC_BASE 0xfec00000u
#define APIC_BUS_HZ 1000000000u

/* Local APIC registers (SDM table 10-1). */
#define LAPIC_TPR     0x080
#define LAPIC_EOI     0x0b0
#define LAPIC_SVR     0x0f0
#define LAPIC_ESR     0x280
#define LAPIC_TIMER   0x320
#define LAPIC_LINT0   0x350
#define LAPIC_LINT1   0x360
#define LAPIC_ERROR   0x370
#define LAPIC_INITIAL 0x380
#define LAPIC_DIVIDE  0x3e0
#define SVR_ENABLE    0x100
#define LVT_MASKED    0x10000
#define LVT_PERIODIC  0x20000
#define DIVIDE_BY_1   0xb
/* The spurious vector: IRQ 15's, free while the 8259s are masked, with
 * the low four bits set as P6 processors require. */
#define SPURIOUS_IRQ  15

#define IOAPIC_PINS   24
#define RTE_MASKED    0x10000

bool apic_mode;

static void lapic_write(uint32_t reg, uint32_t value)
{
    *(volatile uint32_t *)(LAPIC_BASE + reg) = value;
    (void)*(volatile uint32_t *)(LAPIC_BASE + 0x20);   /* wait for the write: read ID */
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
    *(volatile uint32_t *)IOAPIC_BASE = reg;
    *(volatile uint32_t *)(IOAPIC_BASE + 0x10) = value;
}

/* Redirection entry for ISA IRQ pin: edge, active high, fixed, to APIC 0. */
static void ioapic_route(int pin, uint32_t low)
{
    ioapic_write(0x10 + 2 * (uint32_t)pin + 1, 0);
    ioapic_write(0x10 + 2 * (uint32_t)pin, low);
}

static void pic_mask_all(void)
{
    arch_outb(0x21, 0xff);
    arch_outb(0xa1, 0xff);
}

void apic_init(void)
{
    apic_mode = true;
    pic_mask_all();
    lapic_write(LAPIC_SVR, SVR_ENABLE | (T_IRQ0 + SPURIOUS_IRQ));
    lapic_write(LAPIC_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LINT1, LVT_MASKED);
    lapic_write(LAPIC_ERROR, LVT_MASKED);
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_EOI, 0);
    lapic_write(LAPIC_TPR, 0);
    for (int pin = 0; pin < IOAPIC_PINS; pin++)
        ioapic_route(pin, RTE_MASKED | (uint32_t)(T_IRQ0 + pin));
    ioapic_route(IRQ_UART, T_IRQ0 + IRQ_UART);
    lapic_write(LAPIC_DIVIDE, DIVIDE_BY_1);
    lapic_write(LAPIC_TIMER, LVT_PERIODIC | (T_IRQ0 + IRQ_TIMER));
    lapic_write(LAPIC_INITIAL, APIC_BUS_HZ / TIMER_HZ);
}

/* The pages the kernel must map (uncached) once paging is on. */
uint32_t apic_page(int which)
{
    return which ? IOAPIC_BASE : LAPIC_BASE;
}

void interrupt_done(int irq)
{
    if (apic_mode)
        lapic_write(LAPIC_EOI, 0);
    else
        pic_end_of_interrupt(irq);
}

/* The local APIC's spurious vector needs no EOI (SDM 10.9). */
bool interrupt_is_spurious(int irq)
{
    return apic_mode ? irq == SPURIOUS_IRQ : pic_is_spurious(irq);
}
