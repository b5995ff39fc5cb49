/*
 * code_cache.c - the decoded-instruction cache (see code_cache.h).
 */
#include "code_cache.h"

#include <stdlib.h>

int code_cache_create(struct code_cache *cache, uint32_t ram_bytes)
{
    cache->frame_count = ram_bytes >> PAGE_SHIFT;
    cache->invalidations = 0;
    cache->pages = calloc(cache->frame_count ? cache->frame_count : 1, sizeof *cache->pages);
    return cache->pages ? 0 : -1;
}

void code_cache_destroy(struct code_cache *cache)
{
    if (!cache->pages)
        return;
    for (uint32_t i = 0; i < cache->frame_count; i++)
        free(cache->pages[i]);
    free(cache->pages);
    cache->pages = NULL;
}

bool code_cache_insert(struct code_cache *cache, uint32_t physical,
                       const struct x86_instruction *insn, bool page_is_marked)
{
    uint32_t frame = physical >> PAGE_SHIFT;
    if (frame >= cache->frame_count)
        return false;
    struct code_page *page = cache->pages[frame];
    if (!page) {
        /* calloc of a large block comes from fresh zero pages: only the
         * slots actually used cost memory. */
        page = calloc(1, sizeof *page);
        if (!page)
            return false;               /* no memory: run uncached */
        page->generation = 1;
        cache->pages[frame] = page;
    }
    if (page->uncacheable)
        return false;
    struct code_slot *slot = &page->slots[physical & (PAGE_SIZE - 1)];
    slot->insn = *insn;
    slot->handler = x86_select_handler(insn);
    slot->generation = page->generation;
    return !page_is_marked;
}

void code_cache_invalidate_page(struct code_cache *cache, uint32_t physical_page)
{
    uint32_t frame = physical_page >> PAGE_SHIFT;
    if (frame >= cache->frame_count || !cache->pages[frame])
        return;
    struct code_page *page = cache->pages[frame];
    page->generation++;
    cache->invalidations++;
    if (++page->invalidations > CODE_PAGE_MAX_INVALIDATIONS)
        page->uncacheable = true;
}
