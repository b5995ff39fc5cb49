/*
 * code_cache.c - the block cache (see code_cache.h).
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

static void free_page(struct code_page *page)
{
    for (uint32_t offset = 0; offset < PAGE_SIZE; offset++)
        free(page->blocks[offset]);
    free(page);
}

void code_cache_destroy(struct code_cache *cache)
{
    if (!cache->pages)
        return;
    for (uint32_t i = 0; i < cache->frame_count; i++)
        if (cache->pages[i])
            free_page(cache->pages[i]);
    free(cache->pages);
    cache->pages = NULL;
}

struct code_block *code_cache_block_for_build(struct code_cache *cache, uint32_t physical)
{
    uint32_t frame = physical >> PAGE_SHIFT;
    if (frame >= cache->frame_count)
        return NULL;
    struct code_page *page = cache->pages[frame];
    if (!page) {
        page = calloc(1, sizeof *page);
        if (!page)
            return NULL;                /* no memory: run uncached */
        page->generation = 1;
        cache->pages[frame] = page;
    }
    if (page->uncacheable)
        return NULL;
    struct code_block **slot = &page->blocks[physical & (PAGE_SIZE - 1)];
    /* A stale block is reused in place: the loop never builds while a
     * block runs, so nobody is reading it. */
    if (!*slot)
        *slot = malloc(sizeof **slot);
    if (!*slot)
        return NULL;
    (*slot)->generation = page->generation;
    (*slot)->count = 0;
    (*slot)->bytes = 0;
    (*slot)->links[0].epoch = (*slot)->links[1].epoch = 0;
    return *slot;
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
