/*
 * virtual_state.c - the sensitive instructions that do not trap, translated
 * inline: cli, sti, pushf, popf, push sreg and mov r/m,sreg.
 *
 * These are the instructions that make the 386 fail Popek and Goldberg's
 * test (the kernel's `sensitive` scenario): at ring 3 pushf shows the
 * host's IF, popf silently ignores IF, push cs shows the host's CPL. A
 * translator sees them before they run, and VMware's made them cheap
 * (Adams and Agesen, ASPLOS 2006): instead of calling out to the VMM, it
 * writes a few instructions that work on the *virtual* CPU.
 *
 * The virtual state lives in the context (bt_internal.h), which R15 points
 * at and the guest cannot name: context.virtual_if (EFLAGS_IF or 0),
 * context.virtual_flags (IOPL, TF, NT, AC, ID, VIF, VIP),
 * context.interrupt_pending and context.selectors[]. The arithmetic flags
 * and DF are the host's own RFLAGS (enter.c). bt.c copies the virtual
 * state from struct cpu when it enters translated code and back when it
 * leaves, so the core and the dashboard always see it.
 *
 *   cli    movl $0, virtual_if
 *   sti    if an interrupt is pending: leave as a callout at the sti, and
 *          the core runs it with its one-instruction interrupt shadow
 *          (SDM vol. 3, 6.8.3) and delivers the interrupt after the next
 *          instruction (bt.c, run_in_core); else movl $IF, virtual_if
 *   pushf  the guest's arithmetic flags and DF from RFLAGS, merged with
 *          virtual_if and virtual_flags, stored at -4(%esp)
 *   popf   the popped value's arithmetic flags and DF into RFLAGS, and
 *          the bits the CPL and IOPL let it change into the virtual ones
 *          (SDM vol. 2, POPF: IOPL only at CPL 0, IF only if CPL <= IOPL,
 *          silently otherwise); if it sets IF while an
 *          interrupt is pending, leave after it (no shadow for popf)
 *
 * RFLAGS needs a stack to be read (PUSHFQ) or written (POPFQ); emit.c's
 * helpers use the VMM's stack, never the guest's. Every sequence touches
 * guest memory first (popf) or last after restoring every guest register
 * (pushf), so a fault on the guest's stack is precise (fault.c).
 *
 * Where CPL > IOPL, cli and sti raise #GP(0) (SDM vol. 2, CLI): they stay
 * callouts, and the core raises it. What cli, sti and popf may do depends
 * on the CPL and IOPL, which is why both are in a block's key
 * (BT_MAY_WRITE_IF in bt_internal.h). 16-bit pushf/popf stay callouts.
 *
 *   push sreg      the selector from context.selectors[], stored as push
 *                  stores (32 bits, zero-extended, as the core does)
 *   mov r/m,sreg   the selector into the register (zero-extended with a
 *                  32-bit operand, SDM vol. 2, MOV) or 16 bits to memory
 *
 * Segment loads are callouts (the core checks the descriptor), so the
 * selectors cannot change while translated code runs.
 */
#include "bt_internal.h"
#include "core/lab.h"
#include "emit.h"

unsigned bt_flags_privilege(const struct cpu *cpu)
{
    unsigned cpl = cpu_cpl(cpu), iopl = (cpu->eflags & EFLAGS_IOPL) >> 12;
    return (cpl <= iopl ? BT_MAY_WRITE_IF : 0) | (cpl == 0 ? BT_MAY_WRITE_IOPL : 0) |
           (cpl == 3 ? BT_USER : 0);
}

/* What translated code keeps in RFLAGS (enter.c). */
#define HOST_FLAGS (EFLAGS_ARITHMETIC | EFLAGS_DF)

/* LAB 04: BEGIN translating cli, sti, pushf and popf into inline virtual-flag code */

static void emit_cli(struct emitter *e)
{
    emit_store_context(e, BT_CONTEXT_VIRTUAL_IF, 0);
}

