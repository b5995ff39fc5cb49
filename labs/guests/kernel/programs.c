/*
 * programs.c - the user programs, linked into the kernel image.
 *
 * There is no file system: each program in user/ is built as its own ELF
 * executable (linked at USER_BASE by user/user.ld) and included here
 * byte for byte with the assembler's .incbin. exec.c loads them.
 *
 * To add a program: write user/NAME.c, add NAME to KERNEL_USER_PROGRAMS in
 * kernel.mk, and add a PROGRAM(NAME) line below.
 */
#include "kernel.h"

#define PROGRAM(name)                                                    \
    extern const uint8_t program_##name[], program_##name##_end[];      \
    asm(".section .rodata\n"                                             \
        ".balign 4\n"                                                    \
        "program_" #name ":\n"                                           \
        ".incbin \"" USER_PROGRAM_DIR "/" #name ".elf\"\n"               \
        "program_" #name "_end:\n"                                       \
        ".previous\n");

PROGRAM(checksum)
PROGRAM(calls)
PROGRAM(memory)
PROGRAM(echo)
PROGRAM(disk)
PROGRAM(bench)

#define ENTRY(name) { #name, program_##name, program_##name##_end }

static const struct {
    const char *name;
    const uint8_t *start, *end;
} programs[] = {
    ENTRY(checksum), ENTRY(calls), ENTRY(memory), ENTRY(echo), ENTRY(disk), ENTRY(bench),
};

const uint8_t *program_find(const char *name, uint32_t *size)
{
    for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
        if (strcmp(programs[i].name, name) == 0) {
            *size = (uint32_t)(programs[i].end - programs[i].start);
            return programs[i].start;
        }
    return NULL;
}
