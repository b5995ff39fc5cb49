/*
 * execute_alu.c - integer arithmetic and its flags (SDM vol. 2, per
 * instruction, and vol. 1, appendix A "EFLAGS cross-reference").
 *
 * Arithmetic is done on uint32_t (and uint64_t for double-width products) so
 * that wrap-around is defined C; signed views are taken only to compare.
 */
#include "execute_alu.h"

#include "decode.h"

static void record_explicit(struct lazy_flags *flags, unsigned size, uint32_t result,
                            bool carry, bool overflow)
{
    flags_record(flags, FLAGS_EXPLICIT, size, result, 0, 0);
    flags->explicit_bits = (carry ? EFLAGS_CF : 0) | (overflow ? EFLAGS_OF : 0);
}

/* Rotates change only CF and OF (SDM vol. 2, RCL/RCR/ROL/ROR). */
static void set_carry_overflow(struct lazy_flags *flags, uint32_t *eflags, bool carry,
                               bool overflow)
{
    flags_materialize(flags, eflags);
    *eflags &= ~(EFLAGS_CF | EFLAGS_OF);
    *eflags |= (carry ? EFLAGS_CF : 0) | (overflow ? EFLAGS_OF : 0);
}

static uint32_t rotate(struct lazy_flags *flags, uint32_t *eflags, unsigned operation,
                       unsigned size, uint32_t value, unsigned count)
{
    unsigned bits = size * 8;
    uint32_t mask = size_mask(size), sign = size_sign_bit(size), result = value;
    bool carry;
    if (operation == SHIFT_ROL || operation == SHIFT_ROR) {
        unsigned turns = count % bits;
        if (operation == SHIFT_ROL) {
            if (turns)
                result = ((value << turns) | (value >> (bits - turns))) & mask;
            carry = result & 1;
            /* OF is defined for count 1 only: MSB(result) XOR CF; computed
             * the same way for any count (what Intel hardware does). */
            set_carry_overflow(flags, eflags, carry, ((result & sign) != 0) != carry);
        } else {
            if (turns)
                result = ((value >> turns) | (value << (bits - turns))) & mask;
            carry = result & sign;
            set_carry_overflow(flags, eflags, carry,
                               ((result & sign) != 0) != ((result & (sign >> 1)) != 0));
        }
        return result;
    }
    /* RCL/RCR rotate the (bits+1)-bit quantity CF:value; 8- and 16-bit
     * counts are taken modulo 9 and 17. */
    unsigned turns = count % (bits + 1);
    uint64_t wide_mask = (1ull << (bits + 1)) - 1;
    uint64_t wide = ((uint64_t)flags_carry(flags, *eflags) << bits) | value;
    if (turns) {
        if (operation == SHIFT_RCL)
            wide = ((wide << turns) | (wide >> (bits + 1 - turns))) & wide_mask;
        else
            wide = ((wide >> turns) | (wide << (bits + 1 - turns))) & wide_mask;
    }
    result = (uint32_t)wide & mask;
    carry = (wide >> bits) & 1;
    if (operation == SHIFT_RCL)
        set_carry_overflow(flags, eflags, carry, ((result & sign) != 0) != carry);
    else
        set_carry_overflow(flags, eflags, carry,
                           ((result & sign) != 0) != ((result & (sign >> 1)) != 0));
    return result;
}

