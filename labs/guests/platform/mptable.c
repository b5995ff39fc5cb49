/*
 * mptable.c - the BIOS data area and the MP tables, read as xv6's mp.c does.
 *
 * Intel MultiProcessor Specification 1.4, ch. 4: a floating pointer
 * ("_MP_", 16 bytes, checksum 0) lies in the first KiB of the EBDA, the
 * last KiB of base memory or the BIOS ROM 0xF0000-0xFFFFF, and points to a
 * configuration table ("PCMP") of processor, bus, I/O APIC, I/O interrupt
 * and local interrupt entries.
 *
 * What QEMU's firmware (SeaBIOS) legitimately does differently, and is
 * therefore not printed: where the tables are (SeaBIOS puts them in the
 * F segment), the OEM and product strings, the table lengths and entry
 * counts, and the PCI bus with its interrupt entries (vmlab has no PCI).
 * Of the ISA interrupts, IRQs 5, 9, 10 and 11 are PCI interrupts on QEMU's
 * machine and have no ISA entry there, so they are not printed either.
 */
#include "platform.h"

int probe_bda(void)
{
    /* BIOS data area (IBM PC/AT technical reference): 0x400 COM1 base,
     * 0x40E EBDA segment, 0x413 base memory size in KiB. */
    printf("BDA: COM1 at 0x%x, EBDA segment 0x%x, base memory %u KiB\n",
           peek16(0x400), peek16(0x40e), peek16(0x413));
    return 0;
}

static uint8_t sum(uint32_t address, uint32_t length)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < length; i++)
        s += peek8(address + i);
    return s;
}

/* MP spec 4.1: search [address, address+length) on 16-byte boundaries. */
static uint32_t search(uint32_t address, uint32_t length)
{
    for (uint32_t p = address; p + 16 <= address + length; p += 16)
        if (peek32(p) == 0x5f504d5f && sum(p, 16) == 0)   /* "_MP_" */
            return p;
    return 0;
}

static uint32_t find_floating_pointer(void)
{
    uint32_t ebda = (uint32_t)peek16(0x40e) << 4;
    uint32_t found = ebda ? search(ebda, 1024) : 0;
    if (!found)
        found = search(((uint32_t)peek16(0x413) << 10) - 1024, 1024);
    if (!found)
        found = search(0xf0000, 0x10000);
    return found;
}

static const char *interrupt_type(uint8_t type)
{
    static const char *names[] = {"INT", "NMI", "SMI", "ExtINT"};
    return type < 4 ? names[type] : "?";
}

static bool isa_irq_printed(uint8_t irq)
{
    return irq != 5 && irq != 9 && irq != 10 && irq != 11;
}

/* MP spec 4.3: the entries, by type. Returns the entry's length, 0 if bad. */
static uint32_t print_entry(uint32_t p, int isa_bus)
{
    switch (peek8(p)) {
    case 0:   /* processor */
        printf("processor: LAPIC id %u version 0x%x flags 0x%x\n", peek8(p + 1), peek8(p + 2),
               peek8(p + 3));
        return 20;
    case 1:   /* bus */
        return 8;
    case 2:   /* I/O APIC */
        printf("I/O APIC: id %u version 0x%x flags 0x%x address 0x%x\n", peek8(p + 1),
               peek8(p + 2), peek8(p + 3), peek32(p + 4));
        return 8;
    case 3:   /* I/O interrupt assignment */
        if (peek8(p + 4) == isa_bus && isa_irq_printed(peek8(p + 5)))
            printf("ISA IRQ %u: %s flags 0x%x -> I/O APIC %u pin %u\n", peek8(p + 5),
                   interrupt_type(peek8(p + 1)), peek16(p + 2), peek8(p + 6), peek8(p + 7));
        return 8;
    case 4:   /* local interrupt assignment */
        printf("local: %s flags 0x%x bus-irq %u -> LAPIC 0x%x LINT%u\n",
               interrupt_type(peek8(p + 1)), peek16(p + 2), peek8(p + 5), peek8(p + 6),
               peek8(p + 7));
        return 8;
    default:
        return 0;
    }
}

/* The ISA bus's id: the bus entry whose type string is "ISA   ". */
static int find_isa_bus(uint32_t p, uint32_t end)
{
    while (p < end) {
        uint8_t type = peek8(p);
        if (type == 1 && memcmp((const void *)phys(p + 2), "ISA   ", 6) == 0)
            return peek8(p + 1);
        p += type == 0 ? 20 : 8;
    }
    return -1;
}

int probe_mptable(void)
{
    uint32_t fp = find_floating_pointer();
    if (!fp) {
        printf("FAIL: no MP floating pointer\n");
        return 1;
    }
    uint32_t table = peek32(fp + 4);
    printf("floating pointer: length %u, revision %u, feature bytes %x %x\n", peek8(fp + 8) * 16,
           peek8(fp + 9), peek8(fp + 11), peek8(fp + 12));
    if (!table || peek32(table) != 0x504d4350) {   /* "PCMP" */
        printf("FAIL: no configuration table\n");
        return 1;
    }
    uint16_t length = peek16(table + 4);
    printf("configuration table: revision %u, checksum %s, LAPIC at 0x%x\n", peek8(table + 6),
           sum(table, length) == 0 ? "good" : "BAD", peek32(table + 36));
    uint32_t end = table + length;
    int isa_bus = find_isa_bus(table + 44, end);
    printf("ISA bus: %s\n", isa_bus >= 0 ? "present" : "missing");
    for (uint32_t p = table + 44; p < end;) {
        uint32_t size = print_entry(p, isa_bus);
        if (!size) {
            printf("FAIL: entry of unknown type %u\n", peek8(p));
            return 1;
        }
        p += size;
    }
    return isa_bus >= 0 ? 0 : 1;
}
