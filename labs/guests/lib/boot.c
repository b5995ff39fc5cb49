/*
 * boot.c - from start.S to guest_main(), and out again through the
 * isa-debug-exit port.
 */
#include "guest.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002  /* Multiboot spec 3.2: EAX on entry */
#define DEBUG_EXIT_PORT 0xf4                   /* QEMU isa-debug-exit, iobase=0xf4 */

const struct multiboot_info *boot_info;
int checks_failed;

void guest_boot(uint32_t magic, const struct multiboot_info *mbi)
{
    uart_init();
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        printf("FAIL: boot magic %08x, expected %08x\n", magic, MULTIBOOT_BOOTLOADER_MAGIC);
        guest_exit(0x7d);
    }
    boot_info = mbi;
    int code = guest_main();
    if (code == 0 && checks_failed) {
        printf("%d checks failed\n", checks_failed);
        code = 1;
    }
    guest_exit((uint32_t)code);
}

/* A write of v to the isa-debug-exit port ends the VM with status
 * (v << 1) | 1, so a passing guest (v = 0) makes QEMU/vmlab exit with 1. */
void guest_exit(uint32_t code)
{
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
    for (;;)                        /* not reached on QEMU or vmlab */
        asm volatile("cli; hlt");
}
