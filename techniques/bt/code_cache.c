/*
 * code_cache.c - where translations live, and how they are found.
 *
 * W^X: the cache is one shared memory object mapped twice, once
 * read-write (the translator writes there) and once read-execute (the CPU
 * runs from there); no page is ever writable and executable at once. The
 * second view is made with mremap(old_size = 0), which on a shared mapping
 * creates another mapping of the same pages (mremap(2)) - no file and no
 * memfd_create, so it works after seccomp containment too.
 *
 * Blocks are found by (guest linear EIP, guest physical address of the
 * same byte, privilege): the linear address because a block's exits are
 * linear addresses, the physical one because that is the code the block
 * was made from (two processes may run different code at the same linear
 * address), the privilege because cli, sti and popf are translated for
 * one CPL and IOPL, and code translated for CPL 3 reaches guest memory
 * through the user view (bt_internal.h, BT_MAY_WRITE_IF and BT_USER).
 *
 * Invalidation: every guest-physical frame has a generation number. A
 * block remembers its frame's generation; a write to the frame bumps it,
 * and every block made from the frame is stale at once (found no more,
 * translated again on the next visit). Chains are patched jumps from one
 * block's exit into another block's code (bt.c); a stale block must not
 * be reached that way either, so an invalidation undoes every chain - a
 * walk over the blocks, but writes to translated code are rare. When the
 * cache is full everything is dropped and translation starts over -
 * simple, and rare too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bt_internal.h"

#define CODE_CACHE_SIZE (32u << 20)
#define BUCKETS (1u << 16)
#define MAX_BLOCKS (CODE_CACHE_SIZE / 64)

static uint32_t bucket_of(uint32_t eip, uint32_t physical)
{
    uint32_t h = eip * 0x9e3779b1u ^ physical * 0x85ebca6bu;
    return (h >> 16) & (BUCKETS - 1);
}

int bt_code_cache_create(struct bt_code_cache *cache, uint32_t frame_count, char *why, size_t why_len)
{
    memset(cache, 0, sizeof *cache);
    cache->size = CODE_CACHE_SIZE;
    void *writable = mmap(NULL, cache->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);
    if (writable == MAP_FAILED) {
        snprintf(why, why_len, "bt: code cache: mmap: %s", strerror(errno));
        return -1;
    }
    void *executable = mremap(writable, 0, cache->size, MREMAP_MAYMOVE);
    if (executable == MAP_FAILED || mprotect(executable, cache->size, PROT_READ | PROT_EXEC) != 0) {
        snprintf(why, why_len, "bt: code cache: second view: %s", strerror(errno));
        if (executable != MAP_FAILED)
            munmap(executable, cache->size);
        munmap(writable, cache->size);
        return -1;
    }
    cache->writable = writable;
    cache->executable = executable;
    cache->block_capacity = MAX_BLOCKS;
    cache->blocks = calloc(MAX_BLOCKS, sizeof *cache->blocks);
    cache->buckets = calloc(BUCKETS, sizeof *cache->buckets);
    cache->frame_count = frame_count;
    cache->page_generation = calloc(frame_count ? frame_count : 1, sizeof *cache->page_generation);
    if (!cache->blocks || !cache->buckets || !cache->page_generation) {
        bt_code_cache_destroy(cache);
        snprintf(why, why_len, "bt: code cache: out of memory");
        return -1;
    }
    return 0;
}

void bt_code_cache_destroy(struct bt_code_cache *cache)
{
    if (cache->writable)
        munmap(cache->writable, cache->size);
    if (cache->executable)
        munmap(cache->executable, cache->size);
    free(cache->blocks);
    free(cache->buckets);
    free(cache->page_generation);
    memset(cache, 0, sizeof *cache);
}

static uint32_t generation_of(const struct bt_code_cache *cache, uint32_t physical)
{
    uint32_t frame = physical >> 12;
    return frame < cache->frame_count ? cache->page_generation[frame] : 0;
}

struct bt_block *bt_code_cache_find(struct bt_code_cache *cache, uint32_t eip, uint32_t physical,
                                    uint32_t privilege)
{
    for (struct bt_block *b = cache->buckets[bucket_of(eip, physical)]; b; b = b->next)
        if (b->eip == eip && b->physical == physical && b->privilege == privilege)
            return b->generation == generation_of(cache, physical) ? b : NULL;
    return NULL;
}

struct bt_block *bt_code_cache_new_block(struct bt_code_cache *cache, uint32_t eip, uint32_t physical,
                                         uint32_t privilege)
{
    if (cache->block_count == cache->block_capacity || cache->size - cache->used < BT_MAX_BLOCK_CODE)
        return NULL;
    struct bt_block *block = &cache->blocks[cache->block_count];
    memset(block, 0, sizeof *block);
    block->index = cache->block_count;
    block->eip = eip;
    block->physical = physical;
    block->privilege = privilege;
    block->user = privilege & BT_USER;
    block->generation = generation_of(cache, physical);
    block->code = cache->executable + cache->used;
    return block;
}

/* A stale block with the new block's key leaves the hash chain. */
static void unlink_stale(struct bt_code_cache *cache, uint32_t bucket, const struct bt_block *new)
{
    struct bt_block **link = &cache->buckets[bucket];
    while (*link) {
        if ((*link)->eip == new->eip && (*link)->physical == new->physical &&
            (*link)->privilege == new->privilege)
            *link = (*link)->next;
        else
            link = &(*link)->next;
    }
}

