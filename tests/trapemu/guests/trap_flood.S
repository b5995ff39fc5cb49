/* trap_flood: a guest that does nothing but trap (cli, forever). The VMM
 * must keep control of time: --timeout ends it with status 6. */
    .text
    .globl hostile_main
hostile_main:
1:  cli
    jmp 1b
