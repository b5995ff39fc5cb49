/*
 * shift.c - shl, shr, sar, rol, ror, rcl, rcr (count in CL) and shld, shrd.
 *
 * Intel SDM vol. 2, SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR, SHLD, SHRD:
 *  - the count is masked to 5 bits; a masked count of 0 changes no flag;
 *  - OF is defined only for 1-bit shifts and rotates;
 *  - AF is undefined after any shift with a non-zero count;
 *  - SHL/SHR leave CF undefined when the count is >= the operand size;
 *  - rotates touch only CF and OF; RCL/RCR rotate through CF by count
 *    modulo 9 (8-bit) or 17 (16-bit), and a zero rotation changes nothing;
 *  - SHLD/SHRD with a count greater than the operand size leave the result
 *    and all flags undefined.
 */
#include "flags.h"

#define DEFINE_SHIFT(op)                                                           \
    static uint32_t op##8(uint32_t a, uint32_t n, uint32_t *fl, uint32_t *r2)      \
    {                                                                              \
        uint8_t d = a; (void)r2;                                                   \
        asm(WITH_FLAGS(#op "b %%cl, %[d]")                                         \
            : [d] "+q"(d), [f] "+r"(*fl) : "c"(n) : "cc");                         \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##16(uint32_t a, uint32_t n, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint16_t d = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "w %%cl, %[d]")                                         \
            : [d] "+r"(d), [f] "+r"(*fl) : "c"(n) : "cc");                         \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t n, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint32_t d = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "l %%cl, %[d]")                                         \
            : [d] "+r"(d), [f] "+r"(*fl) : "c"(n) : "cc");                         \
        return d;                                                                  \
    }

DEFINE_SHIFT(shl) DEFINE_SHIFT(shr) DEFINE_SHIFT(sar)
DEFINE_SHIFT(rol) DEFINE_SHIFT(ror) DEFINE_SHIFT(rcl) DEFINE_SHIFT(rcr)

uint32_t shift_defined_flags(enum shift_kind kind, int bits, uint32_t count)
{
    uint32_t n = count & 31;
    if (kind == ROTATE_CARRY)
        n = bits == 8 ? n % 9 : bits == 16 ? n % 17 : n;
    if (n == 0)
        return FL_ARITH;                /* nothing changes: all flags are known */
    uint32_t defined = kind >= ROTATE ? FL_CF | FL_OF : FL_ARITH & ~FL_AF;
    if (kind == ROTATE)
        defined |= FL_ARITH & ~(FL_CF | FL_OF);     /* untouched, so known */
    if (kind == ROTATE_CARRY)
        defined = FL_ARITH;
    if ((count & 31) != 1)
        defined &= ~FL_OF;
    if (kind == SHIFT && n >= (uint32_t)bits)
        defined &= ~FL_CF;
    return defined;
}

static void family(const char *name, enum shift_kind kind, op_fn f8, op_fn f16, op_fn f32)
{
    static const int sizes[3] = { 8, 16, 32 };
    op_fn fns[3] = { f8, f16, f32 };
    family_begin(name);
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < N_OPERANDS; i++)
            for (int c = 0; c < N_COUNTS; c++)
                for (int k = 0; k < N_FLAG_INPUTS; k++) {
                    uint32_t fl = flag_inputs[k], r2 = 0;
                    uint32_t r = fns[s](operands[i], shift_counts[c], &fl, &r2);
                    uint32_t defined = shift_defined_flags(kind, sizes[s], shift_counts[c]);
                    family_case(sizes[s] == 8 ? "8" : sizes[s] == 16 ? "16" : "32",
                                operands[i], shift_counts[c], flag_inputs[k],
                                r, 0, fl & defined);
                }
    family_end();
}

#define FAMILY(op, kind) family(#op, kind, op##8, op##16, op##32)

/* Double-precision shifts: dest a, source b, count n (16 and 32 bits). */
#define DEFINE_DOUBLE(op)                                                          \
    static uint32_t op##16(uint32_t a, uint32_t b, uint32_t n, uint32_t *fl)       \
    {                                                                              \
        uint16_t d = a;                                                            \
        asm(WITH_FLAGS(#op "w %%cl, %[s], %[d]")                                   \
            : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"((uint16_t)b), "c"(n) : "cc");   \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t b, uint32_t n, uint32_t *fl)       \
    {                                                                              \
        uint32_t d = a;                                                            \
        asm(WITH_FLAGS(#op "l %%cl, %[s], %[d]")                                   \
            : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"(b), "c"(n) : "cc");             \
        return d;                                                                  \
    }

DEFINE_DOUBLE(shld) DEFINE_DOUBLE(shrd)

typedef uint32_t (*double_fn)(uint32_t a, uint32_t b, uint32_t n, uint32_t *fl);

static void double_family(const char *name, double_fn f16, double_fn f32)
{
    family_begin(name);
    for (int bits = 16; bits <= 32; bits += 16)
        for (int i = 0; i < N_OPERANDS; i++)
            for (int j = 0; j < N_OPERANDS; j++)
                for (int c = 0; c < N_COUNTS; c++) {
                    uint32_t n = shift_counts[c] & 31, fl = FL_ARITH;
                    uint32_t r = (bits == 16 ? f16 : f32)(operands[i], operands[j], n, &fl);
                    uint32_t defined = n == 0 ? FL_ARITH : (FL_ARITH & ~FL_AF);
                    if (n != 1)
                        defined &= ~FL_OF;
                    if (n > (uint32_t)bits) {      /* result and flags undefined */
                        defined = 0;
                        r = 0;
                    }
                    family_case(bits == 16 ? "16" : "32", operands[i], operands[j],
                                shift_counts[c], r, 0, fl & defined);
                }
    family_end();
}

void test_shifts(void)
{
    FAMILY(shl, SHIFT);
    FAMILY(shr, SHIFT);
    FAMILY(sar, SHIFT_SAR);
    FAMILY(rol, ROTATE);
    FAMILY(ror, ROTATE);
    FAMILY(rcl, ROTATE_CARRY);
    FAMILY(rcr, ROTATE_CARRY);
    double_family("shld", shld16, shld32);
    double_family("shrd", shrd16, shrd32);
}
