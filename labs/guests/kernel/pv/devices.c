/*
 * devices.c - the paravirtual build's drivers: what pic.c, pit.c, uart.c
 * and ata.c are for the native kernel, without a single port access.
 *
 *   - the PIC and the APICs: nothing to program, acknowledge or mask -
 *     events come with their source in the shared info page's pending
 *     bitmap (apic=1 changes nothing);
 *   - the PIT: a one-shot timer (PV_SET_TIMER), re-armed on every tick at
 *     TIMER_HZ, so the kernel above sees the same ticks;
 *   - the UART: output is gathered into lines and written with one
 *     PV_CONSOLE_WRITE per line (the native driver makes two port
 *     accesses per byte); input comes from the shared info page's ring;
 *   - the disk: the block ring, in pv/block.c.
 */
#ifdef PV
#include "../kernel.h"
#include "../arch.h"

volatile uint32_t ticks;
static uint64_t next_tick_ns;

/* ---- time: the shared info page's parameters, no exit ---- */

static uint64_t system_time_ns(void)
{
    uint32_t version;
    uint64_t base, stamp, delta;
    uint32_t mul;
    do {
        version = pv_shared_info.time_version;
        asm volatile("" ::: "memory");
        base = pv_shared_info.system_time_ns;
        stamp = pv_shared_info.tsc_timestamp;
        mul = pv_shared_info.tsc_to_ns_mul;
        asm volatile("" ::: "memory");
    } while ((version & 1) || version != pv_shared_info.time_version);
    delta = arch_read_tsc() - stamp;
    /* (delta * mul) >> 32, without a 128-bit product */
    return base + (((delta & 0xffffffffu) * mul) >> 32) + (delta >> 32) * mul;
}

/* ---- the PIC's place: nothing to do ---- */

void pic_init(void) {}
void pic_unmask(int irq) { (void)irq; }
void pic_end_of_interrupt(int irq) { (void)irq; }
bool pic_is_spurious(int irq) { (void)irq; return false; }

/* ---- the APICs' place (apic=1): the same events ---- */

bool apic_mode;                 /* stays false: nothing to map, nothing to acknowledge */

void apic_init(void)
{
    pit_init();
}

uint32_t apic_page(int which) { (void)which; return 0; }
void interrupt_done(int irq) { (void)irq; }
bool interrupt_is_spurious(int irq) { (void)irq; return false; }

/* ---- the PIT's place: a one-shot timer at TIMER_HZ ---- */

#define TICK_NS (1000000000ull / TIMER_HZ)

static void arm(uint64_t deadline)
{
    pv_call(PV_SET_TIMER, (uint32_t)deadline, (uint32_t)(deadline >> 32), 0);
}

void pit_init(void)
{
    next_tick_ns = system_time_ns() + TICK_NS;
    arm(next_tick_ns);
}

/* After a timer event: the next tick, one period after the last (as a
 * periodic PIT), or one period from now if the guest fell behind. */
void arch_timer_rearm(void)
{
    uint64_t now = system_time_ns();
    next_tick_ns += TICK_NS;
    if (next_tick_ns <= now)
        next_tick_ns = now + TICK_NS;
    arm(next_tick_ns);
}

uint32_t arch_take_pending_events(void)
{
    return __atomic_exchange_n(&pv_shared_info.pending, 0, __ATOMIC_SEQ_CST);
}

/* ---- the UART's place ---- */

static char line[256];
static uint32_t line_length;

void pv_console_flush(void)
{
    if (line_length)
        pv_call(PV_CONSOLE_WRITE, (uint32_t)line, line_length, 0);
    line_length = 0;
}

void uart_init(void) {}
void uart_enable_receive_interrupt(void) {}

void uart_put(char c)
{
    line[line_length++] = c;
    if (c == '\n' || line_length == sizeof line)
        pv_console_flush();
}

bool uart_has_input(void)
{
    return pv_shared_info.console_in_consumer != pv_shared_info.console_in_producer;
}

char uart_get(void)
{
    uint32_t at = pv_shared_info.console_in_consumer;
    char c = (char)pv_shared_info.console_in[at % PV_CONSOLE_RING_SIZE];
    pv_shared_info.console_in_consumer = at + 1;
    return c;
}
#endif
