/*
 * test_platform.c - the PC platform devices on their own: the local APIC's
 * priority rules and timer on a fake clock, the I/O APIC's edge and level
 * pins, fw_cfg, the BIOS tables' checksums, and a hostile guest's random
 * MMIO/port accesses of every size and offset (nothing may crash; the
 * sanitizers watch).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/boot/bios_tables.h"
#include "core/config.h"
#include "core/dev/bus.h"
#include "core/dev/cga.h"
#include "core/dev/fw_cfg.h"
#include "core/dev/ioapic.h"
#include "core/dev/lapic.h"

static uint64_t now_ns;
static uint64_t apic_base = LAPIC_MSR_RESET;
static struct bus bus;
static struct lapic lapic;
static struct ioapic ioapic;
static struct fw_cfg fw_cfg;
static struct cga cga;

static uint64_t fake_clock(void *context) { (void)context; return now_ns; }

static void setup(void)
{
    now_ns = 1000;
    apic_base = LAPIC_MSR_RESET;
    memset(&bus, 0, sizeof bus);
    lapic_init(&lapic, &apic_base, NULL, fake_clock, NULL);
    ioapic_init(&ioapic, &lapic, NULL);
    lapic.eoi_broadcast = ioapic_eoi;
    lapic.eoi_context = &ioapic;
    fw_cfg_init(&fw_cfg, 64u << 20);
    cr_assert_eq(lapic_register(&lapic, &bus), 0);
    cr_assert_eq(ioapic_register(&ioapic, &bus), 0);
    cr_assert_eq(fw_cfg_register(&fw_cfg, &bus), 0);
    cga_init(&cga);
    cr_assert_eq(cga_register(&cga, &bus), 0);
}

TestSuite(platform, .init = setup);

static uint32_t lapic_read(uint32_t reg)
{
    const struct mmio_range *r = bus_find_mmio(&bus, LAPIC_BASE + reg);
    return r->read(r->device, reg, 4);
}

static void lapic_write(uint32_t reg, uint32_t value)
{
    const struct mmio_range *r = bus_find_mmio(&bus, LAPIC_BASE + reg);
    r->write(r->device, reg, 4, value);
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
    const struct mmio_range *r = bus_find_mmio(&bus, IOAPIC_BASE);
    r->write(r->device, 0, 1, reg);
    r->write(r->device, 0x10, 4, value);
}

static uint32_t ioapic_read(uint32_t reg)
{
    const struct mmio_range *r = bus_find_mmio(&bus, IOAPIC_BASE);
    r->write(r->device, 0, 1, reg);
    return r->read(r->device, 0x10, 4);
}

Test(platform, lapic_delivers_the_highest_class_above_ppr)
{
    lapic_accept(&lapic, 0x50, false);
    lapic_accept(&lapic, 0x61, false);
    lapic_accept(&lapic, 0x62, false);
    cr_assert(lapic_intr(&lapic, false));
    cr_assert_eq(lapic_acknowledge(&lapic), 0x62);
    /* 0x61 is of the same class as the in-service 0x62: held (SDM 10.8.3.1). */
    cr_assert_eq(lapic_read(0xa0), 0x60);
    cr_assert_not(lapic_intr(&lapic, false));
    lapic_write(0xb0, 0);
    cr_assert_eq(lapic_acknowledge(&lapic), 0x61);
    lapic_write(0xb0, 0);
    lapic_write(0x80, 0x50);          /* TPR blocks class 5 */
    cr_assert_not(lapic_intr(&lapic, false));
    cr_assert_eq(lapic_acknowledge(&lapic), -1);
    lapic_write(0x80, 0x40);
    cr_assert_eq(lapic_acknowledge(&lapic), 0x50);
}

Test(platform, lapic_lint0_extint_passes_the_8259_and_global_disable_bypasses)
{
    cr_assert(lapic_intr(&lapic, true));          /* LINT0 = ExtINT at start */
    lapic_write(0x350, 0x10700);                  /* masked */
    cr_assert_not(lapic_intr(&lapic, true));
    apic_base &= ~(uint64_t)LAPIC_MSR_ENABLE;     /* no APIC: the 8259 goes straight in */
    cr_assert(lapic_intr(&lapic, true));
    cr_assert_eq(lapic_read(0x30), 0xffffffffu);  /* and the page is not there */
}

Test(platform, lapic_illegal_vectors_and_registers_set_esr)
{
    lapic_write(0x310, 0);
    lapic_write(0x300, (1u << 18) | 3);           /* self-IPI, vector 3 */
    lapic_read(0x3f0);                            /* no register there */
    lapic_write(0x280, 0);
    cr_assert_eq(lapic_read(0x280), 0xa0);        /* send illegal vector, illegal register */
    lapic_write(0x280, 0);
    cr_assert_eq(lapic_read(0x280), 0);
}

