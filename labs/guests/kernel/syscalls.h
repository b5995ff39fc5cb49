/*
 * syscalls.h - system call numbers, shared by the kernel and user programs.
 *
 * The calling convention: `int $0x80` with the number in EAX and up to
 * three arguments in EBX, ECX, EDX; the result comes back in EAX, and -1
 * means the call failed.
 */
#ifndef SYSCALLS_H
#define SYSCALLS_H

#define SYS_exit               1   /* (status) */
#define SYS_write              2   /* (fd, buffer, length): fd 1 or 2 is the console */
#define SYS_getpid             3
#define SYS_yield              4
#define SYS_sleep              5   /* (ticks) */
#define SYS_sbrk               6   /* (delta): returns the old end of the heap */
#define SYS_read               7   /* (fd 0, buffer, size): one console line */
#define SYS_block_read         8   /* (sector, buffer of 512 bytes) */
#define SYS_block_write        9   /* (sector, buffer of 512 bytes) */
#define SYS_uptime            10   /* ticks since boot */
#define SYS_copy_page         11   /* (destination page, source page) */
#define SYS_set_divide_handler 12  /* (handler): called on a divide error */
#define SYS_preemptions       13   /* times this process was preempted */

#endif
