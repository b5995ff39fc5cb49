/*
 * shadow.h - shadow paging: the host's mappings of the guest's 4 GiB,
 * kept consistent with the guest's page tables and privilege level.
 *
 * The guest believes CR3 points at its page tables; the host CPU actually
 * walks Linux's page tables for our process. So the host mappings are the
 * "shadow" page table: built lazily, one page per host page fault.
 *
 *   - A host fault on a page we have not mapped walks the guest page table
 *     (x86_translate, the core's walk, setting the accessed bit as the CPU
 *     would). If the guest's walk succeeds the page is mapped from the RAM
 *     memfd with the guest's rights - a "hidden" fault the guest never
 *     sees. If it fails the faulting instruction is emulated, and the
 *     emulator raises the guest's own #PF with its CR2 and error code.
 *   - Dirty bits: a page is mapped read-only until the first write, which
 *     faults again and sets D in the guest PTE (SDM vol. 3, 4.8).
 *   - Guest page-table pages (the page directory at CR3 and every page
 *     table we walked through) are never mapped writable, so the guest's
 *     edits trap ("pt-write"); the technique emulates the write and we drop
 *     the mappings derived from the edited entry.
 *   - MOV to CR3 with a new value, and changes of CR0.PG/WP or CR4.PSE,
 *     drop everything (a shadow flush); INVLPG drops one page.
 *   - U/S: guest kernel and guest user code both run at host ring 3, so
 *     the host cannot tell them apart. Two ways to keep the guest's user
 *     code out of its kernel's pages (SDM vol. 3, 4.6):
 *       one view (trapemu): pages mapped while the guest was at CPL 0-2
 *       with more rights than CPL 3 has are remembered, and taken away
 *       when the guest enters CPL 3 (an mprotect over their span), given
 *       back when it leaves CPL 3;
 *       two views (bt, shadow_use_user_view): CPL 0-2 faults fill the
 *       supervisor view (the ops given to shadow_init), CPL 3 faults a
 *       separate user view with CPL 3's rights only. Nothing is revoked on
 *       a CPL change: the technique makes CPL 3 code reach guest memory
 *       through the user view (bt: a GS segment prefix), so the kernel's
 *       mappings stay in place for when it runs again. Invalidations
 *       (flush, INVLPG, a page-table write, a code frame) drop both views.
 *   - Pages the host cannot mirror (below vm.mmap_min_addr, the legacy VGA
 *     hole, MMIO, physical addresses without RAM) stay unmapped: every
 *     access to them faults and is emulated.
 *   - Direct paging (the pv technique): the VMM has checked every entry of
 *     the guest's tables itself (core/pv/mmu.c), so there is nothing to
 *     learn one fault at a time. The shadow then mirrors the whole address
 *     space when CR3 is loaded and each entry when a hypercall writes it:
 *     no hidden faults, no dirty faults, no write-protect traps. The guest's
 *     accessed and dirty bits are not maintained (docs/pv.md says so).
 *
 * The host side (mmap) goes through struct shadow_ops, so the unit tests
 * (tests/unit/test_shadow.c) can watch the decisions without the low 4 GiB.
 */
#ifndef VMLAB_DIRECT_SHADOW_H
#define VMLAB_DIRECT_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/stats.h"
#include "core/x86/emulator.h"

#define SHADOW_READ  1
#define SHADOW_WRITE 2

struct shadow_ops {
    /* Map [linear, linear+length) to guest-physical [physical, ...). 0 or -1. */
    int (*map)(void *context, uint32_t linear, uint32_t physical, uint32_t length, int rights);
    /* Make [linear, linear+length) fault again. */
    void (*unmap)(void *context, uint64_t linear, uint64_t length);
    /* Change the rights of mapped pages (0: none). 0 or -1. When rights
     * are given, [linear, linear+length) maps the consecutive frames from
     * guest-physical `physical` (0 when taking all rights away). */
    int (*protect)(void *context, uint32_t linear, uint32_t physical, uint32_t length, int rights);
    void *context;
};

enum shadow_outcome {
    SHADOW_MAPPED,      /* the host now maps the page: retry the instruction natively */
    SHADOW_EMULATE,     /* a true guest fault, or a page the host cannot mirror: emulate */
    SHADOW_PT_WRITE,    /* a write to a guest page table: emulate, then shadow_pt_written */
};