/*
 * The pending test must leave the guest's flags alone: MOV and JRCXZ
 * write none (RCX, the guest's ECX, waits in R10 meanwhile).
 *
 *      mov   %rcx, %r10
 *      mov   interrupt_pending(%r15), %ecx
 *      jrcxz none
 *      mov   %r10, %rcx
 *      lea   count-1(%r14), %r14     the instructions before the sti
 *      movl  $eip_of_sti, eip(%r15)
 *      jmp   *exit_callout(%r15)     the core runs the sti
 *  none:
 *      mov   %r10, %rcx
 *      movl  $EFLAGS_IF, virtual_if(%r15)
 */
static void emit_sti(struct emitter *e, uint32_t eip, uint32_t count)
{
    static const uint8_t save_rcx[] = {0x49, 0x89, 0xca};                 /* mov %rcx, %r10 */
    static const uint8_t load_pending[] = {0x41, 0x8b, 0x4f, BT_CONTEXT_INTERRUPT_PENDING};
    static const uint8_t restore_rcx[] = {0x4c, 0x89, 0xd1};              /* mov %r10, %rcx */
    emit_bytes(e, save_rcx, sizeof save_rcx);
    emit_bytes(e, load_pending, sizeof load_pending);
    uint32_t none = emit_short_jump(e, 0xe3);                             /* jrcxz */
    emit_bytes(e, restore_rcx, sizeof restore_rcx);
    if (count > 1)
        emit_count(e, count - 1);
    emit_exit(e, eip, BT_CONTEXT_EXIT_CALLOUT);
    emit_jump_here(e, none);
    emit_bytes(e, restore_rcx, sizeof restore_rcx);
    emit_store_context(e, BT_CONTEXT_VIRTUAL_IF, EFLAGS_IF);
}

/*
 * pushf without writing RFLAGS, and so without the POPFQ that restoring
 * them would cost (about 20 cycles): the image is a sum. Inside translated
 * code the host's RFLAGS are always the guest's arithmetic flags and DF,
 * plus bit 1 and IF (user mode: IF is 1, IOPL 0; bt_enter's POPFQ and the
 * popf below load nothing else, and no IDENT instruction can set AC, ID,
 * TF or NT). So PUSHFQ gives   G + 0x202,
 * and the guest's image is     G + 0x2 + virtual_flags + virtual_if,
 * (virtual_flags holds neither bit 1, nor RF or VM, which the image shows
 * as 0: SDM vol. 2, PUSHF). The bits of the terms do not overlap, so OR
 * is ADD - and LEA adds without touching the flags:
 *
 *      mov    %rsp, %r10 ; mov 0(%r15), %rsp     the VMM's stack
 *      pushfq ; pop %r11                          R11 = G + 0x202
 *      mov    %r10, %rsp
 *      mov    virtual_flags(%r15), %r10d
 *      lea    -0x200(%r11,%r10), %r11d
 *      mov    virtual_if(%r15), %r10d
 *      lea    (%r11,%r10), %r11d
 *      mov    %r11d, -4(%esp)                     the push: a fault here is precise
 *      lea    -4(%esp), %esp
 */
static void emit_pushf(struct emitter *e)
{
    static const uint8_t load_virtual_flags[] = {0x45, 0x8b, 0x57, BT_CONTEXT_VIRTUAL_FLAGS};
    static const uint8_t add_minus_if[] = {0x47, 0x8d, 0x9c, 0x13};   /* lea disp32(%r11,%r10),%r11d */
    static const uint8_t load_virtual_if[] = {0x45, 0x8b, 0x57, BT_CONTEXT_VIRTUAL_IF};
    static const uint8_t add[] = {0x47, 0x8d, 0x1c, 0x13};            /* lea (%r11,%r10), %r11d */
    emit_switch_to_vmm_stack(e);
    emit_read_host_flags(e);
    emit_switch_to_guest_stack(e);
    emit_bytes(e, load_virtual_flags, sizeof load_virtual_flags);
    emit_bytes(e, add_minus_if, sizeof add_minus_if);
    emit_u32(e, (uint32_t)-EFLAGS_IF);
    emit_bytes(e, load_virtual_if, sizeof load_virtual_if);
    emit_bytes(e, add, sizeof add);
    emit_store_scratch_below_esp(e);
    emit_adjust_esp(e, -4);
}

