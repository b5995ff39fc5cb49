/*
 * timer - the 8254 PIT on IRQ 0 through the 8259A PIC: remapping, periodic
 * interrupts, masking (IMR) and end of interrupt (ISR).
 *
 * Only facts that do not depend on timing are printed: how many ticks
 * arrived, never how long anything took.
 */
#include "guest.h"

#define IRQ_BASE_MASTER 0x20
#define IRQ_BASE_SLAVE  0x28
#define TIMER_VECTOR (IRQ_BASE_MASTER + 0)

static volatile uint32_t ticks;
static volatile bool send_eoi = true;

static void timer_interrupt(struct trapframe *tf)
{
    (void)tf;
    ticks++;
    if (send_eoi)
        pic_eoi(0);
}

/* A spurious IRQ 7 (8259A data sheet) is not in service: no EOI. */
static void spurious(struct trapframe *tf)
{
    (void)tf;
}

/* Sleep until the tick count reaches n. "sti; hlt" is atomic for our
 * purpose: STI enables interrupts only after the next instruction (SDM vol.
 * 2, STI), so no tick can slip in between the test and the HLT. Returns
 * with interrupts disabled, so the count is exact. */
static void wait_ticks(uint32_t n)
{
    cli();
    while (ticks < n)
        asm volatile("sti; hlt; cli" ::: "memory");
}

/* Busy-wait about `periods` timer periods with interrupts enabled. */
static void spin_enabled(int periods)
{
    sti();
    pit_wait_periods(periods);
    cli();
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    pic_remap(IRQ_BASE_MASTER, IRQ_BASE_SLAVE);
    trap_set_handler(TIMER_VECTOR, timer_interrupt);
    trap_set_handler(IRQ_BASE_MASTER + 7, spurious);
    pit_start_periodic(100);
    printf("timer: PIC at vectors %x/%x, PIT channel 0 mode 2 at 100 Hz\n",
           IRQ_BASE_MASTER, IRQ_BASE_SLAVE);

    pic_mask(0, false);
    /* Between the handler's IRET and the CLI after HLT the CPU may take the
     * next tick if it is already due (IRET restores IF with no interrupt
     * shadow, SDM vol. 3, 6.8.3), e.g. when the VMM stalled the guest for a
     * technique switch. So the count is at least, not exactly, ten. */
    wait_ticks(10);
    printf("got 10 ticks\n");
    CHECK(ticks >= 10, "counted %u ticks, want 10", ticks);

    /* IMR: a masked IRQ is not delivered (8259A, OCW1). */
    pic_mask(0, true);
    uint32_t before = ticks;
    spin_enabled(3);
    printf("IRQ 0 masked: %u ticks during 3 timer periods\n", ticks - before);
    CHECK(ticks == before, "a masked IRQ was delivered");
    pic_mask(0, false);
    wait_ticks(before + 1);
    printf("IRQ 0 unmasked: ticks resume\n");

    /* ISR: until the EOI, IRQ 0 stays in service and blocks IRQs of equal
     * or lower priority, itself included (8259A, fully nested mode). */
    send_eoi = false;
    before = ticks;
    wait_ticks(before + 1);
    uint8_t isr = pic_read_isr();
    spin_enabled(3);
    printf("no EOI: ISR=%02x, %u more ticks during 3 timer periods\n", isr, ticks - before - 1);
    CHECK(isr == 0x01 && ticks == before + 1, "IRQ 0 not held in service without EOI");
    send_eoi = true;
    pic_eoi(0);
    isr = pic_read_isr();
    wait_ticks(ticks + 1);
    printf("EOI sent: ISR=%02x, ticks resume\n", isr);
    CHECK(isr == 0, "ISR %02x after EOI", isr);

    pic_mask(0, true);
    printf("timer: %s\n", checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
