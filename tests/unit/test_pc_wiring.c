/*
 * test_pc_wiring.c - the devices wired together as vm.c wires them: PIT,
 * UART and ATA interrupts travel through the 8259A pair to a vector, as a
 * guest that programs everything through ports would see them.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "core/dev/ata.h"
#include "core/dev/bus.h"
#include "core/dev/pic8259.h"
#include "core/dev/pit8254.h"
#include "core/dev/uart16550.h"

struct pc {
    struct bus bus;
    struct pic_pair pic;
    struct pit pit;
    struct uart16550 uart;
    struct ata_disk disk;
    uint64_t now_ns;
    char image_path[64];
};

static struct pc pc;

static uint64_t fake_now(void *ctx) { return ((struct pc *)ctx)->now_ns; }
static void discard(void *ctx, uint8_t byte) { (void)ctx, (void)byte; }
static void outb(uint16_t port, uint8_t value) { bus_port_write(&pc.bus, port, 1, value); }
static uint8_t inb(uint16_t port) { return (uint8_t)bus_port_read(&pc.bus, port, 1); }

static struct irq_line line(int irq) { return (struct irq_line){ pic_set_irq, &pc.pic, irq }; }

static void build(void)
{
    memset(&pc, 0, sizeof pc);
    pic_init(&pc.pic);
    pit_init(&pc.pit, line(0), fake_now, &pc);
    uart_init(&pc.uart, line(4), discard, NULL);
    cr_assert_eq(pic_register(&pc.pic, &pc.bus), 0);
    cr_assert_eq(pit_register(&pc.pit, &pc.bus), 0);
    cr_assert_eq(uart_register(&pc.uart, &pc.bus, 0x3f8), 0);
    strcpy(pc.image_path, "/tmp/vmlab-wiring-XXXXXX");
    int fd = mkstemp(pc.image_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 16 * 512), 0);
    close(fd);
    char error[256];
    cr_assert_eq(ata_open(&pc.disk, pc.image_path, line(14), error, sizeof error), 0, "%s", error);
    cr_assert_eq(ata_register(&pc.disk, &pc.bus), 0);

    /* The guest kernel's PIC set-up: vectors 0x20/0x28, all unmasked. */
    static const uint8_t master_icws[] = { 0x20, 0x04, 0x01, 0x00 };
    static const uint8_t slave_icws[] = { 0x28, 0x02, 0x01, 0x00 };
    outb(0x20, 0x11);
    for (int i = 0; i < 4; i++)
        outb(0x21, master_icws[i]);   /* ICW2-ICW4, then OCW1 */
    outb(0xa0, 0x11);
    for (int i = 0; i < 4; i++)
        outb(0xa1, slave_icws[i]);
}

static void teardown(void)
{
    ata_close(&pc.disk);
    unlink(pc.image_path);
}

TestSuite(pc_wiring, .init = build, .fini = teardown);

Test(pc_wiring, pit_tick_arrives_as_vector_0x20)
{
    outb(0x43, 0x34);
    outb(0x40, 0xa9);
    outb(0x40, 0x04);           /* 1193: about 1 kHz */
    pc.now_ns = pit_next_deadline_ns(&pc.pit);
    pit_update(&pc.pit);
    cr_assert(pc.pic.intr);
    cr_assert_eq(pic_acknowledge(&pc.pic), 0x20);
    outb(0x20, 0x20);
    pc.now_ns = pit_next_deadline_ns(&pc.pit);
    pit_update(&pc.pit);
    cr_assert_eq(pic_acknowledge(&pc.pic), 0x20, "the next period's edge is a new request");
}

Test(pc_wiring, uart_receive_arrives_as_vector_0x24)
{
    outb(0x3fc, 0x0b);          /* DTR, RTS, OUT2 */
    outb(0x3f9, 0x01);          /* RX data interrupt */
    cr_assert(uart_receive(&pc.uart, 'k'));
    cr_assert(pc.pic.intr);
    cr_assert_eq(pic_acknowledge(&pc.pic), 0x24);
    cr_assert_eq(inb(0x3f8), 'k');
    outb(0x20, 0x20);
    cr_assert(uart_receive(&pc.uart, 'j'));
    cr_assert(pc.pic.intr, "the line fell when RBR was read, so this is a new edge");
    cr_assert_eq(pic_acknowledge(&pc.pic), 0x24);
}

Test(pc_wiring, disk_completion_arrives_through_the_slave_as_vector_0x2e)
{
    outb(0x1f6, 0xe0);
    outb(0x1f7, 0xe7);          /* FLUSH CACHE */
    cr_assert(pc.pic.intr);
    cr_assert_eq(pic_acknowledge(&pc.pic), 0x2e);
    inb(0x1f7);                 /* acknowledge the disk */
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
    cr_assert_not(pc.pic.intr);
    outb(0x1f7, 0xe7);
    cr_assert(pc.pic.intr, "the next command interrupts again");
}
