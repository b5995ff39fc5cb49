/*
 * atomics.c - xadd, cmpxchg, cmpxchg8b and xchg.
 *
 * Intel SDM vol. 2: XADD sets the flags like ADD; CMPXCHG like CMP of the
 * accumulator with the destination, then stores the source if they were
 * equal and loads the accumulator otherwise; CMPXCHG8B changes only ZF;
 * XCHG changes no flag.
 */
#include "flags.h"

#define DEFINE_XADD(bits, type, suffix, cons)                                      \
    static uint32_t xadd##bits(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {                                                                              \
        type d = a, s = b;                                                         \
        asm(WITH_FLAGS("xadd" suffix " %[s], %[d]")                                \
            : [d] "+" cons(d), [s] "+" cons(s), [f] "+r"(*fl) : : "cc");           \
        *r2 = s;                                                                   \
        return d;                                                                  \
    }
DEFINE_XADD(8, uint8_t, "b", "q") DEFINE_XADD(16, uint16_t, "w", "r") DEFINE_XADD(32, uint32_t, "l", "r")

/* cmpxchg: accumulator a, destination b, source 0x5a5a5a5a. */
#define DEFINE_CMPXCHG(bits, type, suffix, cons)                                   \
    static uint32_t cmpxchg##bits(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {                                                                              \
        type acc = a, d = b;                                                       \
        asm(WITH_FLAGS("cmpxchg" suffix " %[s], %[d]")                             \
            : "+a"(acc), [d] "+" cons(d), [f] "+r"(*fl) : [s] cons((type)0x5a5a5a5a) : "cc"); \
        *r2 = d;                                                                   \
        return acc;                                                                \
    }
DEFINE_CMPXCHG(8, uint8_t, "b", "q") DEFINE_CMPXCHG(16, uint16_t, "w", "r") DEFINE_CMPXCHG(32, uint32_t, "l", "r")

/* cmpxchg8b: EDX:EAX = a:b against memory = a:(a or b), ECX:EBX = ~b:~a. */
static uint32_t cmpxchg8b(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint32_t mem[2] = { (b & 1) ? a : b, a };    /* odd b: usually not equal */
    uint32_t eax = b, edx = a;
    asm(WITH_FLAGS("cmpxchg8b %[m]")
        : "+a"(eax), "+d"(edx), [m] "+m"(mem), [f] "+r"(*fl)
        : "b"(~a), "c"(~b) : "cc", "memory");
    *r2 = hash_word(hash_word(mem[0], mem[1]), edx);
    return eax;
}

#define DEFINE_XCHG(bits, type, suffix, cons)                                      \
    static uint32_t xchg##bits(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {                                                                              \
        type d = a, s = b;                                                         \
        asm(WITH_FLAGS("xchg" suffix " %[s], %[d]")                                \
            : [d] "+" cons(d), [s] "+" cons(s), [f] "+r"(*fl) : : "cc");           \
        *r2 = s;                                                                   \
        return d;                                                                  \
    }
DEFINE_XCHG(8, uint8_t, "b", "q") DEFINE_XCHG(16, uint16_t, "w", "r") DEFINE_XCHG(32, uint32_t, "l", "r")

/* xchg with memory (implicitly locked, SDM XCHG) and the one-byte
 * 90+r form with EAX. */
static uint32_t xchg_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint32_t m = b;
    asm(WITH_FLAGS("xchgl %[d], %[m]") : [d] "+r"(a), [m] "+m"(m), [f] "+r"(*fl) : : "cc");
    *r2 = m;
    return a;
}

static uint32_t xchg_eax(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    asm(WITH_FLAGS(".byte 0x93") : "+a"(a), "+b"(b), [f] "+r"(*fl) : : "cc");  /* xchg eax, ebx */
    *r2 = b;
    return a;
}

void test_atomics(void)
{
    family_begin("xadd");
    run_pairs("8", xadd8, FL_ARITH);
    run_pairs("16", xadd16, FL_ARITH);
    run_pairs("32", xadd32, FL_ARITH);
    family_end();
    family_begin("cmpxchg");
    run_pairs("8", cmpxchg8, FL_ARITH);
    run_pairs("16", cmpxchg16, FL_ARITH);
    run_pairs("32", cmpxchg32, FL_ARITH);
    family_end();
    family_begin("cmpxchg8b");
    run_pairs("64", cmpxchg8b, FL_ARITH);
    family_end();
    family_begin("xchg");
    run_pairs("8", xchg8, FL_ARITH);
    run_pairs("16", xchg16, FL_ARITH);
    run_pairs("32", xchg32, FL_ARITH);
    run_pairs("mem", xchg_mem, FL_ARITH);
    run_pairs("eax", xchg_eax, FL_ARITH);
    family_end();
}
