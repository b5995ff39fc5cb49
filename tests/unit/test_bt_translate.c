/*
 * test_bt_translate.c - the binary translator's output (techniques/bt/
 * translate.c, emit.c), byte for byte and against Capstone.
 *
 * The translator is a pure function from guest bytes to host bytes, so it
 * is tested without running anything (running translated code needs the
 * low 4 GiB, which AddressSanitizer owns: tests/bt/run.sh runs it, with
 * the guests' faults checked against QEMU's transcripts):
 *
 *   - the exact bytes for one instruction of each class: IDENT with the
 *     0x67 prefix, the disp32 operand re-encoded with a SIB byte, inc/dec,
 *     push/pop, leave, the block exits (counted, chainable), a callout;
 *   - the inline virtual-state sequences (virtual_state.c) as Capstone
 *     reads them: cli, sti, pushf, popf at each flags privilege, push
 *     sreg, mov r/m,sreg; a store made a callout by adaptive.c;
 *   - Capstone as the oracle: every IDENT instruction, disassembled as
 *     64-bit code, is the guest instruction disassembled as 32-bit code
 *     (same mnemonic, same operands, addresses 32 bits wide);
 *   - block boundaries: a branch, a callout, the end of the page, the
 *     instruction limit;
 *   - the fault map: every host byte of a block maps back to the guest
 *     instruction it was made from;
 *   - blocks for CPL 3 (block.user): every access to guest memory, the
 *     rewritten push/pop/call/ret/leave included, goes through GS (the
 *     user view), kernel blocks never use GS, and the string instructions
 *     whose ES:EDI operand GS cannot reach are callouts there.
 */
#include <capstone/capstone.h>
#include <criterion/criterion.h>
#include <string.h>

#include "techniques/bt/bt_internal.h"

#define GUEST_EIP 0x101000u

static uint8_t out[BT_MAX_BLOCK_CODE];
static struct bt_block block;
static struct bt_adaptive adaptive;

/* Translate for a block key: BT_MAY_WRITE_* (0: cli/sti/popf of IF call out) and
 * BT_USER (CPL 3: guest memory through GS, the user view). */
static uint32_t translate_at(const uint8_t *bytes, uint32_t length, uint32_t privilege)
{
    memset(&block, 0, sizeof block);
    memset(out, 0xcc, sizeof out);
    block.eip = GUEST_EIP;
    block.privilege = privilege;
    block.user = privilege & BT_USER;
    return bt_translate_block(&block, bytes, length, out, &adaptive);
}

static uint32_t translate_for(bool user, const uint8_t *bytes, uint32_t length)
{
    return translate_at(bytes, length, user ? BT_USER : 0);
}

static uint32_t translate(const uint8_t *bytes, uint32_t length)
{
    return translate_for(false, bytes, length);
}

/* lea count(%r14), %r14: the block's instructions are counted at its exit. */
static void expect_count(const uint8_t *at, uint8_t count)
{
    uint8_t expected[4] = {0x4d, 0x8d, 0x76, count};
    cr_assert_arr_eq(at, expected, 4, "count %u", count);
}

/* A callout exit: movl $eip, 40(%r15); jmp *64(%r15). */
static void expect_callout_exit(const uint8_t *at, uint32_t eip)
{
    uint8_t expected[12] = {0x41, 0xc7, 0x47, 0x28, 0, 0, 0, 0,
                            0x41, 0xff, 0x67, BT_CONTEXT_EXIT_CALLOUT};
    memcpy(expected + 4, &eip, 4);
    cr_assert_arr_eq(at, expected, 12, "callout exit at 0x%x", eip);
}

/* A direct, chainable exit: movl $eip, 40(%r15); movl $site, 80(%r15);
 * movabs $bt_exit_branch, %r11 (patched when chained); jmp *72(%r15). */
static void expect_direct_exit(const uint8_t *at, uint32_t eip, uint32_t site)
{
    uint8_t expected[30] = {0x41, 0xc7, 0x47, 0x28, 0, 0, 0, 0,
                            0x41, 0xc7, 0x47, 0x50, 0, 0, 0, 0,
                            0x49, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0,
                            0x41, 0xff, 0x67, BT_CONTEXT_GATE};
    uint64_t stub = (uint64_t)(uintptr_t)bt_exit_branch;
    memcpy(expected + 4, &eip, 4);
    memcpy(expected + 12, &site, 4);
    memcpy(expected + 18, &stub, 8);
    cr_assert_arr_eq(at, expected, 30, "direct exit to 0x%x (site %u)", eip, site);
}

static void expect_code(const uint8_t *expected, unsigned length, const char *what)
{
    for (unsigned i = 0; i < length; i++)
        cr_assert_eq(out[i], expected[i], "%s: byte %u is 0x%02x, expected 0x%02x", what, i,
                     out[i], expected[i]);
}

/* One guest instruction followed by a jmp $+0 (eb 00), so the block ends. */
static uint32_t translate_one(const uint8_t *insn, unsigned length)
{
    uint8_t bytes[32];
    memcpy(bytes, insn, length);
    bytes[length] = 0xeb;
    bytes[length + 1] = 0x00;
    return translate(bytes, length + 2);
}

