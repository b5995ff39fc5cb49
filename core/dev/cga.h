/*
 * cga.h - the CRT controller's index and data ports of a colour text
 * display, 0x3d4/0x3d5 (IBM CGA's 6845; VGA keeps them at the same ports
 * with registers 0x00-0x18). Kernels such as xv6 move the hardware cursor
 * through registers 0x0e/0x0f.
 *
 * Implemented: the index register, 256 data registers holding what is
 * written, the VGA mode 3 (80x25 text) values QEMU's firmware leaves in
 * 0x00-0x18, and the VGA write protection of registers 0-7 by bit 7 of
 * register 0x11. Not implemented: the display itself (the text buffer at
 * 0xB8000 is not there: writes are dropped, reads give all ones) and the
 * other VGA ports.
 */
#ifndef VMLAB_CGA_H
#define VMLAB_CGA_H

#include <stdint.h>

#include "bus.h"

#define CGA_CRTC_PORT 0x3d4

struct cga {
    uint8_t index;
    uint8_t registers[256];
};

void cga_init(struct cga *cga);
/* Claims ports 0x3d4-0x3d5. Returns 0 or -1. */
int cga_register(struct cga *cga, struct bus *bus);

#endif
