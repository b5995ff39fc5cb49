/*
 * flags.c - computing the arithmetic flags from a recorded operation.
 *
 * The rules are those of SDM vol. 1, 3.4.3.1 and appendix A, per operation:
 *   CF  unsigned carry out of (borrow into) the top bit;
 *   OF  signed overflow: the operands agree in sign and the result does not
 *       (ADD), or they differ and the result's sign differs from the
 *       destination's (SUB);
 *   AF  carry out of bit 3, i.e. bit 4 of operand1 ^ operand2 ^ result;
 *   SF, ZF, PF from the result.
 */
#include "flags.h"

#include "core/lab.h"

static bool carry_of(const struct lazy_flags *flags, uint32_t eflags)
{
    switch (flags->operation) {
    /* LAB 01: BEGIN CF of the add and subtract families */
    case FLAGS_ADD: return flags->result < flags->operand1;
    case FLAGS_ADC: return flags->result <= flags->operand1;
    case FLAGS_SUB: return flags->operand1 < flags->operand2;
    case FLAGS_SBB: return flags->operand1 <= flags->operand2;
    /* LAB 01: STUB
    case FLAGS_ADD: case FLAGS_ADC: case FLAGS_SUB: case FLAGS_SBB:
        LAB_NOT_IMPLEMENTED(1, "CF of ADD/ADC/SUB/SBB (core/x86/flags.c, carry_of)");
        return false;
       LAB 01: END */
    case FLAGS_LOGIC: return false;
    case FLAGS_INC:
    case FLAGS_DEC:
    case FLAGS_EXPLICIT: return flags->explicit_bits & EFLAGS_CF;
    default: return eflags & EFLAGS_CF;
    }
}

bool flags_carry(const struct lazy_flags *flags, uint32_t eflags)
{
    return carry_of(flags, eflags);
}

static bool overflow_of(const struct lazy_flags *flags)
{
    uint32_t sign = size_sign_bit(flags->size);
    uint32_t a = flags->operand1, b = flags->operand2, r = flags->result;
    switch (flags->operation) {
    /* LAB 01: BEGIN OF of the add and subtract families */
    case FLAGS_ADD:
    case FLAGS_ADC: return ((a ^ r) & (b ^ r)) & sign;
    case FLAGS_SUB:
    case FLAGS_SBB: return ((a ^ b) & (a ^ r)) & sign;
    /* LAB 01: STUB
    case FLAGS_ADD: case FLAGS_ADC: case FLAGS_SUB: case FLAGS_SBB:
        (void)a;
        (void)b;
        LAB_NOT_IMPLEMENTED(1, "OF of ADD/ADC/SUB/SBB (core/x86/flags.c, overflow_of)");
        return false;
       LAB 01: END */
    case FLAGS_INC: return r == sign;
    case FLAGS_DEC: return r == sign - 1;
    case FLAGS_EXPLICIT: return flags->explicit_bits & EFLAGS_OF;
    default: return false;
    }
}

static uint32_t adjust_of(const struct lazy_flags *flags)
{
    switch (flags->operation) {
    /* LAB 01: BEGIN AF of the add, subtract, increment and decrement families */
    case FLAGS_ADD: case FLAGS_ADC: case FLAGS_SUB: case FLAGS_SBB:
        return (flags->operand1 ^ flags->operand2 ^ flags->result) & EFLAGS_AF;
    case FLAGS_INC: return (flags->result & 0xf) == 0 ? EFLAGS_AF : 0;
    case FLAGS_DEC: return (flags->result & 0xf) == 0xf ? EFLAGS_AF : 0;
    /* LAB 01: STUB
    case FLAGS_ADD: case FLAGS_ADC: case FLAGS_SUB: case FLAGS_SBB:
    case FLAGS_INC: case FLAGS_DEC:
        LAB_NOT_IMPLEMENTED(1, "AF of ADD/ADC/SUB/SBB/INC/DEC (core/x86/flags.c, adjust_of)");
        return 0;
       LAB 01: END */
    case FLAGS_EXPLICIT: return flags->explicit_bits & EFLAGS_AF;
    default: return 0;   /* logic: AF undefined; Intel hardware clears it */
    }
}

uint32_t flags_compute(const struct lazy_flags *flags, uint32_t eflags)
{
    if (flags->operation == FLAGS_KNOWN)
        return eflags & EFLAGS_ARITHMETIC;
    uint32_t r = flags->result;
    uint32_t out = parity_flag(r) | adjust_of(flags);
    if (r == 0)
        out |= EFLAGS_ZF;
    if (r & size_sign_bit(flags->size))
        out |= EFLAGS_SF;
    if (carry_of(flags, eflags))
        out |= EFLAGS_CF;
    if (overflow_of(flags))
        out |= EFLAGS_OF;
    return out;
}

bool flags_condition_slow(const struct lazy_flags *flags, uint32_t eflags, unsigned condition)
{
    uint32_t f = flags_compute(flags, eflags);
    bool of = f & EFLAGS_OF, sf = f & EFLAGS_SF, zf = f & EFLAGS_ZF, cf = f & EFLAGS_CF;
    bool value;
    switch (condition >> 1) {
    case 0: value = of; break;
    case 1: value = cf; break;
    case 2: value = zf; break;
    case 3: value = cf || zf; break;
    case 4: value = sf; break;
    case 5: value = f & EFLAGS_PF; break;
    case 6: value = sf != of; break;
    default: value = zf || (sf != of); break;
    }
    return value ^ (condition & 1);
}