Test(bt_translate, ident_memory_operand_gets_address_size_prefix)
{
    static const uint8_t mov[] = {0x8b, 0x44, 0x24, 0x08};        /* mov 0x8(%esp),%eax */
    translate_one(mov, sizeof mov);
    static const uint8_t expected[] = {0x67, 0x8b, 0x44, 0x24, 0x08};
    expect_code(expected, sizeof expected, "mov 0x8(%esp),%eax");
    cr_assert_eq(block.count, 2);
}

Test(bt_translate, disp32_operand_is_not_rip_relative)
{
    static const uint8_t add[] = {0x03, 0x05, 0x00, 0x50, 0x10, 0x00};  /* add 0x105000,%eax */
    translate_one(add, sizeof add);
    static const uint8_t expected[] = {0x67, 0x03, 0x04, 0x25, 0x00, 0x50, 0x10, 0x00};
    expect_code(expected, sizeof expected, "add 0x105000,%eax");
}

Test(bt_translate, register_instruction_is_kept_without_prefix)
{
    static const uint8_t add[] = {0x01, 0xd8};                    /* add %ebx,%eax */
    translate_one(add, sizeof add);
    expect_code(add, sizeof add, "add %ebx,%eax");
    expect_count(out + 2, 2);                      /* add and jmp */
    expect_direct_exit(out + 6, GUEST_EIP + 4, 0);
}

Test(bt_translate, inc_dec_are_not_rex_prefixes)
{
    static const uint8_t code[] = {0x41, 0x4f, 0x66, 0x40};      /* inc %ecx; dec %edi; inc %ax */
    translate_one(code, sizeof code);
    static const uint8_t expected[] = {0xff, 0xc1, 0xff, 0xcf, 0x66, 0xff, 0xc0};
    expect_code(expected, sizeof expected, "inc/dec");
    cr_assert_eq(block.count, 4);
}

Test(bt_translate, push_and_pop_are_32_bits_wide)
{
    static const uint8_t code[] = {0x50, 0x5b};                   /* push %eax; pop %ebx */
    translate_one(code, sizeof code);
    static const uint8_t expected[] = {
        0x67, 0x89, 0x44, 0x24, 0xfc,                             /* mov %eax,-4(%esp) */
        0x67, 0x8d, 0xa4, 0x24, 0xfc, 0xff, 0xff, 0xff,           /* lea -4(%esp),%esp */
        0x67, 0x8b, 0x1c, 0x24,                                   /* mov (%esp),%ebx */
        0x67, 0x8d, 0xa4, 0x24, 0x04, 0x00, 0x00, 0x00,           /* lea 4(%esp),%esp */
    };
    expect_code(expected, sizeof expected, "push/pop");
}

Test(bt_translate, leave_loads_before_it_moves_esp)
{
    static const uint8_t leave[] = {0xc9};
    translate_one(leave, sizeof leave);
    static const uint8_t expected[] = {
        0x67, 0x44, 0x8b, 0x5d, 0x00,                             /* mov 0(%ebp),%r11d */
        0x89, 0xec,                                               /* mov %ebp,%esp */
        0x67, 0x8d, 0xa4, 0x24, 0x04, 0x00, 0x00, 0x00,           /* lea 4(%esp),%esp */
        0x44, 0x89, 0xdd,                                         /* mov %r11d,%ebp */
    };
    expect_code(expected, sizeof expected, "leave");
}

Test(bt_translate, opcode_0x82_becomes_0x80)
{
    static const uint8_t add[] = {0x82, 0xc0, 0x05};              /* add $5,%al (0x82 alias) */
    translate_one(add, sizeof add);
    static const uint8_t expected[] = {0x80, 0xc0, 0x05};
    expect_code(expected, sizeof expected, "0x82");
}

Test(bt_translate, conditional_branch_has_two_exits)
{
    static const uint8_t jne[] = {0x75, 0x10};                    /* jne +0x10 */
    uint32_t length = translate(jne, sizeof jne);
    expect_count(out, 1);                          /* LEA: the guest's flags stay */
    cr_assert_eq(out[4], 0x75);
    cr_assert_eq(out[5], 30, "skips the fall-through exit");
    expect_direct_exit(out + 6, GUEST_EIP + 2, 0);
    expect_direct_exit(out + 36, GUEST_EIP + 2 + 0x10, 1);
    cr_assert_eq(length, 66);
    cr_assert_eq(block.count, 1);
    cr_assert_eq(block.exit_count, 2);
    cr_assert_eq(block.exit_target[0], GUEST_EIP + 2);
    cr_assert_eq(block.exit_target[1], GUEST_EIP + 0x12);
    cr_assert_eq(block.exit_patch[0], 6 + 18, "the patched address: the movabs immediate");
}

