/*
 * fw_cfg.h - QEMU's firmware configuration interface, the x86 port form
 * (QEMU docs/specs/fw_cfg.rst): a 16-bit selector written to port 0x510
 * picks an item, and port 0x511 reads its bytes one at a time.
 *
 * Items: the signature "QEMU", the interface ID, a zero UUID, the RAM size,
 * NOGRAPHIC (0), NB_CPUS and MAX_CPUS (1), BOOT_MENU (0), an empty file
 * directory and the x86 IRQ0_OVERRIDE (1: the PIT is on I/O APIC pin 2).
 * Not provided: the DMA interface (the ID says so: bit 1 clear, where QEMU
 * sets it), the files (ACPI tables, e820, ...), the kernel/initrd items of
 * -kernel, NUMA, SMBIOS; such a selector reads as zeros, as an unknown one
 * does on QEMU.
 */
#ifndef VMLAB_FW_CFG_H
#define VMLAB_FW_CFG_H

#include <stdint.h>

#include "bus.h"

#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA     0x511

struct fw_cfg {
    uint64_t ram_bytes;
    uint16_t selector;
    uint32_t offset;       /* the next byte of the selected item */
};

void fw_cfg_init(struct fw_cfg *fw_cfg, uint64_t ram_bytes);
/* Claims ports 0x510-0x511. Returns 0 or -1. */
int fw_cfg_register(struct fw_cfg *fw_cfg, struct bus *bus);

#endif
