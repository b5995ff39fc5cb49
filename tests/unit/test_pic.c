/*
 * test_pic.c - the cascaded 8259A pair, driven through its ports as a
 * guest kernel would.
 */
#include <criterion/criterion.h>

#include "core/dev/bus.h"
#include "core/dev/pic8259.h"

static struct bus bus;
static struct pic_pair pic;

static void outb(uint16_t port, uint8_t value) { bus_port_write(&bus, port, 1, value); }
static uint8_t inb(uint16_t port) { return (uint8_t)bus_port_read(&bus, port, 1); }

/* The classic PC initialisation: vectors 0x20 and 0x28, cascade on IR2,
 * 8086 mode, given ICW1 and ICW4. */
static void init_pair(uint8_t icw1, uint8_t icw4)
{
    outb(0x20, icw1);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, icw4);
    outb(0xa0, icw1);
    outb(0xa1, 0x28);
    outb(0xa1, 0x02);
    outb(0xa1, icw4);
}

static void setup(void)
{
    bus = (struct bus){0};
    pic_init(&pic);
    cr_assert_eq(pic_register(&pic, &bus), 0);
    init_pair(0x11, 0x01);
    outb(0x21, 0x00);   /* unmask all */
    outb(0xa1, 0x00);
}

static uint8_t read_isr(uint16_t command_port)
{
    outb(command_port, 0x0b);   /* OCW3: read ISR */
    uint8_t value = inb(command_port);
    outb(command_port, 0x0a);   /* back to IRR */
    return value;
}

static void pulse(int irq)
{
    pic_set_irq(&pic, irq, 1);
    pic_set_irq(&pic, irq, 0);
}

static void non_specific_eoi(uint16_t command_port) { outb(command_port, 0x20); }

TestSuite(pic, .init = setup);

Test(pic, power_on_state_masks_everything_but_the_cascade)
{
    struct pic_pair fresh;
    pic_init(&fresh);
    cr_assert_eq(fresh.master.vector_base, 0x08);
    cr_assert_eq(fresh.slave.vector_base, 0x70);
    cr_assert_eq(fresh.master.imr, 0xfb);
    cr_assert_eq(fresh.slave.imr, 0xff);
    pic_set_irq(&fresh, 0, 1);
    cr_assert_not(fresh.intr, "a masked line must not reach INTR");
}

Test(pic, register_claims_both_chips_once)
{
    cr_assert_str_eq(bus_find_port(&bus, 0x21)->name, "pic-master");
    cr_assert_str_eq(bus_find_port(&bus, 0xa0)->name, "pic-slave");
    cr_assert_eq(pic_register(&pic, &bus), -1, "a second registration overlaps");
}

Test(pic, icw1_clears_the_mask_and_reads_irr)
{
    outb(0x21, 0x5a);
    cr_assert_eq(inb(0x21), 0x5a, "OCW1 reads back");
    outb(0x20, 0x11);
    cr_assert_eq(inb(0x21), 0x00, "ICW1 clears the IMR");
    outb(0x21, 0x30);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    cr_assert_eq(pic.master.vector_base, 0x30);
    cr_assert_eq(pic.master.init_step, 0);
    outb(0x21, 0xfe);
    cr_assert_eq(inb(0x21), 0xfe, "after ICW4 a data write is OCW1 again");
}

Test(pic, an_edge_sets_irr_and_intr_and_inta_gives_the_vector)
{
    pulse(3);
    cr_assert(pic.intr);
    cr_assert_eq(inb(0x20), 0x08, "IRR bit 3 stays latched after the line falls");
    cr_assert_eq(pic_acknowledge(&pic), 0x23);
    cr_assert_eq(inb(0x20), 0x00, "INTA clears IRR");
    cr_assert_eq(read_isr(0x20), 0x08, "and sets ISR");
    cr_assert_not(pic.intr);
    non_specific_eoi(0x20);
    cr_assert_eq(read_isr(0x20), 0x00);
}

