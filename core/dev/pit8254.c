/*
 * pit8254.c - the Intel 8254 interval timer, computed from host time.
 *
 * Time is kept in ticks of the 1.193182 MHz input clock counted from
 * pit->epoch_ns, so the period boundaries are exact integers and host time
 * enters only when converting "now" to a tick and a tick back to a deadline.
 * A channel remembers the tick at which it started counting; its count and
 * its OUT pin at any later tick follow from the mode (8254 datasheet,
 * "Mode Definitions").
 */
#include "pit8254.h"

#include <stdio.h>

#define PIT_PORT_COUNTER0 0x40
#define PIT_PORT_CONTROL 0x43
#define PIT_PORT_B 0x61
#define NS_PER_SECOND 1000000000ull
/* Port 0x61 bit 4 toggles with each DRAM refresh request, every 15.085 us
 * on a PC/AT; BIOS and kernel delay loops count its toggles. */
#define REFRESH_PERIOD_NS 15085u

/* Split so that neither product overflows 64 bits for centuries of uptime. */
static uint64_t tick_at(const struct pit *pit, uint64_t now_ns)
{
    if (now_ns < pit->epoch_ns)
        return 0;
    uint64_t elapsed = now_ns - pit->epoch_ns;
    return (elapsed / NS_PER_SECOND) * PIT_FREQUENCY_HZ +
           (elapsed % NS_PER_SECOND) * PIT_FREQUENCY_HZ / NS_PER_SECOND;
}

/* The first host time at which tick_at() reaches tick (rounded up). */
static uint64_t time_of_tick(const struct pit *pit, uint64_t tick)
{
    uint64_t remainder = tick % PIT_FREQUENCY_HZ;
    return pit->epoch_ns + (tick / PIT_FREQUENCY_HZ) * NS_PER_SECOND +
           (remainder * NS_PER_SECOND + PIT_FREQUENCY_HZ - 1) / PIT_FREQUENCY_HZ;
}

static uint64_t current_tick(const struct pit *pit)
{
    return tick_at(pit, pit->now_ns(pit->clock_ctx));
}

static uint64_t elapsed_ticks(const struct pit_channel *channel, uint64_t tick)
{
    return tick > channel->start_tick ? tick - channel->start_tick : 0;
}

static uint16_t count_at(const struct pit_channel *channel, uint64_t tick)
{
    if (!channel->counting)
        return channel->held_count;
    uint64_t elapsed = elapsed_ticks(channel, tick);
    uint64_t period = channel->reload;
    uint64_t phase = elapsed % period;
    switch (channel->mode) {
    case 2:
        /* Counts N, N-1, ... 1 and reloads. */
        return (uint16_t)(period - phase);
    case 3: {
        /* Square wave: the count drops by 2 per clock, through each half
         * of the period (datasheet, Mode 3). */
        uint64_t high_half = (period + 1) / 2;
        uint64_t in_half = phase < high_half ? phase : phase - high_half;
        return (uint16_t)((period - 2 * in_half) & ~1ull);
    }
    default:
        /* Modes 0, 1, 4, 5 count down once and then wrap through 0xffff. */
        return (uint16_t)((uint64_t)channel->start_count - elapsed);
    }
}

static bool output_at(const struct pit_channel *channel, uint64_t tick)
{
    if (!channel->counting)
        return channel->held_output;
    uint64_t elapsed = elapsed_ticks(channel, tick);
    uint64_t period = channel->reload;
    switch (channel->mode) {
    case 0: /* low until the terminal count, then high */
        return channel->terminal_reached || elapsed >= channel->start_count;
    case 1: /* one-shot: low from the trigger until the terminal count */
        return elapsed >= channel->start_count;
    case 2: /* low for the one clock where the count is 1 */
        return elapsed % period != period - 1;
    case 3: /* high for the first (N+1)/2 clocks of each period */
        return elapsed % period < (period + 1) / 2;
    default: /* modes 4 and 5: a one-clock low strobe at the terminal count */
        return elapsed != channel->start_count;
    }
}

