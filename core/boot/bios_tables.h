/*
 * bios_tables.h - what a PC BIOS leaves in memory for the operating system:
 * the BIOS data area and the MultiProcessor tables.
 *
 * vmlab has no BIOS: the loader writes these before the kernel starts, so a
 * kernel that finds its machine the way xv6 or Linux does (BDA, then the MP
 * floating pointer) sees what it would see after SeaBIOS under QEMU.
 */
#ifndef VMLAB_BIOS_TABLES_H
#define VMLAB_BIOS_TABLES_H

#include <stdint.h>

#include "../mem.h"

/* The extended BIOS data area: the last KiB of base memory (640 KiB). It
 * holds the MP floating pointer and configuration table. */
#define BIOS_EBDA_ADDRESS 0x9FC00u
#define BIOS_EBDA_SIZE    0x400u

/* The machine the tables describe (core/dev/lapic.h, ioapic.h agree). */
#define BIOS_LAPIC_ADDRESS  0xFEE00000u
#define BIOS_IOAPIC_ADDRESS 0xFEC00000u
#define BIOS_IOAPIC_ID      0
#define BIOS_LAPIC_VERSION  0x14
#define BIOS_IOAPIC_VERSION 0x11

/* Writes the BDA (0x400-0x4FF) and the MP tables into the EBDA.
 * cpu_signature and cpu_features are CPUID leaf 1's EAX and EDX. */
void bios_tables_write(struct guest_ram *ram, uint32_t cpu_signature, uint32_t cpu_features);

#endif