uint32_t alu_shift(struct lazy_flags *flags, uint32_t *eflags, unsigned operation,
                   unsigned size, uint32_t value, unsigned count)
{
    unsigned bits = size * 8;
    uint32_t mask = size_mask(size), sign = size_sign_bit(size), result;
    bool carry, overflow;
    value &= mask;
    count &= 31;                     /* SDM vol. 2, SAL/SAR/SHL/SHR: count masked to 5 bits */
    if (count == 0)
        return value;                /* flags unaffected */
    switch (operation) {
    case SHIFT_ROL: case SHIFT_ROR: case SHIFT_RCL: case SHIFT_RCR:
        return rotate(flags, eflags, operation, size, value, count);
    case SHIFT_SHR:
        result = value >> count;
        carry = (value >> (count - 1)) & 1;
        overflow = value & sign;     /* defined for count 1: the original MSB */
        break;
    case SHIFT_SAR: {
        int32_t signed_value = (int32_t)sign_extend(value, size);
        result = (uint32_t)(signed_value >> count) & mask;
        carry = (uint32_t)(signed_value >> (count - 1)) & 1;
        overflow = false;
        break;
    }
    default: /* SHL and its alias SAL (/4 and /6) */
        result = count < bits ? (value << count) & mask : 0;
        carry = count <= bits ? (value >> (bits - count)) & 1 : 0;
        overflow = ((result & sign) != 0) != carry;
        break;
    }
    record_explicit(flags, size, result, carry, overflow);
    return result;
}

uint32_t alu_shld(struct lazy_flags *flags, uint32_t *eflags, unsigned size,
                  uint32_t destination, uint32_t source, unsigned count)
{
    unsigned bits = size * 8;
    uint32_t mask = size_mask(size), sign = size_sign_bit(size), result;
    bool carry;
    (void)eflags;
    destination &= mask;
    source &= mask;
    count &= 31;
    if (count == 0)
        return destination;
    if (bits == 32) {
        result = (destination << count) | (source >> (32 - count));
        carry = (destination >> (32 - count)) & 1;
    } else {
        /* destination:source:destination shifted left; a count above 16
         * is undefined (SDM vol. 2, SHLD) and this is what Intel parts do. */
        uint64_t wide = ((uint64_t)destination << 32) | ((uint64_t)source << 16) | destination;
        uint64_t shifted = wide << count;
        result = (uint32_t)(shifted >> 32) & mask;
        carry = (shifted >> 48) & 1;
    }
    record_explicit(flags, size, result, carry, ((result ^ destination) & sign) != 0);
    return result;
}

uint32_t alu_shrd(struct lazy_flags *flags, uint32_t *eflags, unsigned size,
                  uint32_t destination, uint32_t source, unsigned count)
{
    unsigned bits = size * 8;
    uint32_t mask = size_mask(size), sign = size_sign_bit(size);
    (void)eflags;
    destination &= mask;
    source &= mask;
    count &= 31;
    if (count == 0)
        return destination;
    /* source:destination, shifted right: bits leaving the destination's low
     * end are replaced by the source's low bits. A 16-bit count above 16 is
     * undefined; we continue into a second copy of the destination. */
    uint64_t wide = ((uint64_t)source << bits) | destination;
    if (bits == 16)
        wide |= (uint64_t)destination << 32;
    uint32_t result = (uint32_t)(wide >> count) & mask;
    bool carry = (wide >> (count - 1)) & 1;
    record_explicit(flags, size, result, carry, ((result ^ destination) & sign) != 0);
    return result;
}

void alu_mul(struct lazy_flags *flags, unsigned size, uint32_t a, uint32_t b,
             uint32_t *low, uint32_t *high)
{
    uint32_t mask = size_mask(size);
    uint64_t product = (uint64_t)(a & mask) * (b & mask);
    *low = (uint32_t)product & mask;
    *high = (uint32_t)(product >> (size * 8)) & mask;
    /* CF = OF = (upper half != 0); SF ZF AF PF undefined: taken from the
     * low half, AF cleared. */
    record_explicit(flags, size, *low, *high != 0, *high != 0);
}

void alu_imul(struct lazy_flags *flags, unsigned size, uint32_t a, uint32_t b,
              uint32_t *low, uint32_t *high)
{
    uint32_t mask = size_mask(size);
    int64_t product = (int64_t)(int32_t)sign_extend(a & mask, size) *
                      (int64_t)(int32_t)sign_extend(b & mask, size);
    uint64_t bits = (uint64_t)product;
    *low = (uint32_t)bits & mask;
    *high = (uint32_t)(bits >> (size * 8)) & mask;
    /* CF = OF = the product does not fit the destination width. */
    bool overflow = (int64_t)(int32_t)sign_extend(*low, size) != product;
    record_explicit(flags, size, *low, overflow, overflow);
}