Test(bt_translate, call_pushes_the_return_address)
{
    static const uint8_t call[] = {0xe8, 0x00, 0x01, 0x00, 0x00}; /* call +0x100 */
    translate(call, sizeof call);
    static const uint8_t expected[] = {
        0x67, 0xc7, 0x44, 0x24, 0xfc, 0x05, 0x10, 0x10, 0x00,     /* movl $0x101005,-4(%esp) */
        0x67, 0x8d, 0xa4, 0x24, 0xfc, 0xff, 0xff, 0xff,           /* lea -4(%esp),%esp */
    };
    expect_code(expected, sizeof expected, "call");
    expect_count(out + sizeof expected, 1);
    expect_direct_exit(out + sizeof expected + 4, GUEST_EIP + 5 + 0x100, 0);
}

Test(bt_translate, ret_goes_through_an_inline_cache)
{
    static const uint8_t ret[] = {0xc2, 0x08, 0x00};              /* ret $8 */
    translate(ret, sizeof ret);
    uint8_t expected[] = {
        0x67, 0x44, 0x8b, 0x1c, 0x24,                             /* mov (%esp),%r11d */
        0x67, 0x8d, 0xa4, 0x24, 0x0c, 0x00, 0x00, 0x00,           /* lea 12(%esp),%esp */
        0x4d, 0x8d, 0x76, 0x01,                                   /* lea 1(%r14),%r14 */
        0x45, 0x8d, 0x93, 0x00, 0x00, 0x00, 0x00,                 /* lea -CACHED(%r11),%r10d */
        0x4c, 0x87, 0xd1,                                         /* xchg %r10,%rcx */
        0xe3, 19,                                                 /* jrcxz hit */
        0x4c, 0x87, 0xd1,                                         /* miss: xchg %r10,%rcx */
        0x45, 0x89, 0x5f, 0x28,                                   /* mov %r11d,40(%r15) */
        0x41, 0xc7, 0x47, 0x50, 2, 0, 0, 0,                       /* movl $site,80(%r15) */
        0x41, 0xff, 0x67, BT_CONTEXT_EXIT_BRANCH,                 /* jmp *56(%r15) */
        0x4c, 0x87, 0xd1,                                         /* hit: xchg %r10,%rcx */
        0x45, 0x89, 0x5f, 0x28,                                   /* mov %r11d,40(%r15) */
        0x41, 0xc7, 0x47, 0x50, 2, 0, 0, 0,                       /* movl $site,80(%r15) */
        0x49, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0,                       /* movabs $code,%r11 */
        0x41, 0xff, 0x67, BT_CONTEXT_GATE,                        /* jmp *72(%r15) */
    };
    uint64_t stub = (uint64_t)(uintptr_t)bt_exit_branch;
    memcpy(expected + 65, &stub, 8);
    expect_code(expected, sizeof expected, "ret $8");
    cr_assert(block.has_indirect_exit);
    cr_assert_eq(block.indirect_eip_patch, 20);
    cr_assert_eq(block.exit_patch[BT_INDIRECT_EXIT], 65);
}

/* Sensitive, or different in 64-bit mode: the block ends before it. */
Test(bt_translate, sensitive_instructions_are_callouts)
{
    static const uint8_t cases[][3] = {
        {0xfa}, {0xfb}, {0x66, 0x9c}, {0x66, 0x9d}, {0xf4}, {0xcd, 0x80}, {0xcf}, {0xe4, 0x60},
        {0xee}, {0x0f, 0x05}, {0x0f, 0x34}, {0x0f, 0xa2}, {0x0f, 0x31}, {0x8e, 0xd8},
        {0x66, 0x1e}, {0x2e, 0x8c, 0x03}, {0x60}, {0x61}, {0x27}, {0x63, 0xc0}, {0xd4, 0x0a},
        {0x9e}, {0x9f}, {0xce},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bytes[8] = {0x90};                                /* nop, then the case */
        memcpy(bytes + 1, cases[i], 3);
        translate(bytes, sizeof bytes);
        cr_assert_eq(block.count, 1, "case %zu (0x%02x): the nop only", i, cases[i][0]);
        cr_assert_eq(out[0], 0x90);
        expect_count(out + 1, 1);
        expect_callout_exit(out + 5, GUEST_EIP + 1);
    }
}

Test(bt_translate, far_jump_to_the_host_code_selector_is_a_callout)
{
    static const uint8_t far[] = {0xea, 0x00, 0x10, 0x00, 0x00, 0x33, 0x00};  /* ljmp $0x33 */
    translate(far, sizeof far);
    cr_assert(block.callout_first);
    expect_callout_exit(out, GUEST_EIP);
}

Test(bt_translate, fs_and_gs_accesses_are_callouts)
{
    static const uint8_t fs_load[] = {0x64, 0xa1, 0x00, 0x00, 0x00, 0x00};    /* mov %fs:0,%eax */
    translate(fs_load, sizeof fs_load);
    cr_assert(block.callout_first, "the host's FS base is glibc's");
    static const uint8_t gs_store[] = {0x65, 0x89, 0x03};                     /* mov %eax,%gs:(%ebx) */
    translate(gs_store, sizeof gs_store);
    cr_assert(block.callout_first);
}

Test(bt_translate, sixteen_bit_addressing_is_a_callout)
{
    static const uint8_t mov[] = {0x67, 0x8b, 0x07};                         /* mov (%bx),%eax */
    translate(mov, sizeof mov);
    cr_assert(block.callout_first);
}

