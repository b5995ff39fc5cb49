/*
 * trapnum.h - interrupt vector numbers (shared by C and assembly).
 * Vectors 0-31 are the CPU's exceptions (Intel SDM vol. 3, table 6-1);
 * the PIC's 16 lines are moved to 32-47 so they do not collide with them.
 */
#ifndef TRAPNUM_H
#define TRAPNUM_H

#define T_DIVIDE      0
#define T_DEBUG       1
#define T_NMI         2
#define T_BREAKPOINT  3
#define T_INVALID_OP  6
#define T_DOUBLE      8
#define T_GPF        13
#define T_PAGE_FAULT 14
#define T_IRQ0       32
#define T_SYSCALL   128

#define IRQ_TIMER     0
#define IRQ_UART      4
#define IRQ_ATA      14

#define SEL_KERNEL_DATA_ASM 0x10

#endif
