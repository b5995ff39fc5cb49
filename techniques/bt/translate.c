/*
 * translate.c - one guest basic block into 64-bit host code.
 *
 * The guest's instructions are decoded one by one (the core's decoder,
 * core/x86/decode.c) until the block ends: at a control transfer, at an
 * instruction the translator hands to the core (a callout), after
 * BT_BLOCK_MAX_INSTRUCTIONS, or where the guest page ends - a block never
 * crosses a page, so a write to a page invalidates exactly that page's
 * blocks, and an instruction that straddles two pages is a callout (the
 * core fetches it across the boundary with the guest's own page walk).
 *
 * Every guest instruction gets one of three treatments:
 *
 *   IDENT     its bytes are kept. Only for a whitelist of instructions that
 *             mean the same in 64-bit mode: ALU, MOV, LEA, shifts, MUL/DIV,
 *             string instructions, SETcc/CMOVcc/BSF... With a memory
 *             operand, a 0x67 prefix makes the address 32 bits wide and
 *             zero-extended (guest-virtual = host address below 4 GiB),
 *             and ModRM mod=00 rm=101 - [disp32] in 32-bit code, but
 *             [RIP+disp32] in 64-bit mode - is re-encoded with a SIB
 *             byte (emit.c). Nothing is ever prefixed with REX, so the
 *             guest can name only EAX..EDI and ESP.
 *   REWRITE   the instruction exists in 64-bit mode with another meaning
 *             or width, so an equivalent sequence is emitted:
 *               inc/dec r32 (0x40-0x4f are REX prefixes in 64-bit mode,
 *                 SDM vol. 2, 2.2.1): FF /0, FF /1;
 *               push/pop (64-bit wide in 64-bit mode, vol. 2 PUSH):
 *                 a 32-bit store at -4(%esp), then LEA -4(%esp),%esp;
 *               call/ret/jmp/jcc/loop: the block's exits (below);
 *               leave; the 0x82 alias of 0x80 (invalid in 64-bit mode).
 *             Each sequence touches memory first and changes registers
 *             after, so a fault leaves the guest exactly as before the
 *             instruction (precise exceptions, fault.c).
 *   VIRTUAL   sensitive but harmless to run inline: cli, sti, pushf,
 *             popf, push sreg, mov r/m,sreg work on the virtual flags and
 *             selectors in the context (virtual_state.c), as far as the
 *             CPL and IOPL the block is translated for allow.
 *   CALLOUT   everything else sensitive or unknown: the block ends, and the
 *             run loop executes the instruction in the core emulator
 *             (callout.c): cli/sti where CPL > IOPL (#GP), 16-bit
 *             pushf/popf, in/out, int/iret, hlt,
 *             segment loads and far transfers, control registers,
 *             cpuid/rdtsc, FS/GS-relative accesses (the host's FS/GS
 *             bases belong to glibc), 16-bit operands on stack and branch
 *             instructions, 16-bit addressing, the BCD and other
 *             instructions 64-bit mode lacks, x87/SSE (#UD in the core).
 *             Nothing a guest writes can therefore become a host syscall,
 *             sysenter, int 0x80 or far transfer: those are callouts.
 *
 * A block exit adds the block's instructions to R14, stores the next
 * guest EIP in the context and jumps to an exit stub (enter.c). A
 * conditional branch is
 *
 *      lea    n(%r14), %r14      ; n instructions done (LEA: flags intact)
 *      j<cc>  taken              ; the guest's own condition, on the
 *      <exit to fall-through>    ; guest's own flags in RFLAGS
 *   taken:
 *      <exit to target>
 *
 * Direct exits (jmp, jcc, loop, call, the end of a page or of the
 * instruction budget) can later be chained to their target's translation
 * by patching one 64-bit address (bt.c); indirect ones (ret, jmp/call
 * through a register or memory) always return to the dispatcher.
 *
 * Two views of guest memory (core/direct/direct.h): code translated for
 * CPL 0-2 addresses the supervisor view, guest address v at host address
 * v, as above. Code translated for CPL 3 (block->user) must never touch a
 * page only the guest kernel may touch, so every guest memory access in
 * it - IDENT operands and the rewritten push/pop/call/ret/leave alike -
 * gets a GS prefix (0x65) beside its 0x67: in 64-bit mode the address is
 * then GS.base + the zero-extended 32-bit effective address (SDM vol. 1,
 * 3.3.7; vol. 3, 3.2.4: FS and GS keep their bases in 64-bit mode), and
 * the dispatcher has made GS.base the user view, which maps only what
 * CPL 3 may touch, with CPL 3's rights. The guest's own CS/DS/ES/SS
 * prefixes are dropped there (one segment prefix per instruction; theirs
 * are all based at 0 when bt runs, bt.c), its FS/GS ones are callouts
 * anyway. The string instructions that write or compare at ES:EDI (movs,
 * stos, cmps, scas) are callouts in user blocks: that operand ignores
 * segment overrides (vol. 2, MOVS), and ES has no base in 64-bit mode, so
 * it would reach the supervisor view.
 */