void bt_code_cache_commit(struct bt_code_cache *cache, struct bt_block *block)
{
    uint32_t bucket = bucket_of(block->eip, block->physical);
    unlink_stale(cache, bucket, block);
    block->next = cache->buckets[bucket];
    cache->buckets[bucket] = block;
    cache->used += (block->code_length + 15u) & ~15u;
    cache->block_count++;
}

void bt_code_cache_flush(struct bt_code_cache *cache)
{
    memset(cache->buckets, 0, BUCKETS * sizeof *cache->buckets);
    cache->block_count = 0;
    cache->used = 0;
    cache->chained = 0;
}

/* Where exit `exit` of `block` keeps the address it jumps to, in the
 * writable view. */
static uint8_t *exit_address_slot(struct bt_code_cache *cache, const struct bt_block *block,
                                  uint32_t exit)
{
    return cache->writable + (block->code - cache->executable) + block->exit_patch[exit];
}

void bt_code_cache_chain(struct bt_code_cache *cache, struct bt_block *from, uint32_t exit,
                         const struct bt_block *to)
{
    uint64_t target = (uint64_t)(uintptr_t)to->code;
    if (exit == BT_INDIRECT_EXIT) {
        uint32_t negated = 0u - to->eip;          /* lea -EIP(%r11), %r10d */
        memcpy(cache->writable + (from->code - cache->executable) + from->indirect_eip_patch,
               &negated, 4);
    }
    memcpy(exit_address_slot(cache, from, exit), &target, 8);
    cache->chained++;
}

void bt_code_cache_unchain_all(struct bt_code_cache *cache)
{
    uint64_t stub = (uint64_t)(uintptr_t)bt_exit_branch;
    if (cache->chained == 0)
        return;
    for (uint32_t i = 0; i < cache->block_count; i++) {
        for (uint32_t exit = 0; exit < cache->blocks[i].exit_count; exit++)
            memcpy(exit_address_slot(cache, &cache->blocks[i], exit), &stub, 8);
        if (cache->blocks[i].has_indirect_exit)
            memcpy(exit_address_slot(cache, &cache->blocks[i], BT_INDIRECT_EXIT), &stub, 8);
    }
    cache->chained = 0;
}

void bt_code_cache_invalidate_frame(struct bt_code_cache *cache, uint32_t frame)
{
    if (frame < cache->frame_count)
        cache->page_generation[frame]++;
    bt_code_cache_unchain_all(cache);
}

struct bt_block *bt_code_cache_block_at(struct bt_code_cache *cache, uint64_t pc)
{
    uint64_t base = (uint64_t)(uintptr_t)cache->executable;
    if (pc < base || pc >= base + cache->used || cache->block_count == 0)
        return NULL;
    /* Blocks are in the order of their code: the last one starting at or
     * before pc holds it. */
    uint32_t low = 0, high = cache->block_count - 1;
    while (low < high) {
        uint32_t middle = (low + high + 1) / 2;
        if ((uint64_t)(uintptr_t)cache->blocks[middle].code <= pc)
            low = middle;
        else
            high = middle - 1;
    }
    struct bt_block *block = &cache->blocks[low];
    uint64_t start = (uint64_t)(uintptr_t)block->code;
    return pc >= start && pc < start + block->code_length ? block : NULL;
}

uint32_t bt_block_instruction_at(const struct bt_block *block, uint64_t pc)
{
    uint32_t offset = (uint32_t)(pc - (uint64_t)(uintptr_t)block->code), index = 0;
    while (index + 1 < block->count && block->host_offset[index + 1] <= offset)
        index++;
    return index;
}
