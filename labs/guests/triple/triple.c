/*
 * triple - a deliberate triple fault (Intel SDM vol. 3, 6.15 interrupt 8:
 * an exception while delivering a double fault shuts the processor down;
 * a PC turns shutdown into a reset).
 *
 * With an IDT limit of 0 no gate can be read: the #UD becomes a #GP, the
 * #GP a #DF, and the #DF a shutdown. vmlab must report a triple fault;
 * QEMU with -no-reboot just exits. Whatever is printed after "raising #UD"
 * means the machine did not shut down.
 */
#include "guest.h"

int guest_main(void)
{
    gdt_init();
    printf("triple: loading an IDT with limit 0\n");
    idt_load(0);
    printf("triple: raising #UD; the machine must shut down now\n");
    asm volatile("ud2");
    printf("FAIL: still running after a triple fault\n");
    return 1;
}