#include <string.h>

#include "bt_internal.h"
#include "emit.h"

enum treatment {
    IDENT, VIRTUAL, INC_DEC, PUSH_REG, POP_REG, PUSH_IMM, PUSH_RM, LEAVE,
    JMP, JCC, LOOP, CALL, RET, JMP_RM, CALL_RM, CALLOUT,
};

/* Operations kept as they are (with the memory operand re-encoded). */
static const bool identical_in_64bit_mode[OP_COUNT] = {
    [OP_ALU_RM_REG] = true, [OP_ALU_REG_RM] = true, [OP_ALU_ACC_IMM] = true,
    [OP_ALU_RM_IMM] = true, [OP_IMUL_REG_RM_IMM] = true, [OP_TEST_RM_REG] = true,
    [OP_XCHG_RM_REG] = true, [OP_MOV_RM_REG] = true, [OP_MOV_REG_RM] = true, [OP_LEA] = true,
    [OP_NOP] = true, [OP_XCHG_ACC_REG] = true, [OP_CBW] = true, [OP_CWD] = true,
    [OP_MOV_ACC_MOFFS] = true, [OP_MOV_MOFFS_ACC] = true, [OP_MOVS] = true, [OP_CMPS] = true,
    [OP_STOS] = true, [OP_LODS] = true, [OP_SCAS] = true, [OP_TEST_ACC_IMM] = true,
    [OP_MOV_REG_IMM] = true, [OP_SHIFT] = true, [OP_SHIFT_CL] = true, [OP_MOV_RM_IMM] = true,
    [OP_XLAT] = true, [OP_CMC] = true, [OP_TEST_RM_IMM] = true, [OP_NOT] = true,
    [OP_NEG] = true, [OP_MUL] = true, [OP_IMUL_ACC] = true, [OP_DIV] = true, [OP_IDIV] = true,
    [OP_CLC] = true, [OP_STC] = true, [OP_CLD] = true, [OP_STD] = true, [OP_INC_RM] = true,
    [OP_DEC_RM] = true, [OP_CMOVCC] = true, [OP_SETCC] = true, [OP_BT_RM_REG] = true,
    [OP_BT_RM_IMM] = true, [OP_SHLD_IMM] = true, [OP_SHLD_CL] = true, [OP_SHRD_IMM] = true,
    [OP_SHRD_CL] = true, [OP_CMPXCHG] = true, [OP_XADD] = true, [OP_CMPXCHG8B] = true,
    [OP_MOVZX] = true, [OP_MOVSX] = true, [OP_BSF] = true, [OP_BSR] = true, [OP_BSWAP] = true,
    [OP_IMUL_REG_RM] = true,
};

/* Instructions that address memory without a ModRM byte: with 0x67 their
 * implicit ESI/EDI/EBX and moffs are 32 bits wide (SDM vol. 2, 2.2.1.3). */
static bool implicit_memory(unsigned operation)
{
    switch (operation) {
    case OP_MOVS: case OP_CMPS: case OP_STOS: case OP_LODS: case OP_SCAS: case OP_XLAT:
    case OP_MOV_ACC_MOFFS: case OP_MOV_MOFFS_ACC:
        return true;
    default:
        return false;
    }
}

