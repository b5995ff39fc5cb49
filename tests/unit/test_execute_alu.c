/*
 * test_execute_alu.c - the ALU of core/x86/execute_alu.c against the host CPU.
 *
 * The host is x86-64 and executes the same 8/16/32-bit integer instructions
 * with the same flag rules, so each case runs the real instruction with
 * inline assembly (flags in through POPF, out through PUSHF) and compares
 * result and EFLAGS with our implementation - a real oracle. Only flags the
 * SDM calls undefined for that case are masked (the host is AMD or Intel;
 * their undefined flags differ, so we may not depend on them).
 *
 * Not covered here: DAA/DAS/AAA/AAS/AAM/AAD do not exist in 64-bit mode;
 * the flags guest (labs/guests/flags) checks them against QEMU.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

#include "core/x86/decode.h"
#include "core/x86/execute_alu.h"

#define ARITH (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)

static const uint32_t edge_values[] = {
    0, 1, 2, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000,
    0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0xdeadbeef, 0x0f0f0f0f,
};
#define EDGE_COUNT (sizeof edge_values / sizeof edge_values[0])

/* xorshift32: reproducible random operands. */
static uint32_t random_state = 0x2545f491;
static uint32_t next_random(void)
{
    uint32_t x = random_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return random_state = x;
}

/* Operand number i: the edge values first, then random ones. */
static uint32_t operand(unsigned i)
{
    return i < EDGE_COUNT ? edge_values[i] : next_random();
}
#define OPERAND_COUNT (EDGE_COUNT + 40)

/* Run `insn` on the host with EFLAGS = flags_in; the 128-byte step keeps
 * PUSHF clear of the red zone the compiler may be using. */
#define HOST_FLAGS_PROLOGUE "lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t"
#define HOST_FLAGS_EPILOGUE "\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"

#define HOST_BINARY(name, mnemonic)                                                        \
    static uint32_t host_##name(unsigned size, uint32_t a, uint32_t b, uint64_t *flags)    \
    {                                                                                      \
        uint64_t f = *flags;                                                               \
        if (size == 1) {                                                                   \
            uint8_t d = (uint8_t)a, s = (uint8_t)b;                                        \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "b %[s], %[d]" HOST_FLAGS_EPILOGUE \
                             : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");   \
            *flags = f; return d;                                                          \
        }                                                                                  \
        if (size == 2) {                                                                   \
            uint16_t d = (uint16_t)a, s = (uint16_t)b;                                     \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "w %[s], %[d]" HOST_FLAGS_EPILOGUE \
                             : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");   \
            *flags = f; return d;                                                          \
        }                                                                                  \
        uint32_t d = a, s = b;                                                             \
        __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "l %[s], %[d]" HOST_FLAGS_EPILOGUE   \
                         : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");       \
        *flags = f; return d;                                                              \
    }

HOST_BINARY(add, "add")
HOST_BINARY(or, "or")
HOST_BINARY(adc, "adc")
HOST_BINARY(sbb, "sbb")
HOST_BINARY(and, "and")
HOST_BINARY(sub, "sub")
HOST_BINARY(xor, "xor")
HOST_BINARY(cmp, "cmp")

typedef uint32_t (*host_binary_fn)(unsigned, uint32_t, uint32_t, uint64_t *);
static const host_binary_fn host_alu[8] = { host_add, host_or, host_adc, host_sbb,
                                            host_and, host_sub, host_xor, host_cmp };
static const char *const alu_names[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };

/* Our side: run through the lazy flags and materialize. */
static uint32_t materialized(struct lazy_flags *flags, uint32_t eflags)
{
    flags_materialize(flags, &eflags);
    return eflags;
}

static struct lazy_flags known_flags(void)
{
    struct lazy_flags flags = { 0 };
    flags.operation = FLAGS_KNOWN;
    return flags;
}

static const unsigned sizes[3] = { 1, 2, 4 };

