/*
 * arch_pv.h - the arch_* functions of the paravirtual build (-DPV).
 *
 * Included by arch.h instead of the native bodies. Not one privileged or
 * sensitive instruction: the interrupt flag is a byte in the shared info
 * page (a store, no exit), everything else is a call into the hypercall
 * page the VMM filled in (core/pv/abi.h, docs/pv.md). There is no port
 * I/O at all: the PIC, PIT, UART and ATA drivers are replaced by
 * pv/devices.c, which speaks events, the timer and the console hypercall.
 */
#ifndef ARCH_PV_H
#define ARCH_PV_H

#include <stdbool.h>
#include <stdint.h>

#include "../../../../core/pv/abi.h"

/* Both pages live in the kernel's .bss, identity-mapped (pv/arch_pv.c). */
extern uint8_t pv_hypercall_page[4096];
extern struct pv_shared_info pv_shared_info;

static inline int32_t pv_call(uint32_t n, uint32_t a, uint32_t b, uint32_t c)
{
    int32_t result;
    asm volatile("call *%%eax"
                 : "=a"(result)
                 : "a"(pv_hypercall_page + n * PV_HYPERCALL_ENTRY_SIZE), "b"(a), "c"(b), "d"(c)
                 : "memory", "cc");
    return result;
}

/* ---- start-up and the page tables (pv/arch_pv.c) ---- */
void arch_init(void);
void arch_set_pte(uint32_t *entry, uint32_t value);
void arch_page_table_new(void *page, bool directory);
void arch_page_table_retire(void *page);
void arch_set_cr3(uint32_t page_directory);
uint32_t arch_get_cr3(void);
void arch_exit(int status) __attribute__((noreturn));

/* ---- the interrupt flag: the shared info page's mask byte ----
 * Unmasking is a store; only if an event is already pending does the
 * kernel ask for it now (Xen's rule), else it would wait for the VMM's
 * next look at the mask. */
static inline void arch_irq_disable(void)
{
    pv_shared_info.event_mask = 1;
    asm volatile("" ::: "memory");
}

static inline void arch_irq_enable(void)
{
    asm volatile("" ::: "memory");
    pv_shared_info.event_mask = 0;
    asm volatile("" ::: "memory");
    if (pv_shared_info.pending)
        pv_call(PV_EVENT_UNMASK, 0, 0, 0);
}

/* sti; hlt; cli: PV_SCHED_BLOCK unmasks and sleeps until an event. */
static inline void arch_wait_for_interrupt(void)
{
    pv_call(PV_SCHED_OP, PV_SCHED_BLOCK, 0, 0);
    arch_irq_disable();
}

static inline __attribute__((noreturn)) void arch_halt_forever(void)
{
    for (;;)
        pv_call(PV_SCHED_OP, PV_SCHED_BLOCK, 0, 0);
}

/* ---- control registers and the TLB ---- */
static inline uint32_t arch_get_cr2(void) { return pv_shared_info.cr2; }
/* Paging is on from the first arch_set_cr3 (PV_MMUEXT_NEW_BASEPTR), with
 * WP: nothing left for CR0. */
static inline void arch_set_cr0(uint32_t value) { (void)value; }
static inline void arch_invlpg(uint32_t address)
{
    pv_call(PV_MMUEXT, PV_MMUEXT_INVLPG, address, 0);
}

/* ---- descriptor tables ----
 * The VMM installs a GDT with the kernel's own layout at PV_INIT (abi.h:
 * PV_SEL_*), and the IDT from the trap table: arch_set_idt hands it the
 * gates idt.c built, as a list it can check. */
static inline void arch_set_gdt(const void *base, uint16_t limit) { (void)base; (void)limit; }
static inline void arch_set_task_register(uint16_t selector) { (void)selector; }
void arch_set_idt(const void *base, uint16_t limit);

/* arch_load_segments and arch_read_tsc are arch.h's own, for both builds:
 * segment loads and rdtsc are not privileged, and the VMM's GDT has the
 * selectors the kernel expects. */

/* ---- events (pv/devices.c): called by trap() for PV_UPCALL_VECTOR ---- */
uint32_t arch_take_pending_events(void);
void arch_timer_rearm(void);
void arch_set_kernel_stack(uint32_t esp0);

#endif
