/*
 * muldiv.c - mul, imul (one, two and three operands), div, idiv.
 *
 * Intel SDM vol. 2, MUL/IMUL: CF = OF = "the upper half is significant";
 * SF, ZF, AF and PF are undefined. DIV/IDIV: every flag is undefined, and a
 * quotient too large for the destination (or a zero divisor) raises #DE
 * instead (SDM vol. 3, 6.15, interrupt 0), which this test records too.
 */
#include "flags.h"

#define MUL_DEFINED (FL_CF | FL_OF)

/* One-operand forms: AL/AX/EAX times the source, into AX, DX:AX, EDX:EAX. */
#define DEFINE_WIDENING(op)                                                        \
    static uint32_t op##8(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)      \
    {                                                                              \
        uint16_t ax = (uint8_t)a; (void)r2;                                        \
        asm(WITH_FLAGS(#op "b %[s]") : "+a"(ax), [f] "+r"(*fl) : [s] "q"((uint8_t)b) : "cc"); \
        return ax;                                                                 \
    }                                                                              \
    static uint32_t op##16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint16_t ax = a, dx;                                                       \
        asm(WITH_FLAGS(#op "w %[s]")                                               \
            : "+a"(ax), "=d"(dx), [f] "+r"(*fl) : [s] "r"((uint16_t)b) : "cc");    \
        *r2 = dx;                                                                  \
        return ax;                                                                 \
    }                                                                              \
    static uint32_t op##32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)     \
    {                                                                              \
        uint32_t eax = a, edx;                                                     \
        asm(WITH_FLAGS(#op "l %[s]") : "+a"(eax), "=d"(edx), [f] "+r"(*fl) : [s] "r"(b) : "cc"); \
        *r2 = edx;                                                                 \
        return eax;                                                                \
    }

DEFINE_WIDENING(mul) DEFINE_WIDENING(imul)

/* Two-operand IMUL: the product truncated to the destination. */
static uint32_t imul2_16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint16_t d = a; (void)r2;
    asm(WITH_FLAGS("imulw %[s], %[d]") : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"((uint16_t)b) : "cc");
    return d;
}

static uint32_t imul2_32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint32_t d = a; (void)r2;
    asm(WITH_FLAGS("imull %[s], %[d]") : [d] "+r"(d), [f] "+r"(*fl) : [s] "r"(b) : "cc");
    return d;
}

/* Three-operand IMUL has an immediate multiplier, so b selects one of a few
 * encodings: imm8 (sign-extended, opcode 6B) and imm16/imm32 (opcode 69). */
static uint32_t imul3_16(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint16_t d, s = a; (void)r2;
    switch (b % 3) {
    case 0: asm(WITH_FLAGS("imulw $0x7f, %[s], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [s] "r"(s) : "cc"); break;
    case 1: asm(WITH_FLAGS("imulw $-2, %[s], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [s] "r"(s) : "cc"); break;
    default: asm(WITH_FLAGS("imulw $0x1234, %[s], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [s] "r"(s) : "cc"); break;
    }
    return d;
}

static uint32_t imul3_32(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint32_t d; (void)r2;
    switch (b % 3) {
    case 0: asm(WITH_FLAGS("imull $0x7f, %[s], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [s] "r"(a) : "cc"); break;
    case 1: asm(WITH_FLAGS("imull $-2, %[s], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [s] "r"(a) : "cc"); break;
    default: asm(WITH_FLAGS("imull $0x12345, %[s], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [s] "r"(a) : "cc"); break;
    }
    return d;
}

/*
 * Division: dividend hi:lo, divisor d. A #DE is caught by the library's trap
 * catch (lib/trap.c), which resumes at the local label 1 with the registers
 * as they were at the fault. Returns false if the instruction faulted.
 */
#define DEFINE_DIVIDE(op)                                                          \
    static bool op##8(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *q, uint32_t *r) \
    {                                                                              \
        uint16_t ax = (uint16_t)((hi & 0xff) << 8 | (lo & 0xff));                  \
        int before = last_trap.count;                                              \
        asm volatile("movl $1f, trap_resume_eip\n\t" #op "b %[s]\n1:"              \
                     : "+a"(ax) : [s] "q"((uint8_t)d) : "cc", "memory");           \
        trap_resume_eip = 0;                                                       \
        *q = ax & 0xff, *r = ax >> 8;                                              \
        return last_trap.count == before;                                          \
    }                                                                              \
    static bool op##16(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *q, uint32_t *r) \
    {                                                                              \
        uint16_t ax = lo, dx = hi;                                                 \
        int before = last_trap.count;                                              \
        asm volatile("movl $1f, trap_resume_eip\n\t" #op "w %[s]\n1:"              \
                     : "+a"(ax), "+d"(dx) : [s] "r"((uint16_t)d) : "cc", "memory"); \
        trap_resume_eip = 0;                                                       \
        *q = ax, *r = dx;                                                          \
        return last_trap.count == before;                                          \
    }                                                                              \
    static bool op##32(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *q, uint32_t *r) \
    {                                                                              \
        uint32_t eax = lo, edx = hi;                                               \
        int before = last_trap.count;                                              \
        asm volatile("movl $1f, trap_resume_eip\n\t" #op "l %[s]\n1:"              \
                     : "+a"(eax), "+d"(edx) : [s] "r"(d) : "cc", "memory");        \
        trap_resume_eip = 0;                                                       \
        *q = eax, *r = edx;                                                        \
        return last_trap.count == before;                                          \
    }

DEFINE_DIVIDE(div) DEFINE_DIVIDE(idiv)

/*
 * QEMU 7.2's idiv helpers divide the double-width dividend by the divisor in
 * host C; for the most negative dividend and a divisor of -1 the host's own
 * idiv traps and QEMU dies of SIGFPE instead of raising #DE in the guest.
 * Those two cases (16- and 32-bit) are left out so QEMU can be the reference.
 */
static bool qemu_crashes(const char *name, int size, uint32_t hi, uint32_t lo, uint32_t d)
{
    if (name[0] != 'i')
        return false;
    if (size == 1)
        return (hi & 0xffff) == 0x8000 && (lo & 0xffff) == 0 && (d & 0xffff) == 0xffff;
    return hi == 0x80000000 && lo == 0 && d == 0xffffffff;
}

typedef bool (*divide_fn)(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *q, uint32_t *r);

static void divide_family(const char *name, divide_fn f8, divide_fn f16, divide_fn f32)
{
    divide_fn fns[3] = { f8, f16, f32 };
    static const char *const sizes[3] = { "8", "16", "32" };
    family_begin(name);
    for (int s = 0; s < 3; s++)
        for (int h = 0; h < N_OPERANDS; h++)
            for (int l = 0; l < N_OPERANDS; l++)
                for (int d = 0; d < N_OPERANDS; d++) {
                    if (s > 0 && qemu_crashes(name, s, operands[h], operands[l], operands[d]))
                        continue;
                    uint32_t q = 0, r = 0;
                    bool ok = fns[s](operands[h], operands[l], operands[d], &q, &r);
                    if (!ok)                  /* record the #DE, not the registers */
                        q = 0xde, r = last_trap.vector;
                    family_case(sizes[s], operands[h], operands[l], operands[d], q, r, ok);
                }
    family_end();
}

static void family(const char *name, op_fn f8, op_fn f16, op_fn f32)
{
    family_begin(name);
    if (f8)
        run_pairs("8", f8, MUL_DEFINED);
    run_pairs("16", f16, MUL_DEFINED);
    run_pairs("32", f32, MUL_DEFINED);
    family_end();
}

void test_muldiv(void)
{
    family("mul", mul8, mul16, mul32);
    family("imul1", imul8, imul16, imul32);
    family("imul2", 0, imul2_16, imul2_32);
    family("imul3", 0, imul3_16, imul3_32);
    divide_family("div", div8, div16, div32);
    divide_family("idiv", idiv8, idiv16, idiv32);
}