/* Rising edges of OUT since counting started: what an edge-triggered PIC
 * sees. Modes 2 and 3 rise once per period, modes 0 and 1 at the terminal
 * count, modes 4 and 5 at the end of the strobe. */
static uint64_t rising_edges_at(const struct pit_channel *channel, uint64_t tick)
{
    if (!channel->counting)
        return channel->edges_delivered;
    uint64_t elapsed = elapsed_ticks(channel, tick);
    switch (channel->mode) {
    case 2:
    case 3:
        return elapsed / channel->reload;
    case 0:
    case 1:
        return elapsed >= channel->start_count ? 1 : 0;
    default:
        return elapsed > channel->start_count ? 1 : 0;
    }
}

static void channel_power_on(struct pit_channel *channel, bool gate)
{
    *channel = (struct pit_channel){
        .access = PIT_ACCESS_WORD,
        .reload = 65536,
        .gate = gate,
        .null_count = true,
    };
}

void pit_init(struct pit *pit, struct irq_line irq0, uint64_t (*now_ns)(void *ctx),
              void *clock_ctx)
{
    *pit = (struct pit){ .irq0 = irq0, .now_ns = now_ns, .clock_ctx = clock_ctx };
    pit->epoch_ns = now_ns(clock_ctx);
    /* GATE0 and GATE1 are tied high on a PC; GATE2 is port 0x61 bit 0. */
    channel_power_on(&pit->channels[0], true);
    channel_power_on(&pit->channels[1], true);
    channel_power_on(&pit->channels[2], false);
}

/* Freeze the count and OUT where they are (GATE low, or a count rewrite). */
static void channel_hold(struct pit_channel *channel, uint64_t tick)
{
    channel->held_count = count_at(channel, tick);
    channel->held_output = output_at(channel, tick);
    if (channel->mode == 0 && channel->held_output)
        channel->terminal_reached = true;
    channel->counting = false;
}

static void channel_start(struct pit_channel *channel, uint64_t tick, uint32_t count)
{
    channel->start_tick = tick;
    channel->start_count = count;
    channel->counting = true;
    channel->edges_delivered = 0;
}

/* A new count arrives (datasheet: it is loaded on the next clock; we load
 * it at once). Modes 1 and 5 wait for a GATE trigger. */
static void channel_load(struct pit_channel *channel, uint16_t value, uint64_t tick)
{
    channel->reload = value ? value : 65536;
    channel->null_count = false;
    channel->terminal_reached = false;
    channel->held_count = value;
    switch (channel->mode) {
    case 1:
    case 5:
        channel->counting = false;
        channel->triggered = false;
        channel->held_output = true;
        break;
    default:
        channel->held_output = channel->mode != 0;
        if (channel->gate)
            channel_start(channel, tick, channel->reload);
        else
            channel->counting = false;
        break;
    }
}

static void channel_set_gate(struct pit_channel *channel, bool gate, uint64_t tick)
{
    bool rising = gate && !channel->gate;
    bool falling = !gate && channel->gate;
    channel->gate = gate;
    if (channel->null_count)
        return;
    switch (channel->mode) {
    case 0:
    case 4:
        /* GATE low suspends counting; high resumes from the same count. */
        if (falling && channel->counting) {
            channel_hold(channel, tick);
        } else if (rising) {
            uint32_t count = channel->held_count ? channel->held_count : 65536;
            uint64_t delivered = channel->edges_delivered;
            channel_start(channel, tick, count);
            channel->edges_delivered = delivered;
        }
        break;
    case 2:
    case 3:
        /* GATE low forces OUT high; a rising GATE reloads the counter. */
        if (falling && channel->counting) {
            channel_hold(channel, tick);
            channel->held_output = true;
        } else if (rising) {
            channel_start(channel, tick, channel->reload);
        }
        break;
    default:
        /* Modes 1 and 5: a rising GATE (re)triggers the count. */
        if (rising) {
            channel_start(channel, tick, channel->reload);
            channel->triggered = true;
        }
        break;
    }
}

/* Once per channel: a guest looping over control words must not flood the
 * terminal. */
