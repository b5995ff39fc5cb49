/*
 * kernel.h - what the kernel's files share: the memory layout, the
 * functions each file exports (like xv6's defs.h), and the exit codes.
 */
#ifndef KERNEL_H
#define KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/lib.h"

/* ---- memory layout ----
 * Physical RAM is identity-mapped for the kernel (supervisor-only pages);
 * user programs live at 1-2 GiB, so user and kernel addresses never meet. */
#define PAGE_SIZE        4096u
#define PAGE_ROUND_UP(a)   (((uint32_t)(a) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define PAGE_ROUND_DOWN(a) ((uint32_t)(a) & ~(PAGE_SIZE - 1))
#define KERNEL_RAM_LIMIT 0x10000000u   /* use at most 256 MiB of RAM */
#define USER_BASE        0x40000000u
#define USER_STACK_TOP   0x80000000u   /* also the end of user space */
#define USER_STACK_MAX   0x00100000u   /* the stack may grow to 1 MiB */

/* CR0 as the kernel sets it (vm.c): PG | WP | NE | ET | PE. */
#define KERNEL_CR0       0x80010031u

/* ---- segment selectors (gdt.c); RPL 3 for the user ones ---- */
#define SEL_KERNEL_CODE  0x08
#define SEL_KERNEL_DATA  0x10
#define SEL_USER_CODE    0x1b
#define SEL_USER_DATA    0x23
#define SEL_TSS          0x28

/* ---- the status a scenario hands to isa-debug-exit ---- */
#define EXIT_OK          0
#define EXIT_FAILED      1   /* a scenario's own check failed */
#define EXIT_BAD_COMMAND 2   /* unknown scenario or benchmark */
#define EXIT_PANIC       3   /* the kernel itself went wrong */

/* console.c */
void console_init(void);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list args);
void console_write(const char *text, size_t len);
void console_input_interrupt(void);
int console_read_line(char *buffer, size_t size);
void console_set_echo(bool on);

/* main.c */
void kernel_exit(int status) __attribute__((noreturn));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
const char *cmdline_value(const char *key);

/* multiboot.c */
struct boot_facts {
    char cmdline[256];
    uint32_t ram_end;          /* end of the usable RAM that starts at 1 MiB */
    uint32_t usable_regions;   /* "available" entries in the memory map */
    uint32_t memory_mib;       /* (1 MiB + mem_upper) rounded up to a MiB */
};
extern struct boot_facts boot;
void multiboot_read(uint32_t magic, uint32_t info_address);

/* gdt.c */
void gdt_init(void);
void tss_set_kernel_stack(uint32_t esp0);
extern uint64_t gdt[];
extern const uint16_t gdt_limit;

/* idt.c, trap.c */
struct trapframe;
void idt_init(void);
extern uint64_t idt[];
extern const uint16_t idt_limit;
void trap(struct trapframe *tf);

/* irq.c: interrupt masking with a nesting counter */
void irq_push_off(void);
void irq_pop(void);
bool irq_enabled(void);
void irq_set_state(bool enabled);

/* pic.c, pit.c */
void pic_init(void);
void pic_unmask(int irq);
void pic_end_of_interrupt(int irq);
bool pic_is_spurious(int irq);
/* apic=1 (apic.c): the local APIC's timer and the I/O APIC instead. */
extern bool apic_mode;
void apic_init(void);
uint32_t apic_page(int which);          /* 0: local APIC, 1: I/O APIC */
void interrupt_done(int irq);           /* EOI to whichever controller */
bool interrupt_is_spurious(int irq);
#define TIMER_HZ 100
void pit_init(void);
extern volatile uint32_t ticks;

/* uart.c */
void uart_init(void);
void uart_enable_receive_interrupt(void);
void uart_put(char c);
bool uart_has_input(void);
char uart_get(void);

/* ata.c */
#define SECTOR_SIZE 512
bool ata_init(void);
int ata_read(uint32_t lba, void *buffer);
int ata_write(uint32_t lba, const void *buffer);

/* kalloc.c */
void kalloc_init(uint32_t start, uint32_t end);
void *page_alloc(void);
void page_free(void *page);
uint32_t pages_free(void);

/* vm.c */
typedef uint32_t pte_t;
#define PTE_PRESENT  0x001
#define PTE_WRITE    0x002
#define PTE_USER     0x004
#define PTE_PWT      0x008   /* write-through */
#define PTE_PCD      0x010   /* cache disabled: device registers */
#define PTE_ACCESSED 0x020
#define PTE_DIRTY    0x040
#define PTE_SOFT     0x200   /* ignored by the MMU: free for software */
void vm_init(uint32_t ram_end);
pte_t *vm_kernel_directory(void);
pte_t *vm_new_space(void);
void vm_free_space(pte_t *directory);
void vm_switch(pte_t *directory);
pte_t *vm_lookup(pte_t *directory, uint32_t va, bool create);
int vm_map(pte_t *directory, uint32_t va, uint32_t pa, uint32_t flags);
void vm_unmap(pte_t *directory, uint32_t va);

/* proc.c */
struct proc;
int proc_spawn(const char *program, uint32_t arg0, uint32_t arg1);
void proc_run_all(void);
struct proc *proc_current(void);
void proc_yield(void);
void proc_sleep_on(void *channel);
void proc_wakeup(void *channel);
void proc_exit(int status) __attribute__((noreturn));
void proc_kill(const char *why);
void proc_list(void);
struct proc_result {
    int status;                /* exit status, or -1 if killed */
    bool killed;               /* ended by the kernel after a fatal fault */
    uint32_t preemptions;
};
bool proc_result(int pid, struct proc_result *result);
void proc_forget_all(void);

/* usermem.c: checked access to the current process's memory */
bool user_range_ok(uint32_t va, uint32_t len, bool write);
bool user_fault_resolve(uint32_t va, bool write);
int user_sbrk(int delta);
int user_copy_page(uint32_t dst, uint32_t src);

/* programs.c */
const uint8_t *program_find(const char *name, uint32_t *size);

/* syscall.c */
void syscall(struct trapframe *tf);

/* scenarios */
int scenario_run(const char *name);
void scenario_list(void);
int bench_run(const char *name, uint32_t iterations);
void bench_list(void);
int shell_run(void);

#endif
