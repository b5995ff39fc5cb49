/*
 * multiboot.c - what the boot loader tells us (Multiboot spec 0.6.96,
 * section 3.3 "Boot information format").
 *
 * The information lies somewhere in low memory that we are about to
 * reuse, so we copy out the facts we need before anything else.
 *
 * Firmware differs in details (QEMU keeps 128 KiB at the top of RAM for
 * ACPI tables, vmlab does not), so we keep only facts that do not: the
 * memory size rounded up to a MiB and the number of usable regions.
 */
#include "kernel.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
#define INFO_MEMORY  (1u << 0)
#define INFO_CMDLINE (1u << 2)
#define INFO_MMAP    (1u << 6)
#define MMAP_AVAILABLE 1
#define ONE_MIB 0x100000u

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr, syms[4];
    uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct mmap_entry {
    uint32_t size;              /* of the rest of the entry */
    uint64_t base, length;
    uint32_t type;
} __attribute__((packed));

struct boot_facts boot;

static void read_cmdline(const struct multiboot_info *info)
{
    if (!(info->flags & INFO_CMDLINE))
        return;
    const char *text = (const char *)info->cmdline;
    size_t n = 0;
    while (text[n] && n + 1 < sizeof(boot.cmdline)) {
        boot.cmdline[n] = text[n];
        n++;
    }
    boot.cmdline[n] = '\0';
}

/* RAM usable by the kernel: the available region that starts at 1 MiB. */
static void read_memory_map(const struct multiboot_info *info)
{
    uint32_t at = info->mmap_addr, end = info->mmap_addr + info->mmap_length;
    while (at < end) {
        const struct mmap_entry *e = (const struct mmap_entry *)at;
        if (e->type == MMAP_AVAILABLE) {
            boot.usable_regions++;
            if (e->base == ONE_MIB) {
                uint64_t top = e->base + e->length;
                boot.ram_end = top > KERNEL_RAM_LIMIT ? KERNEL_RAM_LIMIT : (uint32_t)top;
            }
        }
        at += e->size + sizeof(e->size);
    }
}

void multiboot_read(uint32_t magic, uint32_t info_address)
{
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
        panic("not started by a Multiboot loader (magic 0x%x)", magic);
    const struct multiboot_info *info = (const struct multiboot_info *)info_address;
    read_cmdline(info);
    if (!(info->flags & INFO_MEMORY))
        panic("the boot loader gave no memory size");
    boot.memory_mib = (ONE_MIB / 1024 + info->mem_upper + 1023) / 1024;
    boot.ram_end = ONE_MIB + (info->mem_upper < (KERNEL_RAM_LIMIT - ONE_MIB) / 1024
                              ? info->mem_upper * 1024 : KERNEL_RAM_LIMIT - ONE_MIB);
    if (info->flags & INFO_MMAP)
        read_memory_map(info);
}
