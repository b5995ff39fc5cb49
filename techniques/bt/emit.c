/*
 * emit.c - writing host machine code: bytes, the re-encoded ModRM operand
 * of a guest instruction, and the few fixed sequences blocks end with.
 *
 * Host encodings used here (SDM vol. 2, 2.2.1 "REX prefixes"): R15 needs
 * REX.B (0x41) as a base register; its low three bits are 111, so
 * disp8(%r15) is ModRM mod=01 rm=111 with no SIB byte.
 */
#include "emit.h"

#include <string.h>

void emit_u32(struct emitter *e, uint32_t value)
{
    memcpy(e->at, &value, 4);
    e->at += 4;
}

void emit_bytes(struct emitter *e, const uint8_t *bytes, unsigned count)
{
    memcpy(e->at, bytes, count);
    e->at += count;
}

static bool is_legacy_prefix(uint8_t byte)
{
    switch (byte) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
        return true;
    default:
        return false;
    }
}

/* ModRM + SIB + displacement for 32-bit addressing (SDM vol. 2, tables
 * 2-2 and 2-3). */
static unsigned modrm_operand_length(const uint8_t *modrm_bytes)
{
    uint8_t modrm = modrm_bytes[0], mod = modrm >> 6, rm = modrm & 7;
    unsigned length = 1;
    if (mod == 3)
        return length;
    if (rm == 4) {
        uint8_t sib = modrm_bytes[1];
        length++;
        if (mod == 0 && (sib & 7) == 5)
            length += 4;
    } else if (mod == 0 && rm == 5) {
        length += 4;
    }
    if (mod == 1)
        length += 1;
    else if (mod == 2)
        length += 4;
    return length;
}

void guest_layout_of(struct guest_layout *layout, const uint8_t *bytes, unsigned length,
                     bool has_modrm)
{
    unsigned at = 0;
    while (at < length && is_legacy_prefix(bytes[at]))
        at++;
    layout->prefix_length = (uint8_t)at;
    layout->opcode_at = (uint8_t)at;
    layout->opcode_length = bytes[at] == 0x0f ? 2 : 1;
    at += layout->opcode_length;
    layout->has_modrm = has_modrm;
    layout->modrm_at = (uint8_t)at;
    layout->modrm_length = has_modrm ? (uint8_t)modrm_operand_length(bytes + at) : 0;
    layout->immediate_at = (uint8_t)(at + layout->modrm_length);
    layout->length = (uint8_t)length;
}

void emit_modrm_operand(struct emitter *e, const uint8_t *bytes, const struct guest_layout *layout,
                        int reg_field)
{
    const uint8_t *operand = bytes + layout->modrm_at;
    uint8_t modrm = operand[0];
    if (reg_field >= 0)
        modrm = (uint8_t)((modrm & 0xc7) | (reg_field << 3));
    if ((modrm >> 6) == 0 && (modrm & 7) == 5) {
        emit_byte(e, (uint8_t)((modrm & 0xf8) | 4));    /* rm=100: a SIB follows */
        emit_byte(e, 0x25);                             /* no index, no base: disp32 */
        emit_bytes(e, operand + 1, 4);
        return;
    }
    emit_byte(e, modrm);
    emit_bytes(e, operand + 1, layout->modrm_length - 1u);
}

void emit_store_context(struct emitter *e, uint8_t displacement, uint32_t value)
{
    static const uint8_t movl_imm_r15[] = {0x41, 0xc7, 0x47};   /* C7 /0, mod=01 rm=r15 */
    emit_bytes(e, movl_imm_r15, sizeof movl_imm_r15);
    emit_byte(e, displacement);
    emit_u32(e, value);
}

void emit_jump_context(struct emitter *e, uint8_t displacement)
{
    static const uint8_t jmp_r15[] = {0x41, 0xff, 0x67};         /* FF /4, mod=01 rm=r15 */
    emit_bytes(e, jmp_r15, sizeof jmp_r15);
    emit_byte(e, displacement);
}

void emit_exit(struct emitter *e, uint32_t eip, uint8_t exit_slot)
{
    emit_store_context(e, 40, eip);          /* BT_CONTEXT_EIP */
    emit_jump_context(e, exit_slot);
}

void emit_count(struct emitter *e, uint32_t count)
{
    static const uint8_t lea_r14[] = {0x4d, 0x8d, 0x76};     /* REX.WRB 8D /r, mod=01 */
    emit_bytes(e, lea_r14, sizeof lea_r14);
    emit_byte(e, (uint8_t)count);                           /* at most 32: a disp8 */
}

uint32_t emit_chainable_exit(struct emitter *e, uint32_t eip, uint32_t site, uint64_t exit_stub)
{
    emit_store_context(e, 40, eip);                         /* BT_CONTEXT_EIP */
    emit_store_context(e, 80, site);                        /* BT_CONTEXT_EXIT_SITE */
    emit_byte(e, 0x49);                                     /* REX.WB: movabs $imm64, %r11 */
    emit_byte(e, 0xbb);
    uint32_t patch = emit_offset(e);
    memcpy(e->at, &exit_stub, 8);
    e->at += 8;
    emit_jump_context(e, 72);                               /* BT_CONTEXT_GATE */
    return patch;
}

void emit_switch_to_vmm_stack(struct emitter *e)
{
    static const uint8_t code[] = {0x49, 0x89, 0xe2,      /* mov %rsp, %r10 */
                                   0x49, 0x8b, 0x27};     /* mov (%r15), %rsp: host_rsp */
    emit_bytes(e, code, sizeof code);
}

void emit_switch_to_guest_stack(struct emitter *e)
{
    static const uint8_t code[] = {0x4c, 0x89, 0xd4};     /* mov %r10, %rsp */
    emit_bytes(e, code, sizeof code);
}

void emit_read_host_flags(struct emitter *e)
{
    static const uint8_t code[] = {0x9c,                  /* pushfq */
                                   0x41, 0x5b};           /* pop %r11 */
    emit_bytes(e, code, sizeof code);
}

void emit_load_host_flags(struct emitter *e)
{
    static const uint8_t code[] = {0x41, 0x53,            /* push %r11 */
                                   0x9d};                 /* popfq */
    emit_bytes(e, code, sizeof code);
}

void emit_adjust_esp(struct emitter *e, int32_t delta)
{
    static const uint8_t lea_esp[] = {0x67, 0x8d, 0xa4, 0x24};   /* lea disp32(%esp), %esp */
    emit_bytes(e, lea_esp, sizeof lea_esp);
    emit_u32(e, (uint32_t)delta);
}

/* Before every access to guest memory: the view's segment in user blocks
 * (GS, see translate.c's top comment), and 32-bit addressing. */
void emit_memory_prefixes(struct emitter *e)
{
    if (e->user_view)
        emit_byte(e, 0x65);         /* GS */
    emit_byte(e, 0x67);             /* address size: 32 bits */
}

void emit_store_scratch_below_esp(struct emitter *e)
{
    static const uint8_t mov_r11[] = {0x44, 0x89, 0x5c, 0x24, 0xfc};  /* REX.R: R11 */
    emit_memory_prefixes(e);
    emit_bytes(e, mov_r11, sizeof mov_r11);
}

uint32_t emit_short_jump(struct emitter *e, uint8_t opcode)
{
    emit_byte(e, opcode);
    emit_byte(e, 0);                /* the rel8, patched by emit_jump_here */
    return emit_offset(e) - 1;
}

void emit_jump_here(struct emitter *e, uint32_t rel8_at)
{
    e->start[rel8_at] = (uint8_t)(emit_offset(e) - (rel8_at + 1));
}