Test(bt_translate, block_ends_at_the_page_end)
{
    static const uint8_t nops[] = {0x90, 0x90, 0x90};
    translate(nops, sizeof nops);                  /* 3 bytes left in the page */
    cr_assert_eq(block.count, 3);
    expect_count(out + 3, 3);
    expect_direct_exit(out + 7, GUEST_EIP + 3, 0);
}

Test(bt_translate, instruction_straddling_the_page_end_is_a_callout)
{
    static const uint8_t code[] = {0x90, 0xb8, 0x01, 0x02};  /* nop; mov $..,%eax cut short */
    translate(code, sizeof code);
    cr_assert_eq(block.count, 1);
    expect_count(out + 1, 1);
    expect_callout_exit(out + 5, GUEST_EIP + 1);
}

Test(bt_translate, block_length_is_bounded)
{
    uint8_t nops[100];
    memset(nops, 0x90, sizeof nops);
    translate(nops, sizeof nops);
    cr_assert_eq(block.count, BT_BLOCK_MAX_INSTRUCTIONS);
    expect_count(out + BT_BLOCK_MAX_INSTRUCTIONS, BT_BLOCK_MAX_INSTRUCTIONS);
    expect_direct_exit(out + BT_BLOCK_MAX_INSTRUCTIONS + 4, GUEST_EIP + BT_BLOCK_MAX_INSTRUCTIONS, 0);
}

Test(bt_translate, fault_map_names_the_guest_instruction_of_every_host_byte)
{
    static const uint8_t code[] = {
        0x50,                               /* push %eax           guest +0 */
        0x8b, 0x44, 0x24, 0x08,             /* mov 8(%esp),%eax    guest +1 */
        0xf7, 0xf1,                         /* div %ecx            guest +5 */
        0xa3, 0x00, 0x20, 0x00, 0x00,       /* mov %eax,0x2000     guest +7 */
        0xc3,                               /* ret                 guest +12 */
    };
    static const uint32_t guest[] = {0, 1, 5, 7, 12};
    static const uint32_t host_start[] = {0, 13, 18, 20, 26};   /* push is 13 bytes, ... */
    uint32_t length = translate(code, sizeof code);
    block.code = out;
    block.code_length = length;
    cr_assert_eq(block.count, 5);
    for (uint32_t i = 0; i < 5; i++) {
        cr_assert_eq(block.guest_offset[i], guest[i]);
        cr_assert_eq(block.host_offset[i], host_start[i], "instruction %u starts at host +%u",
                     i, block.host_offset[i]);
        uint32_t end = i + 1 < 5 ? host_start[i + 1] : length;
        for (uint32_t pc = host_start[i]; pc < end; pc++)
            cr_assert_eq(bt_block_instruction_at(&block, (uint64_t)(uintptr_t)(out + pc)), i,
                         "host +%u belongs to guest instruction %u", pc, i);
    }
}

/* ---- the virtual state inline (virtual_state.c), as Capstone reads it ---------- */

/* The host code of the block's first guest instruction, one line per host
 * instruction, is `lines` (Capstone's Intel syntax). */
static void expect_disassembly(const char *what, const char *const *lines, size_t count)
{
    csh c;
    cs_insn *insn;
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &c), CS_ERR_OK);
    size_t n = cs_disasm(c, out, block.host_offset[1], 0, 0, &insn);
    char line[256];
    size_t bytes = 0;
    for (size_t i = 0; i < n && i < count; i++) {
        snprintf(line, sizeof line, "%s %s", insn[i].mnemonic, insn[i].op_str);
        size_t end = strlen(line);
        while (end && line[end - 1] == ' ')
            line[--end] = 0;
        cr_assert_str_eq(line, lines[i], "%s: host instruction %zu", what, i);
        bytes += insn[i].size;
    }
    cr_assert_eq(n, count, "%s: %zu host instructions, expected %zu", what, n, count);
    cr_assert_eq(bytes, block.host_offset[1], "%s: every byte disassembles", what);
    cs_free(insn, n);
    cs_close(&c);
}

#define LINES(...) (const char *const[]){__VA_ARGS__}, \
    sizeof (const char *const[]){__VA_ARGS__} / sizeof(const char *)

/* Context offsets as Capstone prints them. */
_Static_assert(BT_CONTEXT_VIRTUAL_IF == 0x54 && BT_CONTEXT_VIRTUAL_FLAGS == 0x58 &&
               BT_CONTEXT_INTERRUPT_PENDING == 0x5c && BT_CONTEXT_SELECTORS == 0x60,
               "the expected lines below name these offsets");

Test(bt_translate, cli_is_a_store_to_the_virtual_if)
{
    static const uint8_t cli[] = {0xfa};
    translate_one(cli, sizeof cli);        /* translate_one: CPL 3, IOPL 0... */
    cr_assert(block.callout_first, "CPL > IOPL: #GP(0), the core raises it");
    uint8_t bytes[] = {0xfa, 0xeb, 0x00};
    translate_at(bytes, sizeof bytes, BT_MAY_WRITE_IF);
    cr_assert_eq(block.count, 2);
    expect_disassembly("cli", LINES("mov dword ptr [r15 + 0x54], 0"));
}

