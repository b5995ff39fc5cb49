/*
 * flags - an arithmetic-flags and integer-instruction tester.
 *
 * The transcript is meant to be compared byte for byte between QEMU and
 * vmlab, so it contains only architecturally defined state: results, and
 * EFLAGS with the bits the Intel SDM leaves undefined for each instruction
 * masked off. verbose=1 prints every case.
 */
#include "flags.h"

/* Edge operands (SDM vol. 1, 4.2: the limits of 8-, 16- and 32-bit
 * signed and unsigned integers); the 8- and 16-bit tests truncate them. */
const uint32_t operands[N_OPERANDS] = {
    0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff,
    0x7fffffff, 0x80000000, 0xffffffff,
};
const uint8_t shift_counts[N_COUNTS] = { 0, 1, 7, 8, 31, 32 };

/* Every arithmetic flag clear, then every one set: shows both what an
 * instruction computes and what it leaves alone (INC keeps CF, ...). */
const uint32_t flag_inputs[N_FLAG_INPUTS] = { 0, FL_ARITH };

static bool verbose;
static const char *family_name;
static uint32_t family_hash, family_count;

void family_begin(const char *name)
{
    family_name = name;
    family_hash = HASH_INIT;
    family_count = 0;
}

void family_case(const char *op, uint32_t a, uint32_t b, uint32_t c,
                 uint32_t r, uint32_t r2, uint32_t flags)
{
    family_hash = hash_word(hash_word(hash_word(family_hash, r), r2), flags);
    family_count++;
    if (verbose)
        printf("  %s %08x %08x %08x -> %08x %08x fl=%03x\n", op, a, b, c, r, r2, flags);
}

void family_end(void)
{
    printf("%s: %u cases, hash %08x\n", family_name, family_count, family_hash);
}

void run_pairs(const char *op, op_fn fn, uint32_t defined)
{
    for (int i = 0; i < N_OPERANDS; i++)
        for (int j = 0; j < N_OPERANDS; j++)
            for (int k = 0; k < N_FLAG_INPUTS; k++) {
                uint32_t fl = flag_inputs[k], r2 = 0;
                uint32_t r = fn(operands[i], operands[j], &fl, &r2);
                family_case(op, operands[i], operands[j], flag_inputs[k], r, r2, fl & defined);
            }
}

void run_single(const char *op, op_fn fn, uint32_t defined)
{
    for (int i = 0; i < N_OPERANDS; i++)
        for (int k = 0; k < N_FLAG_INPUTS; k++) {
            uint32_t fl = flag_inputs[k], r2 = 0;
            uint32_t r = fn(operands[i], 0, &fl, &r2);
            family_case(op, operands[i], 0, flag_inputs[k], r, r2, fl & defined);
        }
}

/* A few answers worked out by hand from the SDM, so that the guest can fail
 * on its own even without a reference transcript. */
static void spot_checks(void)
{
    uint32_t f = 0, r = 0x7fffffff;
    asm(WITH_FLAGS("addl $1, %[r]") : [r] "+r"(r), [f] "+r"(f) : : "cc");
    CHECK(r == 0x80000000 && (f & FL_ARITH) == (FL_OF | FL_SF | FL_AF | FL_PF),
          "add 0x7fffffff+1: r=%08x flags=%03x, want 80000000 flags=894", r, f & FL_ARITH);
    f = 0, r = 0;
    asm(WITH_FLAGS("subl $1, %[r]") : [r] "+r"(r), [f] "+r"(f) : : "cc");
    CHECK(r == 0xffffffff && (f & FL_ARITH) == (FL_CF | FL_PF | FL_AF | FL_SF),
          "sub 0-1: r=%08x flags=%03x, want ffffffff flags=095", r, f & FL_ARITH);
    f = FL_CF, r = 0xffffffff;
    asm(WITH_FLAGS("incl %[r]") : [r] "+r"(r), [f] "+r"(f) : : "cc");
    CHECK(r == 0 && (f & FL_ARITH) == (FL_CF | FL_ZF | FL_PF | FL_AF),
          "inc 0xffffffff with CF=1: r=%08x flags=%03x, want 0 flags=055", r, f & FL_ARITH);
    uint16_t ax = 0x0b;
    f = 0;
    asm(WITH_FLAGS("aaa") : "+a"(ax), [f] "+r"(f) : : "cc");
    CHECK(ax == 0x0101 && (f & (FL_AF | FL_CF)) == (FL_AF | FL_CF),
          "aaa 0x0b: ax=%04x flags=%03x, want 0101 with AF CF", ax, f & FL_ARITH);
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    verbose = cmdline_uint("verbose", 0) != 0;
    printf("flags: integer instructions, EFLAGS with SDM-undefined bits masked\n");
    spot_checks();
    test_alu();
    test_encodings();
    test_shifts();
    test_muldiv();
    test_bits();
    test_bcd();
    test_strings();
    test_conditions();
    test_atomics();
    test_stack();
    test_moves();
    test_lea();
    printf("flags: done\n");
    return 0;
}
