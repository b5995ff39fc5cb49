/*
 * pv_internal.h - what the files of core/pv share: the hypercall handlers
 * and the safe ways into guest memory.
 *
 * Every pointer a guest passes is a linear address it chose; a handler
 * never dereferences it. It goes through pv_copy_from_guest or
 * pv_copy_to_guest, which walk the guest's page tables and refuse with
 * -PV_EFAULT what is not mapped, not RAM, or (for a write) read-only - so a
 * hostile argument ends as an error code, never as a VMM crash or a fault
 * injected into the guest.
 */
#ifndef VMLAB_PV_INTERNAL_H
#define VMLAB_PV_INTERNAL_H

#include "pv.h"

#include <stdint.h>

struct emulator;

typedef int32_t (*pv_handler)(struct pv *pv, struct emulator *e, const uint32_t args[5]);

/* pv.c */
int pv_copy_from_guest(struct pv *pv, struct emulator *e, void *to, uint32_t linear, uint32_t length);
int pv_copy_to_guest(struct pv *pv, struct emulator *e, uint32_t linear, const void *from, uint32_t length);
/* Write guest-physical memory from the VMM; the interpreter's decoded code
 * of that page is dropped. `physical` .. + length must be RAM in one page. */
void pv_write_physical(struct emulator *e, uint32_t physical, const void *from, uint32_t length);
struct pv_shared_info *pv_shared(struct pv *pv);
/* Count a refusal as pv-refused/<what> (with the EIP and a detail) and
 * return -error, so a handler can `return pv_refuse(...)`. */
int32_t pv_refuse(struct pv *pv, int error, const char *what, const char *detail);
/* True if [address, address + length) is RAM the guest owns. */
bool pv_guest_owns(const struct pv *pv, uint32_t address, uint32_t length);
/* Count a batch of `count` as <category>/<power-of-two range>: "1", "2-3",
 * "4-7", ... (pv-mmu-batch, pv-block). */
void pv_count_batch(struct pv *pv, const char *category, uint32_t count);

/* traps.c */
int32_t pv_install_descriptor_tables(struct pv *pv, struct emulator *e);
int32_t pv_set_trap_table(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_stack_switch(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_iret(struct pv *pv, struct emulator *e, const uint32_t args[5]);

/* mmu.c */
int32_t pv_mmu_update(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_mmuext(struct pv *pv, struct emulator *e, const uint32_t args[5]);

/* events.c */
void pv_time_init(struct pv *pv);
void pv_time_publish(struct pv *pv);
void pv_raise_event(struct pv *pv, unsigned channel);
void pv_update_upcall(struct pv *pv);
int32_t pv_set_timer(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_sched_op(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_console_write(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_event_send(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_event_unmask(struct pv *pv, struct emulator *e, const uint32_t args[5]);

/* block.c */
int32_t pv_block_setup(struct pv *pv, struct emulator *e, const uint32_t args[5]);
int32_t pv_block_notify(struct pv *pv, struct emulator *e, const uint32_t args[5]);

#endif
