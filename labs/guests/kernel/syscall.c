/*
 * syscall.c - the system calls: `int $0x80` from ring 3 lands here.
 *
 * Arguments come from the saved user registers; every pointer is checked
 * with user_range_ok before the kernel touches it, so a bad pointer fails
 * the call instead of faulting in the kernel.
 */
#include "proc.h"
#include "syscalls.h"

static int sys_write(uint32_t fd, uint32_t buffer, uint32_t length)
{
    if ((fd != 1 && fd != 2) || !user_range_ok(buffer, length, false))
        return -1;
    console_write((const char *)buffer, length);
    return (int)length;
}

/* One line of console input, without its newline, NUL-terminated. */
static int sys_read(uint32_t fd, uint32_t buffer, uint32_t size)
{
    if (fd != 0 || size == 0 || !user_range_ok(buffer, size, true))
        return -1;
    return console_read_line((char *)buffer, size);
}

static int sys_sleep(uint32_t n)
{
    uint32_t wake_at = ticks + n;
    while ((int32_t)(ticks - wake_at) < 0)
        proc_sleep_on((void *)&ticks);
    return 0;
}

static int sys_block(bool write, uint32_t sector, uint32_t buffer)
{
    if (!user_range_ok(buffer, SECTOR_SIZE, !write))
        return -1;
    return write ? ata_write(sector, (const void *)buffer) : ata_read(sector, (void *)buffer);
}

static int sys_set_divide_handler(uint32_t handler)
{
    if (handler && !user_range_ok(handler, 1, false))
        return -1;
    proc_current()->divide_handler = handler;
    return 0;
}

static int dispatch(uint32_t number, uint32_t a, uint32_t b, uint32_t c)
{
    switch (number) {
    case SYS_exit:        proc_exit((int)a);
    case SYS_write:       return sys_write(a, b, c);
    case SYS_getpid:      return proc_current()->pid;
    case SYS_yield:       proc_yield(); return 0;
    case SYS_sleep:       return sys_sleep(a);
    case SYS_sbrk:        return user_sbrk((int)a);
    case SYS_read:        return sys_read(a, b, c);
    case SYS_block_read:  return sys_block(false, a, b);
    case SYS_block_write: return sys_block(true, a, b);
    case SYS_uptime:      return (int)ticks;
    case SYS_copy_page:   return user_copy_page(a, b);
    case SYS_set_divide_handler: return sys_set_divide_handler(a);
    case SYS_preemptions: return (int)proc_current()->preemptions;
    default:              return -1;
    }
}

void syscall(struct trapframe *tf)
{
    tf->eax = (uint32_t)dispatch(tf->eax, tf->ebx, tf->ecx, tf->edx);
}
