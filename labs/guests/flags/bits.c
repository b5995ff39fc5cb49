/*
 * bits.c - bsf, bsr, bt, bts, btr, btc, bswap.
 *
 * Intel SDM vol. 2: BSF/BSR define only ZF (set when the source is 0, and
 * then the destination is undefined). BT/BTS/BTR/BTC copy the selected bit
 * to CF, leave ZF unchanged and OF, SF, AF, PF undefined; with a register
 * bit offset the offset is taken modulo the operand size, except for a
 * memory operand, where it addresses a bit string (-2^31 .. 2^31-1 bits).
 */
#include "flags.h"

#define DEFINE_SCAN(op)                                                            \
    static uint32_t op##16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint16_t d = 0x5a5a; (void)b; (void)r2;                                    \
        asm(WITH_FLAGS(#op "w %[s], %[d]") : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"((uint16_t)a) : "cc"); \
        return (uint16_t)a ? d : 0;     /* undefined for a zero source */         \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint32_t d = 0x5a5a5a5a; (void)b; (void)r2;                                \
        asm(WITH_FLAGS(#op "l %[s], %[d]") : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"(a) : "cc"); \
        return a ? d : 0;                                                          \
    }

DEFINE_SCAN(bsf) DEFINE_SCAN(bsr)

/* Register forms: bit b of a, b modulo 16 or 32. */
#define DEFINE_BITTEST(op)                                                         \
    static uint32_t op##16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint16_t d = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "w %[s], %[d]") : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"((uint16_t)b) : "cc"); \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint32_t d = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "l %[s], %[d]") : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"(b) : "cc"); \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {                                                                              \
        uint32_t words[5] = { ~a, a, a ^ 0x0ff00ff0, ~a, a };                      \
        asm(WITH_FLAGS(#op "l %[s], %[m]")                                         \
            : [m] "+m"(words[2]), [f] "+r"(*fl) : [s] "r"(b) : "cc", "memory");   \
        uint32_t h = HASH_INIT;                                                    \
        for (int i = 0; i < 5; i++)                                                \
            h = hash_word(h, words[i]);                                            \
        *r2 = h;                                                                   \
        return words[2];                                                           \
    }

DEFINE_BITTEST(bt) DEFINE_BITTEST(bts) DEFINE_BITTEST(btr) DEFINE_BITTEST(btc)

#define BT_DEFINED (FL_CF | FL_ZF)

static void family(const char *name, op_fn f16, op_fn f32, op_fn fmem, uint32_t defined)
{
    family_begin(name);
    run_pairs("16", f16, defined);
    run_pairs("32", f32, defined);
    if (fmem) {
        /* Bit offsets reaching the neighbouring words of a 5-word string. */
        static const int32_t offsets[] = { 0, 5, 31, 32, 63, -1, -32, -33, 95 };
        for (unsigned i = 0; i < sizeof offsets / sizeof offsets[0]; i++)
            for (int k = 0; k < N_FLAG_INPUTS; k++) {
                uint32_t fl = flag_inputs[k], r2 = 0;
                uint32_t r = fmem(0x12345678, (uint32_t)offsets[i], &fl, &r2);
                family_case("mem", 0x12345678, (uint32_t)offsets[i], flag_inputs[k],
                            r, r2, fl & defined);
            }
    }
    family_end();
}

static uint32_t bswap32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    (void)b; (void)r2;
    asm(WITH_FLAGS("bswap %[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc");
    return a;
}

void test_bits(void)
{
    family("bsf", bsf16, bsf32, 0, FL_ZF);
    family("bsr", bsr16, bsr32, 0, FL_ZF);
    family("bt", bt16, bt32, bt_mem, BT_DEFINED);
    family("bts", bts16, bts32, bts_mem, BT_DEFINED);
    family("btr", btr16, btr32, btr_mem, BT_DEFINED);
    family("btc", btc16, btc32, btc_mem, BT_DEFINED);
    family_begin("bswap");
    run_pairs("32", bswap32, FL_ARITH);     /* BSWAP affects no flags */
    family_end();
}
