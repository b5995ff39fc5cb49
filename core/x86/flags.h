/*
 * flags.h - lazy evaluation of the arithmetic flags (OF SF ZF AF PF CF).
 *
 * Most instructions that set flags are followed by one that reads at most
 * one or two of them (a Jcc after a CMP), or by one that overwrites them all.
 * So an ALU instruction only records what it did - the operation, the width,
 * its operands and its result - and the flags are computed when somebody
 * asks (the technique used by Bochs and QEMU). FLAGS_KNOWN means the six
 * bits in cpu->eflags are authoritative.
 *
 * Everything outside the executor sees a materialized EFLAGS: the executor
 * calls flags_materialize() before handing EFLAGS to the system code.
 */
#ifndef VMLAB_X86_FLAGS_H
#define VMLAB_X86_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "../cpu.h"

enum flags_operation {
    FLAGS_KNOWN,     /* eflags holds the truth */
    FLAGS_ADD,       /* also ADC with carry-in 0 */
    FLAGS_ADC,       /* ADC with carry-in 1 */
    FLAGS_SUB,       /* SUB, CMP, NEG (operand1 = 0), SBB with borrow-in 0 */
    FLAGS_SBB,       /* SBB with borrow-in 1 */
    FLAGS_LOGIC,     /* AND OR XOR TEST: CF = OF = 0 */
    FLAGS_INC,       /* CF preserved in `explicit_bits` */
    FLAGS_DEC,
    FLAGS_EXPLICIT,  /* CF, OF, AF given in `explicit_bits`; SF ZF PF from the result */
};

struct lazy_flags {
    uint8_t operation;       /* enum flags_operation */
    uint8_t size;            /* 1, 2 or 4 bytes */
    uint32_t result;
    uint32_t operand1;       /* the destination before the operation */
    uint32_t operand2;       /* the source */
    uint32_t explicit_bits;  /* EFLAGS_CF/OF/AF as needed by the operation */
};

/* SDM condition codes, in the order of the Jcc/SETcc/CMOVcc opcodes. */
enum condition { CC_O, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A,
                 CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_GE, CC_LE, CC_G };

static inline uint32_t size_mask(unsigned size)
{
    return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static inline uint32_t size_sign_bit(unsigned size)
{
    return 1u << (size * 8 - 1);
}

/* Sign-extend a value of `size` bytes to 32 bits. */
static inline uint32_t sign_extend(uint32_t value, unsigned size)
{
    if (size == 1)
        return (uint32_t)(int32_t)(int8_t)value;
    if (size == 2)
        return (uint32_t)(int32_t)(int16_t)value;
    return value;
}

/* Record an operation; result and operands are already masked to size. */
static inline void flags_record(struct lazy_flags *flags, unsigned operation, unsigned size,
                                uint32_t result, uint32_t operand1, uint32_t operand2)
{
    flags->operation = (uint8_t)operation;
    flags->size = (uint8_t)size;
    flags->result = result;
    flags->operand1 = operand1;
    flags->operand2 = operand2;
}

/* The six arithmetic flags the recorded operation produced. */
uint32_t flags_compute(const struct lazy_flags *flags, uint32_t eflags);

/* Just CF (cheap: ADC/SBB/RCL/RCR/INC need it). */
bool flags_carry(const struct lazy_flags *flags, uint32_t eflags);

/* Evaluate a condition code (SDM vol. 1, appendix B): the general case. */
bool flags_condition_slow(const struct lazy_flags *flags, uint32_t eflags, unsigned condition);

/* After SUB/CMP most conditions are plain comparisons of the operands, and
 * after a logic operation (CF = OF = 0) they depend only on the result: the
 * common Jcc-after-CMP/TEST cases need no EFLAGS at all. */
static inline bool flags_condition(const struct lazy_flags *flags, uint32_t eflags,
                                   unsigned condition)
{
    bool negate = condition & 1;
    if (flags->operation == FLAGS_SUB) {
        uint32_t a = flags->operand1, b = flags->operand2;
        switch (condition >> 1) {
        case CC_B >> 1: return (a < b) != negate;
        case CC_E >> 1: return (a == b) != negate;
        case CC_BE >> 1: return (a <= b) != negate;
        case CC_L >> 1:
            return ((int32_t)sign_extend(a, flags->size) < (int32_t)sign_extend(b, flags->size)) != negate;
        case CC_LE >> 1:
            return ((int32_t)sign_extend(a, flags->size) <= (int32_t)sign_extend(b, flags->size)) != negate;
        default: break;
        }
    } else if (flags->operation == FLAGS_LOGIC) {
        uint32_t r = flags->result;
        bool negative = r & size_sign_bit(flags->size);
        switch (condition >> 1) {
        case CC_E >> 1: return (r == 0) != negate;
        case CC_S >> 1: return negative != negate;
        case CC_L >> 1: return negative != negate;                 /* SF != OF, OF = 0 */
        case CC_LE >> 1: return (r == 0 || negative) != negate;
        case CC_BE >> 1: return (r == 0) != negate;                /* CF = 0 */
        default: break;
        }
    }
    return flags_condition_slow(flags, eflags, condition);
}

/* Write the computed flags into *eflags and mark them known. */
static inline void flags_materialize(struct lazy_flags *flags, uint32_t *eflags)
{
    if (flags->operation == FLAGS_KNOWN)
        return;
    *eflags = (*eflags & ~EFLAGS_ARITHMETIC) | flags_compute(flags, *eflags);
    flags->operation = FLAGS_KNOWN;
}

/* PF: set when the low byte of the result has an even number of ones. */
static inline uint32_t parity_flag(uint32_t result)
{
    return __builtin_parity(result & 0xff) ? 0 : EFLAGS_PF;
}

#endif