static void warn_bcd(struct pit_channel *channel)
{
    if (channel->warned_bcd)
        return;
    channel->warned_bcd = true;
    fprintf(stderr, "pit8254: BCD counting not implemented; the counter counts in binary\n");
}

static void write_control(struct pit_channel *channel, uint8_t value, uint64_t tick)
{
    uint8_t access = (value >> 4) & 3;
    if (access == PIT_ACCESS_LATCH) {
        /* Counter latch command: a second latch before the read is ignored. */
        if (!channel->latched) {
            channel->latched = true;
            channel->latch_value = count_at(channel, tick);
            channel->latch_high_next = false;
        }
        return;
    }
    uint8_t mode = (value >> 1) & 7;
    channel->mode = mode >= 6 ? mode - 4 : mode;   /* 6 and 7 alias 2 and 3 */
    channel->access = access;
    channel->bcd = value & 1;
    if (channel->bcd)
        warn_bcd(channel);
    channel->counting = false;
    channel->triggered = false;
    channel->null_count = true;
    channel->terminal_reached = false;
    channel->write_high_next = false;
    channel->read_high_next = false;
    channel->latched = false;
    channel->status_latched = false;
    channel->edges_delivered = 0;
    /* Datasheet: after a control word OUT is low in mode 0, high otherwise. */
    channel->held_output = channel->mode != 0;
}

static uint8_t channel_status(const struct pit_channel *channel, uint64_t tick)
{
    return (uint8_t)((output_at(channel, tick) ? 0x80 : 0) | (channel->null_count ? 0x40 : 0) |
                     channel->access << 4 | channel->mode << 1 | (channel->bcd ? 1 : 0));
}

/* Read-back command (8254 only): bits 3-1 select channels, bit 5 clear
 * latches their counts, bit 4 clear latches their status bytes. */
static void read_back(struct pit *pit, uint8_t value, uint64_t tick)
{
    for (int i = 0; i < 3; i++) {
        struct pit_channel *channel = &pit->channels[i];
        if (!(value & (2u << i)))
            continue;
        if (!(value & 0x20) && !channel->latched) {
            channel->latched = true;
            channel->latch_value = count_at(channel, tick);
            channel->latch_high_next = false;
        }
        if (!(value & 0x10) && !channel->status_latched) {
            channel->status_latched = true;
            channel->status = channel_status(channel, tick);
        }
    }
}

static void write_count(struct pit_channel *channel, uint8_t value, uint64_t tick)
{
    switch (channel->access) {
    case PIT_ACCESS_LOBYTE:
        channel_load(channel, value, tick);
        break;
    case PIT_ACCESS_HIBYTE:
        channel_load(channel, (uint16_t)(value << 8), tick);
        break;
    default:
        if (!channel->write_high_next) {
            channel->write_low = value;
            channel->write_high_next = true;
            /* Mode 0: "writing the first byte disables counting". */
            if (channel->mode == 0 && channel->counting)
                channel_hold(channel, tick);
        } else {
            channel->write_high_next = false;
            channel_load(channel, (uint16_t)(channel->write_low | value << 8), tick);
        }
        break;
    }
}

static uint8_t byte_of(uint16_t value, bool high)
{
    return high ? (uint8_t)(value >> 8) : (uint8_t)value;
}

static uint8_t read_count(struct pit_channel *channel, uint64_t tick)
{
    if (channel->status_latched) {
        channel->status_latched = false;
        return channel->status;
    }
    if (channel->latched) {
        bool high = channel->access == PIT_ACCESS_HIBYTE ||
                    (channel->access == PIT_ACCESS_WORD && channel->latch_high_next);
        uint8_t byte = byte_of(channel->latch_value, high);
        if (channel->access == PIT_ACCESS_WORD && !channel->latch_high_next)
            channel->latch_high_next = true;
        else
            channel->latched = false;
        return byte;
    }
    uint16_t count = count_at(channel, tick);
    switch (channel->access) {
    case PIT_ACCESS_LOBYTE:
        return byte_of(count, false);
    case PIT_ACCESS_HIBYTE:
        return byte_of(count, true);
    default: {
        bool high = channel->read_high_next;
        channel->read_high_next = !high;
        return byte_of(count, high);
    }
    }
}

