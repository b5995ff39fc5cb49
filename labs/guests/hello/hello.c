/*
 * hello - the smallest guest: proves boot, the UART, the Multiboot
 * information and the exit port. "exit=N" on the command line makes it
 * exit with N, so a test runner can check that the status reaches the host.
 */
#include "guest.h"

#define MBI_FLAG_MEM (1u << 0)   /* Multiboot spec 3.3: mem_lower/mem_upper valid */

int guest_main(void)
{
    printf("Hello from a vmlab guest\n");
    printf("command line: \"%s\"\n", cmdline_args());
    if (boot_info->flags & MBI_FLAG_MEM) {
        /* Only whole MiB: firmware may reserve a few KiB at the top of low
         * and of extended memory (QEMU's SeaBIOS does), a loader may not. */
        printf("memory: %u MiB\n", (boot_info->mem_upper + 1024 + 1023) / 1024);
    } else {
        printf("FAIL: no memory size in the Multiboot information\n");
        return 2;
    }
    uint32_t code = cmdline_uint("exit", 0);
    printf("exiting with %u\n", code);
    return (int)code;
}