Test(alu, binary_operations_match_host)
{
    for (unsigned op = 0; op < 8; op++)
        for (unsigned s = 0; s < 3; s++)
            for (unsigned carry = 0; carry < 2; carry++)
                for (unsigned i = 0; i < OPERAND_COUNT; i++)
                    for (unsigned j = 0; j < OPERAND_COUNT; j++) {
                        unsigned size = sizes[s];
                        uint32_t a = operand(i) & size_mask(size), b = operand(j) & size_mask(size);
                        uint64_t host_flags = EFLAGS_FIXED | (carry ? EFLAGS_CF : 0);
                        uint32_t expected = host_alu[op](size, a, b, &host_flags);
                        struct lazy_flags lazy = known_flags();
                        uint32_t eflags = EFLAGS_FIXED | (carry ? EFLAGS_CF : 0);
                        uint32_t result = alu_binary(&lazy, eflags, op, size, a, b);
                        eflags = materialized(&lazy, eflags);
                        /* AF is undefined after AND/OR/XOR. */
                        uint32_t defined = (op == ALU_AND || op == ALU_OR || op == ALU_XOR)
                                               ? ARITH & ~EFLAGS_AF : ARITH;
                        if (op != ALU_CMP)
                            cr_assert_eq(result, expected, "%s%u %x,%x cf=%u: %x != host %x",
                                         alu_names[op], size * 8, a, b, carry, result, expected);
                        cr_assert_eq(eflags & defined, (uint32_t)host_flags & defined,
                                     "%s%u %x,%x cf=%u: flags %03x != host %03x", alu_names[op],
                                     size * 8, a, b, carry, eflags & defined,
                                     (uint32_t)host_flags & defined);
                    }
}

#define HOST_UNARY(name, mnemonic)                                                         \
    static uint32_t host_##name(unsigned size, uint32_t a, uint64_t *flags)                \
    {                                                                                      \
        uint64_t f = *flags;                                                               \
        if (size == 1) {                                                                   \
            uint8_t d = (uint8_t)a;                                                        \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "b %[d]" HOST_FLAGS_EPILOGUE     \
                             : [d] "+r"(d), [f] "+r"(f) : : "cc", "memory");              \
            *flags = f; return d;                                                          \
        }                                                                                  \
        if (size == 2) {                                                                   \
            uint16_t d = (uint16_t)a;                                                      \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "w %[d]" HOST_FLAGS_EPILOGUE     \
                             : [d] "+r"(d), [f] "+r"(f) : : "cc", "memory");              \
            *flags = f; return d;                                                          \
        }                                                                                  \
        uint32_t d = a;                                                                    \
        __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "l %[d]" HOST_FLAGS_EPILOGUE         \
                         : [d] "+r"(d), [f] "+r"(f) : : "cc", "memory");                  \
        *flags = f; return d;                                                              \
    }

HOST_UNARY(inc, "inc")
HOST_UNARY(dec, "dec")
HOST_UNARY(neg, "neg")

Test(alu, inc_dec_neg_match_host)
{
    for (unsigned s = 0; s < 3; s++)
        for (unsigned carry = 0; carry < 2; carry++)
            for (unsigned i = 0; i < OPERAND_COUNT; i++) {
                unsigned size = sizes[s];
                uint32_t a = operand(i) & size_mask(size);
                uint32_t in = EFLAGS_FIXED | (carry ? EFLAGS_CF : 0);
                for (int which = 0; which < 3; which++) {
                    uint64_t host_flags = in;
                    uint32_t expected = which == 0 ? host_inc(size, a, &host_flags)
                                      : which == 1 ? host_dec(size, a, &host_flags)
                                                   : host_neg(size, a, &host_flags);
                    struct lazy_flags lazy = known_flags();
                    uint32_t result = which == 0 ? alu_inc(&lazy, in, size, a)
                                    : which == 1 ? alu_dec(&lazy, in, size, a)
                                                 : alu_neg(&lazy, size, a);
                    uint32_t eflags = materialized(&lazy, in);
                    cr_assert_eq(result, expected, "op %d size %u a=%x", which, size, a);
                    cr_assert_eq(eflags & ARITH, (uint32_t)host_flags & ARITH,
                                 "op %d size %u a=%x cf=%u: %03x != host %03x", which, size, a,
                                 carry, eflags & ARITH, (uint32_t)host_flags & ARITH);
                }
            }
}

