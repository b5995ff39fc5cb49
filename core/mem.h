/*
 * mem.h - guest-physical RAM.
 *
 * Guest RAM is one memfd. The core maps it once, here, for its own use; hvm
 * hands the same pages to KVM as a memory slot and the direct-execution
 * substrate maps them again at guest-virtual addresses. One copy of guest
 * memory, several views: a technique switch never copies RAM.
 *
 * Physical addresses at or beyond ram->size, and the legacy VGA/BIOS hole
 * 0xA0000-0xFFFFF, are not RAM: reads there return all ones and writes are
 * dropped, unless an MMIO device on the bus claims them.
 */
#ifndef VMLAB_MEM_H
#define VMLAB_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096u
#define PAGE_SHIFT 12

/* Per-page flags kept beside RAM for the interpreter's decoded-instruction
 * cache: a write to a page holding cached code must invalidate that code. */
#define PAGE_FLAG_CODE 1u

struct guest_ram {
    int memfd;
    uint8_t *host;          /* the core's mapping of all of guest RAM */
    uint32_t size;          /* bytes, a multiple of PAGE_SIZE */
    uint8_t *page_flags;    /* one byte per guest-physical page */
};

#define GUEST_RAM_MIN (2u << 20)      /* the loader needs 1 MiB + room for a kernel */
#define GUEST_RAM_MAX (3072u << 20)   /* stay below the 32-bit PCI hole */

/* Creates the memfd and maps it. Returns 0, or -1 with a message in error. */
int guest_ram_create(struct guest_ram *ram, uint64_t size, char *error, size_t error_len);
void guest_ram_destroy(struct guest_ram *ram);

/* True if [address, address+length) lies entirely in RAM (not the legacy hole). */
bool guest_ram_contains(const struct guest_ram *ram, uint32_t address, uint32_t length);

/* Host pointer for a guest-physical RAM address, or NULL if it is not RAM. */
static inline uint8_t *guest_ram_pointer(const struct guest_ram *ram, uint32_t address)
{
    if (address >= ram->size || (address >= 0xA0000 && address < 0x100000))
        return NULL;
    return ram->host + address;
}

/* Parses "64M", "1G", "65536K", "67108864" into bytes; -1 on syntax error. */
int64_t parse_size(const char *text);

#endif
