/*
 * execute_access.h - register and guest-memory access for the executor,
 * with an inline fast path through the executor's private software TLB.
 *
 * A data access hits the fast path when the segment is an ordinary
 * present expand-up data segment (or readable code for reads) whose limit
 * covers the access, the access stays inside one page, and the emulator's
 * TLB holds the page for this kind of access at this privilege (SDM vol. 3,
 * 5.3 and 4.6 are then already satisfied). Everything else - and every
 * miss - goes through system.h, which applies all the rules, raises the
 * faults and fills the TLB (contract in tlb.h).
 */
#ifndef VMLAB_X86_EXECUTE_ACCESS_H
#define VMLAB_X86_EXECUTE_ACCESS_H

#include <string.h>

#include "execute.h"
#include "system.h"

/* ---- registers (SDM vol. 1, 3.4.1: AL/CL/DL/BL then AH/CH/DH/BH) ---------- */

static inline uint32_t register_read(const struct cpu *cpu, unsigned size, unsigned number)
{
    if (size == 4)
        return cpu->regs[number];
    if (size == 2)
        return cpu->regs[number] & 0xffff;
    if (number < 4)
        return cpu->regs[number] & 0xff;
    return (cpu->regs[number - 4] >> 8) & 0xff;
}

static inline void register_write(struct cpu *cpu, unsigned size, unsigned number, uint32_t value)
{
    if (size == 4)
        cpu->regs[number] = value;
    else if (size == 2)
        cpu->regs[number] = (cpu->regs[number] & 0xffff0000u) | (value & 0xffff);
    else if (number < 4)
        cpu->regs[number] = (cpu->regs[number] & 0xffffff00u) | (value & 0xff);
    else
        cpu->regs[number - 4] = (cpu->regs[number - 4] & 0xffff00ffu) | ((value & 0xff) << 8);
}

/* ---- the fast path --------------------------------------------------------- */

/* Attribute patterns (cpu.h layout) for which the fast path needs no further
 * segment checks beyond the limit: a present, usable, expand-up data segment
 * (writable for writes), or readable code for reads. */
#define ACCESS_SEGMENT_MASK (SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_UNUSABLE | 0xe)
static inline bool segment_fast_ok(const struct segment *segment, bool write)
{
    uint32_t pattern = segment->attributes & ACCESS_SEGMENT_MASK;
    if (write)
        return pattern == (SEG_ATTR_S | SEG_ATTR_P | 0x2);          /* data, RW, up */
    return pattern == (SEG_ATTR_S | SEG_ATTR_P) ||                  /* data, RO, up */
           pattern == (SEG_ATTR_S | SEG_ATTR_P | 0x2) ||            /* data, RW, up */
           (pattern & ~0x4u) == (SEG_ATTR_S | SEG_ATTR_P | 0xa);    /* code, readable */
}

/* The host pointer for a data access in *host, or false to take the slow
 * path. The TLB contract (tlb.h) guarantees a write hit is never on a page
 * holding decoded code. Written out rather than through tlb_lookup, so
 * that a hit is a plain fall-through with no NULL to test afterwards: this
 * is the path of nearly every guest memory access. */
static inline __attribute__((always_inline)) bool fast_pointer(struct x86_executor *executor,
                                                               int segment_number, uint32_t offset,
                                                               unsigned size, bool write,
                                                               uint8_t **host)
{
    uint32_t linear = offset;
    const struct tlb_entry *table;
    /* A flat segment (see x86_executor_note_flat_segments) needs no checks:
     * an access that would run past 4 GiB crosses a page and is caught
     * below; the CPL, and with it the TLB table, was noted with it. */
    if ((write ? executor->flat_writes : executor->flat_reads) & (1u << segment_number)) {
        table = executor->flat_table;
    } else {
        const struct segment *segment = &executor->cpu->segments[segment_number];
        if (!segment_fast_ok(segment, write))
            return false;
        if (offset > segment->limit || segment->limit - offset < size - 1)
            return false;
        linear = segment->base + offset;
        struct tlb *tlb = &executor->emulator->tlb;
        table = cpu_cpl(executor->cpu) == 3 ? tlb->user : tlb->supervisor;
    }
    if ((linear & (PAGE_SIZE - 1)) > PAGE_SIZE - size)
        return false;                /* crosses a page: slow path */
    const struct tlb_entry *entry = &table[(linear >> PAGE_SHIFT) % TLB_ENTRIES];
    if ((write ? entry->write_tag : entry->read_tag) != linear >> PAGE_SHIFT)
        return false;                /* TLB miss */
    *host = entry->host + (linear & (PAGE_SIZE - 1));
    return true;
}

/* The slow paths: everything the fast path does not take (system.h applies
 * all the rules and raises the faults). Out of line, so that the inline
 * fast paths below stay small where they are used. */
static __attribute__((noinline, unused)) uint32_t memory_read_slow(struct x86_executor *executor,
                                                                  int segment, uint32_t offset,
                                                                  unsigned size)
{
    if (size == 4)
        return x86_read32(executor->emulator, segment, offset);
    if (size == 2)
        return x86_read16(executor->emulator, segment, offset);
    return x86_read8(executor->emulator, segment, offset);
}

static __attribute__((noinline, unused)) void memory_write_slow(struct x86_executor *executor,
                                                               int segment, uint32_t offset,
                                                               unsigned size, uint32_t value)
{
    if (size == 4)
        x86_write32(executor->emulator, segment, offset, value);
    else if (size == 2)
        x86_write16(executor->emulator, segment, offset, (uint16_t)value);
    else
        x86_write8(executor->emulator, segment, offset, (uint8_t)value);
}

/* Always inlined: the size is nearly always a constant at the call, and
 * the checks of fast_pointer then fold to a few instructions. */
static inline __attribute__((always_inline)) uint32_t memory_read(struct x86_executor *executor,
                                                                  int segment, uint32_t offset,
                                                                  unsigned size)
{
    uint8_t *host;
    if (__builtin_expect(fast_pointer(executor, segment, offset, size, false, &host), 1)) {
        if (size == 4) { uint32_t v; memcpy(&v, host, 4); return v; }
        if (size == 2) { uint16_t v; memcpy(&v, host, 2); return v; }
        return *host;
    }
    return memory_read_slow(executor, segment, offset, size);
}

static inline __attribute__((always_inline)) void memory_write(struct x86_executor *executor,
                                                               int segment, uint32_t offset,
                                                               unsigned size, uint32_t value)
{
    uint8_t *host;
    if (__builtin_expect(fast_pointer(executor, segment, offset, size, true, &host), 1)) {
        if (size == 4) { uint32_t v = value; memcpy(host, &v, 4); }
        else if (size == 2) { uint16_t v = (uint16_t)value; memcpy(host, &v, 2); }
        else *host = (uint8_t)value;
        return;
    }
    memory_write_slow(executor, segment, offset, size, value);
}

/*
 * The memory operand of a read-modify-write instruction is read with write
 * intent: if it faults, the CPU reports a write (#PF error code W/R = 1,
 * SDM vol. 3, 4.7; #GP for a read-only segment) even though the read comes
 * first - as the host CPU does (found by tests/diff). A TLB hit for writing
 * means no fault is possible.
 */
static inline __attribute__((always_inline)) uint32_t
memory_read_for_update(struct x86_executor *executor, int segment, uint32_t offset, unsigned size)
{
    uint8_t *host;
    if (!fast_pointer(executor, segment, offset, size, true, &host))
        x86_check_write(executor->emulator, segment, offset, size);
    return memory_read(executor, segment, offset, size);
}

#endif