static enum treatment treatment_of(const struct x86_instruction *insn, uint32_t privilege)
{
    unsigned op = insn->operation;
    bool wide = insn->operand_size == 4;
    /* 16-bit addressing; FS and GS (their host bases are glibc's). */
    if (insn->address_size != 4)
        return CALLOUT;
    if (insn->segment_override && (insn->segment == SEG_FS || insn->segment == SEG_GS))
        return CALLOUT;
    /* BT r/m, reg with a memory operand reaches up to 512 MiB away from
     * the operand (SDM vol. 2, BT): the core does it. */
    if (op == OP_BT_RM_REG && insn->has_memory)
        return CALLOUT;
    /* F2/F3 on anything but a string instruction or PAUSE may select
     * another instruction on this CPU (F3 0F BC is TZCNT where the host
     * has BMI1, BSF for the core and QEMU): the core decides. */
    if (insn->repeat != REPEAT_NONE && !implicit_memory(op) && op != OP_NOP)
        return CALLOUT;
    if (identical_in_64bit_mode[op])
        return IDENT;
    if (bt_virtual_state_inline(insn, privilege))
        return VIRTUAL;
    switch (op) {
    case OP_INC_REG: case OP_DEC_REG: return INC_DEC;
    case OP_PUSH_REG: return wide ? PUSH_REG : CALLOUT;
    case OP_POP_REG: return wide && insn->reg != REG_ESP ? POP_REG : CALLOUT;
    case OP_PUSH_IMM: return wide ? PUSH_IMM : CALLOUT;
    case OP_PUSH_RM: return wide ? PUSH_RM : CALLOUT;
    case OP_LEAVE: return wide ? LEAVE : CALLOUT;
    case OP_JMP_REL: return wide ? JMP : CALLOUT;
    case OP_JCC: return wide ? JCC : CALLOUT;
    case OP_LOOP: case OP_LOOPE: case OP_LOOPNE: case OP_JCXZ: return wide ? LOOP : CALLOUT;
    case OP_CALL_REL: return wide ? CALL : CALLOUT;
    case OP_RET_NEAR: return wide ? RET : CALLOUT;
    case OP_JMP_RM: return wide ? JMP_RM : CALLOUT;
    case OP_CALL_RM: return wide ? CALL_RM : CALLOUT;
    default: return CALLOUT;
    }
}

/* ---- the sequences --------------------------------------------------------- */

#define ADDRESS_SIZE_PREFIX 0x67
#define REX_R 0x44            /* ModRM.reg names R8-R15: here R11 */
#define SCRATCH_R11 3         /* R11's low three bits */

static bool is_segment_prefix(uint8_t byte)
{
    return byte == 0x26 || byte == 0x2e || byte == 0x36 || byte == 0x3e || byte == 0x64 ||
           byte == 0x65;
}

/* The guest's legacy prefixes; in a user block without its segment
 * override, which would compete with GS. */
static void emit_guest_prefixes(struct emitter *e, const uint8_t *bytes, unsigned length)
{
    for (unsigned i = 0; i < length; i++)
        if (!e->user_view || !is_segment_prefix(bytes[i]))
            emit_byte(e, bytes[i]);
}

/* movs, stos, cmps, scas: an ES:EDI operand no prefix can move to GS. */
static bool addresses_es_edi(const struct x86_instruction *insn)
{
    unsigned op = insn->operation;
    return op == OP_MOVS || op == OP_STOS || op == OP_CMPS || op == OP_SCAS;
}

static void emit_ident(struct emitter *e, const struct x86_instruction *insn, const uint8_t *bytes)
{
    struct guest_layout layout;
    guest_layout_of(&layout, bytes, insn->length, insn->has_modrm);
    if (insn->has_memory || implicit_memory(insn->operation))
        emit_memory_prefixes(e);
    emit_guest_prefixes(e, bytes, layout.prefix_length);
    for (unsigned i = 0; i < layout.opcode_length; i++) {
        uint8_t opcode = bytes[layout.opcode_at + i];
        /* 0x82 is 0x80 in 32-bit code and invalid in 64-bit mode (vol. 2, A.3). */
        emit_byte(e, layout.opcode_length == 1 && opcode == 0x82 ? 0x80 : opcode);
    }
    if (layout.has_modrm)
        emit_modrm_operand(e, bytes, &layout, -1);
    emit_bytes(e, bytes + layout.immediate_at, (unsigned)(layout.length - layout.immediate_at));
}

/* mov r/m32, %r11d: the operand of push r/m, jmp r/m, call r/m. */
static void emit_load_scratch(struct emitter *e, const struct x86_instruction *insn,
                              const uint8_t *bytes)
{
    struct guest_layout layout;
    guest_layout_of(&layout, bytes, insn->length, true);
    emit_memory_prefixes(e);
    emit_byte(e, REX_R);
    emit_byte(e, 0x8b);
    emit_modrm_operand(e, bytes, &layout, SCRATCH_R11);
}