Test(pic, a_line_held_high_is_one_request)
{
    pic_set_irq(&pic, 4, 1);
    cr_assert_eq(pic_acknowledge(&pic), 0x24);
    non_specific_eoi(0x20);
    pic_set_irq(&pic, 4, 1);
    cr_assert_not(pic.intr, "no new edge, no new request");
    pic_set_irq(&pic, 4, 0);
    pic_set_irq(&pic, 4, 1);
    cr_assert(pic.intr, "a new rising edge is a new request");
}

Test(pic, mask_blocks_and_unmask_delivers_the_latched_request)
{
    outb(0x21, 0x02);
    pulse(1);
    cr_assert_not(pic.intr);
    cr_assert_eq(inb(0x20), 0x02, "the request is latched in IRR even while masked");
    outb(0x21, 0x00);
    cr_assert(pic.intr);
    cr_assert_eq(pic_acknowledge(&pic), 0x21);
}

Test(pic, lower_number_wins_and_in_service_blocks_lower_priority)
{
    pulse(5);
    pulse(1);
    cr_assert_eq(pic_acknowledge(&pic), 0x21, "IR1 outranks IR5");
    cr_assert_not(pic.intr, "IR5 waits while IR1 is in service");
    non_specific_eoi(0x20);
    cr_assert(pic.intr);
    cr_assert_eq(pic_acknowledge(&pic), 0x25);
}

Test(pic, higher_priority_nests_and_non_specific_eoi_ends_the_highest)
{
    pulse(5);
    cr_assert_eq(pic_acknowledge(&pic), 0x25);
    pulse(1);
    cr_assert(pic.intr, "IR1 may interrupt the IR5 handler");
    cr_assert_eq(pic_acknowledge(&pic), 0x21);
    cr_assert_eq(read_isr(0x20), 0x22);
    non_specific_eoi(0x20);
    cr_assert_eq(read_isr(0x20), 0x20, "non-specific EOI clears the highest (IR1)");
}

Test(pic, specific_eoi_clears_the_named_level)
{
    pulse(5);
    pic_acknowledge(&pic);
    pulse(1);
    pic_acknowledge(&pic);
    outb(0x20, 0x60 | 5);
    cr_assert_eq(read_isr(0x20), 0x02, "specific EOI 5 leaves IR1 in service");
}

Test(pic, slave_interrupt_comes_through_the_cascade)
{
    pulse(10);
    cr_assert(pic.intr);
    cr_assert_eq(pic_acknowledge(&pic), 0x2a);
    cr_assert_eq(read_isr(0x20), 0x04, "master IR2 in service");
    cr_assert_eq(read_isr(0xa0), 0x04, "slave IR2 (IRQ10) in service");
    pulse(9);
    cr_assert_not(pic.intr, "master IR2 in service blocks the slave (fully nested)");
    non_specific_eoi(0xa0);
    non_specific_eoi(0x20);
    cr_assert(pic.intr, "after both EOIs the pending IRQ9 gets through");
    cr_assert_eq(pic_acknowledge(&pic), 0x29);
}

Test(pic, slave_priority_sits_at_master_ir2)
{
    pulse(12);
    pulse(3);
    pulse(1);
    cr_assert_eq(pic_acknowledge(&pic), 0x21);
    non_specific_eoi(0x20);
    cr_assert_eq(pic_acknowledge(&pic), 0x2c, "IRQ12 (via IR2) outranks IRQ3");
    non_specific_eoi(0xa0);
    non_specific_eoi(0x20);
    cr_assert_eq(pic_acknowledge(&pic), 0x23);
}

Test(pic, slave_keeps_a_second_request_across_the_acknowledge)
{
    pulse(8);
    pulse(11);
    cr_assert_eq(pic_acknowledge(&pic), 0x28);
    non_specific_eoi(0xa0);
    non_specific_eoi(0x20);
    cr_assert(pic.intr, "IRQ11 still pending on the slave");
    cr_assert_eq(pic_acknowledge(&pic), 0x2b);
}

Test(pic, inta_with_nothing_pending_is_spurious_irq7)
{
    cr_assert_eq(pic_acknowledge(&pic), 0x27);
    cr_assert_eq(read_isr(0x20), 0x00, "a spurious IR7 does not set ISR7");
}

