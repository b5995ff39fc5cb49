/*
 * cga.c - the CRT controller's index/data ports (see cga.h).
 */
#include "cga.h"

#include <string.h>

#define INDEX_PORT CGA_CRTC_PORT
#define DATA_PORT (CGA_CRTC_PORT + 1)
#define REG_OVERFLOW 0x07
#define REG_VSYNC_END 0x11
#define VSYNC_END_PROTECT 0x80   /* VGA: registers 0-7 read-only, but bit 4 of 7 */

/* VGA mode 3, 80x25 text: the standard CRTC values (IBM VGA technical
 * reference), which QEMU's firmware programs. */
static const uint8_t mode3[0x19] = {
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00,
    0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
};

static void write_data(struct cga *cga, uint8_t value)
{
    if ((cga->registers[REG_VSYNC_END] & VSYNC_END_PROTECT) && cga->index <= REG_OVERFLOW) {
        if (cga->index == REG_OVERFLOW)
            cga->registers[REG_OVERFLOW] = (cga->registers[REG_OVERFLOW] & ~0x10) | (value & 0x10);
        return;
    }
    cga->registers[cga->index] = value;
}

static uint32_t cga_read(void *device, uint16_t port, unsigned size)
{
    struct cga *cga = device;
    uint32_t index = cga->index, data = cga->registers[cga->index];
    if (port == INDEX_PORT)
        return size == 1 ? index : index | data << 8;
    return data;
}

/* A 16-bit OUT to 0x3d4 writes the index, then the data (low byte first). */
static void cga_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct cga *cga = device;
    if (port == INDEX_PORT) {
        cga->index = (uint8_t)value;
        if (size > 1)
            write_data(cga, (uint8_t)(value >> 8));
    } else {
        write_data(cga, (uint8_t)value);
    }
}

void cga_init(struct cga *cga)
{
    memset(cga, 0, sizeof *cga);
    memcpy(cga->registers, mode3, sizeof mode3);
}

int cga_register(struct cga *cga, struct bus *bus)
{
    return bus_register_ports(bus, CGA_CRTC_PORT, 2, "cga", cga, cga_read, cga_write);
}