Test(bt_translate, sti_calls_out_only_when_an_interrupt_is_pending)
{
    uint8_t bytes[] = {0xfb, 0xeb, 0x00};
    translate_at(bytes, sizeof bytes, BT_MAY_WRITE_IF | BT_MAY_WRITE_IOPL);
    cr_assert_eq(block.count, 2);
    expect_disassembly("sti", LINES(
        "mov r10, rcx",
        "mov ecx, dword ptr [r15 + 0x5c]",             /* interrupt_pending */
        "jrcxz 0x18",                                  /* none: the flags are not touched */
        "mov rcx, r10",
        "mov dword ptr [r15 + 0x28], 0x101000",        /* the core runs the sti, with */
        "jmp qword ptr [r15 + 0x40]",                  /* its interrupt shadow */
        "mov rcx, r10",
        "mov dword ptr [r15 + 0x54], 0x200"));
}

Test(bt_translate, sti_is_never_the_last_instruction_of_a_block)
{
    /* Its interrupt shadow covers the next instruction, which must run
     * before the dispatcher can deliver anything: at the instruction
     * budget or the page end, sti is a callout (the core keeps the shadow). */
    uint8_t code[BT_BLOCK_MAX_INSTRUCTIONS + 2];
    memset(code, 0x90, sizeof code);
    code[BT_BLOCK_MAX_INSTRUCTIONS - 1] = 0xfb;
    translate_at(code, sizeof code, BT_MAY_WRITE_IF);
    cr_assert_eq(block.count, BT_BLOCK_MAX_INSTRUCTIONS - 1, "the block ends before the sti");
    uint8_t page_end[] = {0x90, 0xfb};
    translate_at(page_end, sizeof page_end, BT_MAY_WRITE_IF);
    cr_assert_eq(block.count, 1);
    expect_callout_exit(out + 5, GUEST_EIP + 1);
    uint8_t inside[] = {0x90, 0xfb, 0x90};
    translate_at(inside, sizeof inside, BT_MAY_WRITE_IF);
    cr_assert_eq(block.count, 3);
}

Test(bt_translate, pushf_merges_the_virtual_flags_without_writing_rflags)
{
    static const uint8_t pushf[] = {0x9c};
    translate_one(pushf, sizeof pushf);
    cr_assert_eq(block.count, 2, "pushf never faults in protected mode: inline at any CPL");
    expect_disassembly("pushf", LINES(
        "mov r10, rsp",
        "mov rsp, qword ptr [r15]",                    /* the VMM's stack, not the guest's */
        "pushfq",
        "pop r11",                                     /* the guest's arithmetic flags + 0x202 */
        "mov rsp, r10",
        "mov r10d, dword ptr [r15 + 0x58]",
        "lea r11d, [r11 + r10 - 0x200]",               /* + virtual_flags - the host's IF */
        "mov r10d, dword ptr [r15 + 0x54]",
        "lea r11d, [r11 + r10]",                       /* + virtual_if */
        "mov dword ptr [esp - 4], r11d",
        "lea esp, [esp - 4]"));
}

Test(bt_translate, popf_at_cpl3_with_iopl0_leaves_if_and_iopl_alone)
{
    static const uint8_t popf[] = {0x9d};
    translate_one(popf, sizeof popf);
    expect_disassembly("popf at CPL 3, IOPL 0", LINES(
        "mov r11d, dword ptr [esp]",                   /* the only access: first */
        "and dword ptr [r15 + 0x58], 0xffdbbeff",      /* TF NT AC ID */
        "mov r10d, r11d",
        "and r10d, 0x244100",
        "or dword ptr [r15 + 0x58], r10d",
        "and r11d, 0xcd5",                             /* arithmetic flags and DF */
        "mov r10, rsp",
        "mov rsp, qword ptr [r15]",
        "push r11",
        "popfq",
        "mov rsp, r10",
        "lea esp, [esp + 4]"));
}

Test(bt_translate, popf_at_cpl0_writes_iopl_and_if_and_lets_interrupts_in)
{
    uint8_t bytes[] = {0x9d, 0xeb, 0x00};
    translate_at(bytes, sizeof bytes, BT_MAY_WRITE_IF | BT_MAY_WRITE_IOPL);
    expect_disassembly("popf at CPL 0", LINES(
        "mov r11d, dword ptr [esp]",
        "and dword ptr [r15 + 0x58], 0xffdb8eff",      /* TF IOPL NT AC ID */
        "mov r10d, r11d",
        "and r10d, 0x247100",
        "or dword ptr [r15 + 0x58], r10d",
        "mov r10d, r11d",
        "and r10d, 0x200",
        "mov dword ptr [r15 + 0x54], r10d",            /* virtual_if */
        "and r10d, dword ptr [r15 + 0x5c]",            /* and an interrupt pending? */
        "je 0x62",
        "and r11d, 0xcd5",
        "mov r10, rsp",
        "mov rsp, qword ptr [r15]",
        "push r11",
        "popfq",
        "mov rsp, r10",
        "lea esp, [esp + 4]",
        "lea r14, [r14 + 1]",                          /* then back to the dispatcher, */
        "mov dword ptr [r15 + 0x50], 0xffffffff",      /* which delivers it */
        "mov dword ptr [r15 + 0x28], 0x101001",
        "jmp qword ptr [r15 + 0x38]",
        "and r11d, 0xcd5",
        "mov r10, rsp",
        "mov rsp, qword ptr [r15]",
        "push r11",
        "popfq",
        "mov rsp, r10",
        "lea esp, [esp + 4]"));
}

