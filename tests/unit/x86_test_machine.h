/*
 * x86_test_machine.h - the small machine the core/x86 unit tests run on:
 * 8 MiB of RAM over calloc'd memory, flat protected mode, paging off, and
 * a jmp_buf that catches x86_raise(). Included by one test file at a time
 * (the statics below are that file's own).
 */
#ifndef VMLAB_X86_TEST_MACHINE_H
#define VMLAB_X86_TEST_MACHINE_H

#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/x86/system.h"

#define RAM_SIZE (8u << 20)

struct machine {
    struct cpu cpu;
    struct guest_ram ram;
    struct bus bus;
    struct emulator emulator;
    jmp_buf fault;
};

static struct machine *m;
static struct emulator *e;

static inline void machine_create(void)
{
    m = calloc(1, sizeof *m);
    m->ram.size = RAM_SIZE;
    m->ram.host = calloc(1, RAM_SIZE);
    m->ram.page_flags = calloc(RAM_SIZE / PAGE_SIZE, 1);
    cpu_reset_to_flat_protected_mode(&m->cpu);
    e = &m->emulator;
    e->cpu = &m->cpu;
    e->ram = &m->ram;
    e->bus = &m->bus;
    e->fault = &m->fault;
    x86_tlb_flush_all(e);
}

static inline void machine_destroy(void)
{
    free(m->ram.host);
    free(m->ram.page_flags);
    free(m);
}

static inline uint32_t ram32(uint32_t physical)
{
    uint32_t value;
    memcpy(&value, m->ram.host + physical, 4);
    return value;
}

static inline uint16_t ram16(uint32_t physical)
{
    uint16_t value;
    memcpy(&value, m->ram.host + physical, 2);
    return value;
}

static inline void set_ram32(uint32_t physical, uint32_t value)
{
    memcpy(m->ram.host + physical, &value, 4);
}

/* xorshift32 (Marsaglia 2003) for the randomized tests: a fixed seed makes
 * every failure reproducible. */
static inline uint32_t next_random(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

/* The architectural state a faulting or shut-down transfer must leave as it
 * was: every segment register with its cache, the general registers, EIP,
 * EFLAGS, LDTR, TR and the interrupt shadow. */
static inline bool same_registers(const struct cpu *a, const struct cpu *b)
{
    for (int s = 0; s < SEG_COUNT; s++) {
        const struct segment *x = &a->segments[s], *y = &b->segments[s];
        if (x->selector != y->selector || x->base != y->base || x->limit != y->limit ||
            x->attributes != y->attributes)
            return false;
    }
    return memcmp(a->regs, b->regs, sizeof a->regs) == 0 && a->eip == b->eip &&
           a->eflags == b->eflags && a->ldtr.selector == b->ldtr.selector &&
           a->ldtr.attributes == b->ldtr.attributes && a->tr.selector == b->tr.selector &&
           a->tr.attributes == b->tr.attributes && a->interrupt_shadow == b->interrupt_shadow;
}

/* Runs stmt and fails the test if it faults. */
#define NO_FAULT(stmt)                                                                  \
    do {                                                                                \
        if (setjmp(m->fault) == 0) {                                                    \
            stmt;                                                                       \
        } else {                                                                        \
            cr_assert_fail("unexpected fault: vector %d error 0x%x", e->fault_vector,   \
                           e->fault_error_code);                                        \
        }                                                                               \
    } while (0)

/* Runs stmt and checks that it raises vector(error). */
#define EXPECT_FAULT(stmt, vector, error)                                               \
    do {                                                                                \
        if (setjmp(m->fault) == 0) {                                                    \
            stmt;                                                                       \
            cr_assert_fail("no fault from " #stmt);                                     \
        }                                                                               \
        cr_assert_eq(e->fault_vector, (vector), "vector %d, expected %d", e->fault_vector, \
                     (vector));                                                         \
        cr_assert_eq(e->fault_error_code, (uint32_t)(error), "error 0x%x, expected 0x%x", \
                     e->fault_error_code, (uint32_t)(error));                           \
    } while (0)

#endif
