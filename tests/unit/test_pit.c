/*
 * test_pit.c - the 8254 against a fake clock: periods, deadlines, reads,
 * lost ticks, channel 2 through port 0x61.
 */
#include <criterion/criterion.h>

#include "core/dev/bus.h"
#include "core/dev/pit8254.h"

#define EPOCH_NS 5000000000ull   /* the fake clock does not start at 0 */

struct fake_clock {
    uint64_t ns;
};

struct irq_recorder {
    int level;
    int rising_edges;
};

static struct bus bus;
static struct pit pit;
static struct fake_clock clock_source;
static struct irq_recorder irq0;

static uint64_t fake_now(void *ctx) { return ((struct fake_clock *)ctx)->ns; }

static void record_level(void *controller, int irq, int level)
{
    struct irq_recorder *recorder = controller;
    cr_assert_eq(irq, 0);
    if (level && !recorder->level)
        recorder->rising_edges++;
    recorder->level = level;
}

static void outb(uint16_t port, uint8_t value) { bus_port_write(&bus, port, 1, value); }
static uint8_t inb(uint16_t port) { return (uint8_t)bus_port_read(&bus, port, 1); }

/* Host time at which `ticks` input clocks have elapsed since the epoch,
 * computed independently of the device: ceil(ticks * 1e9 / 1193182). */
static uint64_t time_at_tick(uint64_t ticks)
{
    return EPOCH_NS + (ticks * 1000000000ull + PIT_FREQUENCY_HZ - 1) / PIT_FREQUENCY_HZ;
}

static void set_tick(uint64_t ticks) { clock_source.ns = time_at_tick(ticks); }

static void setup(void)
{
    bus = (struct bus){0};
    irq0 = (struct irq_recorder){0};
    clock_source.ns = EPOCH_NS;
    pit_init(&pit, (struct irq_line){ record_level, &irq0, 0 }, fake_now, &clock_source);
    cr_assert_eq(pit_register(&pit, &bus), 0);
}

/* Channel 0, lobyte/hibyte, the given mode and count. */
static void program_channel0(int mode, uint16_t count)
{
    outb(0x43, (uint8_t)(0x30 | mode << 1));
    outb(0x40, (uint8_t)count);
    outb(0x40, (uint8_t)(count >> 8));
}

static uint16_t read_channel_word(uint16_t port)
{
    uint8_t low = inb(port);
    return (uint16_t)(low | inb(port) << 8);
}

TestSuite(pit, .init = setup);

Test(pit, idle_until_programmed)
{
    cr_assert_eq(pit_next_deadline_ns(&pit), UINT64_MAX);
    set_tick(1000000);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 0);
}

Test(pit, mode2_fires_once_per_period_at_the_deadline)
{
    program_channel0(2, 1193);
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(1193));
    clock_source.ns = time_at_tick(1193) - 1;
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 0, "not before the period ends");
    clock_source.ns = time_at_tick(1193);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 1);
    cr_assert_eq(irq0.level, 0, "a pulse: the line is low again");
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(2 * 1193));
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 1, "one period, one interrupt");
    set_tick(2 * 1193);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 2);
    cr_assert_eq(pit.ticks_lost, 0);
}

Test(pit, mode2_counts_down_and_pulses_out_low_for_one_clock)
{
    program_channel0(2, 100);
    set_tick(30);
    cr_assert_eq(pit_current_count(&pit, 0), 70);
    cr_assert(pit_output(&pit, 0));
    set_tick(99);
    cr_assert_eq(pit_current_count(&pit, 0), 1);
    cr_assert_not(pit_output(&pit, 0), "OUT low while the count is 1");
    set_tick(100);
    cr_assert_eq(pit_current_count(&pit, 0), 100, "reloaded");
    cr_assert(pit_output(&pit, 0));
}

Test(pit, mode3_is_a_square_wave_with_the_programmed_period)
{
    program_channel0(3, 100);
    set_tick(0);
    cr_assert(pit_output(&pit, 0));
    set_tick(49);
    cr_assert(pit_output(&pit, 0), "high for the first half");
    cr_assert_eq(pit_current_count(&pit, 0), 2);
    set_tick(50);
    cr_assert_not(pit_output(&pit, 0), "low for the second half");
    cr_assert_eq(pit_current_count(&pit, 0), 100);
    set_tick(99);
    cr_assert_not(pit_output(&pit, 0));
    set_tick(100);
    cr_assert(pit_output(&pit, 0));
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 1);
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(200));
}

Test(pit, count_zero_means_65536)
{
    program_channel0(2, 0);
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(65536));
    set_tick(1);
    cr_assert_eq(pit_current_count(&pit, 0), 65535);
}

Test(pit, counter_latch_freezes_the_value_until_read)
{
    program_channel0(2, 1000);
    set_tick(300);
    outb(0x43, 0x00);           /* latch channel 0 */
    set_tick(450);
    outb(0x43, 0x00);           /* a second latch is ignored */
    cr_assert_eq(read_channel_word(0x40), 700);
    cr_assert_eq(read_channel_word(0x40), 550, "unlatched: the live count");
}

