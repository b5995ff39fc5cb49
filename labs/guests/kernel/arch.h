/*
 * arch.h - every privileged operation the kernel performs, in one place.
 *
 * The kernel never writes cli, sti, out, mov %cr3 or lidt anywhere else.
 * The paravirtual build (-DPV, build/guests/kernel-pv.elf) replaces these
 * bodies with hypercalls and shared-memory stores (arch_pv.h); everything
 * above this file stays the same. The `sensitive` scenario is the one
 * exception: it uses raw instructions on purpose (and says, under -DPV,
 * that it has none left to run).
 */
#ifndef ARCH_H
#define ARCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef PV
#include "pv/arch_pv.h"
#else

/* ---- start-up, and the page tables (what -DPV must see) ----
 * Natively there is nothing to set up, a page-table entry is a store, and a
 * page becoming (or ceasing to be) a page table needs no one's permission.
 * Under -DPV each of these is a hypercall: Xen's direct paging. */
static inline void arch_init(void) {}
static inline void arch_set_pte(uint32_t *entry, uint32_t value) { *entry = value; }
static inline void arch_page_table_new(void *page, bool directory) { (void)page; (void)directory; }
static inline void arch_page_table_retire(void *page) { (void)page; }

/* ---- port I/O (Intel SDM vol. 1, 18.2: I/O port address space) ---- */
static inline void arch_outb(uint16_t port, uint8_t value)
{
    asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t arch_inb(uint16_t port)
{
    uint8_t value;
    asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline void arch_outw(uint16_t port, uint16_t value)
{
    asm volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint16_t arch_inw(uint16_t port)
{
    uint16_t value;
    asm volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

/* ---- interrupt flag ----
 * Only cli and sti, never popf: under trap-and-emulate a popf at (virtual)
 * ring 0 runs at real ring 3, where it silently leaves IF alone (SDM vol. 2,
 * POPF: "the IF flag is changed only if CPL <= IOPL"). cli and sti fault
 * there instead, so the monitor sees them. irq.c keeps the software copy. */
static inline void arch_irq_disable(void) { asm volatile("cli" ::: "memory"); }
static inline void arch_irq_enable(void)  { asm volatile("sti" ::: "memory"); }

/* Wait for the next interrupt. sti delays interrupts by one instruction
 * (SDM vol. 2, STI), so no interrupt can slip in between sti and hlt and
 * leave us asleep with the wake-up already gone. Returns with IF = 0. */
static inline void arch_wait_for_interrupt(void)
{
    asm volatile("sti; hlt; cli" ::: "memory");
}

static inline __attribute__((noreturn)) void arch_halt_forever(void)
{
    for (;;)
        asm volatile("cli; hlt");
}

/* End the machine with `status`: QEMU's isa-debug-exit (and vmlab's copy
 * of it) stops with status (v << 1) | 1 when v is written to its port. On
 * real hardware nothing listens there, so we halt. */
#define DEBUG_EXIT_PORT 0xf4
static inline __attribute__((noreturn)) void arch_exit(int status)
{
    arch_outb(DEBUG_EXIT_PORT, (uint8_t)status);
    arch_halt_forever();
}

/* ---- control registers and the TLB (SDM vol. 3, 2.5 and 4.10.4) ---- */
static inline void arch_set_cr3(uint32_t page_directory)
{
    asm volatile("movl %0, %%cr3" : : "r"(page_directory) : "memory");
}

static inline uint32_t arch_get_cr3(void)
{
    uint32_t value;
    asm volatile("movl %%cr3, %0" : "=r"(value));
    return value;
}

static inline uint32_t arch_get_cr2(void)
{
    uint32_t value;
    asm volatile("movl %%cr2, %0" : "=r"(value));
    return value;
}

static inline void arch_set_cr0(uint32_t value)
{
    asm volatile("movl %0, %%cr0" : : "r"(value) : "memory");
}

static inline void arch_invlpg(uint32_t address)
{
    asm volatile("invlpg (%0)" : : "r"(address) : "memory");
}

/* ---- descriptor tables (SDM vol. 3, 3.5.1 and 6.10) ---- */
struct __attribute__((packed)) table_register {
    uint16_t limit;
    uint32_t base;
};

static inline void arch_set_gdt(const void *base, uint16_t limit)
{
    struct table_register gdtr = { limit, (uint32_t)base };
    asm volatile("lgdt %0" : : "m"(gdtr));
}

static inline void arch_set_idt(const void *base, uint16_t limit)
{
    struct table_register idtr = { limit, (uint32_t)base };
    asm volatile("lidt %0" : : "m"(idtr));
}

static inline void arch_set_task_register(uint16_t selector)
{
    asm volatile("ltr %0" : : "r"(selector));
}

#endif /* PV */

/* ---- the same in both builds: segment loads and rdtsc are not privileged ---- */

/* Reload every segment register from the new GDT: the CPU keeps using the
 * old descriptors' hidden copies until a register is loaded (SDM vol. 3,
 * 3.4.3). CS can only be reloaded by a far jump or return. */
static inline void arch_load_segments(uint16_t code, uint16_t data)
{
    asm volatile("movw %w1, %%ds\n\t"
                 "movw %w1, %%es\n\t"
                 "movw %w1, %%fs\n\t"
                 "movw %w1, %%gs\n\t"
                 "movw %w1, %%ss\n\t"
                 "pushl %0\n\t"
                 "pushl $1f\n\t"
                 "lret\n"
                 "1:"
                 : : "r"((uint32_t)code), "r"((uint32_t)data) : "memory");
}

/* ---- the time-stamp counter (benchmarks only; never in a transcript) ---- */
static inline uint64_t arch_read_tsc(void)
{
    uint32_t low, high;
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}

#endif
