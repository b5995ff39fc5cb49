/*
 * flags.h - the arithmetic-flags tester's bookkeeping.
 *
 * Every instruction family runs over a fixed table of edge operands and
 * records, per case, its results and the EFLAGS bits the SDM defines for it
 * (undefined ones masked to 0). A family prints one line: its case count and
 * an FNV-1a hash over all cases; with verbose=1 on the command line it also
 * prints every case, so a differing hash can be traced to its case.
 */
#ifndef FLAGS_H
#define FLAGS_H

#include "guest.h"

#define N_OPERANDS 11
extern const uint32_t operands[N_OPERANDS];
#define N_COUNTS 6
extern const uint8_t shift_counts[N_COUNTS];
#define N_FLAG_INPUTS 2
extern const uint32_t flag_inputs[N_FLAG_INPUTS];

void family_begin(const char *name);
void family_case(const char *op, uint32_t a, uint32_t b, uint32_t c,
                 uint32_t r, uint32_t r2, uint32_t flags);
void family_end(void);

/* One instruction under test: inputs a, b; *flags in and out; a second
 * result (high half, remainder, ...) in *r2. */
typedef uint32_t (*op_fn)(uint32_t a, uint32_t b, uint32_t *flags, uint32_t *r2);

/* Run fn over every pair of operands and both flag inputs. */
void run_pairs(const char *op, op_fn fn, uint32_t defined);

/* Which flags a shift or rotate by count defines (shift.c). */
enum shift_kind { SHIFT, SHIFT_SAR, ROTATE, ROTATE_CARRY };
uint32_t shift_defined_flags(enum shift_kind kind, int bits, uint32_t count);

/* Run fn over every operand a (b = 0) and both flag inputs. */
void run_single(const char *op, op_fn fn, uint32_t defined);

void test_alu(void);
void test_encodings(void);
void test_shifts(void);
void test_muldiv(void);
void test_bits(void);
void test_bcd(void);
void test_strings(void);
void test_conditions(void);
void test_atomics(void);
void test_stack(void);
void test_moves(void);
void test_lea(void);

/* Set EFLAGS from a register, run insn, read EFLAGS back into it. */
#define WITH_FLAGS(insn) "push %[f]\n\tpopf\n\t" insn "\n\tpushf\n\tpop %[f]"

#endif
