/*
 * user.h - the system calls and helpers a user program can use.
 */
#ifndef USER_H
#define USER_H

#include <stdint.h>
#include "../lib/lib.h"
#include "../syscalls.h"

static inline int syscall3(int number, uint32_t a, uint32_t b, uint32_t c)
{
    int result;
    asm volatile("int $0x80"
                 : "=a"(result)
                 : "a"(number), "b"(a), "c"(b), "d"(c)
                 : "memory");
    return result;
}

void exit(int status) __attribute__((noreturn));
static inline int write(int fd, const void *buffer, uint32_t n)
{ return syscall3(SYS_write, (uint32_t)fd, (uint32_t)buffer, n); }
static inline int read_line(char *buffer, uint32_t size)
{ return syscall3(SYS_read, 0, (uint32_t)buffer, size); }
static inline int getpid(void) { return syscall3(SYS_getpid, 0, 0, 0); }
static inline int yield(void) { return syscall3(SYS_yield, 0, 0, 0); }
static inline int sleep(uint32_t ticks) { return syscall3(SYS_sleep, ticks, 0, 0); }
static inline int uptime(void) { return syscall3(SYS_uptime, 0, 0, 0); }
static inline void *sbrk(int delta) { return (void *)syscall3(SYS_sbrk, (uint32_t)delta, 0, 0); }
static inline int block_read(uint32_t sector, void *buffer)
{ return syscall3(SYS_block_read, sector, (uint32_t)buffer, 0); }
static inline int block_write(uint32_t sector, const void *buffer)
{ return syscall3(SYS_block_write, sector, (uint32_t)buffer, 0); }
static inline int copy_page(void *dst, const void *src)
{ return syscall3(SYS_copy_page, (uint32_t)dst, (uint32_t)src, 0); }
static inline int set_divide_handler(void (*handler)(void))
{ return syscall3(SYS_set_divide_handler, (uint32_t)handler, 0, 0); }
static inline int preemptions(void) { return syscall3(SYS_preemptions, 0, 0, 0); }

/* One printf is one write, so lines from different processes never mix
 * mid-line. */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint64_t read_tsc(void)
{
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}

#endif