/* mov %reg, -4(%esp) */
static void emit_store_below_esp(struct emitter *e, unsigned reg)
{
    emit_memory_prefixes(e);
    emit_byte(e, 0x89);
    emit_byte(e, (uint8_t)(0x44 | reg << 3));
    emit_byte(e, 0x24);
    emit_byte(e, 0xfc);
}

/* movl $value, -4(%esp) */
static void emit_store_immediate_below_esp(struct emitter *e, uint32_t value)
{
    static const uint8_t movl_imm[] = {0xc7, 0x44, 0x24, 0xfc};
    emit_memory_prefixes(e);
    emit_bytes(e, movl_imm, sizeof movl_imm);
    emit_u32(e, value);
}

/*
 * Go on at the guest EIP in R11 (ret, jmp/call through a register or
 * memory), through a one-entry inline cache: the last target the
 * dispatcher saw here, and its translation (patched by
 * bt_code_cache_chain). The compare must leave the guest's flags alone,
 * so it is LEA (R10D = R11D - cached EIP, 32 bits) and JRCXZ, which jumps
 * if RCX is zero and writes no flag - with R10 swapped into RCX for the
 * test and back on either path:
 *
 *      lea   -CACHED(%r11), %r10d
 *      xchg  %r10, %rcx
 *      jrcxz hit
 *      xchg  %r10, %rcx          miss: context.eip = R11, site = this exit,
 *      mov   %r11d, 40(%r15)           back to the dispatcher, which
 *      movl  $site, 80(%r15)           fills the cache
 *      jmp   *56(%r15)
 *  hit:
 *      xchg  %r10, %rcx
 *      mov   %r11d, 40(%r15)     (in case the gate is closed, or the
 *      movl  $site, 80(%r15)      cache was emptied by an unchain)
 *      movabs $translation, %r11 (bt_exit_branch until the cache is filled)
 *      jmp   *72(%r15)           the gate
 */
static void emit_exit_to_scratch(struct emitter *e, struct bt_block *block)
{
    static const uint8_t mov_r11_eip[] = {0x45, 0x89, 0x5f, BT_CONTEXT_EIP};  /* REX.RB */
    static const uint8_t lea_r10[] = {0x45, 0x8d, 0x93};  /* lea disp32(%r11), %r10d */
    static const uint8_t xchg_r10_rcx[] = {0x4c, 0x87, 0xd1};
    uint32_t site = block->index * BT_BLOCK_MAX_EXITS + BT_INDIRECT_EXIT;
    emit_bytes(e, lea_r10, sizeof lea_r10);
    block->indirect_eip_patch = (uint16_t)emit_offset(e);
    emit_u32(e, 0);                        /* a hit on EIP 0 still goes to the exit stub */
    emit_bytes(e, xchg_r10_rcx, sizeof xchg_r10_rcx);
    emit_byte(e, 0xe3);                    /* jrcxz hit */
    emit_byte(e, 3 + 4 + 8 + 4);
    emit_bytes(e, xchg_r10_rcx, sizeof xchg_r10_rcx);
    emit_bytes(e, mov_r11_eip, sizeof mov_r11_eip);
    emit_store_context(e, BT_CONTEXT_EXIT_SITE, site);
    emit_jump_context(e, BT_CONTEXT_EXIT_BRANCH);
    emit_bytes(e, xchg_r10_rcx, sizeof xchg_r10_rcx);       /* hit: */
    emit_bytes(e, mov_r11_eip, sizeof mov_r11_eip);
    emit_store_context(e, BT_CONTEXT_EXIT_SITE, site);     /* refilled after an unchain */
    emit_byte(e, 0x49);                    /* movabs $imm64, %r11 */
    emit_byte(e, 0xbb);
    block->exit_patch[BT_INDIRECT_EXIT] = (uint16_t)emit_offset(e);
    uint64_t stub = (uint64_t)(uintptr_t)bt_exit_branch;
    emit_bytes(e, (const uint8_t *)&stub, 8);
    emit_jump_context(e, BT_CONTEXT_GATE);
    block->has_indirect_exit = true;
}

/* A direct exit to eip, remembered in the block so that it can be chained. */
static void emit_direct_exit(struct emitter *e, struct bt_block *block, uint32_t eip)
{
    uint32_t exit = block->exit_count++;
    block->exit_target[exit] = eip;
    block->exit_patch[exit] = (uint16_t)emit_chainable_exit(
        e, eip, block->index * BT_BLOCK_MAX_EXITS + exit, (uint64_t)(uintptr_t)bt_exit_branch);
}