/* INC after an ADD keeps the ADD's carry: the lazy chain must carry it along. */
Test(alu, inc_preserves_lazy_carry)
{
    struct lazy_flags lazy = known_flags();
    uint32_t eflags = EFLAGS_FIXED;
    alu_binary(&lazy, eflags, ALU_ADD, 4, 0xffffffff, 1);          /* CF = 1 */
    alu_inc(&lazy, eflags, 4, 5);
    struct lazy_flags copy = lazy;
    cr_assert(materialized(&copy, eflags) & EFLAGS_CF);
    alu_binary(&lazy, eflags, ALU_ADC, 4, 1, 1);                    /* 1 + 1 + CF(=1) */
    cr_assert_eq(lazy.result, 3);
}

/* ---- shifts and rotates ---------------------------------------------------- */

#define HOST_SHIFT(name, mnemonic)                                                         \
    static uint32_t host_##name(unsigned size, uint32_t a, unsigned count, uint64_t *flags) \
    {                                                                                      \
        uint64_t f = *flags;                                                               \
        uint8_t c = (uint8_t)count;                                                        \
        if (size == 1) {                                                                   \
            uint8_t d = (uint8_t)a;                                                        \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "b %%cl, %[d]" HOST_FLAGS_EPILOGUE \
                             : [d] "+r"(d), [f] "+r"(f) : "c"(c) : "cc", "memory");       \
            *flags = f; return d;                                                          \
        }                                                                                  \
        if (size == 2) {                                                                   \
            uint16_t d = (uint16_t)a;                                                      \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "w %%cl, %[d]" HOST_FLAGS_EPILOGUE \
                             : [d] "+r"(d), [f] "+r"(f) : "c"(c) : "cc", "memory");       \
            *flags = f; return d;                                                          \
        }                                                                                  \
        uint32_t d = a;                                                                    \
        __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "l %%cl, %[d]" HOST_FLAGS_EPILOGUE   \
                         : [d] "+r"(d), [f] "+r"(f) : "c"(c) : "cc", "memory");           \
        *flags = f; return d;                                                              \
    }

HOST_SHIFT(rol, "rol")
HOST_SHIFT(ror, "ror")
HOST_SHIFT(rcl, "rcl")
HOST_SHIFT(rcr, "rcr")
HOST_SHIFT(shl, "shl")
HOST_SHIFT(shr, "shr")
HOST_SHIFT(sal, "sal")
HOST_SHIFT(sar, "sar")

typedef uint32_t (*host_shift_fn)(unsigned, uint32_t, unsigned, uint64_t *);
static const host_shift_fn host_shifts[8] = { host_rol, host_ror, host_rcl, host_rcr,
                                              host_shl, host_shr, host_sal, host_sar };
static const char *const shift_names[8] = { "rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar" };
static const unsigned shift_counts[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 24, 31, 32, 33, 63, 255 };

/* Flags the SDM defines after a shift/rotate of `size` bytes by `count`. */
static uint32_t shift_defined_flags(unsigned op, unsigned size, unsigned count)
{
    unsigned masked = count & 31;
    if (masked == 0)
        return ARITH;                              /* nothing changes */
    bool rotate = op <= SHIFT_RCR;
    uint32_t defined = rotate ? ARITH : ARITH & ~EFLAGS_AF;
    if (masked != 1)
        defined &= ~EFLAGS_OF;                     /* OF only for 1-bit shifts */
    if ((op == SHIFT_SHL || op == SHIFT_SAL || op == SHIFT_SHR) && masked >= size * 8)
        defined &= ~EFLAGS_CF;                     /* CF undefined when count >= width */
    return defined;
}

