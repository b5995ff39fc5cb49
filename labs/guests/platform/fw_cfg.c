/*
 * fw_cfg.c - QEMU's firmware configuration interface as kvm-unit-tests
 * reads it (QEMU docs/specs/fw_cfg.rst): write a selector to port 0x510,
 * read the item's bytes from port 0x511.
 *
 * Printed: the signature, bit 0 of the ID (the port interface; vmlab does
 * not offer the DMA interface of bit 1, which QEMU does, so that bit is not
 * printed), the CPU counts, the RAM size, the x86 IRQ0 override, and what
 * reading past an item's end gives.
 */
#include "platform.h"

static void select_item(uint16_t key) { outw(0x510, key); }

static uint64_t read_le(uint16_t key, int length)
{
    select_item(key);
    uint64_t value = 0;
    for (int i = 0; i < length; i++)
        value |= (uint64_t)inb(0x511) << (8 * i);
    return value;
}

int probe_fw_cfg(void)
{
    char signature[9] = "";
    select_item(0x0000);
    for (int i = 0; i < 8; i++)
        signature[i] = (char)inb(0x511);
    printf("signature \"%c%c%c%c\", then %x %x %x %x\n", signature[0], signature[1],
           signature[2], signature[3], signature[4], signature[5], signature[6], signature[7]);
    printf("ID bit 0 (port interface): %u\n", (unsigned)(read_le(0x0001, 4) & 1));
    printf("NB_CPUS %u MAX_CPUS %u\n", (unsigned)read_le(0x0005, 2),
           (unsigned)read_le(0x000f, 2));
    printf("RAM size %u MiB\n", (unsigned)(read_le(0x0003, 8) >> 20));
    printf("IRQ0 override %u\n", (unsigned)read_le(0x8002, 4));
    /* Selecting again rewinds to the item's first byte. */
    printf("signature again: %c\n", (char)read_le(0x0000, 1));
    return 0;
}