bool alu_div(unsigned size, uint32_t high, uint32_t low, uint32_t divisor,
             uint32_t *quotient, uint32_t *remainder)
{
    uint32_t mask = size_mask(size);
    uint64_t dividend = ((uint64_t)(high & mask) << (size * 8)) | (low & mask);
    divisor &= mask;
    if (divisor == 0)
        return false;
    uint64_t q = dividend / divisor;
    if (q > mask)
        return false;                /* SDM vol. 2, DIV: quotient too large -> #DE */
    *quotient = (uint32_t)q;
    *remainder = (uint32_t)(dividend % divisor);
    return true;
}

bool alu_idiv(unsigned size, uint32_t high, uint32_t low, uint32_t divisor,
              uint32_t *quotient, uint32_t *remainder)
{
    uint32_t mask = size_mask(size);
    unsigned bits = size * 8;
    uint64_t raw = ((uint64_t)(high & mask) << bits) | (low & mask);
    /* Sign-extend the 2*bits-wide dividend to 64 bits. */
    int64_t dividend = bits == 32 ? (int64_t)raw
                                  : (int64_t)(raw << (64 - 2 * bits)) >> (64 - 2 * bits);
    int64_t d = (int32_t)sign_extend(divisor & mask, size);
    if (d == 0)
        return false;
    if (dividend == INT64_MIN && d == -1)
        return false;
    int64_t q = dividend / d, r = dividend % d;
    int64_t limit = (int64_t)1 << (bits - 1);
    if (q >= limit || q < -limit)
        return false;                /* SDM vol. 2, IDIV: quotient out of range -> #DE */
    *quotient = (uint32_t)(uint64_t)q & mask;
    *remainder = (uint32_t)(uint64_t)r & mask;
    return true;
}

bool alu_bit_scan(struct lazy_flags *flags, uint32_t *eflags, bool reverse, unsigned size,
                  uint32_t source, uint32_t *index)
{
    source &= size_mask(size);
    flags_materialize(flags, eflags);
    /* ZF = (source == 0); CF OF SF AF PF undefined: left unchanged. The
     * destination is left unchanged for a zero source, as hardware does. */
    if (source == 0) {
        *eflags |= EFLAGS_ZF;
        return false;
    }
    *eflags &= ~EFLAGS_ZF;
    *index = reverse ? 31u - (unsigned)__builtin_clz(source) : (unsigned)__builtin_ctz(source);
    return true;
}

uint32_t alu_bit_test(struct lazy_flags *flags, uint32_t *eflags, unsigned operation,
                      unsigned size, uint32_t value, unsigned bit)
{
    uint32_t selected = 1u << (bit & (size * 8 - 1));
    flags_materialize(flags, eflags);
    /* CF = the bit; ZF unaffected; OF SF AF PF undefined: unchanged. */
    *eflags = (*eflags & ~EFLAGS_CF) | ((value & selected) ? EFLAGS_CF : 0);
    switch (operation) {
    case BIT_BTS: return value | selected;
    case BIT_BTR: return value & ~selected;
    case BIT_BTC: return value ^ selected;
    default: return value;
    }
}

/* SF ZF PF of an 8-bit result, into eflags (flags already materialized). */
static void set_result_flags8(uint32_t *eflags, uint32_t al)
{
    al &= 0xff;
    *eflags &= ~(EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF);
    *eflags |= parity_flag(al) | (al == 0 ? EFLAGS_ZF : 0) | ((al & 0x80) ? EFLAGS_SF : 0);
}

