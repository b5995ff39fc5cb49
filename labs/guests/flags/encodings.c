/*
 * encodings.c - the same operations through their other encodings (Intel
 * SDM vol. 2, appendix A opcode map): immediate forms (opcode 80, 81 and the
 * sign-extended imm8 of 83), the short accumulator forms (04, 05), memory
 * destinations and sources (00-03 with a memory ModR/M, read-modify-write),
 * shifts by 1 (D0/D1) and by an immediate (C0/C1), and one-operand
 * instructions on memory (F6/F7, FE/FF), bit tests and double shifts with
 * immediates (0F BA, 0F A4, 0F AC). A decoder handles each path
 * separately, so each gets its own cases.
 */
#include "flags.h"

/* One function per (operation, form); `a` is the destination, `b` the
 * register source where the form has one. */
#define DEFINE_FORMS(op)                                                           \
    static uint32_t op##_imm8(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)  \
    {   /* 83 /r ib: -2 sign-extended to 0xfffffffe */                             \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "l $-2, %[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc");  \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_imm32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {   /* 81 /r id */                                                             \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "l $0x80000001, %[d]") : [d] "+b"(a), [f] "+r"(*fl) : : "cc"); \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_eax(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {   /* 05 id: the accumulator short form */                                    \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "l $0x00012345, %%eax") : "+a"(a), [f] "+r"(*fl) : : "cc"); \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_al(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)    \
    {   /* 04 ib */                                                                \
        uint8_t d = a; (void)b; (void)r2;                                          \
        asm(WITH_FLAGS(#op "b $0x81, %%al") : "+a"(d), [f] "+r"(*fl) : : "cc");    \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##_ax(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)    \
    {   /* 66 05 iw */                                                             \
        uint16_t d = a; (void)b; (void)r2;                                         \
        asm(WITH_FLAGS(#op "w $0x8001, %%ax") : "+a"(d), [f] "+r"(*fl) : : "cc");  \
        return d;                                                                  \
    }                                                                              \
    static uint32_t op##_memdst(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {   /* 01 /r with a memory destination */                                      \
        uint32_t m = a; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "l %[s], %[m]") : [m] "+m"(m), [f] "+r"(*fl) : [s] "r"(b) : "cc"); \
        return m;                                                                  \
    }                                                                              \
    static uint32_t op##_memsrc(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {   /* 03 /r with a memory source */                                           \
        uint32_t m = b; (void)r2;                                                  \
        asm(WITH_FLAGS(#op "l %[m], %[d]") : [d] "+r"(a), [f] "+r"(*fl) : [m] "m"(m) : "cc"); \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_memimm(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {   /* 80 /r ib on a memory byte */                                            \
        uint8_t m = a; (void)b; (void)r2;                                          \
        asm(WITH_FLAGS(#op "b $0x7f, %[m]") : [m] "+m"(m), [f] "+r"(*fl) : : "cc"); \
        return m;                                                                  \
    }                                                                              \
    static void op##_forms(uint32_t defined)                                       \
    {                                                                              \
        run_single(#op "-imm8", op##_imm8, defined);                               \
        run_single(#op "-imm32", op##_imm32, defined);                             \
        run_single(#op "-eax", op##_eax, defined);                                 \
        run_single(#op "-al", op##_al, defined);                                   \
        run_single(#op "-ax", op##_ax, defined);                                   \
        run_pairs(#op "-memdst", op##_memdst, defined);                            \
        run_pairs(#op "-memsrc", op##_memsrc, defined);                            \
        run_single(#op "-memimm", op##_memimm, defined);                           \
    }

DEFINE_FORMS(add) DEFINE_FORMS(adc) DEFINE_FORMS(sub) DEFINE_FORMS(sbb)
DEFINE_FORMS(cmp) DEFINE_FORMS(and) DEFINE_FORMS(or) DEFINE_FORMS(xor)

/* Shift forms: by 1 (D1), by immediates 4 and 31 (C1), by CL on memory
 * (D3), and a byte in memory by 1 (D0). */
#define DEFINE_SHIFT_FORMS(op, kind)                                               \
    static uint32_t op##_by1(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {                                                                              \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "l %[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc");       \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_by4(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {                                                                              \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "l $4, %[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc");   \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_by31(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)  \
    {                                                                              \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "w $31, %w[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc"); \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_memcl(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {                                                                              \
        uint32_t m = a; (void)b; (void)r2;                                         \
        asm(WITH_FLAGS(#op "l %%cl, %[m]") : [m] "+m"(m), [f] "+r"(*fl) : "c"(7) : "cc"); \
        return m;                                                                  \
    }                                                                              \
    static uint32_t op##_mem1(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)  \
    {                                                                              \
        uint8_t m = a; (void)b; (void)r2;                                          \
        asm(WITH_FLAGS(#op "b %[m]") : [m] "+m"(m), [f] "+r"(*fl) : : "cc");       \
        return m;                                                                  \
    }                                                                              \
    static void op##_forms(void)                                                   \
    {                                                                              \
        run_single(#op "-1", op##_by1, shift_defined_flags(kind, 32, 1));          \
        run_single(#op "-4", op##_by4, shift_defined_flags(kind, 32, 4));          \
        run_single(#op "-w31", op##_by31, shift_defined_flags(kind, 16, 31));      \
        run_single(#op "-memcl", op##_memcl, shift_defined_flags(kind, 32, 7));    \
        run_single(#op "-mem1", op##_mem1, shift_defined_flags(kind, 8, 1));       \
    }

DEFINE_SHIFT_FORMS(shl, SHIFT) DEFINE_SHIFT_FORMS(shr, SHIFT) DEFINE_SHIFT_FORMS(sar, SHIFT_SAR)
DEFINE_SHIFT_FORMS(rol, ROTATE) DEFINE_SHIFT_FORMS(ror, ROTATE)
DEFINE_SHIFT_FORMS(rcl, ROTATE_CARRY) DEFINE_SHIFT_FORMS(rcr, ROTATE_CARRY)

/* One-operand instructions on a memory dword. */
#define DEFINE_MEM_UNARY(op)                                                       \
    static uint32_t op##_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {                                                                              \
        uint32_t m = a; (void)b; (void)r2;                                         \
        asm(WITH_FLAGS(#op "l %[m]") : [m] "+m"(m), [f] "+r"(*fl) : : "cc");       \
        return m;                                                                  \
    }
DEFINE_MEM_UNARY(inc) DEFINE_MEM_UNARY(dec) DEFINE_MEM_UNARY(neg) DEFINE_MEM_UNARY(not)

/* mul and imul with a memory source (F7 /4, F7 /5). */
static uint32_t mul_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint32_t m = b;
    asm(WITH_FLAGS("mull %[m]") : "+a"(a), "=d"(*r2), [f] "+r"(*fl) : [m] "m"(m) : "cc");
    return a;
}

static uint32_t imul_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint32_t m = b;
    asm(WITH_FLAGS("imull %[m]") : "+a"(a), "=d"(*r2), [f] "+r"(*fl) : [m] "m"(m) : "cc");
    return a;
}

/* BT/BTS/BTR/BTC with an immediate bit offset (0F BA /4-/7 ib): the offset
 * is taken modulo the operand size even for a memory operand (SDM BT), so
 * 37 selects bit 5. */
#define DEFINE_BIT_IMM(op)                                                         \
    static uint32_t op##_imm(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {                                                                              \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "l $5, %[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc");   \
        return a;                                                                  \
    }                                                                              \
    static uint32_t op##_memimm(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2) \
    {                                                                              \
        uint32_t m[2] = { a, ~a }; (void)b;                                        \
        asm(WITH_FLAGS(#op "l $37, %[m]") : [m] "+m"(m[0]), [f] "+r"(*fl) : : "cc", "memory"); \
        *r2 = m[1];                                                                \
        return m[0];                                                               \
    }                                                                              \
    static uint32_t op##_w15(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)   \
    {                                                                              \
        (void)b; (void)r2;                                                         \
        asm(WITH_FLAGS(#op "w $15, %w[d]") : [d] "+r"(a), [f] "+r"(*fl) : : "cc"); \
        return a;                                                                  \
    }                                                                              \
    static void op##_forms(void)                                                   \
    {                                                                              \
        run_single(#op "-imm", op##_imm, FL_CF | FL_ZF);                           \
        run_single(#op "-memimm", op##_memimm, FL_CF | FL_ZF);                     \
        run_single(#op "-w15", op##_w15, FL_CF | FL_ZF);                           \
    }
DEFINE_BIT_IMM(bt) DEFINE_BIT_IMM(bts) DEFINE_BIT_IMM(btr) DEFINE_BIT_IMM(btc)

/* SHLD/SHRD with an immediate count (0F A4 / 0F AC ib). Count 4: OF and AF
 * undefined (SDM SHLD). */
static uint32_t shld_imm(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    (void)r2;
    asm(WITH_FLAGS("shldl $4, %[s], %[d]") : [d] "+r"(a), [f] "+r"(*fl) : [s] "r"(b) : "cc");
    return a;
}

static uint32_t shrd_imm(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    (void)r2;
    asm(WITH_FLAGS("shrdl $4, %[s], %[d]") : [d] "+r"(a), [f] "+r"(*fl) : [s] "r"(b) : "cc");
    return a;
}

void test_encodings(void)
{
    family_begin("alu-encodings");
    add_forms(FL_ARITH);
    adc_forms(FL_ARITH);
    sub_forms(FL_ARITH);
    sbb_forms(FL_ARITH);
    cmp_forms(FL_ARITH);
    and_forms(FL_ARITH & ~FL_AF);
    or_forms(FL_ARITH & ~FL_AF);
    xor_forms(FL_ARITH & ~FL_AF);
    family_end();

    family_begin("shift-encodings");
    shl_forms();
    shr_forms();
    sar_forms();
    rol_forms();
    ror_forms();
    rcl_forms();
    rcr_forms();
    family_end();

    family_begin("bit-encodings");
    bt_forms();
    bts_forms();
    btr_forms();
    btc_forms();
    run_pairs("shld-imm", shld_imm, FL_ARITH & ~(FL_OF | FL_AF));
    run_pairs("shrd-imm", shrd_imm, FL_ARITH & ~(FL_OF | FL_AF));
    family_end();

    family_begin("memory-operands");
    run_single("inc-mem", inc_mem, FL_ARITH);
    run_single("dec-mem", dec_mem, FL_ARITH);
    run_single("neg-mem", neg_mem, FL_ARITH);
    run_single("not-mem", not_mem, FL_ARITH);
    run_pairs("mul-mem", mul_mem, FL_CF | FL_OF);
    run_pairs("imul-mem", imul_mem, FL_CF | FL_OF);
    family_end();
}