static void emit_push_reg(struct emitter *e, unsigned reg)
{
    emit_store_below_esp(e, reg);         /* a fault here changes nothing */
    emit_adjust_esp(e, -4);
}

static void emit_pop_reg(struct emitter *e, unsigned reg)
{
    emit_memory_prefixes(e);              /* mov (%esp), %reg */
    emit_byte(e, 0x8b);
    emit_byte(e, (uint8_t)(0x04 | reg << 3));
    emit_byte(e, 0x24);
    emit_adjust_esp(e, 4);
}

static void emit_inc_dec(struct emitter *e, const struct x86_instruction *insn)
{
    if (insn->operand_size == 2)
        emit_byte(e, 0x66);
    emit_byte(e, 0xff);                   /* FF /0 inc, FF /1 dec, mod=11 */
    emit_byte(e, (uint8_t)((insn->operation == OP_INC_REG ? 0xc0 : 0xc8) | insn->reg));
}

static void emit_leave(struct emitter *e)
{
    static const uint8_t load_saved_ebp[] = {REX_R, 0x8b, 0x5d, 0x00};
    static const uint8_t mov_ebp_esp[] = {0x89, 0xec};
    static const uint8_t mov_r11_ebp[] = {REX_R, 0x89, 0xdd};
    emit_memory_prefixes(e);
    emit_bytes(e, load_saved_ebp, sizeof load_saved_ebp);   /* the only access: first */
    emit_bytes(e, mov_ebp_esp, sizeof mov_ebp_esp);
    emit_adjust_esp(e, 4);
    emit_bytes(e, mov_r11_ebp, sizeof mov_r11_ebp);
}

/* A two-way exit: `branch` (a short jump with rel8 to patch) to the
 * target, else fall through. */
static void emit_two_way_exit(struct emitter *e, struct bt_block *block, const uint8_t *branch,
                              unsigned branch_length, uint32_t fall_through, uint32_t target)
{
    emit_bytes(e, branch, branch_length);
    emit_byte(e, EMIT_CHAINABLE_EXIT_LENGTH);   /* rel8 over the fall-through exit */
    emit_direct_exit(e, block, fall_through);
    emit_direct_exit(e, block, target);
}

static void emit_loop(struct emitter *e, struct bt_block *block, const struct x86_instruction *insn,
                      uint32_t next, uint32_t target)
{
    /* With 0x67, LOOP and JECXZ count in ECX, not RCX (vol. 2, LOOP). */
    uint8_t opcode = insn->operation == OP_LOOPNE ? 0xe0 : insn->operation == OP_LOOPE ? 0xe1
                   : insn->operation == OP_LOOP ? 0xe2 : 0xe3;
    uint8_t branch[2] = {ADDRESS_SIZE_PREFIX, opcode};
    emit_two_way_exit(e, block, branch, 2, next, target);
}

/* Emit one instruction, the count-th of the block; returns true if it
 * ends the block (then its exit has added count to R14). */
static bool emit_instruction(struct emitter *e, struct bt_block *block,
                             const struct x86_instruction *insn, const uint8_t *bytes,
                             uint32_t eip, uint32_t count)
{
    uint32_t next = eip + insn->length, target = next + insn->immediate;
    switch (treatment_of(insn, block->privilege)) {
    case IDENT: emit_ident(e, insn, bytes); return false;
    case VIRTUAL: bt_emit_virtual_state(e, insn, bytes, eip, count, block->privilege); return false;
    case INC_DEC: emit_inc_dec(e, insn); return false;
    case PUSH_REG: emit_push_reg(e, insn->reg); return false;
    case POP_REG: emit_pop_reg(e, insn->reg); return false;
    case PUSH_IMM:
        emit_store_immediate_below_esp(e, insn->immediate);
        emit_adjust_esp(e, -4);
        return false;
    case PUSH_RM:
        emit_load_scratch(e, insn, bytes);
        emit_store_scratch_below_esp(e);
        emit_adjust_esp(e, -4);
        return false;
    case LEAVE: emit_leave(e); return false;
    case JMP:
        emit_count(e, count);
        emit_direct_exit(e, block, target);
        return true;
    case JCC: {
        uint8_t branch = (uint8_t)(0x70 | insn->sub);
        emit_count(e, count);
        emit_two_way_exit(e, block, &branch, 1, next, target);
        return true;
    }
    case LOOP:
        emit_count(e, count);
        emit_loop(e, block, insn, next, target);
        return true;
    case CALL:
        emit_store_immediate_below_esp(e, next);
        emit_adjust_esp(e, -4);
        emit_count(e, count);
        emit_direct_exit(e, block, target);
        return true;
    case RET: {
        static const uint8_t load_return[] = {REX_R, 0x8b, 0x1c, 0x24};
        emit_memory_prefixes(e);
        emit_bytes(e, load_return, sizeof load_return);
        emit_adjust_esp(e, 4 + (int32_t)(insn->immediate & 0xffff));
        emit_count(e, count);
        emit_exit_to_scratch(e, block);
        return true;
    }
    case JMP_RM:
        emit_load_scratch(e, insn, bytes);
        emit_count(e, count);
        emit_exit_to_scratch(e, block);
        return true;
    case CALL_RM:
        emit_load_scratch(e, insn, bytes);
        emit_store_immediate_below_esp(e, next);
        emit_adjust_esp(e, -4);
        emit_count(e, count);
        emit_exit_to_scratch(e, block);
        return true;
    case CALLOUT:
        break;
    }
    return false;       /* not reached: callouts are handled by the caller */
}