/* SDM vol. 2, DAA pseudo-code. OF is undefined: cleared. */
uint32_t alu_daa(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax)
{
    flags_materialize(flags, eflags);
    uint32_t al = ax & 0xff, old_al = al;
    bool old_cf = *eflags & EFLAGS_CF, cf = false, af = false;
    if ((al & 0xf) > 9 || (*eflags & EFLAGS_AF)) {
        cf = old_cf || al + 6 > 0xff;
        al = (al + 6) & 0xff;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = (al + 0x60) & 0xff;
        cf = true;
    }
    *eflags &= ~(EFLAGS_CF | EFLAGS_AF | EFLAGS_OF);
    *eflags |= (cf ? EFLAGS_CF : 0) | (af ? EFLAGS_AF : 0);
    set_result_flags8(eflags, al);
    return (ax & 0xff00) | al;
}

/* SDM vol. 2, DAS pseudo-code. OF is undefined: cleared. */
uint32_t alu_das(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax)
{
    flags_materialize(flags, eflags);
    uint32_t al = ax & 0xff, old_al = al;
    bool old_cf = *eflags & EFLAGS_CF, cf = false, af = false;
    if ((al & 0xf) > 9 || (*eflags & EFLAGS_AF)) {
        cf = old_cf || al < 6;
        al = (al - 6) & 0xff;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = (al - 0x60) & 0xff;
        cf = true;
    }
    *eflags &= ~(EFLAGS_CF | EFLAGS_AF | EFLAGS_OF);
    *eflags |= (cf ? EFLAGS_CF : 0) | (af ? EFLAGS_AF : 0);
    set_result_flags8(eflags, al);
    return (ax & 0xff00) | al;
}

/* SDM vol. 2, AAA: AX += 106h when adjusting (P6 and later). OF SF ZF PF
 * undefined: SF ZF PF from the new AL, OF cleared. */
uint32_t alu_aaa(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax)
{
    flags_materialize(flags, eflags);
    bool adjust = (ax & 0xf) > 9 || (*eflags & EFLAGS_AF);
    if (adjust)
        ax = (ax + 0x106) & 0xffff;
    ax &= 0xff0f;
    *eflags &= ~(EFLAGS_CF | EFLAGS_AF | EFLAGS_OF);
    *eflags |= adjust ? (EFLAGS_CF | EFLAGS_AF) : 0;
    set_result_flags8(eflags, ax);
    return ax;
}

/* SDM vol. 2, AAS: AX -= 6, AH -= 1 when adjusting. */
uint32_t alu_aas(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax)
{
    flags_materialize(flags, eflags);
    bool adjust = (ax & 0xf) > 9 || (*eflags & EFLAGS_AF);
    if (adjust) {
        ax = (ax - 6) & 0xffff;
        ax = (ax - 0x100) & 0xffff;
    }
    ax &= 0xff0f;
    *eflags &= ~(EFLAGS_CF | EFLAGS_AF | EFLAGS_OF);
    *eflags |= adjust ? (EFLAGS_CF | EFLAGS_AF) : 0;
    set_result_flags8(eflags, ax);
    return ax;
}

/* SDM vol. 2, AAM: AH = AL / base, AL = AL mod base; base 0 is #DE. SF ZF
 * PF from AL; OF AF CF undefined: cleared. */
bool alu_aam(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax, unsigned base,
             uint32_t *new_ax)
{
    base &= 0xff;
    if (base == 0)
        return false;
    uint32_t al = ax & 0xff;
    uint32_t result = ((al / base) << 8) | (al % base);
    record_explicit(flags, 1, result & 0xff, false, false);
    (void)eflags;
    *new_ax = result;
    return true;
}

/* SDM vol. 2, AAD: AL = (AL + AH * base) & FFh, AH = 0. SF ZF PF from AL;
 * OF AF CF undefined: those of the 8-bit addition, as hardware does. */
uint32_t alu_aad(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax, unsigned base)
{
    uint32_t al = ax & 0xff, product = (((ax >> 8) & 0xff) * (base & 0xff)) & 0xff;
    uint32_t result = (al + product) & 0xff;
    (void)eflags;
    flags_record(flags, FLAGS_ADD, 1, result, al, product);
    return result;
}
