/*
 * multiboot.h - a Multiboot v1 loader for ELF32 kernels (and, with the
 * header's a.out-kludge flag, any image: see load_aout_kludge).
 *
 * The loader does what GRUB or QEMU's -kernel does for a Multiboot kernel
 * (Multiboot specification 0.6.96): find the header in the first 8 KiB,
 * copy the ELF PT_LOAD segments to their physical addresses, build the
 * Multiboot information structure (memory sizes, memory map, command line)
 * and leave the CPU in the state section 3.2 promises.
 */
#ifndef VMLAB_MULTIBOOT_H
#define VMLAB_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "../cpu.h"
#include "../mem.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH_BYTES 8192

/* Where the loader puts the information structure: low memory, below the
 * EBDA, where a kernel loaded at 1 MiB will not be. */
#define MULTIBOOT_INFO_ADDRESS 0x9000u
#define MULTIBOOT_INFO_END 0xA000u

struct multiboot_image {
    uint32_t entry;
    uint32_t lowest_address, highest_address;   /* of the loaded segments */
    uint32_t info_address;
};

/* Loads path into ram and sets up cpu. command_line is what the kernel sees
 * in the info's cmdline field. Returns 0, or -1 with a one-line reason. */
int multiboot_load(const char *path, const char *command_line, struct guest_ram *ram,
                   struct cpu *cpu, struct multiboot_image *image, char *error, size_t error_len);

/* The same, from an image already in memory (used by the unit tests). */
int multiboot_load_buffer(const uint8_t *file, size_t file_size, const char *command_line,
                          struct guest_ram *ram, struct cpu *cpu, struct multiboot_image *image,
                          char *error, size_t error_len);

#endif