/* RFLAGS = the popped value's arithmetic flags and DF; ESP += 4. */
static void emit_popf_host_part(struct emitter *e)
{
    static const uint8_t and_r11[] = {0x41, 0x81, 0xe3};                  /* and $imm32, %r11d */
    emit_bytes(e, and_r11, sizeof and_r11);
    emit_u32(e, HOST_FLAGS);
    emit_switch_to_vmm_stack(e);
    emit_load_host_flags(e);
    emit_switch_to_guest_stack(e);
    emit_adjust_esp(e, 4);
}

/*
 * The bits this popf may change: the SDM's mask for the CPL and IOPL the
 * block is translated for (vol. 2, POPF, protected mode), as the core's
 * pop_flags has it.
 *
 *      mov   (%esp), %r11d                   the only access to memory: first
 *      andl  $~virtual mask, virtual_flags(%r15)
 *      mov   %r11d, %r10d ; and $virtual mask, %r10d
 *      or    %r10d, virtual_flags(%r15)
 *   if IF may change:
 *      mov   %r11d, %r10d ; and $IF, %r10d
 *      mov   %r10d, virtual_if(%r15)
 *      and   interrupt_pending(%r15), %r10d  IF set and an interrupt waiting?
 *      jz    stay
 *      <RFLAGS, ESP>; lea count(%r14),%r14; leave for the dispatcher after the popf
 *   stay:
 *      <RFLAGS, ESP>                         (emit_popf_host_part)
 *
 * The flags written before the last POPFQ are the guest's no more: the
 * popped value replaces them all.
 */
static void emit_popf(struct emitter *e, uint32_t next_eip, uint32_t count, uint32_t privilege)
{
    static const uint8_t load_top[] = {0x44, 0x8b, 0x1c, 0x24};          /* mov (%esp), %r11d */
    static const uint8_t and_virtual_flags[] = {0x41, 0x81, 0x67, BT_CONTEXT_VIRTUAL_FLAGS};
    static const uint8_t r10_from_r11[] = {0x45, 0x89, 0xda};             /* mov %r11d, %r10d */
    static const uint8_t and_r10[] = {0x41, 0x81, 0xe2};                  /* and $imm32, %r10d */
    static const uint8_t or_r10_virtual_flags[] = {0x45, 0x09, 0x57, BT_CONTEXT_VIRTUAL_FLAGS};
    static const uint8_t store_virtual_if[] = {0x45, 0x89, 0x57, BT_CONTEXT_VIRTUAL_IF};
    static const uint8_t and_pending[] = {0x45, 0x23, 0x57, BT_CONTEXT_INTERRUPT_PENDING};
    uint32_t virtual_mask = EFLAGS_TF | EFLAGS_NT | EFLAGS_AC | EFLAGS_ID;
    if (privilege & BT_MAY_WRITE_IOPL)
        virtual_mask |= EFLAGS_IOPL;
    emit_memory_prefixes(e);
    emit_bytes(e, load_top, sizeof load_top);
    emit_bytes(e, and_virtual_flags, sizeof and_virtual_flags);
    emit_u32(e, ~virtual_mask);
    emit_bytes(e, r10_from_r11, sizeof r10_from_r11);
    emit_bytes(e, and_r10, sizeof and_r10);
    emit_u32(e, virtual_mask);
    emit_bytes(e, or_r10_virtual_flags, sizeof or_r10_virtual_flags);
    if (privilege & BT_MAY_WRITE_IF) {
        emit_bytes(e, r10_from_r11, sizeof r10_from_r11);
        emit_bytes(e, and_r10, sizeof and_r10);
        emit_u32(e, EFLAGS_IF);
        emit_bytes(e, store_virtual_if, sizeof store_virtual_if);
        emit_bytes(e, and_pending, sizeof and_pending);
        uint32_t stay = emit_short_jump(e, 0x74);                         /* jz */
        emit_popf_host_part(e);
        emit_count(e, count);
        emit_store_context(e, BT_CONTEXT_EXIT_SITE, BT_NO_SITE);
        emit_exit(e, next_eip, BT_CONTEXT_EXIT_BRANCH);
        emit_jump_here(e, stay);
    }
    emit_popf_host_part(e);
}