Test(pic, request_withdrawn_on_the_slave_is_spurious_irq15)
{
    pulse(12);
    cr_assert(pic.intr);
    outb(0xa1, 0x10);   /* mask IRQ12 on the slave after it asked */
    cr_assert(pic.intr, "the master latched the cascade edge");
    cr_assert_eq(pic_acknowledge(&pic), 0x2f);
    cr_assert_eq(read_isr(0xa0), 0x00, "no slave ISR bit for a spurious IRQ15");
    cr_assert_eq(read_isr(0x20), 0x04, "the master still put IR2 in service");
}

Test(pic, auto_eoi_leaves_isr_clear)
{
    init_pair(0x11, 0x03);
    outb(0x21, 0x00);
    outb(0xa1, 0x00);
    pulse(6);
    cr_assert_eq(pic_acknowledge(&pic), 0x26);
    cr_assert_eq(read_isr(0x20), 0x00);
    pulse(7);
    cr_assert(pic.intr, "nothing in service blocks the next request");
}

Test(pic, auto_eoi_slave_delivers_back_to_back_requests)
{
    init_pair(0x11, 0x03);
    outb(0x21, 0x00);
    outb(0xa1, 0x00);
    pulse(8);
    pulse(9);
    cr_assert_eq(pic_acknowledge(&pic), 0x28);
    cr_assert(pic.intr, "the slave's INT dropped in INTA and rose again for IRQ9");
    cr_assert_eq(pic_acknowledge(&pic), 0x29);
    cr_assert_not(pic.intr);
}

Test(pic, level_triggered_request_follows_the_line)
{
    init_pair(0x19, 0x01);
    outb(0x21, 0x00);
    pic_set_irq(&pic, 5, 1);
    cr_assert_eq(pic_acknowledge(&pic), 0x25);
    non_specific_eoi(0x20);
    cr_assert(pic.intr, "the line is still high: requested again");
    pic_set_irq(&pic, 5, 0);
    cr_assert_not(pic.intr, "level request withdrawn");
}

Test(pic, set_priority_rotates_the_order)
{
    outb(0x20, 0xc0 | 3);   /* OCW2 set priority: IR3 lowest, IR4 highest */
    pulse(1);
    pulse(5);
    cr_assert_eq(pic_acknowledge(&pic), 0x25);
}

Test(pic, rotate_on_non_specific_eoi_makes_the_served_level_lowest)
{
    pulse(0);
    pulse(1);
    cr_assert_eq(pic_acknowledge(&pic), 0x20);
    outb(0x20, 0xa0);       /* rotate on non-specific EOI */
    pulse(0);
    cr_assert_eq(pic_acknowledge(&pic), 0x21, "IR0 is now the lowest priority");
}

Test(pic, poll_command_reads_the_highest_request)
{
    pulse(6);
    outb(0x20, 0x0c);
    cr_assert_eq(inb(0x20), 0x86);
    cr_assert_eq(read_isr(0x20), 0x40, "a poll read acknowledges");
    outb(0x20, 0x0c);
    cr_assert_eq(inb(0x20), 0x00, "nothing else pending");
}

Test(pic, special_mask_mode_lets_lower_levels_through)
{
    pulse(3);
    cr_assert_eq(pic_acknowledge(&pic), 0x23);
    pulse(6);
    cr_assert_not(pic.intr);
    outb(0x21, 0x08);       /* mask the level in service */
    outb(0x20, 0x68);       /* OCW3: set special mask mode */
    cr_assert(pic.intr, "special mask mode unblocks IR6");
    cr_assert_eq(pic_acknowledge(&pic), 0x26);
}

Test(pic, bad_irq_numbers_are_refused_without_effect)
{
    pic_set_irq(&pic, 16, 1);
    pic_set_irq(&pic, -1, 1);
    pic_set_irq(&pic, 2, 1);
    cr_assert_not(pic.intr);
    cr_assert_eq(pic.master.irr, 0);
    cr_assert_eq(pic.slave.irr, 0);
}