/* The core runs the instruction at eip: count the ones before it, leave. */
static void emit_callout_exit(struct emitter *e, uint32_t eip, uint32_t count)
{
    if (count)
        emit_count(e, count);
    emit_exit(e, eip, BT_CONTEXT_EXIT_CALLOUT);
}

/*
 * Is the instruction a callout (the core runs it)? `last`: nothing after
 * it would be in this block (the page or the instruction budget ends).
 * An inline sti must be followed in its block by the instruction its
 * interrupt shadow covers (SDM vol. 3, 6.8.3): between two blocks the
 * dispatcher may deliver an interrupt. A last sti is called out instead,
 * and the core runs it with its shadow (bt.c, run_in_core).
 */
static bool is_callout(const struct x86_instruction *insn, uint32_t privilege, bool last)
{
    enum treatment treatment = treatment_of(insn, privilege);
    return treatment == CALLOUT || (treatment == VIRTUAL && last && insn->operation == OP_STI);
}

uint32_t bt_translate_block(struct bt_block *block, const uint8_t *bytes, uint32_t available,
                            uint8_t *out, const struct bt_adaptive *adaptive)
{
    struct emitter e = {.start = out, .at = out, .user_view = block->user};
    uint32_t offset = 0, count = 0;
    block->callout_first = false;
    block->exit_count = 0;
    block->has_indirect_exit = false;
    for (;;) {
        struct x86_instruction insn;
        int length = offset < available
                   ? x86_decode(&insn, bytes + offset, available - offset, true) : 0;
        block->guest_offset[count] = (uint16_t)offset;
        block->host_offset[count] = (uint16_t)emit_offset(&e);
        if (offset >= available) {                    /* the page ends: go on in the next */
            emit_count(&e, count);
            emit_direct_exit(&e, block, block->eip + offset);
            break;
        }
        /* Undecodable here (#UD, too long) or straddling the page end: the
         * core fetches and decodes it, and raises what it must. A store
         * that kept faulting on page tables is a callout too (adaptive.c),
         * and so is a string instruction's ES:EDI in a user block. */
        bool last = count + 1 == BT_BLOCK_MAX_INSTRUCTIONS ||
                    (length > 0 && offset + (uint32_t)length >= available);
        if (length <= 0 || is_callout(&insn, block->privilege, last) ||
            (block->user && addresses_es_edi(&insn)) ||
            bt_adaptive_is_store_callout(adaptive, block->physical + offset)) {
            block->callout_first = count == 0;
            emit_callout_exit(&e, block->eip + offset, count);
            break;
        }
        bool ends = emit_instruction(&e, block, &insn, bytes + offset, block->eip + offset,
                                     count + 1);
        offset += (uint32_t)length;
        count++;
        if (ends)
            break;
        if (count == BT_BLOCK_MAX_INSTRUCTIONS) {
            block->guest_offset[count] = (uint16_t)offset;
            block->host_offset[count] = (uint16_t)emit_offset(&e);
            emit_count(&e, count);
            emit_direct_exit(&e, block, block->eip + offset);
            break;
        }
    }
    block->count = count;
    return emit_offset(&e);
}