Test(bt_translate, segment_registers_are_read_from_the_context)
{
    static const uint8_t push_ds[] = {0x1e};
    translate_one(push_ds, sizeof push_ds);
    expect_disassembly("push %ds", LINES("mov r11d, dword ptr [r15 + 0x6c]",
                                         "mov dword ptr [esp - 4], r11d", "lea esp, [esp - 4]"));
    static const uint8_t mov_ds[] = {0x8c, 0xd8};                   /* mov %ds,%eax */
    translate_one(mov_ds, sizeof mov_ds);
    expect_disassembly("mov %ds,%eax", LINES("mov eax, dword ptr [r15 + 0x6c]"));
    static const uint8_t mov_ss[] = {0x66, 0x8c, 0xd0};             /* mov %ss,%ax */
    translate_one(mov_ss, sizeof mov_ss);
    expect_disassembly("mov %ss,%ax", LINES("mov ax, word ptr [r15 + 0x68]"));
    static const uint8_t mov_es[] = {0x8c, 0x03};                   /* mov %es,(%ebx) */
    translate_one(mov_es, sizeof mov_es);
    expect_disassembly("mov %es,(%ebx)", LINES("mov r11d, dword ptr [r15 + 0x60]",
                                               "mov word ptr [ebx], r11w"));
}

Test(bt_translate, a_store_that_keeps_faulting_on_page_tables_becomes_a_callout)
{
    static const uint8_t code[] = {0x90, 0x89, 0x01};              /* nop; mov %eax,(%ecx) */
    const uint32_t physical = 0x200000;
    memset(&adaptive, 0, sizeof adaptive);
    for (int i = 1; i < BT_ADAPTIVE_THRESHOLD; i++)
        cr_assert(!bt_adaptive_note_fault(&adaptive, physical + 1), "fault %d: not yet", i);
    memset(&block, 0, sizeof block);
    block.eip = GUEST_EIP;
    block.physical = physical;
    bt_translate_block(&block, code, sizeof code, out, &adaptive);
    cr_assert_eq(block.count, 2, "kept below the threshold");
    cr_assert(bt_adaptive_note_fault(&adaptive, physical + 1), "the threshold: adapt now");
    cr_assert(!bt_adaptive_note_fault(&adaptive, physical + 1), "only once");
    cr_assert(bt_adaptive_is_store_callout(&adaptive, physical + 1));
    cr_assert(!bt_adaptive_is_store_callout(&adaptive, physical));
    memset(&block, 0, sizeof block);
    block.eip = GUEST_EIP;
    block.physical = physical;
    bt_translate_block(&block, code, sizeof code, out, &adaptive);
    cr_assert_eq(block.count, 1, "the store is a callout now");
    expect_callout_exit(out + 5, GUEST_EIP + 1);
    memset(&adaptive, 0, sizeof adaptive);
}

/* ---- Capstone: IDENT means the same instruction in both modes ------------------ */

static void same_instruction(csh c32, csh c64, const uint8_t *guest, size_t guest_length)
{
    cs_insn *a, *b;
    cr_assert_eq(cs_disasm(c32, guest, guest_length, GUEST_EIP, 1, &a), 1);
    uint8_t bytes[32];
    memcpy(bytes, guest, guest_length);
    bytes[guest_length] = 0xeb;
    bytes[guest_length + 1] = 0;
    translate(bytes, (uint32_t)guest_length + 2);
    cr_assert_eq(block.count, 2, "%s %s is kept, not a callout", a->mnemonic, a->op_str);
    cr_assert_eq(cs_disasm(c64, out, block.host_offset[1], 0, 1, &b), 1,
                 "%s %s: the translation disassembles", a->mnemonic, a->op_str);
    cr_assert_eq(b->size, block.host_offset[1], "%s: one host instruction", a->mnemonic);
    cr_assert_str_eq(b->mnemonic, a->mnemonic);
    cs_x86 *x = &a->detail->x86, *y = &b->detail->x86;
    cr_assert_eq(x->op_count, y->op_count, "%s %s vs %s", a->mnemonic, a->op_str, b->op_str);
    for (int i = 0; i < x->op_count; i++) {
        cr_assert_eq(x->operands[i].type, y->operands[i].type, "%s %s vs %s", a->mnemonic,
                     a->op_str, b->op_str);
        cr_assert_eq(x->operands[i].size, y->operands[i].size, "%s %s vs %s", a->mnemonic,
                     a->op_str, b->op_str);
        if (x->operands[i].type == X86_OP_MEM) {
            cr_assert_eq(x->operands[i].mem.base, y->operands[i].mem.base, "%s %s vs %s",
                         a->mnemonic, a->op_str, b->op_str);
            cr_assert_eq(x->operands[i].mem.index, y->operands[i].mem.index);
            cr_assert_eq(x->operands[i].mem.disp, y->operands[i].mem.disp, "%s %s vs %s",
                         a->mnemonic, a->op_str, b->op_str);
            cr_assert_eq(y->addr_size, 4, "%s: 32-bit address in 64-bit mode", b->op_str);
        } else if (x->operands[i].type == X86_OP_REG) {
            cr_assert_eq(x->operands[i].reg, y->operands[i].reg, "%s %s vs %s", a->mnemonic,
                         a->op_str, b->op_str);
        } else if (x->operands[i].type == X86_OP_IMM) {
            cr_assert_eq(x->operands[i].imm, y->operands[i].imm);
        }
    }
    cs_free(a, 1);
    cs_free(b, 1);
}