struct shadow {
    struct shadow_ops ops;
    struct emulator *emulator;     /* for the guest walk; its cpu is the guest's */
    uint32_t lowest_mappable;      /* below this the host maps nothing */
    uint32_t frame_count;
    uint8_t *frame_flags;          /* per guest-physical frame, SHADOW_FRAME_* */
    int16_t *table_region;         /* page tables: the 4 MiB region they map, or -2 for several */

    /* Pages mapped while the guest was at CPL 0-2 with more rights than
     * CPL 3 has. Entering CPL 3 protects them (no access); leaving CPL 3
     * gives their rights back in a few mprotect calls instead of one fault
     * each - if nothing was invalidated meanwhile (privileged_exact: every
     * entry is still the guest's current translation). */
    struct shadow_privileged_page {
        uint32_t page, physical;       /* linear and physical page numbers */
        int rights;
    } *privileged;
    uint32_t privileged_count, privileged_capacity;
    uint32_t privileged_sorted;    /* the first entries, sorted and unique */
    bool privileged_exact, privileged_revoked;

    /* Direct paging (see the top): mirror validated tables whole. */
    bool direct_paging;
    bool mirrored;                 /* the current CR3's tables are all mapped */
    struct stats_counter *mirrors, *mirrored_entries;
    /* The user view (two views, see above), when split_views. */
    struct shadow_ops user_view;
    bool split_views;

    /* The guest state the mappings were built for. */
    bool valid, paging, write_protect, large_pages;
    uint32_t cr3;
    unsigned cpl;

    struct stats *stats;
    struct stats_counter *hidden_faults, *dirty_faults, *flushes, *cr3_switches,
        *invlpgs, *pt_writes, *revocations, *regrants, *emulated;
};

int shadow_init(struct shadow *shadow, struct emulator *emulator, const struct shadow_ops *ops,
                uint32_t lowest_mappable, struct stats *stats);
void shadow_destroy(struct shadow *shadow);
/* From now on CPL 3 has mappings of its own, made through user_ops, and
 * CPL changes revoke nothing (see the U/S rule above). Call before the
 * first fault. */
void shadow_use_user_view(struct shadow *shadow, const struct shadow_ops *user_ops);

/* A host page fault at linear while the guest ran. present: the host page
 * was mapped (so this was a write to a read-only page). With two views,
 * the fault is the view of the CPU's CPL: the user view at CPL 3. */
enum shadow_outcome shadow_fault(struct shadow *shadow, uint32_t linear, bool write, bool present);

/* Bring the mappings in line with the CPU state (paging mode, CR3, CPL):
 * call after anything that may have changed it. */
void shadow_follow_cpu(struct shadow *shadow);

/* Drop everything. */
void shadow_flush(struct shadow *shadow);
/* No mapping may let the guest write frame `physical` without a fault
 * from now on (bt: the frame holds translated code). The ops must map it
 * read-only from now on; this takes away what was mapped writable before:
 * the page itself when paging is off, every mapping when the frame was
 * mapped writable somewhere under paging (a flush: the shadow keeps no
 * reverse map from frames to linear pages). */
void shadow_write_protect_frame(struct shadow *shadow, uint32_t physical);
/* INVLPG linear. */
void shadow_invalidate_page(struct shadow *shadow, uint32_t linear);
/* The guest wrote page-table frame physical (size bytes at that address;
 * whole_page for string instructions). */
void shadow_pt_written(struct shadow *shadow, uint32_t physical, unsigned size, bool whole_page);
/* Is frame `physical` a guest page table or directory the shadow traces
 * (its writes must reach shadow_pt_written)? */
bool shadow_is_page_table(const struct shadow *shadow, uint32_t physical);

/* From now on mirror the guest's tables whole (direct paging, above):
 * only for a guest whose every table entry the VMM has validated. */
void shadow_use_direct_paging(struct shadow *shadow);
/* The VMM itself wrote the 4-byte paging entry at guest-physical
 * `physical` (pv's mmu_update): drop what was derived from it, and under
 * direct paging map what it allows now. */
void shadow_entry_written(struct shadow *shadow, uint32_t physical);

#endif
