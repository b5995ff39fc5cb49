/*
 * code_cache.h - decoded instructions, cached by the physical address of
 * their first byte.
 *
 * Decoding costs more than executing most instructions, and a CPU-bound
 * guest runs the same few thousand instructions over and over. So each
 * physical page that code runs from gets a table with one slot per byte
 * offset; a slot holds the decoded instruction that starts there.
 *
 * Keying by physical address makes the cache immune to paging changes (a
 * CR3 switch does not drop anything). Self-modifying code is handled by the
 * page flags of core/mem.h: a page with cached code carries PAGE_FLAG_CODE,
 * the memory write path calls code_cache_invalidate_page on any write to
 * such a page, and that bumps the page's generation, which makes every slot
 * stale in O(1) (slots are never freed while the VM runs, so an instruction
 * being executed stays readable even if it overwrites its own page).
 *
 * Instructions that cross a page boundary are never cached; pages that are
 * written to over and over (code and hot data sharing a page) stop being
 * cached after CODE_PAGE_MAX_INVALIDATIONS, so they cost a decode per
 * instruction instead of a cache refill per write.
 */
#ifndef VMLAB_INTERP_CODE_CACHE_H
#define VMLAB_INTERP_CODE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"
#include "core/x86/decode.h"
#include "core/x86/execute.h"

#define CODE_PAGE_MAX_INVALIDATIONS 256

struct code_slot {
    struct x86_instruction insn;
    uint32_t generation;         /* valid if equal to the page's generation */
    x86_handler handler;         /* x86_select_handler(&insn), chosen once */
};

struct code_page {
    uint32_t generation;         /* starts at 1: zeroed slots are stale */
    uint32_t invalidations;
    bool uncacheable;
    struct code_slot slots[PAGE_SIZE];
};

struct code_cache {
    struct code_page **pages;    /* indexed by physical frame number; NULL: none */
    uint32_t frame_count;
    uint64_t invalidations;      /* for statistics */
};

int code_cache_create(struct code_cache *cache, uint32_t ram_bytes);
void code_cache_destroy(struct code_cache *cache);

/* The cached instruction at a physical address, or NULL. The caller still
 * checks the CS limit and CS.D against it. */
static inline const struct code_slot *code_cache_lookup(const struct code_cache *cache,
                                                       uint32_t physical)
{
    uint32_t frame = physical >> PAGE_SHIFT;
    if (frame >= cache->frame_count)
        return NULL;
    const struct code_page *page = cache->pages[frame];
    if (!page)
        return NULL;
    const struct code_slot *slot = &page->slots[physical & (PAGE_SIZE - 1)];
    return slot->generation == page->generation ? slot : NULL;
}

/* The page table for a physical address, or NULL. */
static inline struct code_page *code_cache_page(const struct code_cache *cache, uint32_t physical)
{
    uint32_t frame = physical >> PAGE_SHIFT;
    return frame < cache->frame_count ? cache->pages[frame] : NULL;
}

/* Store a decoded instruction that lies entirely in the page of `physical`.
 * Returns true if the page just became a code page (the caller must then
 * set PAGE_FLAG_CODE and drop TLB write entries for it). Pages that cannot
 * be cached are left alone (returns false). */
bool code_cache_insert(struct code_cache *cache, uint32_t physical,
                       const struct x86_instruction *insn, bool page_is_marked);

/* Drop every cached instruction of one physical page. */
void code_cache_invalidate_page(struct code_cache *cache, uint32_t physical_page);

#endif