static bool flags_inline(const struct x86_instruction *insn, uint32_t privilege)
{
    switch (insn->operation) {
    case OP_CLI: case OP_STI:
        return privilege & BT_MAY_WRITE_IF;           /* else #GP(0): the core raises it */
    case OP_PUSHF: case OP_POPF:
        return insn->operand_size == 4;
    default:
        return false;
    }
}

static void emit_flags_instruction(struct emitter *e, const struct x86_instruction *insn,
                                   uint32_t eip, uint32_t count, uint32_t privilege)
{
    switch (insn->operation) {
    case OP_CLI: emit_cli(e); break;
    case OP_STI: emit_sti(e, eip, count); break;
    case OP_PUSHF: emit_pushf(e); break;
    case OP_POPF: emit_popf(e, eip + insn->length, count, privilege); break;
    default: break;
    }
}

/* LAB 04: STUB
static bool flags_inline(const struct x86_instruction *insn, uint32_t privilege)
{
    (void)insn;
    (void)privilege;
    LAB_NOT_IMPLEMENTED(4, "cli, sti, pushf and popf inline (techniques/bt/virtual_state.c): "
                           "all called out");
    return false;
}

static void emit_flags_instruction(struct emitter *e, const struct x86_instruction *insn,
                                   uint32_t eip, uint32_t count, uint32_t privilege)
{
    (void)e;
    (void)insn;
    (void)eip;
    (void)count;
    (void)privilege;
}
   LAB 04: END */

/* ---- selectors ------------------------------------------------------------- */

/* mov selectors[segment](%r15), %r11d */
static void emit_load_selector(struct emitter *e, unsigned segment)
{
    static const uint8_t mov_r11[] = {0x45, 0x8b, 0x5f};
    emit_bytes(e, mov_r11, sizeof mov_r11);
    emit_byte(e, (uint8_t)(BT_CONTEXT_SELECTORS + 4 * segment));
}

static void emit_push_selector(struct emitter *e, unsigned segment)
{
    emit_load_selector(e, segment);
    emit_store_scratch_below_esp(e);
    emit_adjust_esp(e, -4);
}

static void emit_move_selector(struct emitter *e, const struct x86_instruction *insn,
                               const uint8_t *bytes)
{
    struct guest_layout layout;
    guest_layout_of(&layout, bytes, insn->length, true);
    if (!insn->has_memory) {                    /* mov selectors[reg](%r15), %r32 or %r16 */
        unsigned destination = bytes[layout.modrm_at] & 7;
        if (insn->operand_size == 2)
            emit_byte(e, 0x66);
        emit_byte(e, 0x41);
        emit_byte(e, 0x8b);
        emit_byte(e, (uint8_t)(0x47 | destination << 3));
        emit_byte(e, (uint8_t)(BT_CONTEXT_SELECTORS + 4 * insn->reg));
        return;
    }
    emit_load_selector(e, insn->reg);
    emit_byte(e, 0x66);                         /* mov %r11w, m16 */
    emit_memory_prefixes(e);
    emit_byte(e, 0x44);                         /* REX.R: ModRM.reg is R11 */
    emit_byte(e, 0x89);
    emit_modrm_operand(e, bytes, &layout, 3);
}

/* ---- the translator's side ------------------------------------------------- */

bool bt_virtual_state_inline(const struct x86_instruction *insn, uint32_t privilege)
{
    switch (insn->operation) {
    case OP_CLI: case OP_STI: case OP_PUSHF: case OP_POPF:
        return flags_inline(insn, privilege);
    case OP_PUSH_SEG:
        return insn->operand_size == 4;
    case OP_MOV_RM_SEG:                         /* a store through CS must #GP: the core */
        return !insn->has_memory || !insn->segment_override;
    default:
        return false;
    }
}

void bt_emit_virtual_state(struct emitter *e, const struct x86_instruction *insn,
                           const uint8_t *bytes, uint32_t eip, uint32_t count, uint32_t privilege)
{
    switch (insn->operation) {
    case OP_PUSH_SEG: emit_push_selector(e, insn->sub); break;
    case OP_MOV_RM_SEG: emit_move_selector(e, insn, bytes); break;
    default: emit_flags_instruction(e, insn, eip, count, privilege); break;
    }
}