Test(bt_translate, ident_instructions_mean_the_same_in_64bit_mode)
{
    static const struct { uint8_t bytes[12]; size_t length; } cases[] = {
        {{0x8b, 0x44, 0x24, 0x08}, 4},                      /* mov 8(%esp),%eax */
        {{0x89, 0x05, 0x00, 0x20, 0x00, 0x00}, 6},          /* mov %eax,0x2000 */
        {{0x8b, 0x84, 0x8b, 0x78, 0x56, 0x34, 0x12}, 7},    /* mov 0x12345678(%ebx,%ecx,4),%eax */
        {{0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00}, 7},    /* mov 0x1000(,%ecx,4),%eax */
        {{0x03, 0x45, 0xfc}, 3},                            /* add -4(%ebp),%eax */
        {{0x81, 0x05, 0x00, 0x30, 0x00, 0x00, 0x01, 0, 0, 0}, 10},  /* addl $1,0x3000 */
        {{0x83, 0xc4, 0x10}, 3},                            /* add $0x10,%esp */
        {{0xc7, 0x45, 0xf8, 0x07, 0, 0, 0}, 7},             /* movl $7,-8(%ebp) */
        {{0x8d, 0x44, 0x11, 0x04}, 4},                      /* lea 4(%ecx,%edx),%eax */
        {{0x0f, 0xb6, 0x06}, 3},                            /* movzbl (%esi),%eax */
        {{0x0f, 0xaf, 0xc3}, 3},                            /* imul %ebx,%eax */
        {{0xf7, 0xf1}, 2},                                  /* div %ecx */
        {{0xd3, 0xe0}, 2},                                  /* shl %cl,%eax */
        {{0x0f, 0x94, 0xc0}, 3},                            /* sete %al */
        {{0x0f, 0x44, 0xc1}, 3},                            /* cmove %ecx,%eax */
        {{0x88, 0x65, 0x00}, 3},                            /* mov %ah,0(%ebp) */
        {{0x66, 0x89, 0x08}, 3},                            /* mov %cx,(%eax) */
        {{0xf0, 0x0f, 0xb1, 0x0a}, 4},                      /* lock cmpxchg %ecx,(%edx) */
        {{0x87, 0x03}, 2},                                  /* xchg %eax,(%ebx) */
        {{0x0f, 0xc8}, 2},                                  /* bswap %eax */
        {{0x99}, 1},                                        /* cltd */
        {{0xb8, 0x78, 0x56, 0x34, 0x12}, 5},                /* mov $0x12345678,%eax */
        {{0xff, 0x00}, 2},                                  /* incl (%eax) */
    };
    csh c32, c64;
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_32, &c32), CS_ERR_OK);
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &c64), CS_ERR_OK);
    cs_option(c32, CS_OPT_DETAIL, CS_OPT_ON);
    cs_option(c64, CS_OPT_DETAIL, CS_OPT_ON);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_instruction(c32, c64, cases[i].bytes, cases[i].length);
    cs_close(&c32);
    cs_close(&c64);
}

/* ---- blocks for CPL 3: guest memory through GS, the user view ------------------ */

Test(bt_translate, user_block_push_goes_through_gs)
{
    static const uint8_t push[] = {0x50, 0xeb, 0x00};               /* push %eax; jmp $+0 */
    translate_for(true, push, sizeof push);
    static const uint8_t expected[] = {
        0x65, 0x67, 0x89, 0x44, 0x24, 0xfc,                       /* mov %eax,%gs:-4(%esp) */
        0x67, 0x8d, 0xa4, 0x24, 0xfc, 0xff, 0xff, 0xff,           /* lea -4(%esp),%esp */
    };
    expect_code(expected, sizeof expected, "push in a user block");
}

/* Every guest memory access of the host code in out[0..length): GS with a
 * 32-bit address in a user block, never FS or GS in a kernel block. The
 * context (R15) and the LEAs are not guest memory. Returns how many. */
