/*
 * generate.h - random, valid, non-faulting 32-bit instruction sequences.
 *
 * A sequence is a list of items. An item is one instruction under test
 * preceded by the setup it needs to be valid: MOV-immediates that point a
 * base/index register into the data area, a known shift count in CL, a
 * divisor and dividend that cannot raise #DE, string pointers and a count,
 * or a CMP that defines the flags a flag reader is about to read. Setups
 * never change flags, so the flag state the item tests is what the
 * previous items left.
 *
 * The generator keeps track of which arithmetic flags the SDM leaves
 * undefined at each point (see flag_effect in generate.c): a flag reader
 * (Jcc, SETcc, CMOVcc, ADC/SBB, RCL/RCR, PUSHF, LAHF, DAA, ...) is only
 * emitted when the flags it reads are defined, and the comparison masks the
 * flags still undefined at the end. So the native CPU and the interpreter
 * must agree bit for bit on everything else.
 */
#ifndef VMLAB_DIFF_GENERATE_H
#define VMLAB_DIFF_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

#define SEQUENCE_MAX_BYTES 3072u   /* leaves room for the exit stub in CODE_CAPACITY */
#define SEQUENCE_MAX_ITEMS 49u   /* 48 items and the exception item */

struct sequence {
    uint8_t code[SEQUENCE_MAX_BYTES];
    unsigned length;
    unsigned item_count;
    unsigned item_end[SEQUENCE_MAX_ITEMS];        /* byte offset after each item */
    uint32_t undefined_after[SEQUENCE_MAX_ITEMS]; /* undefined EFLAGS bits after each item */
    uint32_t undefined_within[SEQUENCE_MAX_ITEMS];/* undefined anywhere in the item (or before it) */
    struct machine_state initial;
    struct interp_setup interp;                   /* how the interpreter side runs it */
};

/* Deterministic in seed: the same seed gives the same sequence and data. */
void generate_sequence(uint64_t seed, unsigned max_items, struct sequence *sequence,
                       uint8_t data[DATA_BUFFER_SIZE]);

/* Whether memory operands may use 16-bit addressing (the low data area is
 * mapped on the native side). */
extern bool generate_16bit_addressing;

/* Whether to generate what only the emulated sides can agree on: the
 * sensitive, unprivileged instructions (selectors, descriptor-table
 * registers, SMSW, LAR/LSL/VERR/VERW, and CLI/STI/POPF of IF and IOPL at
 * CPL 0) and FS/GS prefixes. The native side's answers are the host's. */
extern bool generate_sensitive;

/* Percentage of sequences that end with a deliberate exception (#DE, #BR,
 * #UD) which both sides must report alike. */
extern unsigned generate_fault_percent;

/* The per-sequence seed of sequence `index` of a campaign. */
uint64_t sequence_seed(uint64_t campaign_seed, uint64_t index);

#endif
