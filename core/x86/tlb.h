/*
 * tlb.h - the interpreter's software TLB.
 *
 * A direct-mapped cache from linear page to host pointer, so that a guest
 * memory access that hits costs one compare and one add.
 *
 * Contract (core/x86/mmu.c fills and flushes it; anyone may look up):
 *
 *  - A zeroed struct tlb is NOT empty (tag 0 would hit linear page 0): whoever
 *    creates a struct emulator calls x86_tlb_flush_all once before use.
 *  - Two tables: `supervisor` serves accesses made at CPL 0-2 and implicit
 *    supervisor accesses (descriptor tables, TSS); `user` serves accesses
 *    made at CPL 3 (SDM vol. 3, 4.6: the U/S check depends on the CPL). The
 *    CPL itself is therefore never part of the tag and a CPL change needs no
 *    flush: pick the table with cpu_cpl(cpu) == 3.
 *  - The entry for linear address L is table[(L >> 12) % TLB_ENTRIES]
 *    (see tlb_entry_for). It hits for a read (or an instruction fetch: there
 *    is no NX in 32-bit paging) if read_tag == L >> 12, for a write if
 *    write_tag == L >> 12. On a hit the byte lives at host + (L & 0xfff).
 *    TLB_INVALID never equals a page number (those are below 2^20).
 *    physical_page and host mean something only while a tag matches.
 *  - A hit is only valid for an access that stays inside the page: an access
 *    crossing a 4 KiB boundary must take the slow path (x86_read_linear /
 *    x86_write_linear), which checks both pages before writing anything.
 *  - Entries are filled only after a successful page walk for that kind of
 *    access, so a hit never skips a U/S, R/W or CR0.WP check, and a write
 *    entry exists only once the dirty bit is set in the guest's PTE (or
 *    4 MiB PDE), so a write hit never needs to set it (SDM vol. 3, 4.8).
 *  - Only guest RAM is cached. MMIO pages and physical addresses with no
 *    memory behind them always take the slow path through the bus.
 *  - A write entry is never filled for a physical page that has
 *    PAGE_FLAG_CODE in ram->page_flags, so writes to pages holding decoded
 *    code reach emulator->code_written. Whoever sets PAGE_FLAG_CODE on a
 *    page must then call tlb_forget_writes_to_physical_page for it (a write
 *    entry filled before the flag was set would bypass the notification).
 *  - Flushed (x86_tlb_flush_all) on MOV to CR3 and on changes of CR0.PG,
 *    CR0.WP, CR0.PE, CR4.PSE, CR4.PGE (SDM vol. 3, 4.10.4.1); task switches
 *    would flush it too but are not implemented. One page
 *    (x86_tlb_flush_page) on INVLPG and on every #PF, which invalidates the
 *    faulting address (4.10.4.1). Global pages (PGE) are flushed by CR3
 *    writes too: a TLB is a cache, flushing more than the hardware would is
 *    always allowed. A technique attaching after another one ran must flush
 *    it: the guest may have changed its page tables meanwhile.
 *  - large_pages_cached: some entry came from a 4 MiB page; INVLPG must then
 *    drop the whole 4 MiB translation (SDM vol. 3, 4.10.4.1), which covers
 *    every entry of a 1024-entry table, so it flushes everything.
 */
#ifndef VMLAB_TLB_H
#define VMLAB_TLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLB_ENTRIES 1024
#define TLB_INVALID 0xffffffffu

struct tlb_entry {
    uint32_t read_tag;       /* linear page number if reads hit, else TLB_INVALID */
    uint32_t write_tag;      /* linear page number if writes hit, else TLB_INVALID */
    uint32_t physical_page;  /* physical address of the page (low 12 bits zero) */
    uint8_t *host;           /* host address of the page (RAM only: MMIO never cached) */
};

/* Two TLBs: one for supervisor accesses, one for user accesses (CPL 3). */
struct tlb {
    struct tlb_entry supervisor[TLB_ENTRIES];
    struct tlb_entry user[TLB_ENTRIES];
    bool large_pages_cached;
};

static inline struct tlb_entry *tlb_entry_for(struct tlb *tlb, bool user, uint32_t linear)
{
    struct tlb_entry *table = user ? tlb->user : tlb->supervisor;
    return &table[(linear >> 12) % TLB_ENTRIES];
}

/* The host address of linear, or NULL on a miss. size must keep the access
 * inside one page (the caller checks (linear & 0xfff) + size <= 4096). */
static inline uint8_t *tlb_lookup(struct tlb *tlb, bool user, bool write, uint32_t linear)
{
    struct tlb_entry *entry = tlb_entry_for(tlb, user, linear);
    uint32_t tag = write ? entry->write_tag : entry->read_tag;

    return tag == (linear >> 12) ? entry->host + (linear & 0xfffu) : NULL;
}

/* Drops every write entry that maps physical_page (a page address), so the
 * next write there takes the slow path and notifies code_written. */
static inline void tlb_forget_writes_to_physical_page(struct tlb *tlb, uint32_t physical_page)
{
    for (size_t i = 0; i < TLB_ENTRIES; i++) {
        if (tlb->supervisor[i].physical_page == (physical_page & ~0xfffu))
            tlb->supervisor[i].write_tag = TLB_INVALID;
        if (tlb->user[i].physical_page == (physical_page & ~0xfffu))
            tlb->user[i].write_tag = TLB_INVALID;
    }
}

#endif