Test(pit, lobyte_and_hibyte_access_modes)
{
    outb(0x43, 0x14);           /* channel 0, lobyte only, mode 2 */
    outb(0x40, 0x80);
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(0x80));
    set_tick(0x10);
    cr_assert_eq(inb(0x40), 0x70);
    outb(0x43, 0x24);           /* channel 0, hibyte only, mode 2 */
    outb(0x40, 0x02);
    cr_assert_eq(pit.channels[0].reload, 0x200);
    set_tick(0x10 + 0x100);
    cr_assert_eq(inb(0x40), 0x01, "hibyte of 0x100");
}

Test(pit, falling_behind_delivers_one_pulse_and_counts_the_rest)
{
    program_channel0(2, 1000);
    set_tick(10 * 1000 + 500);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 1, "one interrupt for ten periods");
    cr_assert_eq(pit.ticks_lost, 9);
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(11 * 1000));
    set_tick(11 * 1000);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 2);
    cr_assert_eq(pit.ticks_lost, 9);
}

Test(pit, mode0_interrupts_once_at_terminal_count)
{
    program_channel0(0, 500);
    cr_assert_not(pit_output(&pit, 0), "OUT low while counting");
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(500));
    set_tick(499);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 0);
    set_tick(500);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 1);
    cr_assert(pit_output(&pit, 0));
    cr_assert_eq(pit_next_deadline_ns(&pit), UINT64_MAX, "one-shot");
    set_tick(100000);
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, 1);
    cr_assert_eq(pit.ticks_lost, 0);
}

Test(pit, reprogramming_restarts_the_period)
{
    program_channel0(2, 1000);
    set_tick(400);
    program_channel0(2, 100);
    cr_assert_eq(pit_next_deadline_ns(&pit), time_at_tick(500));
}

Test(pit, read_back_status_reports_mode_access_and_output)
{
    program_channel0(3, 100);
    outb(0x43, 0xe2);           /* read-back: status only, channel 0 */
    cr_assert_eq(inb(0x40), 0x80 | 0x30 | 3 << 1);
    outb(0x43, 0xd2);           /* read-back: count only, channel 0 */
    set_tick(10);
    cr_assert_eq(read_channel_word(0x40), 100, "latched at tick 0");
}

Test(pit, channel2_gate_and_output_through_port_61)
{
    outb(0x43, 0xb0);           /* channel 2, lobyte/hibyte, mode 0 */
    outb(0x42, 0xe8);
    outb(0x42, 0x03);           /* 1000 */
    cr_assert_eq(inb(0x61) & 0x20, 0, "OUT2 low: counting has not finished");
    set_tick(5000);
    cr_assert_eq(inb(0x61) & 0x20, 0, "GATE2 low: the counter does not run");
    cr_assert_eq(pit_current_count(&pit, 2), 1000);
    outb(0x61, 0x01);           /* GATE2 high */
    cr_assert_eq(inb(0x61) & 0x01, 0x01);
    set_tick(5999);
    cr_assert_eq(inb(0x61) & 0x20, 0);
    set_tick(6000);
    cr_assert_eq(inb(0x61) & 0x20, 0x20, "OUT2 high after 1000 clocks of GATE");
    cr_assert_eq(irq0.rising_edges, 0, "channel 2 has no IRQ");
}

Test(pit, channel2_gate_low_pauses_mode0)
{
    outb(0x61, 0x01);
    outb(0x43, 0xb0);
    outb(0x42, 100);
    outb(0x42, 0);
    set_tick(40);
    outb(0x61, 0x00);
    set_tick(1000);
    cr_assert_eq(pit_current_count(&pit, 2), 60, "held while GATE is low");
    outb(0x61, 0x01);
    set_tick(1059);
    cr_assert_eq(inb(0x61) & 0x20, 0);
    set_tick(1060);
    cr_assert_eq(inb(0x61) & 0x20, 0x20);
}

Test(pit, refresh_bit_toggles_with_time)
{
    clock_source.ns = 0;
    uint8_t first = inb(0x61) & 0x10;
    clock_source.ns = 15085;
    cr_assert_neq(inb(0x61) & 0x10, first);
}

Test(pit, deadline_math_holds_after_hours)
{
    program_channel0(2, 1193);
    uint64_t ticks = 3600ull * 5 * PIT_FREQUENCY_HZ;   /* five hours */
    set_tick(ticks);
    pit_update(&pit);
    uint64_t deadline = pit_next_deadline_ns(&pit);
    cr_assert_gt(deadline, clock_source.ns);
    clock_source.ns = deadline;
    int before = irq0.rising_edges;
    pit_update(&pit);
    cr_assert_eq(irq0.rising_edges, before + 1, "the deadline is exactly when the edge is due");
}
