/*
 * execute_alu.h - the integer arithmetic of the i386, as pure functions.
 *
 * Each function takes its operands, returns the result and records the
 * flags it produces in a struct lazy_flags (reading the incoming CF from it
 * or from *eflags where the instruction consumes flags). Nothing here touches
 * memory or the CPU, so the unit tests can compare every function against
 * the host CPU running the same instruction.
 *
 * Undefined flags (SDM vol. 2 says "undefined") follow a fixed, documented
 * choice noted at each function; the tests mask them.
 */
#ifndef VMLAB_X86_EXECUTE_ALU_H
#define VMLAB_X86_EXECUTE_ALU_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "flags.h"

/* The hot ones - ADD OR ADC SBB AND SUB XOR CMP (enum x86_alu; CMP returns
 * the difference, the caller does not store it), INC DEC NEG - are inline:
 * the executor runs them for most guest instructions. */
static inline uint32_t alu_binary(struct lazy_flags *flags, uint32_t eflags, unsigned operation,
                    unsigned size, uint32_t destination, uint32_t source)
{
    uint32_t mask = size_mask(size);
    uint32_t a = destination & mask, b = source & mask, result, carry;
    switch (operation) {
    case ALU_ADD:
        result = (a + b) & mask;
        flags_record(flags, FLAGS_ADD, size, result, a, b);
        return result;
    case ALU_ADC:
        carry = flags_carry(flags, eflags);
        result = (a + b + carry) & mask;
        flags_record(flags, carry ? FLAGS_ADC : FLAGS_ADD, size, result, a, b);
        return result;
    case ALU_SBB:
        carry = flags_carry(flags, eflags);
        result = (a - b - carry) & mask;
        flags_record(flags, carry ? FLAGS_SBB : FLAGS_SUB, size, result, a, b);
        return result;
    case ALU_SUB:
    case ALU_CMP:
        result = (a - b) & mask;
        flags_record(flags, FLAGS_SUB, size, result, a, b);
        return result;
    case ALU_OR: result = a | b; break;
    case ALU_AND: result = a & b; break;
    default: result = a ^ b; break;
    }
    /* Logic: CF = OF = 0, SF ZF PF from the result, AF undefined (we clear it). */
    flags_record(flags, FLAGS_LOGIC, size, result, a, b);
    return result;
}

/* INC/DEC leave CF alone (SDM vol. 2, INC): carry the old CF along. */
static inline uint32_t alu_inc(struct lazy_flags *flags, uint32_t eflags, unsigned size, uint32_t value)
{
    uint32_t carry = flags_carry(flags, eflags) ? EFLAGS_CF : 0;
    uint32_t mask = size_mask(size), result = (value + 1) & mask;
    flags_record(flags, FLAGS_INC, size, result, value & mask, 1);
    flags->explicit_bits = carry;
    return result;
}

static inline uint32_t alu_dec(struct lazy_flags *flags, uint32_t eflags, unsigned size, uint32_t value)
{
    uint32_t carry = flags_carry(flags, eflags) ? EFLAGS_CF : 0;
    uint32_t mask = size_mask(size), result = (value - 1) & mask;
    flags_record(flags, FLAGS_DEC, size, result, value & mask, 1);
    flags->explicit_bits = carry;
    return result;
}

/* NEG is 0 - value: CF = (value != 0), the rest as SUB (SDM vol. 2, NEG). */
static inline uint32_t alu_neg(struct lazy_flags *flags, unsigned size, uint32_t value)
{
    uint32_t mask = size_mask(size), result = (0u - value) & mask;
    flags_record(flags, FLAGS_SUB, size, result, 0, value & mask);
    return result;
}

/* ROL ROR RCL RCR SHL SHR SAL SAR (enum x86_shift); count is the raw CL or
 * immediate, masked here to 5 bits. A masked count of 0 changes nothing. */
uint32_t alu_shift(struct lazy_flags *flags, uint32_t *eflags, unsigned operation,
                   unsigned size, uint32_t value, unsigned count);

/* SHLD/SHRD (size 2 or 4). */
uint32_t alu_shld(struct lazy_flags *flags, uint32_t *eflags, unsigned size,
                  uint32_t destination, uint32_t source, unsigned count);
uint32_t alu_shrd(struct lazy_flags *flags, uint32_t *eflags, unsigned size,
                  uint32_t destination, uint32_t source, unsigned count);

/* MUL / one-operand IMUL: the double-width product as high:low. */
void alu_mul(struct lazy_flags *flags, unsigned size, uint32_t a, uint32_t b,
             uint32_t *low, uint32_t *high);
void alu_imul(struct lazy_flags *flags, unsigned size, uint32_t a, uint32_t b,
              uint32_t *low, uint32_t *high);

/* DIV / IDIV of high:low by divisor. Returns false for #DE (divide by zero
 * or a quotient that does not fit). Flags are undefined: left unchanged. */
bool alu_div(unsigned size, uint32_t high, uint32_t low, uint32_t divisor,
             uint32_t *quotient, uint32_t *remainder);
bool alu_idiv(unsigned size, uint32_t high, uint32_t low, uint32_t divisor,
              uint32_t *quotient, uint32_t *remainder);

/* BSF/BSR: returns false (ZF=1, destination unchanged) when source is 0. */
bool alu_bit_scan(struct lazy_flags *flags, uint32_t *eflags, bool reverse, unsigned size,
                  uint32_t source, uint32_t *index);

/* BT BTS BTR BTC on a value of `size` bytes: CF = the bit, returns the new value. */
uint32_t alu_bit_test(struct lazy_flags *flags, uint32_t *eflags, unsigned operation,
                      unsigned size, uint32_t value, unsigned bit);

/* Decimal adjust on AX (AL, and AH for AAA/AAS/AAM/AAD); return the new AX. */
uint32_t alu_daa(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax);
uint32_t alu_das(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax);
uint32_t alu_aaa(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax);
uint32_t alu_aas(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax);
/* AAM with base 0 is #DE: returns false. */
bool alu_aam(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax, unsigned base,
             uint32_t *new_ax);
uint32_t alu_aad(struct lazy_flags *flags, uint32_t *eflags, uint32_t ax, unsigned base);

#endif