Test(alu, shifts_and_rotates_match_host)
{
    for (unsigned op = 0; op < 8; op++)
        for (unsigned s = 0; s < 3; s++)
            for (unsigned carry = 0; carry < 2; carry++)
                for (unsigned c = 0; c < sizeof shift_counts / sizeof shift_counts[0]; c++)
                    for (unsigned i = 0; i < OPERAND_COUNT; i++) {
                        unsigned size = sizes[s], count = shift_counts[c];
                        uint32_t a = operand(i) & size_mask(size);
                        /* OF/CF/... set on entry so "unchanged" is visible. */
                        uint32_t in = EFLAGS_FIXED | EFLAGS_OF | EFLAGS_ZF | (carry ? EFLAGS_CF : 0);
                        uint64_t host_flags = in;
                        uint32_t expected = host_shifts[op](size, a, count, &host_flags);
                        struct lazy_flags lazy = known_flags();
                        uint32_t eflags = in;
                        uint32_t result = alu_shift(&lazy, &eflags, op, size, a, count);
                        eflags = materialized(&lazy, eflags);
                        uint32_t defined = shift_defined_flags(op, size, count);
                        cr_assert_eq(result, expected, "%s%u %x by %u cf=%u: %x != host %x",
                                     shift_names[op], size * 8, a, count, carry, result, expected);
                        cr_assert_eq(eflags & defined, (uint32_t)host_flags & defined,
                                     "%s%u %x by %u cf=%u: flags %03x != host %03x",
                                     shift_names[op], size * 8, a, count, carry, eflags & defined,
                                     (uint32_t)host_flags & defined);
                    }
}

/* ---- SHLD / SHRD ------------------------------------------------------------- */

#define HOST_DOUBLE(name, mnemonic)                                                        \
    static uint32_t host_##name(unsigned size, uint32_t a, uint32_t b, unsigned count,     \
                                uint64_t *flags)                                           \
    {                                                                                      \
        uint64_t f = *flags;                                                               \
        uint8_t c = (uint8_t)count;                                                        \
        if (size == 2) {                                                                   \
            uint16_t d = (uint16_t)a, s = (uint16_t)b;                                     \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "w %%cl, %[s], %[d]" HOST_FLAGS_EPILOGUE \
                             : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s), "c"(c) : "cc", "memory"); \
            *flags = f; return d;                                                          \
        }                                                                                  \
        uint32_t d = a, s = b;                                                             \
        __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "l %%cl, %[s], %[d]" HOST_FLAGS_EPILOGUE \
                         : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s), "c"(c) : "cc", "memory"); \
        *flags = f; return d;                                                              \
    }

HOST_DOUBLE(shld, "shld")
HOST_DOUBLE(shrd, "shrd")

Test(alu, double_shifts_match_host)
{
    for (unsigned left = 0; left < 2; left++)
        for (unsigned size = 2; size <= 4; size += 2)
            for (unsigned c = 0; c < sizeof shift_counts / sizeof shift_counts[0]; c++)
                for (unsigned i = 0; i < OPERAND_COUNT; i++)
                    for (unsigned j = 0; j < 8; j++) {
                        unsigned count = shift_counts[c], masked = count & 31;
                        uint32_t a = operand(i) & size_mask(size), b = operand(j) & size_mask(size);
                        uint32_t in = EFLAGS_FIXED | EFLAGS_OF | EFLAGS_CF | EFLAGS_AF;
                        uint64_t host_flags = in;
                        uint32_t expected = left ? host_shld(size, a, b, count, &host_flags)
                                                 : host_shrd(size, a, b, count, &host_flags);
                        struct lazy_flags lazy = known_flags();
                        uint32_t eflags = in;
                        uint32_t result = left ? alu_shld(&lazy, &eflags, size, a, b, count)
                                               : alu_shrd(&lazy, &eflags, size, a, b, count);
                        eflags = materialized(&lazy, eflags);
                        if (masked > size * 8)
                            continue;              /* result and flags undefined */
                        uint32_t defined = masked == 0 ? ARITH : ARITH & ~EFLAGS_AF;
                        if (masked > 1)
                            defined &= ~EFLAGS_OF;
                        cr_assert_eq(result, expected, "%s%u %x,%x by %u: %x != host %x",
                                     left ? "shld" : "shrd", size * 8, a, b, count, result, expected);
                        cr_assert_eq(eflags & defined, (uint32_t)host_flags & defined,
                                     "%s%u %x,%x by %u: flags %03x != host %03x",
                                     left ? "shld" : "shrd", size * 8, a, b, count,
                                     eflags & defined, (uint32_t)host_flags & defined);
                    }
}

