/*
 * code_cache.h - the block cache: decoded straight-line runs of guest
 * instructions ("blocks"), cached by the physical address of their first
 * byte.
 *
 * Why blocks. Decoding costs more than executing most instructions, and a
 * CPU-bound guest runs the same few thousand instructions over and over, so
 * decoded instructions are cached. Caching them one by one still leaves the
 * run loop with a lookup, a validity check, an interrupt check and a clock
 * check per instruction - more host work than most instructions need. A
 * block amortises all of that: it is the list of decoded instructions (each
 * with its handler, chosen once) from one start address up to and including
 * the first instruction after which the next one is not simply the next in
 * memory, or after which the CPU state the loop relies on may have changed:
 *
 *   - any control transfer (Jcc, JMP, CALL, RET, LOOP, ...);
 *   - anything that may change CS, CPL, paging, the TLB, EFLAGS.IF or the
 *     interrupt shadow, or touch a device (every system instruction, I/O,
 *     far transfers, INT, IRET, POPF, MOV/POP to a segment register, ...);
 *   - string instructions (a REP one stops after a slice of iterations and
 *     resumes itself later, so the next instruction is not the next slot);
 *   - the end of the page, an instruction that would cross it or the CS
 *     limit, or bytes that do not decode (those take the one-instruction
 *     path, which raises the right fault), or BLOCK_MAX_INSTRUCTIONS.
 *
 * Only the instructions of the `block_continues` table (interp.c) may stand
 * anywhere but last: ordinary integer instructions whose only effects are
 * on registers, the arithmetic flags, DF and guest memory.
 *
 * A block lies in one physical page, so one translation (the TLB, at the
 * start of the block) covers all of it. Keying by physical address makes
 * the cache immune to paging changes (a CR3 switch drops nothing); the block
 * records the CS.D it was decoded under and its length in bytes, which the
 * lookup checks against the current CS (D bit, limit).
 *
 * Self-modifying code is handled by the page flags of core/mem.h: a page
 * with cached code carries PAGE_FLAG_CODE, the memory write path calls
 * code_cache_invalidate_page on any write to such a page, and that bumps the
 * page's generation, which makes every block of the page stale in O(1).
 * Blocks are never freed while the VM runs (a stale one is rebuilt in
 * place when it is next looked up, never while it runs), so a block that
 * overwrites its own page stays readable until the loop leaves it.
 *
 * Pages that are written to over and over (code and hot data sharing a
 * page) stop being cached after CODE_PAGE_MAX_INVALIDATIONS, so they cost a
 * decode per instruction instead of a block rebuild per write.
 */
#ifndef VMLAB_INTERP_CODE_CACHE_H
#define VMLAB_INTERP_CODE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/mem.h"
#include "core/x86/decode.h"
#include "core/x86/execute.h"

#define CODE_PAGE_MAX_INVALIDATIONS 256
#define BLOCK_MAX_INSTRUCTIONS 32

struct block_slot {
    x86_handler handler;         /* x86_select_handler(&insn), chosen once */
    struct x86_instruction insn;
};

/* A remembered successor (see interp.c, next_block): at EIP `eip`, while
 * the interpreter's link epoch is still `epoch`, the next block is `block`. */
struct block_link {
    uint32_t eip;
    uint64_t epoch;              /* 0: never valid */
    struct code_block *block;
};

struct code_block {
    uint32_t generation;         /* valid if equal to the page's generation */
    uint16_t bytes;              /* length of all its instructions together */
    uint16_t last_offset;        /* where its last instruction starts */
    uint8_t count;               /* instructions, 1..BLOCK_MAX_INSTRUCTIONS */
    bool cs32;                   /* the CS.D it was decoded under */
    bool keeps_fetch_context;    /* its last instruction leaves CS, CPL and paging alone */
    const struct block_slot *last;   /* &slots[count - 1] */
    struct block_link links[2];  /* [0]: the last one found, [1]: the one before */
    struct block_slot slots[BLOCK_MAX_INSTRUCTIONS];
};

struct code_page {
    uint32_t generation;         /* starts at 1: a zeroed block is stale */
    uint32_t invalidations;
    bool uncacheable;
    struct code_block *blocks[PAGE_SIZE];   /* by offset of the first byte; NULL: none */
};

struct code_cache {
    struct code_page **pages;    /* indexed by physical frame number; NULL: none */
    uint32_t frame_count;
    uint64_t invalidations;      /* for statistics */
};

int code_cache_create(struct code_cache *cache, uint32_t ram_bytes);
void code_cache_destroy(struct code_cache *cache);

/* The page table for a physical address, or NULL. */
static inline struct code_page *code_cache_page(const struct code_cache *cache, uint32_t physical)
{
    uint32_t frame = physical >> PAGE_SHIFT;
    return frame < cache->frame_count ? cache->pages[frame] : NULL;
}

/* The valid block starting at a physical address, or NULL. The caller still
 * checks the CS limit and CS.D against it. */
static inline struct code_block *code_cache_lookup(const struct code_cache *cache,
                                                   uint32_t physical)
{
    struct code_page *page = code_cache_page(cache, physical);
    if (!page)
        return NULL;
    struct code_block *block = page->blocks[physical & (PAGE_SIZE - 1)];
    return block && block->generation == page->generation ? block : NULL;
}

/* Storage for a (re)built block starting at `physical`, already stamped
 * with the page's current generation, or NULL when the page cannot be
 * cached (or memory ran out). The caller fills it in. */
struct code_block *code_cache_block_for_build(struct code_cache *cache, uint32_t physical);

/* Drop every cached block of one physical page. */
void code_cache_invalidate_page(struct code_cache *cache, uint32_t physical_page);

#endif