Test(platform, lapic_timer_one_shot_and_periodic)
{
    lapic_write(0x3e0, 0xb);                      /* divide by 1 */
    lapic_write(0x320, 0x70);
    lapic_write(0x380, 1000);
    now_ns += 400;
    cr_assert_eq(lapic_read(0x390), 600);
    cr_assert_eq(lapic_next_deadline_ns(&lapic), 2000);
    now_ns = 2000;
    lapic_update(&lapic);
    cr_assert_eq(lapic_acknowledge(&lapic), 0x70);
    lapic_write(0xb0, 0);
    cr_assert_eq(lapic_read(0x390), 0);
    cr_assert_eq(lapic_next_deadline_ns(&lapic), UINT64_MAX);

    lapic_write(0x3e0, 0x3);                      /* divide by 16 */
    lapic_write(0x320, (1u << 17) | 0x71);
    lapic_write(0x380, 1000);                     /* 16 us period */
    now_ns += 16000 * 5 + 100;                    /* five periods pass unseen */
    lapic_update(&lapic);
    cr_assert_eq(lapic_acknowledge(&lapic), 0x71);   /* one interrupt, not a burst */
    cr_assert_eq(lapic_acknowledge(&lapic), -1);
    cr_assert(lapic_next_deadline_ns(&lapic) > now_ns);
    cr_assert_eq(lapic_read(0x390), 1000 - 100 / 16);
}

Test(platform, ioapic_level_pin_waits_for_eoi)
{
    ioapic_write(0x10 + 2 * 4, (1u << 15) | 0x54);   /* level, vector 0x54 */
    ioapic_set_pin(&ioapic, 4, 1);
    cr_assert(ioapic_read(0x10 + 2 * 4) & (1u << 14), "remote IRR");
    cr_assert_eq(lapic_acknowledge(&lapic), 0x54);
    ioapic_set_pin(&ioapic, 4, 1);
    cr_assert_eq(lapic_acknowledge(&lapic), -1);
    lapic_write(0xb0, 0);                            /* still asserted: again */
    cr_assert_eq(lapic_acknowledge(&lapic), 0x54);
    ioapic_set_pin(&ioapic, 4, 0);
    lapic_write(0xb0, 0);
    cr_assert_not(ioapic_read(0x10 + 2 * 4) & (1u << 14));
    cr_assert_eq(lapic_acknowledge(&lapic), -1);
}

Test(platform, ioapic_edge_pin_and_mask)
{
    cr_assert_eq(ioapic_read(1), 0x00170020);
    ioapic_set_pin(&ioapic, 2, 1);
    ioapic_set_pin(&ioapic, 2, 0);
    cr_assert_eq(lapic_acknowledge(&lapic), -1, "masked at reset");
    ioapic_write(0x10 + 2 * 2, 0x52);
    ioapic_set_pin(&ioapic, 2, 1);
    ioapic_set_pin(&ioapic, 2, 1);                   /* no new edge */
    cr_assert_eq(lapic_acknowledge(&lapic), 0x52);
    lapic_write(0xb0, 0);
    cr_assert_eq(lapic_acknowledge(&lapic), -1);
}

static uint8_t fw_cfg_byte(void)
{
    return (uint8_t)bus_port_read(&bus, FW_CFG_PORT_DATA, 1);
}

Test(platform, fw_cfg_items)
{
    bus_port_write(&bus, FW_CFG_PORT_SELECTOR, 2, 0);
    char signature[6] = {0};
    for (int i = 0; i < 5; i++)
        signature[i] = (char)fw_cfg_byte();
    cr_assert_str_eq(signature, "QEMU");            /* and a 0 past the end */
    bus_port_write(&bus, FW_CFG_PORT_SELECTOR, 2, 3);
    uint64_t ram = 0;
    for (int i = 0; i < 8; i++)
        ram |= (uint64_t)fw_cfg_byte() << (8 * i);
    cr_assert_eq(ram, 64u << 20);
    bus_port_write(&bus, FW_CFG_PORT_SELECTOR, 2, 0x1234);
    cr_assert_eq(fw_cfg_byte(), 0);
}

