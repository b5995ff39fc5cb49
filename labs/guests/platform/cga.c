/*
 * cga.c - the CRT controller's index/data ports 0x3d4/0x3d5, as xv6's
 * console uses them to move the cursor (registers 14 and 15, cursor
 * location high and low; IBM CGA / VGA CRTC).
 *
 * Printed: the index register read back, the text-mode registers 0x00-0x0b
 * and 0x10-0x18 as the firmware left them for 80x25 text (0x0c-0x0f,
 * start address and cursor location, depend on what QEMU's firmware
 * printed, so they are not), and a cursor position written and read back.
 */
#include "platform.h"

static uint8_t crtc_read(uint8_t index)
{
    outb(0x3d4, index);
    return inb(0x3d5);
}

static void crtc_write(uint8_t index, uint8_t value)
{
    outb(0x3d4, index);
    outb(0x3d5, value);
}

int probe_cga(void)
{
    outb(0x3d4, 0x0e);
    printf("index register reads %x\n", inb(0x3d4));
    printf("registers:");
    for (int i = 0; i <= 0x18; i++)
        if (i < 0x0c || i > 0x0f)
            printf(" %x", crtc_read((uint8_t)i));
    printf("\n");
    crtc_write(0x0e, 0x01);   /* cursor at 0x123: row 3, column 43 */
    crtc_write(0x0f, 0x23);
    printf("cursor %x\n", crtc_read(0x0e) << 8 | crtc_read(0x0f));
    return 0;
}
