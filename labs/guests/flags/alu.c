/*
 * alu.c - add, adc, sub, sbb, cmp, and, or, xor, test, neg, inc, dec.
 *
 * Intel SDM vol. 2: the add/sub family defines all six arithmetic flags;
 * AND/OR/XOR/TEST clear OF and CF and leave AF undefined; INC/DEC leave CF
 * untouched; NEG sets CF unless the operand is 0.
 */
#include "flags.h"

/* Two-operand instructions at 8, 16 and 32 bits, register to register. */
#define DEFINE_BINARY(op)                                                          \
    static uint32_t op##8(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)      \
    {                                                                              \
        uint8_t d = a; (void)r2;                                                   \
        asm(WITH_FLAGS(#op "b %[s], %[d]")                                         \
            : [d] "+q"(d), [f] "+r"(*fl) : [s] "q"((uint8_t)b) : "cc");            \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint16_t d = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "w %[s], %[d]")                                         \
            : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"((uint16_t)b) : "cc");           \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint32_t d = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "l %[s], %[d]")                                         \
            : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"(b) : "cc");                     \
        return d;                                                                  \
    }

/* One-operand instructions; b is ignored. */
#define DEFINE_UNARY(op)                                                           \
    static uint32_t op##8(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)      \
    {                                                                              \
        uint8_t d = a; (void)b; (void)r2;                                          \
        asm(WITH_FLAGS(#op "b %[d]") : [d] "+q"(d), [f] "+r"(*fl) : : "cc");       \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint16_t d = a; (void)b; (void)r2;                                         \
        asm(WITH_FLAGS(#op "w %[d]") : [d] "+r"(d), [f] "+r"(*fl) : : "cc");       \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint32_t d = a; (void)b; (void)r2;                                         \
        asm(WITH_FLAGS(#op "l %[d]") : [d] "+r"(d), [f] "+r"(*fl) : : "cc");       \
        return d;                                                                  \
    }

DEFINE_BINARY(add) DEFINE_BINARY(adc) DEFINE_BINARY(sub) DEFINE_BINARY(sbb)
DEFINE_BINARY(cmp) DEFINE_BINARY(and) DEFINE_BINARY(or) DEFINE_BINARY(xor)
DEFINE_BINARY(test)
DEFINE_UNARY(neg) DEFINE_UNARY(inc) DEFINE_UNARY(dec) DEFINE_UNARY(not)

static void family(const char *name, op_fn f8, op_fn f16, op_fn f32, uint32_t defined)
{
    family_begin(name);
    run_pairs("8", f8, defined);
    run_pairs("16", f16, defined);
    run_pairs("32", f32, defined);
    family_end();
}

/* The whole family of an instruction: its 8-, 16- and 32-bit forms. */
#define FAMILY(op, defined) family(#op, op##8, op##16, op##32, defined)

void test_alu(void)
{
    FAMILY(add, FL_ARITH);
    FAMILY(adc, FL_ARITH);
    FAMILY(sub, FL_ARITH);
    FAMILY(sbb, FL_ARITH);
    FAMILY(cmp, FL_ARITH);
    FAMILY(and, FL_ARITH & ~FL_AF);     /* SDM AND: "AF is undefined" */
    FAMILY(or, FL_ARITH & ~FL_AF);
    FAMILY(xor, FL_ARITH & ~FL_AF);
    FAMILY(test, FL_ARITH & ~FL_AF);
    FAMILY(neg, FL_ARITH);
    FAMILY(inc, FL_ARITH);
    FAMILY(dec, FL_ARITH);
    FAMILY(not, FL_ARITH);              /* NOT affects no flags at all */
}