static uint8_t port_b_read(const struct pit *pit, uint64_t now_ns)
{
    uint8_t value = pit->port_b & 0x0f;
    if ((now_ns / REFRESH_PERIOD_NS) & 1)
        value |= 0x10;
    if (output_at(&pit->channels[2], tick_at(pit, now_ns)))
        value |= 0x20;
    return value;
}

static uint8_t pit_read_byte(struct pit *pit, uint16_t port)
{
    uint64_t now_ns = pit->now_ns(pit->clock_ctx);
    if (port == PIT_PORT_B)
        return port_b_read(pit, now_ns);
    if (port == PIT_PORT_CONTROL)
        return 0xff;   /* the control word register cannot be read */
    return read_count(&pit->channels[port - PIT_PORT_COUNTER0], tick_at(pit, now_ns));
}

static void pit_write_byte(struct pit *pit, uint16_t port, uint8_t value)
{
    uint64_t tick = current_tick(pit);
    if (port == PIT_PORT_B) {
        pit->port_b = value & 0x0f;
        channel_set_gate(&pit->channels[2], value & 0x01, tick);
    } else if (port == PIT_PORT_CONTROL) {
        int select = value >> 6;
        if (select == 3)
            read_back(pit, value, tick);
        else
            write_control(&pit->channels[select], value, tick);
    } else {
        write_count(&pit->channels[port - PIT_PORT_COUNTER0], value, tick);
    }
}

/* The 8254 is an 8-bit device: wider accesses become byte cycles. */
static uint32_t pit_port_read(void *device, uint16_t port, unsigned size)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)pit_read_byte(device, (uint16_t)(port + i)) << (8 * i);
    return value;
}

static void pit_port_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    for (unsigned i = 0; i < size; i++)
        pit_write_byte(device, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
}

int pit_register(struct pit *pit, struct bus *bus)
{
    if (bus_register_ports(bus, PIT_PORT_COUNTER0, 4, "pit", pit, pit_port_read,
                           pit_port_write) < 0)
        return -1;
    return bus_register_ports(bus, PIT_PORT_B, 1, "pit-port-b", pit, pit_port_read,
                              pit_port_write);
}

/*
 * One IRQ0 pulse for all the OUT0 edges since the last update. Real-time
 * PIT emulation cannot make up for time the guest did not run: if the VMM
 * was descheduled for ten periods, ten back-to-back interrupts would only
 * confuse the guest's idea of time further, so it gets one interrupt and
 * the other nine are counted in ticks_lost (like QEMU's "lost tick" policy
 * of discarding missed PIT ticks).
 */
void pit_update(struct pit *pit)
{
    struct pit_channel *channel = &pit->channels[0];
    if (!channel->counting)
        return;
    uint64_t edges = rising_edges_at(channel, current_tick(pit));
    if (edges <= channel->edges_delivered)
        return;
    pit->ticks_lost += edges - channel->edges_delivered - 1;
    channel->edges_delivered = edges;
    irq_pulse(&pit->irq0);
}

uint64_t pit_next_deadline_ns(const struct pit *pit)
{
    const struct pit_channel *channel = &pit->channels[0];
    if (!channel->counting)
        return UINT64_MAX;
    uint64_t tick;
    switch (channel->mode) {
    case 2:
    case 3:
        tick = channel->start_tick + (channel->edges_delivered + 1) * channel->reload;
        break;
    case 0:
    case 1:
        if (channel->edges_delivered)
            return UINT64_MAX;
        tick = channel->start_tick + channel->start_count;
        break;
    default:
        if (channel->edges_delivered)
            return UINT64_MAX;
        tick = channel->start_tick + channel->start_count + 1;
        break;
    }
    return time_of_tick(pit, tick);
}

bool pit_output(const struct pit *pit, int channel)
{
    if (channel < 0 || channel > 2)
        return false;
    return output_at(&pit->channels[channel], current_tick(pit));
}

uint16_t pit_current_count(const struct pit *pit, int channel)
{
    if (channel < 0 || channel > 2)
        return 0;
    return count_at(&pit->channels[channel], current_tick(pit));
}
