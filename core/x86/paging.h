/*
 * paging.h - the page walk (paging.c) and the physical accesses it needs
 * (mmu.c). Internal to core/x86: the interpreter uses system.h.
 */
#ifndef VMLAB_X86_PAGING_H
#define VMLAB_X86_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "system.h"

struct page_walk {
    uint32_t physical;       /* on success */
    uint32_t error_code;     /* on failure: the #PF error code */
    bool large;              /* mapped by a 4 MiB page */
};

/* x86_translate with the page size reported, for the TLB. */
bool paging_walk(struct emulator *e, uint32_t linear, enum access_kind access, bool user,
                 bool set_bits, struct page_walk *walk);

/*
 * Guest-physical access of size bytes that stays within one 4 KiB page.
 * RAM is read and written directly; an address claimed by an MMIO device
 * goes to its callbacks; anything else reads as all ones and ignores
 * writes (nothing answers on the bus). A write to a RAM page marked
 * PAGE_FLAG_CODE calls emulator->code_written with the page's address.
 */
uint32_t physical_read(struct emulator *e, uint32_t physical, unsigned size);
void physical_write(struct emulator *e, uint32_t physical, unsigned size, uint32_t value);

static inline uint32_t physical_read32(struct emulator *e, uint32_t physical)
{
    return physical_read(e, physical, 4);
}

static inline void physical_write32(struct emulator *e, uint32_t physical, uint32_t value)
{
    physical_write(e, physical, 4, value);
}

#endif
