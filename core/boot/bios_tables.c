/*
 * bios_tables.c - the BIOS data area and the MP tables (Intel MultiProcessor
 * Specification 1.4, ch. 4).
 *
 * Layout in the EBDA (0x9FC00, reserved in the Multiboot memory map):
 *   +0x00  MP floating pointer structure, 16 bytes (spec 4.1)
 *   +0x10  MP configuration table: 44-byte header (spec 4.2), then entries
 *          (spec 4.3) for one processor, the ISA bus, one I/O APIC, the ISA
 *          interrupts and the two local interrupts of virtual-wire mode.
 * The floating pointer must lie in the first KiB of the EBDA (spec 4.1,
 * first place searched), on a 16-byte boundary.
 */
#include "bios_tables.h"

#include <string.h>

#define BDA_COM1         0x400u   /* IBM PC/AT BIOS data area: I/O base of COM1 */
#define BDA_EBDA_SEGMENT 0x40Eu   /* segment of the extended BIOS data area */
#define BDA_BASE_MEMORY  0x413u   /* KiB of conventional memory */
#define COM1_BASE        0x3F8u

#define MP_TABLE_OFFSET  0x10u
#define MP_SPEC_REVISION 4        /* version 1.4 */
#define ISA_BUS_ID       0

/* Entry types and the values they hold (spec tables 4-3 to 4-12). */
enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_IO_INTERRUPT, MP_LOCAL_INTERRUPT };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };
#define MP_CPU_ENABLED   0x01
#define MP_CPU_BOOT      0x02
#define MP_IOAPIC_USABLE 0x01

struct writer {
    uint8_t *base;       /* the table's start in host memory */
    uint32_t length;
    uint16_t entries;
};

static void put8(struct writer *w, uint8_t v) { w->base[w->length++] = v; }
static void put16(struct writer *w, uint16_t v) { put8(w, (uint8_t)v); put8(w, (uint8_t)(v >> 8)); }
static void put32(struct writer *w, uint32_t v) { put16(w, (uint16_t)v); put16(w, (uint16_t)(v >> 16)); }
static void put_bytes(struct writer *w, const char *s, unsigned n) { memcpy(w->base + w->length, s, n); w->length += n; }

/* Spec 4.1/4.2: all bytes of a structure, checksum included, add up to 0. */
static uint8_t checksum(const uint8_t *bytes, uint32_t length)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < length; i++)
        sum += bytes[i];
    return (uint8_t)-sum;
}

static void write_bda(struct guest_ram *ram)
{
    uint16_t com1 = COM1_BASE, ebda = BIOS_EBDA_ADDRESS >> 4, base_kib = BIOS_EBDA_ADDRESS >> 10;
    memcpy(ram->host + BDA_COM1, &com1, 2);
    memcpy(ram->host + BDA_EBDA_SEGMENT, &ebda, 2);
    memcpy(ram->host + BDA_BASE_MEMORY, &base_kib, 2);
}

/* Spec table 4-6: an I/O or local interrupt assignment; flags 0 means
 * "conforms to the bus" (ISA: active high, edge triggered). */
static void interrupt_entry(struct writer *w, uint8_t kind, uint8_t type, uint8_t source_irq,
                            uint8_t destination, uint8_t pin)
{
    put8(w, kind);
    put8(w, type);
    put16(w, 0);
    put8(w, ISA_BUS_ID);
    put8(w, source_irq);
    put8(w, destination);
    put8(w, pin);
    w->entries++;
}

static void write_entries(struct writer *w, uint32_t cpu_signature, uint32_t cpu_features)
{
    put8(w, MP_PROCESSOR);                 /* table 4-4 */
    put8(w, 0);                            /* local APIC id */
    put8(w, BIOS_LAPIC_VERSION);
    put8(w, MP_CPU_ENABLED | MP_CPU_BOOT);
    put32(w, cpu_signature);
    put32(w, cpu_features);
    put32(w, 0);
    put32(w, 0);
    w->entries++;
    put8(w, MP_BUS);                       /* table 4-7 */
    put8(w, ISA_BUS_ID);
    put_bytes(w, "ISA   ", 6);
    w->entries++;
    put8(w, MP_IOAPIC);                    /* table 4-9 */
    put8(w, BIOS_IOAPIC_ID);
    put8(w, BIOS_IOAPIC_VERSION);
    put8(w, MP_IOAPIC_USABLE);
    put32(w, BIOS_IOAPIC_ADDRESS);
    w->entries++;
    /* ISA IRQ n on I/O APIC pin n, except the timer: the PIT drives pin 2
     * (the pin the 8259 cascade takes on the ISA side), so IRQ 0 is
     * overridden to pin 2 and IRQ 2 has no entry, as on QEMU's PC. */
    for (uint8_t irq = 0; irq < 16; irq++)
        if (irq != 2)
            interrupt_entry(w, MP_IO_INTERRUPT, MP_INT, irq, BIOS_IOAPIC_ID, irq == 0 ? 2 : irq);
    /* Virtual-wire mode (spec 3.6.2.2): the 8259's INTR on LINT0 as ExtINT,
     * NMI on LINT1, for every local APIC (0xff). */
    interrupt_entry(w, MP_LOCAL_INTERRUPT, MP_EXTINT, 0, 0, 0);
    interrupt_entry(w, MP_LOCAL_INTERRUPT, MP_NMI, 0, 0xff, 1);
}

static void write_mp_tables(struct guest_ram *ram, uint32_t cpu_signature, uint32_t cpu_features)
{
    uint8_t *ebda = ram->host + BIOS_EBDA_ADDRESS;
    memset(ebda, 0, BIOS_EBDA_SIZE);
    struct writer table = {.base = ebda + MP_TABLE_OFFSET};
    put_bytes(&table, "PCMP", 4);          /* table 4-2: the header */
    put16(&table, 0);                      /* base table length, below */
    put8(&table, MP_SPEC_REVISION);
    put8(&table, 0);                       /* checksum, below */
    put_bytes(&table, "VMLAB   ", 8);
    put_bytes(&table, "PC          ", 12);
    put32(&table, 0);                      /* no OEM table */
    put16(&table, 0);
    put16(&table, 0);                      /* entry count, below */
    put32(&table, BIOS_LAPIC_ADDRESS);
    put16(&table, 0);                      /* no extended table */
    put8(&table, 0);
    put8(&table, 0);
    write_entries(&table, cpu_signature, cpu_features);
    uint16_t length = (uint16_t)table.length;
    memcpy(table.base + 4, &length, 2);
    memcpy(table.base + 34, &table.entries, 2);
    table.base[7] = checksum(table.base, table.length);

    struct writer pointer = {.base = ebda};   /* table 4-1 */
    put_bytes(&pointer, "_MP_", 4);
    put32(&pointer, BIOS_EBDA_ADDRESS + MP_TABLE_OFFSET);
    put8(&pointer, 1);                     /* length in 16-byte units */
    put8(&pointer, MP_SPEC_REVISION);
    put8(&pointer, 0);                     /* checksum, below */
    for (int i = 0; i < 5; i++)
        put8(&pointer, 0);                 /* feature byte 1 = 0: the table exists; no IMCR */
    ebda[10] = checksum(ebda, 16);
}

void bios_tables_write(struct guest_ram *ram, uint32_t cpu_signature, uint32_t cpu_features)
{
    write_bda(ram);
    write_mp_tables(ram, cpu_signature, cpu_features);
}