Test(platform_config, a_second_disk_is_the_slave)
{
    struct run_options options;
    char error[256];
    char *two[] = {"run", "--disk", "a.img", "--disk", "b.img", "g.elf", NULL};
    cr_assert_eq(config_parse_run(6, two, &options, error, sizeof error), 0, "%s", error);
    cr_assert_str_eq(options.vm.disk_path, "a.img");
    cr_assert_str_eq(options.vm.slave_disk_path, "b.img");
    config_free(&options);
    char *named[] = {"run", "--disk", "slave=b.img", "g.elf", NULL};
    cr_assert_eq(config_parse_run(4, named, &options, error, sizeof error), 0, "%s", error);
    cr_assert_null(options.vm.disk_path);
    cr_assert_str_eq(options.vm.slave_disk_path, "b.img");
    config_free(&options);
    char *twice[] = {"run", "--disk", "slave=b.img", "--disk", "slave=c.img", "g.elf", NULL};
    cr_assert_eq(config_parse_run(6, twice, &options, error, sizeof error), -1);
    cr_assert(strstr(error, "slave is given twice"), "%s", error);
    config_free(&options);
}

static uint8_t sum(const uint8_t *p, unsigned n)
{
    uint8_t s = 0;
    while (n--)
        s += *p++;
    return s;
}

Test(platform, mp_tables_have_good_checksums)
{
    struct guest_ram ram = {.host = calloc(1, 1u << 20), .size = 1u << 20};
    cr_assert_not_null(ram.host);
    bios_tables_write(&ram, 0x633, 0x200);
    const uint8_t *fp = ram.host + BIOS_EBDA_ADDRESS;
    cr_assert_eq(memcmp(fp, "_MP_", 4), 0);
    cr_assert_eq(sum(fp, 16), 0);
    uint32_t table;
    memcpy(&table, fp + 4, 4);
    uint16_t length;
    memcpy(&length, ram.host + table + 4, 2);
    cr_assert(table + length <= BIOS_EBDA_ADDRESS + BIOS_EBDA_SIZE);
    cr_assert_eq(memcmp(ram.host + table, "PCMP", 4), 0);
    cr_assert_eq(sum(ram.host + table, length), 0);
    uint16_t ebda;
    memcpy(&ebda, ram.host + 0x40e, 2);
    cr_assert_eq(ebda, BIOS_EBDA_ADDRESS >> 4);
    free(ram.host);
}

static uint64_t xorshift(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

Test(platform, cga_cursor_and_protected_registers)
{
    bus_port_write(&bus, 0x3d4, 2, 0x230f);      /* index 0x0f, data 0x23 in one OUT */
    bus_port_write(&bus, 0x3d4, 1, 0x0f);
    cr_assert_eq(bus_port_read(&bus, 0x3d5, 1), 0x23);
    bus_port_write(&bus, 0x3d4, 2, 0x0000);      /* register 0 is protected by 0x11 bit 7 */
    bus_port_write(&bus, 0x3d4, 1, 0);
    cr_assert_eq(bus_port_read(&bus, 0x3d5, 1), 0x5f);
}

/* A hostile guest: anything to any offset of both APIC pages, fw_cfg, CGA,
 * with time passing and interrupts taken and retired. */
Test(platform, hostile_accesses)
{
    static const unsigned sizes[] = {1, 2, 4};
    static const uint16_t ports[] = {0x510, 0x511, 0x3d4, 0x3d5};
    uint64_t seed = 0x5eed;
    for (int round = 0; round < 300000; round++) {
        uint64_t r = xorshift(&seed);
        unsigned size = sizes[r % 3];
        uint32_t value = (uint32_t)(r >> 32);
        uint32_t offset = (uint32_t)(r >> 8) & 0xfff;
        const struct mmio_range *range =
            bus_find_mmio(&bus, (r & 8) ? LAPIC_BASE : IOAPIC_BASE);
        switch (r >> 4 & 7) {
        case 0: range->read(range->device, offset, size); break;
        case 1: range->write(range->device, offset & 0x3f0, 4, value); break;
        case 2: range->write(range->device, offset, size, value); break;
        case 3: now_ns += value & 0xffff; lapic_update(&lapic); break;
        case 4: {
            int vector = lapic_acknowledge(&lapic);
            cr_assert(vector == -1 || (vector >= 16 && vector <= 255));
            break;
        }
        case 5: ioapic_set_pin(&ioapic, (int)(value % 30) - 3, (int)(value >> 8 & 1)); break;
        case 6: bus_port_write(&bus, ports[r >> 12 & 3], size, value); break;
        case 7:
            bus_port_read(&bus, ports[r >> 12 & 3], size);
            if ((value & 0xff) == 0)
                apic_base ^= LAPIC_MSR_ENABLE;
            break;
        }
    }
}