/* ---- multiply ------------------------------------------------------------------ */

/* One-operand MUL/IMUL: AL/AX/EAX times the operand into AH:AL, DX:AX, EDX:EAX. */
static void host_multiply(bool is_signed, unsigned size, uint32_t a, uint32_t b, uint32_t *low,
                          uint32_t *high, uint64_t *flags)
{
    uint64_t f = *flags;
    uint32_t eax = a, edx = 0;
    if (size == 1) {
        uint8_t s = (uint8_t)b;
        if (is_signed)
            __asm__ volatile(HOST_FLAGS_PROLOGUE "imulb %[s]" HOST_FLAGS_EPILOGUE
                             : "+a"(eax), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");
        else
            __asm__ volatile(HOST_FLAGS_PROLOGUE "mulb %[s]" HOST_FLAGS_EPILOGUE
                             : "+a"(eax), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");
        *low = eax & 0xff;
        *high = (eax >> 8) & 0xff;
    } else if (size == 2) {
        uint16_t s = (uint16_t)b;
        if (is_signed)
            __asm__ volatile(HOST_FLAGS_PROLOGUE "imulw %[s]" HOST_FLAGS_EPILOGUE
                             : "+a"(eax), "+d"(edx), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");
        else
            __asm__ volatile(HOST_FLAGS_PROLOGUE "mulw %[s]" HOST_FLAGS_EPILOGUE
                             : "+a"(eax), "+d"(edx), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");
        *low = eax & 0xffff;
        *high = edx & 0xffff;
    } else {
        if (is_signed)
            __asm__ volatile(HOST_FLAGS_PROLOGUE "imull %[s]" HOST_FLAGS_EPILOGUE
                             : "+a"(eax), "+d"(edx), [f] "+r"(f) : [s] "r"(b) : "cc", "memory");
        else
            __asm__ volatile(HOST_FLAGS_PROLOGUE "mull %[s]" HOST_FLAGS_EPILOGUE
                             : "+a"(eax), "+d"(edx), [f] "+r"(f) : [s] "r"(b) : "cc", "memory");
        *low = eax;
        *high = edx;
    }
    *flags = f;
}

Test(alu, multiply_matches_host)
{
    for (unsigned is_signed = 0; is_signed < 2; is_signed++)
        for (unsigned s = 0; s < 3; s++)
            for (unsigned i = 0; i < OPERAND_COUNT; i++)
                for (unsigned j = 0; j < OPERAND_COUNT; j++) {
                    unsigned size = sizes[s];
                    uint32_t a = operand(i) & size_mask(size), b = operand(j) & size_mask(size);
                    uint64_t host_flags = EFLAGS_FIXED;
                    uint32_t host_low, host_high, low, high;
                    host_multiply(is_signed, size, a, b, &host_low, &host_high, &host_flags);
                    struct lazy_flags lazy = known_flags();
                    if (is_signed)
                        alu_imul(&lazy, size, a, b, &low, &high);
                    else
                        alu_mul(&lazy, size, a, b, &low, &high);
                    uint32_t eflags = materialized(&lazy, EFLAGS_FIXED);
                    uint32_t defined = EFLAGS_CF | EFLAGS_OF;   /* SF ZF AF PF undefined */
                    cr_assert_eq(low, host_low, "%smul%u %x*%x", is_signed ? "i" : "", size * 8, a, b);
                    cr_assert_eq(high, host_high, "%smul%u %x*%x high", is_signed ? "i" : "", size * 8, a, b);
                    cr_assert_eq(eflags & defined, (uint32_t)host_flags & defined,
                                 "%smul%u %x*%x flags", is_signed ? "i" : "", size * 8, a, b);
                }
}

/* ---- divide, with the host's #DE caught as SIGFPE ------------------------------- */

static sigjmp_buf divide_fault;
static void on_sigfpe(int signal)
{
    (void)signal;
    siglongjmp(divide_fault, 1);
}

/* Returns false if the host raised #DE. */
static bool host_divide(bool is_signed, unsigned size, uint32_t high, uint32_t low, uint32_t divisor,
                        uint32_t *quotient, uint32_t *remainder)
{
    volatile uint32_t eax = low, edx = high;
    if (sigsetjmp(divide_fault, 1))
        return false;
    uint32_t a = eax, d = edx;
    if (size == 1) {
        uint8_t s = (uint8_t)divisor;
        a = (a & 0xff) | ((d & 0xff) << 8);
        if (is_signed)
            __asm__ volatile("idivb %[s]" : "+a"(a) : [s] "r"(s) : "cc");
        else
            __asm__ volatile("divb %[s]" : "+a"(a) : [s] "r"(s) : "cc");
        *quotient = a & 0xff;
        *remainder = (a >> 8) & 0xff;
    } else if (size == 2) {
        uint16_t s = (uint16_t)divisor;
        if (is_signed)
            __asm__ volatile("idivw %[s]" : "+a"(a), "+d"(d) : [s] "r"(s) : "cc");
        else
            __asm__ volatile("divw %[s]" : "+a"(a), "+d"(d) : [s] "r"(s) : "cc");
        *quotient = a & 0xffff;
        *remainder = d & 0xffff;
    } else {
        if (is_signed)
            __asm__ volatile("idivl %[s]" : "+a"(a), "+d"(d) : [s] "r"(divisor) : "cc");
        else
            __asm__ volatile("divl %[s]" : "+a"(a), "+d"(d) : [s] "r"(divisor) : "cc");
        *quotient = a;
        *remainder = d;
    }
    return true;
}

Test(alu, divide_matches_host_including_divide_error)
{
    struct sigaction action = { 0 }, old;
    action.sa_handler = on_sigfpe;
    sigemptyset(&action.sa_mask);
    sigaction(SIGFPE, &action, &old);
    unsigned faults = 0;
    for (unsigned is_signed = 0; is_signed < 2; is_signed++)
        for (unsigned s = 0; s < 3; s++)
            for (unsigned h = 0; h < 12; h++)
                for (unsigned i = 0; i < OPERAND_COUNT; i++)
                    for (unsigned j = 0; j < EDGE_COUNT + 8; j++) {
                        unsigned size = sizes[s];
                        uint32_t mask = size_mask(size);
                        uint32_t high = operand(h) & mask, low = operand(i) & mask;
                        uint32_t divisor = operand(j) & mask;
                        uint32_t host_q = 0, host_r = 0, q = 0, r = 0;
                        bool host_ok = host_divide(is_signed, size, high, low, divisor, &host_q, &host_r);
                        bool ok = is_signed ? alu_idiv(size, high, low, divisor, &q, &r)
                                            : alu_div(size, high, low, divisor, &q, &r);
                        faults += !host_ok;
                        cr_assert_eq(ok, host_ok, "%sdiv%u %x:%x / %x: #DE %d, host %d",
                                     is_signed ? "i" : "", size * 8, high, low, divisor, !ok, !host_ok);
                        if (ok) {
                            cr_assert_eq(q, host_q, "%sdiv%u %x:%x / %x quotient", is_signed ? "i" : "",
                                         size * 8, high, low, divisor);
                            cr_assert_eq(r, host_r, "%sdiv%u %x:%x / %x remainder", is_signed ? "i" : "",
                                         size * 8, high, low, divisor);
                        }
                    }
    sigaction(SIGFPE, &old, NULL);
    cr_assert_gt(faults, 100, "the divide-error cases were exercised");
}

/* ---- bit scans and bit tests -------------------------------------------------- */

static bool host_bit_scan(bool reverse, unsigned size, uint32_t source, uint32_t *index, uint64_t *flags)
{
    uint64_t f = *flags;
    uint32_t result = 0x5a5a5a5a;
    if (size == 2) {
        uint16_t s = (uint16_t)source, d = 0x5a5a;
        if (reverse)
            __asm__ volatile(HOST_FLAGS_PROLOGUE "bsrw %[s], %[d]" HOST_FLAGS_EPILOGUE
                             : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");
        else
            __asm__ volatile(HOST_FLAGS_PROLOGUE "bsfw %[s], %[d]" HOST_FLAGS_EPILOGUE
                             : [d] "+r"(d), [f] "+r"(f) : [s] "r"(s) : "cc", "memory");
        result = d;
    } else {
        if (reverse)
            __asm__ volatile(HOST_FLAGS_PROLOGUE "bsrl %[s], %[d]" HOST_FLAGS_EPILOGUE
                             : [d] "+r"(result), [f] "+r"(f) : [s] "r"(source) : "cc", "memory");
        else
            __asm__ volatile(HOST_FLAGS_PROLOGUE "bsfl %[s], %[d]" HOST_FLAGS_EPILOGUE
                             : [d] "+r"(result), [f] "+r"(f) : [s] "r"(source) : "cc", "memory");
    }
    *index = result;
    *flags = f;
    return !(f & EFLAGS_ZF);
}

Test(alu, bit_scan_matches_host)
{
    for (unsigned reverse = 0; reverse < 2; reverse++)
        for (unsigned size = 2; size <= 4; size += 2)
            for (unsigned i = 0; i < OPERAND_COUNT; i++) {
                uint32_t source = operand(i) & size_mask(size), host_index, index = 0;
                uint64_t host_flags = EFLAGS_FIXED;
                bool host_found = host_bit_scan(reverse, size, source, &host_index, &host_flags);
                struct lazy_flags lazy = known_flags();
                uint32_t eflags = EFLAGS_FIXED;
                bool found = alu_bit_scan(&lazy, &eflags, reverse, size, source, &index);
                eflags = materialized(&lazy, eflags);
                cr_assert_eq(found, host_found, "bs%c%u %x", reverse ? 'r' : 'f', size * 8, source);
                cr_assert_eq(eflags & EFLAGS_ZF, (uint32_t)host_flags & EFLAGS_ZF);
                if (found)
                    cr_assert_eq(index, host_index & size_mask(size), "bs%c%u %x", reverse ? 'r' : 'f',
                                 size * 8, source);
            }
}

#define HOST_BIT(name, mnemonic)                                                           \
    static uint32_t host_##name(unsigned size, uint32_t value, uint32_t bit, uint64_t *flags) \
    {                                                                                      \
        uint64_t f = *flags;                                                               \
        if (size == 2) {                                                                   \
            uint16_t d = (uint16_t)value, b = (uint16_t)bit;                               \
            __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "w %[b], %[d]" HOST_FLAGS_EPILOGUE \
                             : [d] "+r"(d), [f] "+r"(f) : [b] "r"(b) : "cc", "memory");   \
            *flags = f; return d;                                                          \
        }                                                                                  \
        uint32_t d = value;                                                                \
        __asm__ volatile(HOST_FLAGS_PROLOGUE mnemonic "l %[b], %[d]" HOST_FLAGS_EPILOGUE   \
                         : [d] "+r"(d), [f] "+r"(f) : [b] "r"(bit) : "cc", "memory");     \
        *flags = f; return d;                                                              \
    }

HOST_BIT(bt, "bt")
HOST_BIT(bts, "bts")
HOST_BIT(btr, "btr")
HOST_BIT(btc, "btc")

Test(alu, bit_test_register_forms_match_host)
{
    static uint32_t (*const host[4])(unsigned, uint32_t, uint32_t, uint64_t *) = {
        host_bt, host_bts, host_btr, host_btc };
    for (unsigned op = 0; op < 4; op++)
        for (unsigned size = 2; size <= 4; size += 2)
            for (unsigned i = 0; i < OPERAND_COUNT; i++)
                for (uint32_t bit = 0; bit < 70; bit += 3) {
                    uint32_t value = operand(i) & size_mask(size);
                    uint64_t host_flags = EFLAGS_FIXED;
                    uint32_t expected = host[op](size, value, bit, &host_flags);
                    struct lazy_flags lazy = known_flags();
                    uint32_t eflags = EFLAGS_FIXED;
                    uint32_t result = alu_bit_test(&lazy, &eflags, op, size, value, bit);
                    eflags = materialized(&lazy, eflags);
                    cr_assert_eq(result, expected, "bt op %u size %u %x bit %u", op, size, value, bit);
                    cr_assert_eq(eflags & (EFLAGS_CF | EFLAGS_ZF), (uint32_t)host_flags & (EFLAGS_CF | EFLAGS_ZF),
                                 "bt op %u size %u %x bit %u flags", op, size, value, bit);
                }
}

/* ---- conditions ---------------------------------------------------------------- */

/* The inline fast paths of flags_condition (after CMP/SUB and after logic
 * operations) must agree with the flags computed in full. */
Test(flags, condition_fast_path_agrees_with_materialized_flags)
{
    static const unsigned operations[] = { ALU_CMP, ALU_SUB, ALU_AND, ALU_OR, ALU_XOR, ALU_ADD };
    for (unsigned o = 0; o < sizeof operations / sizeof operations[0]; o++)
        for (unsigned s = 0; s < 3; s++)
            for (unsigned i = 0; i < OPERAND_COUNT; i++)
                for (unsigned j = 0; j < OPERAND_COUNT; j++)
                    for (unsigned cc = 0; cc < 16; cc++) {
                        unsigned size = sizes[s];
                        struct lazy_flags lazy = known_flags();
                        alu_binary(&lazy, EFLAGS_FIXED, operations[o], size, operand(i), operand(j));
                        bool fast = flags_condition(&lazy, EFLAGS_FIXED, cc);
                        struct lazy_flags known = known_flags();
                        uint32_t eflags = materialized(&lazy, EFLAGS_FIXED);
                        cr_assert_eq(fast, flags_condition_slow(&known, eflags, cc),
                                     "op %u size %u cc %u", operations[o], size, cc);
                    }
}

/* A CMP on the host followed by SETcc gives the condition directly. */
Test(flags, conditions_after_cmp_match_host_setcc)
{
    for (unsigned i = 0; i < OPERAND_COUNT; i++)
        for (unsigned j = 0; j < OPERAND_COUNT; j++) {
            uint32_t a = operand(i), b = operand(j);
            uint8_t below, equal, less, less_equal, above, sign, parity, overflow;
            __asm__("cmpl %[b], %[a]\n\tsetb %[below]\n\tsete %[equal]\n\tsetl %[less]\n\t"
                    "setle %[less_equal]\n\tseta %[above]\n\tsets %[sign]\n\tsetp %[parity]\n\t"
                    "seto %[overflow]"
                    : [below] "=r"(below), [equal] "=r"(equal), [less] "=r"(less),
                      [less_equal] "=r"(less_equal), [above] "=r"(above), [sign] "=r"(sign),
                      [parity] "=r"(parity), [overflow] "=r"(overflow)
                    : [a] "r"(a), [b] "r"(b) : "cc");
            struct lazy_flags lazy = known_flags();
            alu_binary(&lazy, EFLAGS_FIXED, ALU_CMP, 4, a, b);
            cr_assert_eq(flags_condition(&lazy, 0, CC_B), below);
            cr_assert_eq(flags_condition(&lazy, 0, CC_E), equal);
            cr_assert_eq(flags_condition(&lazy, 0, CC_L), less);
            cr_assert_eq(flags_condition(&lazy, 0, CC_LE), less_equal);
            cr_assert_eq(flags_condition(&lazy, 0, CC_A), above);
            cr_assert_eq(flags_condition(&lazy, 0, CC_S), sign);
            cr_assert_eq(flags_condition(&lazy, 0, CC_P), parity);
            cr_assert_eq(flags_condition(&lazy, 0, CC_O), overflow);
        }
}
