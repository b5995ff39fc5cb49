/*
 * fw_cfg.c - QEMU's firmware configuration interface, port form (QEMU
 * docs/specs/fw_cfg.rst, "Selector (Control) Register" and "Data
 * Register"). Numbers are little-endian except the file directory's,
 * which are big-endian.
 */
#include "fw_cfg.h"

#include <string.h>

/* Selector keys (fw_cfg.rst, "Firmware Configuration Items"). */
enum {
    KEY_SIGNATURE = 0x00, KEY_ID = 0x01, KEY_UUID = 0x02, KEY_RAM_SIZE = 0x03,
    KEY_NOGRAPHIC = 0x04, KEY_NB_CPUS = 0x05, KEY_BOOT_MENU = 0x0e, KEY_MAX_CPUS = 0x0f,
    KEY_FILE_DIR = 0x19, KEY_X86_IRQ0_OVERRIDE = 0x8002,
};
/* Bit 14 of a selector asks for write access; writes through the data
 * register have been ignored since QEMU 2.4, so it only picks the item. */
#define SELECTOR_WRITE 0x4000u
#define ID_TRADITIONAL 0x1u       /* bit 0: the port interface; bit 1 (DMA) clear */

static void put_le(uint8_t *bytes, uint64_t value, unsigned length)
{
    for (unsigned i = 0; i < length; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
}

/* The selected item's contents; returns its length (0: no such item). */
static unsigned item(const struct fw_cfg *fw_cfg, uint8_t bytes[16])
{
    memset(bytes, 0, 16);
    switch (fw_cfg->selector & ~SELECTOR_WRITE) {
    case KEY_SIGNATURE: memcpy(bytes, "QEMU", 4); return 4;
    case KEY_ID: put_le(bytes, ID_TRADITIONAL, 4); return 4;
    case KEY_UUID: return 16;
    case KEY_RAM_SIZE: put_le(bytes, fw_cfg->ram_bytes, 8); return 8;
    case KEY_NOGRAPHIC: return 2;
    case KEY_NB_CPUS: put_le(bytes, 1, 2); return 2;
    case KEY_BOOT_MENU: return 2;
    case KEY_MAX_CPUS: put_le(bytes, 1, 2); return 2;
    case KEY_FILE_DIR: return 4;   /* a big-endian count of 0 files */
    case KEY_X86_IRQ0_OVERRIDE: put_le(bytes, 1, 4); return 4;
    default: return 0;
    }
}

/* Each data read returns the next byte, 0 past the end of the item. */
static uint8_t next_byte(struct fw_cfg *fw_cfg)
{
    uint8_t bytes[16];
    unsigned length = item(fw_cfg, bytes);
    if (fw_cfg->offset >= length)
        return 0;
    return bytes[fw_cfg->offset++];
}

static uint32_t fw_cfg_read(void *device, uint16_t port, unsigned size)
{
    struct fw_cfg *fw_cfg = device;
    if (port != FW_CFG_PORT_DATA || size != 1)
        return 0;   /* the selector is write-only; the data register is 8 bits */
    return next_byte(fw_cfg);
}

/* A selector write picks an item and rewinds to its first byte. */
static void fw_cfg_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct fw_cfg *fw_cfg = device;
    if (port == FW_CFG_PORT_SELECTOR && size == 2) {
        fw_cfg->selector = (uint16_t)value;
        fw_cfg->offset = 0;
    }
}

void fw_cfg_init(struct fw_cfg *fw_cfg, uint64_t ram_bytes)
{
    memset(fw_cfg, 0, sizeof *fw_cfg);
    fw_cfg->ram_bytes = ram_bytes;
}

int fw_cfg_register(struct fw_cfg *fw_cfg, struct bus *bus)
{
    return bus_register_ports(bus, FW_CFG_PORT_SELECTOR, 2, "fw_cfg", fw_cfg, fw_cfg_read,
                              fw_cfg_write);
}