static int check_guest_accesses(csh c64, uint32_t length, bool user)
{
    cs_insn *insns;
    size_t n = cs_disasm(c64, out, length, 0, 0, &insns);
    cr_assert_gt(n, 0);
    size_t covered = 0;
    int accesses = 0;
    for (size_t i = 0; i < n; i++) {
        covered += insns[i].size;
        if (insns[i].id == X86_INS_LEA)
            continue;
        cs_x86 *x = &insns[i].detail->x86;
        for (int k = 0; k < x->op_count; k++) {
            if (x->operands[k].type != X86_OP_MEM || x->operands[k].mem.base == X86_REG_R15)
                continue;
            accesses++;
            cr_assert_eq(x->addr_size, 4, "%s %s: 32-bit address", insns[i].mnemonic,
                         insns[i].op_str);
            unsigned segment = x->operands[k].mem.segment;
            if (user)
                cr_assert_eq(segment, X86_REG_GS, "%s %s in a user block", insns[i].mnemonic,
                             insns[i].op_str);
            else        /* the guest's own DS/SS prefix may stay: no base in 64-bit mode */
                cr_assert(segment != X86_REG_GS && segment != X86_REG_FS,
                          "%s %s in a kernel block", insns[i].mnemonic, insns[i].op_str);
        }
    }
    cr_assert_eq(covered, length, "the whole block disassembles");
    cs_free(insns, n);
    return accesses;
}

Test(bt_translate, user_block_reaches_guest_memory_only_through_gs)
{
    static const uint8_t code[] = {
        0x50,                               /* push %eax */
        0x5b,                               /* pop %ebx */
        0x8b, 0x44, 0x24, 0x08,             /* mov 8(%esp),%eax */
        0x03, 0x05, 0x00, 0x50, 0x10, 0x00, /* add 0x105000,%eax */
        0x3e, 0x89, 0x03,                   /* mov %eax,%ds:(%ebx): the guest's prefix goes */
        0x36, 0x8b, 0x45, 0xfc,             /* mov %ss:-4(%ebp),%eax */
        0xa1, 0x00, 0x20, 0x00, 0x00,       /* mov 0x2000,%eax (moffs) */
        0xac,                               /* lods %ds:(%esi),%al */
        0xd7,                               /* xlat */
        0x87, 0x03,                         /* xchg %eax,(%ebx) */
        0x6a, 0x05,                         /* push $5 */
        0xff, 0x33,                         /* push (%ebx) */
        0xc9,                               /* leave */
        0xff, 0x13,                         /* call *(%ebx) */
    };
    csh c64;
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &c64), CS_ERR_OK);
    cs_option(c64, CS_OPT_DETAIL, CS_OPT_ON);
    uint32_t length = translate_for(true, code, sizeof code);
    cr_assert_eq(block.count, 14, "all kept or rewritten, none called out");
    int user_accesses = check_guest_accesses(c64, length, true);
    /* push, pop, mov, add, mov, mov, moffs, lods, xchg, push $5, push
     * (load + store), leave, call (load + store): 15 accesses - and xlat,
     * for which Capstone 4 lists no operand (its bytes are checked below). */
    cr_assert_eq(user_accesses, 15, "%d accesses", user_accesses);
    length = translate_for(false, code, sizeof code);
    cr_assert_eq(check_guest_accesses(c64, length, false), 15, "the same accesses, no GS");
    static const uint8_t xlat[] = {0xd7, 0xeb, 0x00};
    translate_for(true, xlat, sizeof xlat);
    static const uint8_t gs_xlat[] = {0x65, 0x67, 0xd7};
    expect_code(gs_xlat, sizeof gs_xlat, "xlat in a user block");
    static const uint8_t ret[] = {0xc3};
    length = translate_for(true, ret, sizeof ret);
    cr_assert_eq(check_guest_accesses(c64, length, true), 1, "ret's load");
    cs_close(&c64);
}

Test(bt_translate, user_block_string_writes_at_es_edi_are_callouts)
{
    static const uint8_t cases[][2] = {
        {0xa4}, {0xa5}, {0xaa}, {0xab}, {0xa6}, {0xae},         /* movs, stos, cmps, scas */
        {0xf3, 0xa5}, {0xf3, 0xab}, {0xf3, 0xa6}, {0xf2, 0xae},  /* with rep prefixes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned length = cases[i][0] >= 0xf2 ? 2 : 1;       /* a rep prefix, or not */
        uint8_t bytes[4] = {cases[i][0], cases[i][1]};
        bytes[length] = 0xeb;                                  /* then jmp $+0 */
        bytes[length + 1] = 0x00;
        translate_for(true, bytes, length + 2);
        cr_assert(block.callout_first, "case %zu: ES:EDI has no GS override", i);
        translate_for(false, bytes, length + 2);
        cr_assert_eq(block.count, 2, "case %zu: kept in a kernel block", i);
    }
    static const uint8_t lods[] = {0xf3, 0xac, 0xeb, 0x00};    /* rep lods: DS:ESI, overridable */
    translate_for(true, lods, sizeof lods);
    cr_assert_eq(block.count, 2);
    static const uint8_t expected[] = {0x65, 0x67, 0xf3, 0xac};
    expect_code(expected, sizeof expected, "rep lods in a user block");
}
