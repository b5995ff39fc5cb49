/*
 * test_device_fuzz.c - a hostile guest's port I/O: random reads and writes
 * of random widths to every device port. Nothing may crash (the sanitizers
 * watch every access) and each device's invariants must hold throughout.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dev/ata.h"
#include "core/dev/bus.h"
#include "core/dev/debug_exit.h"
#include "core/dev/pic8259.h"
#include "core/dev/pit8254.h"
#include "core/dev/uart16550.h"

#define ROUNDS 200000

struct machine {
    struct bus bus;
    struct pic_pair pic;
    struct pit pit;
    struct uart16550 uart;
    struct debug_exit debug_exit;
    struct ata_disk disk;
    uint64_t now_ns;
    char image_path[64];
};

static uint64_t xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static uint64_t fake_now(void *ctx) { return ((struct machine *)ctx)->now_ns; }
static void discard_output(void *ctx, uint8_t byte) { (void)ctx, (void)byte; }

static struct irq_line line(struct machine *m, int irq)
{
    return (struct irq_line){ pic_set_irq, &m->pic, irq };
}

static void build(struct machine *m)
{
    memset(m, 0, sizeof *m);
    pic_init(&m->pic);
    pit_init(&m->pit, line(m, 0), fake_now, m);
    uart_init(&m->uart, line(m, 4), discard_output, NULL);
    debug_exit_init(&m->debug_exit, NULL, NULL);
    cr_assert_eq(pic_register(&m->pic, &m->bus), 0);
    cr_assert_eq(pit_register(&m->pit, &m->bus), 0);
    cr_assert_eq(uart_register(&m->uart, &m->bus, 0x3f8), 0);
    cr_assert_eq(debug_exit_register(&m->debug_exit, &m->bus, DEBUG_EXIT_PORT), 0);

    strcpy(m->image_path, "/tmp/vmlab-fuzz-XXXXXX");
    int fd = mkstemp(m->image_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 64 * 512), 0);
    close(fd);
    char error[256];
    cr_assert_eq(ata_open(&m->disk, m->image_path, line(m, 14), error, sizeof error), 0);
    cr_assert_eq(ata_register(&m->disk, &m->bus), 0);
}

static const uint16_t device_ports[] = {
    0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x61,
    0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
    0xf4, 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7, 0x3f6,
};

static void check_invariants(const struct machine *m)
{
    cr_assert_leq(m->uart.rx_count, UART_FIFO_SIZE);
    cr_assert_lt(m->uart.rx_head, UART_FIFO_SIZE);
    cr_assert_leq(m->disk.buffer_position, ATA_SECTOR_SIZE);
    for (int i = 0; i < 3; i++) {
        cr_assert_geq(m->pit.channels[i].reload, 1);
        cr_assert_leq(m->pit.channels[i].reload, 65536);
    }
    cr_assert_lt(m->pic.master.lowest_priority, 8);
    cr_assert_lt(m->pic.slave.lowest_priority, 8);
}

static void random_access(struct machine *m, uint64_t *seed)
{
    static const unsigned sizes[] = { 1, 1, 1, 2, 4 };
    uint64_t r = xorshift(seed);
    uint16_t port = device_ports[r % (sizeof device_ports / sizeof device_ports[0])];
    unsigned size = sizes[(r >> 8) % 5];
    uint32_t value = (uint32_t)(r >> 16);
    if (port == 0xf4)
        return;   /* exiting is not interesting */
    if ((r >> 60) & 1)
        bus_port_write(&m->bus, port, size, value);
    else
        bus_port_read(&m->bus, port, size);
    switch ((r >> 56) & 15) {
    case 0:
        m->now_ns += (r >> 32) & 0xfffff;
        pit_update(&m->pit);
        break;
    case 1:
        if (m->pic.intr)
            pic_acknowledge(&m->pic);
        break;
    case 2:
        uart_receive(&m->uart, (uint8_t)r);
        break;
    default:
        break;
    }
}

Test(device_fuzz, random_port_io_never_breaks_a_device)
{
    static struct machine m;
    build(&m);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < ROUNDS; i++) {
        random_access(&m, &seed);
        if (i % 64 == 0)
            check_invariants(&m);
    }
    check_invariants(&m);
    cr_assert_eq(m.disk.sector_count, 64);
    ata_close(&m.disk);
    unlink(m.image_path);
}
