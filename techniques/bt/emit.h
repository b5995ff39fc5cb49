/*
 * emit.h - writing host machine code (emit.c).
 */
#ifndef VMLAB_BT_EMIT_H
#define VMLAB_BT_EMIT_H

#include <stdbool.h>
#include <stdint.h>

struct emitter {
    uint8_t *start, *at;
    bool user_view;             /* guest memory through GS, the user view (translate.c) */
};

static inline void emit_byte(struct emitter *e, uint8_t byte)
{
    *e->at++ = byte;
}

void emit_u32(struct emitter *e, uint32_t value);
void emit_bytes(struct emitter *e, const uint8_t *bytes, unsigned count);

static inline uint32_t emit_offset(const struct emitter *e)
{
    return (uint32_t)(e->at - e->start);
}

/*
 * Where the parts of a 32-bit guest instruction are (SDM vol. 2, 2.1:
 * prefixes, opcode, ModRM, SIB, displacement, immediate).
 */
struct guest_layout {
    uint8_t prefix_length;      /* legacy prefixes */
    uint8_t opcode_at, opcode_length;
    uint8_t modrm_at;           /* valid if has_modrm */
    uint8_t modrm_length;       /* ModRM + SIB + displacement */
    uint8_t immediate_at;       /* the rest, up to length */
    uint8_t length;
    bool has_modrm;
};

/* Split bytes[0..length) into its parts; has_modrm comes from the decoder. */
void guest_layout_of(struct guest_layout *layout, const uint8_t *bytes, unsigned length,
                     bool has_modrm);

/*
 * The ModRM operand of a guest instruction, re-encoded for 64-bit mode
 * with a 0x67 prefix in force:
 *   - reg_field (0-7) replaces ModRM.reg (pass -1 to keep the guest's);
 *   - mod=00 rm=101 means [disp32] in 32-bit code but [RIP+disp32] in
 *     64-bit mode (SDM vol. 2, 2.2.1.6), so it becomes a SIB byte with no
 *     base and no index (SIB 0x25: base=101 with mod=00 is "disp32, no
 *     base" in both modes, table 2-3), which 64-bit mode reads as the
 *     absolute address.
 * Everything else (base, index, scale, displacement) keeps its bytes:
 * with 0x67 the address is computed in 32 bits and zero-extended
 * (SDM vol. 1, 3.3.7), exactly the guest's linear address.
 */
void emit_modrm_operand(struct emitter *e, const uint8_t *bytes, const struct guest_layout *layout,
                        int reg_field);

/* movl $value, disp8(%r15) */
void emit_store_context(struct emitter *e, uint8_t displacement, uint32_t value);
/* jmp *disp8(%r15) */
void emit_jump_context(struct emitter *e, uint8_t displacement);
/* lea count(%r14), %r14: `count` more guest instructions completed. */
void emit_count(struct emitter *e, uint32_t count);
/* Leave the block: context.eip = eip, then the exit stub at that slot. */
void emit_exit(struct emitter *e, uint32_t eip, uint8_t exit_slot);
/* A direct exit that can be chained (enter.c): returns the offset of the
 * 64-bit jump address to patch. */
uint32_t emit_chainable_exit(struct emitter *e, uint32_t eip, uint32_t site, uint64_t exit_stub);
/*
 * The guest's RFLAGS cannot be read or written without a stack (PUSHFQ,
 * POPFQ), and the guest's stack is guest memory: a PUSHFQ there would
 * write 8 bytes below ESP that the guest never wrote. So these run on
 * the VMM's own stack (context.host_rsp: what bt_enter saved, free below
 * it), with the guest's RSP in R10 meanwhile. A signal in between runs on
 * the signal stack (core/direct/signals.c, SA_ONSTACK).
 */
/* mov %rsp, %r10; mov 0(%r15), %rsp */
void emit_switch_to_vmm_stack(struct emitter *e);
/* mov %r10, %rsp */
void emit_switch_to_guest_stack(struct emitter *e);
/* R11 = RFLAGS (pushfq; pop %r11). */
void emit_read_host_flags(struct emitter *e);
/* RFLAGS = R11 (push %r11; popfq). At CPL 3 POPFQ leaves IF and IOPL
 * alone (SDM vol. 2, POPF), so only the bits R11 holds matter. */
void emit_load_host_flags(struct emitter *e);

/* lea delta(%esp), %esp (0x67: 32 bits, zero-extended into RSP): moves
 * the guest's ESP without touching the flags. */
void emit_adjust_esp(struct emitter *e, int32_t delta);
/* mov %r11d, -4(%esp): a push's store, before ESP moves. */
void emit_store_scratch_below_esp(struct emitter *e);
/* GS in a user block, then 0x67: before every access to guest memory. */
void emit_memory_prefixes(struct emitter *e);

/* A short forward jump (jz 0x74, jnz 0x75, jrcxz 0xe3...) over code not
 * yet emitted: returns where its rel8 is; emit_jump_here(e, that) once
 * the code is there makes it land at the current offset (at most 127
 * bytes on). */
uint32_t emit_short_jump(struct emitter *e, uint8_t opcode);
void emit_jump_here(struct emitter *e, uint32_t rel8_at);

/* Bytes emit_count and emit_chainable_exit write. */
#define EMIT_COUNT_LENGTH 4
#define EMIT_CHAINABLE_EXIT_LENGTH 30

#endif
