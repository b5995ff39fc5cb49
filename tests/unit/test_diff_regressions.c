/*
 * test_diff_regressions.c - cases from the differential tester
 * (tests/diff), kept as unit tests so they run under ASan+UBSan without the
 * native runner.
 *
 * Each case is an instruction sequence whose expected outcome was taken
 * from the host CPU (AMD EPYC, 32-bit compatibility mode) with
 *     build/diff/vmlab-diff --code "<the bytes>" [--regs ...]
 * which runs the bytes natively and under the interpreter from the same
 * state. The machine here is laid out as in tests/diff/layout.h: code at
 * 0x01000000, the data area at 0x01010000 (stack top 0x01012000) and the
 * low data area at 0x8000 for 16-bit addressing, every data byte at offset
 * i holding i & 0xff. Instructions are run as techniques/interp runs them:
 * x86_decode, then x86_select_handler's handler; an undecodable or
 * over-long instruction raises #UD or #GP(0).
 *
 * The first group pins rules the campaign confirmed that are easiest to
 * get wrong: 16-bit address wrap-around, POP m with an ESP base,
 * LEAVE/ENTER with prefixes and levels, REP MOVS over overlapping bytes,
 * negative bit offsets, the 15-byte limit, LOCK on a register, and faults
 * that must leave no trace. The second group (at the end) are the
 * interpreter bugs the campaign found, each failing before its fix:
 * INS/OUTS checked memory before the I/O permission, ENTER probed its
 * final stack pointer with a read, and read-modify-write instructions
 * page-faulted as reads.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <string.h>

#include "core/cpu.h"
#include "core/mem.h"
#include "core/stats.h"
#include "core/x86/decode.h"
#include "core/x86/execute.h"
#include "core/x86/system.h"

#define CODE 0x01000000u
#define DATA 0x01010000u
#define DATA_SIZE 0x10000u
#define LOW_DATA 0x8000u
#define LOW_DATA_SIZE 0x8000u
#define STACK_TOP 0x01012000u
#define RAM_SIZE 0x01100000u

static struct cpu cpu;
static struct guest_ram ram;
static struct bus bus;
static struct stats stats;
static struct emulator emulator;
static struct x86_executor executor;

static void setup(void)
{
    char error[128];
    cr_assert_eq(guest_ram_create(&ram, RAM_SIZE, error, sizeof error), 0, "%s", error);
    for (uint32_t i = 0; i < DATA_SIZE; i++)
        ram.host[DATA + i] = (uint8_t)i;
    for (uint32_t i = 0; i < LOW_DATA_SIZE; i++)
        ram.host[LOW_DATA + i] = (uint8_t)i;
    cpu_reset_to_flat_protected_mode(&cpu);
    cpu.eflags = EFLAGS_FIXED | EFLAGS_IF;
    cpu.regs[REG_ESP] = STACK_TOP;
    memset(&bus, 0, sizeof bus);
    stats_init(&stats, 0);
    x86_executor_init(&executor, &emulator, &cpu, &ram, &bus, &stats);
}

static void teardown(void)
{
    guest_ram_destroy(&ram);
}

TestSuite(diff_regressions, .init = setup, .fini = teardown);

/* Runs the code until EIP reaches its end. Returns -1, or the vector of
 * the exception that stopped it (EIP then at the faulting instruction). */
static int run(const uint8_t *code, unsigned length)
{
    static jmp_buf landing;
    memcpy(ram.host + CODE, code, length);
    cpu.eip = CODE;
    x86_executor_note_flat_segments(&executor);   /* as techniques/interp does */
    emulator.fault = &landing;
    if (setjmp(landing)) {
        cpu.eip = emulator.instruction_eip;
        x86_executor_sync_flags(&executor);
        return emulator.fault_vector;
    }
    for (unsigned steps = 0; cpu.eip != CODE + length; steps++) {
        cr_assert_lt(steps, 100000u, "runaway");
        cr_assert(cpu.eip >= CODE && cpu.eip < CODE + length, "EIP 0x%x left the code", cpu.eip);
        struct x86_instruction insn;
        emulator.instruction_eip = cpu.eip;
        x86_fetch_and_decode(&emulator, &insn);
        cpu.eip += insn.length;
        x86_select_handler(&insn)(&executor, &insn);
    }
    x86_executor_sync_flags(&executor);
    return -1;
}

#define RUN(expected_vector, ...)                                                \
    do {                                                                         \
        static const uint8_t code_[] = { __VA_ARGS__ };                          \
        int vector_ = run(code_, sizeof code_);                                  \
        cr_assert_eq(vector_, expected_vector, "exception %d, expected %d", vector_, \
                     expected_vector);                                           \
    } while (0)
#define NO_EXCEPTION (-1)

static uint32_t read32(uint32_t address)
{
    uint32_t value;
    memcpy(&value, ram.host + address, 4);
    return value;
}

Test(diff_regressions, sixteen_bit_address_wraps_at_64k_and_ignores_upper_halves)
{
    RUN(NO_EXCEPTION,
        0xbb, 0xf0, 0xff, 0xcd, 0xab,          /* mov ebx, 0xabcdfff0 */
        0xbe, 0x20, 0x90, 0x34, 0x12,          /* mov esi, 0x12349020 */
        0x67, 0x8b, 0x00);                     /* mov eax, [bx+si]: (0xfff0 + 0x9020) & 0xffff */
    cr_assert_eq(cpu.regs[REG_EAX], 0x13121110);
}

Test(diff_regressions, pop_to_esp_based_memory_uses_the_incremented_esp)
{
    RUN(NO_EXCEPTION,
        0x68, 0x44, 0x33, 0x22, 0x11,          /* push 0x11223344 */
        0x68, 0x88, 0x77, 0x66, 0x55,          /* push 0x55667788 */
        0x8f, 0x44, 0x24, 0x04,                /* pop dword [esp+4] */
        0x8b, 0x1c, 0x24,                      /* mov ebx, [esp] */
        0x8b, 0x4c, 0x24, 0x04);               /* mov ecx, [esp+4] */
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP - 4);
    cr_assert_eq(cpu.regs[REG_EBX], 0x11223344);
    cr_assert_eq(cpu.regs[REG_ECX], 0x55667788);
}

Test(diff_regressions, leave_with_66_sets_all_of_esp_and_pops_only_bp)
{
    RUN(NO_EXCEPTION,
        0xbd, 0xf0, 0x1f, 0x01, 0x01,          /* mov ebp, 0x01011ff0 */
        0x66, 0xc9);                           /* leave (16-bit operand, 32-bit stack) */
    cr_assert_eq(cpu.regs[REG_ESP], 0x01011ff2);
    cr_assert_eq(cpu.regs[REG_EBP], 0x0101f1f0);
}

Test(diff_regressions, enter_with_level_3_copies_two_frame_pointers)
{
    RUN(NO_EXCEPTION,
        0xbd, 0x00, 0x08, 0x01, 0x01,          /* mov ebp, 0x01010800 */
        0xc8, 0x08, 0x00, 0x03,                /* enter 8, 3 */
        0x8b, 0x04, 0x24,                      /* mov eax, [esp] */
        0x8b, 0x4c, 0x24, 0x08,                /* mov ecx, [esp+8] */
        0x8b, 0x54, 0x24, 0x0c,                /* mov edx, [esp+12] */
        0x8b, 0x5c, 0x24, 0x10);               /* mov ebx, [esp+16] */
    cr_assert_eq(cpu.regs[REG_ESP], 0x01011fe8);
    cr_assert_eq(cpu.regs[REG_EBP], 0x01011ffc);
    cr_assert_eq(cpu.regs[REG_EAX], 0xebeae9e8);
    cr_assert_eq(cpu.regs[REG_ECX], 0x01011ffc, "the new frame pointer");
    cr_assert_eq(cpu.regs[REG_EDX], 0xfbfaf9f8, "copied from [old ebp - 8]");
    cr_assert_eq(cpu.regs[REG_EBX], 0xfffefdfc, "copied from [old ebp - 4]");
    cr_assert_eq(read32(0x01011ffc), 0x01010800, "the old ebp");
}

Test(diff_regressions, rep_movsb_over_overlapping_bytes_copies_one_at_a_time)
{
    RUN(NO_EXCEPTION,
        0xbe, 0x10, 0x80, 0x01, 0x01,          /* mov esi, 0x01018010 */
        0xbf, 0x11, 0x80, 0x01, 0x01,          /* mov edi, 0x01018011 */
        0xb9, 0x20, 0x00, 0x00, 0x00,          /* mov ecx, 32 */
        0xf3, 0xa4);                           /* rep movsb */
    for (uint32_t a = 0x01018011; a <= 0x01018030; a++)
        cr_assert_eq(ram.host[a], 0x10, "byte at 0x%x", a);
    cr_assert_eq(ram.host[0x01018031], 0x31);
    cr_assert_eq(cpu.regs[REG_ESI], 0x01018030);
    cr_assert_eq(cpu.regs[REG_EDI], 0x01018031);
}

Test(diff_regressions, btc_with_a_negative_register_offset_reaches_below_the_operand)
{
    RUN(NO_EXCEPTION,
        0xbb, 0x00, 0x80, 0x01, 0x01,          /* mov ebx, 0x01018000 */
        0xb9, 0xf7, 0xff, 0xff, 0xff,          /* mov ecx, -9 */
        0x0f, 0xbb, 0x0b,                      /* btc [ebx], ecx: bit 7 of [ebx-2] */
        0x8a, 0x53, 0xfe);                     /* mov dl, [ebx-2] */
    cr_assert_eq(cpu.regs[REG_EDX] & 0xff, 0x7e);
    cr_assert(cpu.eflags & EFLAGS_CF, "CF = the old bit");
}

Test(diff_regressions, rcl_by_9_on_a_byte_is_a_full_turn)
{
    RUN(NO_EXCEPTION,
        0xb0, 0x81,                            /* mov al, 0x81 */
        0xf9,                                  /* stc */
        0xc0, 0xd0, 0x09);                     /* rcl al, 9: 9 mod 9 = 0 */
    cr_assert_eq(cpu.regs[REG_EAX] & 0xff, 0x81);
    cr_assert(cpu.eflags & EFLAGS_CF);
}

Test(diff_regressions, xlat_and_jcxz_and_loop_with_67_use_bx_and_cx)
{
    cpu.regs[REG_EAX] = 5;
    RUN(NO_EXCEPTION,
        0xb9, 0x00, 0x00, 0x01, 0x00,          /* mov ecx, 0x10000 */
        0x67, 0xe3, 0x02,                      /* jcxz +2: CX is 0 */
        0x31, 0xc0,                            /* xor eax, eax (skipped) */
        0x67, 0xe2, 0x00,                      /* loop +0 on CX: CX = 0xffff */
        0xbb, 0x00, 0x90, 0xff, 0xff,          /* mov ebx, 0xffff9000 */
        0xb0, 0x20,                            /* mov al, 0x20 */
        0x67, 0xd7);                           /* xlat [bx+al] = 0x9020 */
    cr_assert_eq(cpu.regs[REG_ECX], 0x0001ffff);
    cr_assert_eq(cpu.regs[REG_EAX], 0x20);
}

Test(diff_regressions, push_sp_with_66_pushes_the_low_half)
{
    RUN(NO_EXCEPTION,
        0x66, 0x54,                            /* push sp */
        0x0f, 0xb7, 0x04, 0x24);               /* movzx eax, word [esp] */
    cr_assert_eq(cpu.regs[REG_EAX], 0x2000);
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP - 2);
}

Test(diff_regressions, idiv_of_the_most_negative_value_by_minus_one_is_de_without_effect)
{
    RUN(EXC_DE,
        0xb8, 0x00, 0x00, 0x00, 0x80,          /* mov eax, 0x80000000 */
        0x99,                                  /* cdq */
        0xb9, 0xff, 0xff, 0xff, 0xff,          /* mov ecx, -1 */
        0xf7, 0xf9);                           /* idiv ecx */
    cr_assert_eq(cpu.eip, CODE + 11);
    cr_assert_eq(cpu.regs[REG_EAX], 0x80000000);
    cr_assert_eq(cpu.regs[REG_EDX], 0xffffffff);
}

Test(diff_regressions, aam_0_is_de)
{
    RUN(EXC_DE, 0xb0, 0x35, 0xd4, 0x00);
    cr_assert_eq(cpu.eip, CODE + 2);
    cr_assert_eq(cpu.regs[REG_EAX], 0x35);
}

Test(diff_regressions, sixteen_bytes_are_gp_and_fifteen_are_fine)
{
    cpu.regs[REG_EAX] = 5;
    RUN(EXC_GP, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e,
        0x05, 0x01, 0x00, 0x00, 0x00);         /* 11 prefixes + add eax, 1 */
    cr_assert_eq(cpu.eip, CODE);
    cr_assert_eq(cpu.regs[REG_EAX], 5);
    RUN(EXC_UD, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e, 0x3e,
        0x05, 0x01, 0x00, 0x00, 0x00,          /* 10 prefixes + add eax, 1 */
        0x0f, 0x0b);                           /* ud2 */
    cr_assert_eq(cpu.regs[REG_EAX], 6);
    cr_assert_eq(cpu.eip, CODE + 15);
}

Test(diff_regressions, lock_on_a_register_destination_is_ud)
{
    RUN(EXC_UD, 0xf0, 0x01, 0xd8);             /* lock add eax, ebx */
    cr_assert_eq(cpu.eip, CODE);
}

/*
 * Found by the campaign (CPL 3, paging on): INS/OUTS check the I/O
 * permission before they touch memory (SDM vol. 2 INS/OUTS "Operation":
 * the permission test comes first; vol. 1, 18.5.2), so with CPL > IOPL and
 * no I/O bitmap the CPU raises #GP(0) even when the string address would
 * page-fault. The interpreter accessed memory first and raised #PF.
 */
#define PAGE_DIRECTORY 0x00200000u

/* CPL 3 with Linux's selectors, paging through two 4 MiB pages (the TSS
 * at 0 and the code/data at 0x01000000; 0x80000000 is not mapped), and a
 * TSS without an I/O bitmap (map base 0x68 beyond the limit 0x67). */
static void enter_user_mode_with_paging(void)
{
    uint32_t pde_flags = 0x80u | 0x4u | 0x2u | 0x1u;       /* PS, U/S, R/W, P */
    uint32_t entries[2] = { 0 | pde_flags, CODE | pde_flags };
    memcpy(ram.host + PAGE_DIRECTORY, &entries[0], 4);
    memcpy(ram.host + PAGE_DIRECTORY + 4 * (CODE >> 22), &entries[1], 4);
    cpu.cr4 |= CR4_PSE;
    cpu.cr3 = PAGE_DIRECTORY;
    cpu.cr0 |= CR0_PG;
    for (int s = 0; s < SEG_COUNT; s++) {
        cpu.segments[s].selector = s == SEG_CS ? 0x23 : 0x2b;
        cpu.segments[s].attributes |= 3u << 5;
    }
    cpu.tr.limit = 0x67;
    uint16_t io_map_base = 0x68;
    memcpy(ram.host + 0x66, &io_map_base, 2);
    x86_tlb_flush_all(&emulator);
}

Test(diff_regressions, outs_at_cpl3_checks_io_permission_before_reading_memory)
{
    enter_user_mode_with_paging();
    RUN(EXC_GP,
        0xbe, 0x00, 0x00, 0x00, 0x80,          /* mov esi, 0x80000000 (not mapped) */
        0xba, 0xf8, 0x03, 0x00, 0x00,          /* mov edx, 0x3f8 */
        0x6e);                                 /* outsb */
    cr_assert_eq(cpu.eip, CODE + 10);
    cr_assert_eq(emulator.fault_error_code, 0);
}

Test(diff_regressions, ins_at_cpl3_checks_io_permission_before_writing_memory)
{
    enter_user_mode_with_paging();
    RUN(EXC_GP,
        0xbf, 0x00, 0x00, 0x00, 0x80,          /* mov edi, 0x80000000 (not mapped) */
        0xba, 0xf8, 0x03, 0x00, 0x00,          /* mov edx, 0x3f8 */
        0xb9, 0x01, 0x00, 0x00, 0x00,          /* mov ecx, 1 */
        0xf3, 0x6c);                           /* rep insb */
    cr_assert_eq(cpu.eip, CODE + 15);
    cr_assert_eq(cpu.regs[REG_ECX], 1, "no iteration done");
}

/* The control: with the port allowed (CPL 3 <= IOPL 3) the memory access
 * is made and faults. (From the SDM only: Linux does not let the native
 * side run at IOPL 3.) */
Test(diff_regressions, ins_and_outs_allowed_by_iopl_then_page_fault)
{
    enter_user_mode_with_paging();
    cpu.eflags |= EFLAGS_IOPL;                 /* CPL 3 <= IOPL 3: ports allowed */
    RUN(EXC_PF,
        0xbe, 0x00, 0x00, 0x00, 0x80,          /* mov esi, 0x80000000 */
        0xba, 0xf8, 0x03, 0x00, 0x00,          /* mov edx, 0x3f8 */
        0x6e);                                 /* outsb */
    cr_assert_eq(cpu.cr2, 0x80000000);
}

/*
 * Found by the campaign (4 KiB paging, a read-only stack page): ENTER
 * raises #PF "if a write using the final value of the stack pointer would
 * cause a page fault" (SDM vol. 2 ENTER, protected-mode exceptions). The
 * interpreter probed the final ESP with a read, which a read-only page
 * allows, so ENTER completed where the CPU faults with CR2 = the final ESP
 * (and ESP, EBP unchanged; the pushes already made stay written, as on
 * the host CPU).
 */
#define PAGE_TABLE 0x00201000u

/* Paging at CPL 0 with CR0.WP: a 4 MiB page at 0, 4 KiB pages for the
 * region at CODE, the page at `read_only` without R/W. */
static void map_with_read_only_page(uint32_t read_only)
{
    uint32_t large = 0x80u | 0x4u | 0x2u | 0x1u, table = PAGE_TABLE | 0x4u | 0x2u | 0x1u;
    memcpy(ram.host + PAGE_DIRECTORY, &large, 4);
    memcpy(ram.host + PAGE_DIRECTORY + 4 * (CODE >> 22), &table, 4);
    for (uint32_t page = 0; page < 1024; page++) {
        uint32_t address = CODE + (page << 12);
        uint32_t entry = address | 0x4u | 0x1u | (address == read_only ? 0 : 0x2u);
        memcpy(ram.host + PAGE_TABLE + 4 * page, &entry, 4);
    }
    cpu.cr4 |= CR4_PSE;
    cpu.cr3 = PAGE_DIRECTORY;
    cpu.cr0 |= CR0_PG | CR0_WP;
    x86_tlb_flush_all(&emulator);
}

Test(diff_regressions, enter_faults_when_the_final_stack_pointer_is_not_writable)
{
    map_with_read_only_page(0x01011000);
    RUN(EXC_PF,
        0xbc, 0x20, 0x20, 0x01, 0x01,          /* mov esp, 0x01012020 */
        0xbd, 0x00, 0x80, 0x01, 0x01,          /* mov ebp, 0x01018000 */
        0xc8, 0x30, 0x00, 0x00);               /* enter 0x30, 0: final ESP 0x01011fec */
    cr_assert_eq(cpu.eip, CODE + 10);
    cr_assert_eq(cpu.cr2, 0x01011fec);
    cr_assert_eq(emulator.fault_error_code, 0x3, "a write to a present page");
    cr_assert_eq(cpu.regs[REG_ESP], 0x01012020);
    cr_assert_eq(cpu.regs[REG_EBP], 0x01018000);
    cr_assert_eq(read32(0x0101201c), 0x01018000, "the push of EBP happened (as on the CPU)");
}

Test(diff_regressions, enter_whose_push_faults_reports_the_push_address)
{
    map_with_read_only_page(0x01011000);
    RUN(EXC_PF,
        0xbd, 0x00, 0x80, 0x01, 0x01,          /* mov ebp, 0x01018000 */
        0xc8, 0x10, 0x00, 0x00);               /* enter 0x10, 0: the push at 0x01011ffc faults */
    cr_assert_eq(cpu.cr2, 0x01011ffc);
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP);
}

/*
 * Found by the campaign (a not-present data page): a read-modify-write
 * instruction (ALU op to memory, INC/DEC/NOT/NEG, shifts and rotates - even
 * by 0 -, XCHG, XADD, CMPXCHG, BTS/BTR/BTC) whose operand is not present
 * page-faults with W/R = 1 on the host CPU: the access is made with write
 * intent (SDM vol. 3, 4.7: W/R describes the access causing the fault).
 * The interpreter read first and reported a read (W/R = 0). Plain reads
 * (MOV, CMP, BT) still report a read.
 */
static void map_with_absent_page(uint32_t absent)
{
    map_with_read_only_page(absent);
    uint32_t entry = absent | 0x4u | 0x2u;                 /* P = 0 */
    memcpy(ram.host + PAGE_TABLE + 4 * ((absent - CODE) >> 12), &entry, 4);
    x86_tlb_flush_all(&emulator);
}

#define PF_WRITE 0x2u

Test(diff_regressions, read_modify_write_of_an_absent_page_is_a_write_fault)
{
    static const uint8_t forms[][8] = {
        { 6, 0x01, 0x05, 0x00, 0x90, 0x01, 0x01 },         /* add [0x01019000], eax (fast handler) */
        { 7, 0x80, 0x0d, 0x00, 0x90, 0x01, 0x01, 0x01 },   /* or byte [0x01019000], 1 (fast handler) */
        { 6, 0xff, 0x05, 0x00, 0x90, 0x01, 0x01 },         /* inc dword [0x01019000] */
        { 6, 0x87, 0x05, 0x00, 0x90, 0x01, 0x01 },         /* xchg [0x01019000], eax */
        { 7, 0x0f, 0xab, 0x05, 0x00, 0x90, 0x01, 0x01 },   /* bts [0x01019000], eax */
        { 7, 0xc1, 0x25, 0x00, 0x90, 0x01, 0x01, 0x00 },   /* shl dword [0x01019000], 0 */
        { 7, 0x0f, 0xc1, 0x05, 0x00, 0x90, 0x01, 0x01 },   /* xadd [0x01019000], eax */
        { 7, 0x0f, 0xb1, 0x05, 0x00, 0x90, 0x01, 0x01 },   /* cmpxchg [0x01019000], eax */
    };
    map_with_absent_page(0x01019000);
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        int vector = run(forms[i] + 1, forms[i][0]);
        cr_assert_eq(vector, EXC_PF, "form %u: exception %d", i, vector);
        cr_assert_eq(cpu.cr2, 0x01019000, "form %u", i);
        cr_assert_eq(emulator.fault_error_code, PF_WRITE, "form %u: error code 0x%x", i,
                     emulator.fault_error_code);
    }
}

Test(diff_regressions, reads_of_an_absent_page_are_read_faults)
{
    static const uint8_t forms[][8] = {
        { 6, 0x8b, 0x05, 0x00, 0x90, 0x01, 0x01 },         /* mov eax, [0x01019000] */
        { 7, 0x0f, 0xa3, 0x05, 0x00, 0x90, 0x01, 0x01 },   /* bt [0x01019000], eax */
        { 7, 0x83, 0x3d, 0x00, 0x90, 0x01, 0x01, 0x05 },   /* cmp dword [0x01019000], 5 */
    };
    map_with_absent_page(0x01019000);
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        cr_assert_eq(run(forms[i] + 1, forms[i][0]), EXC_PF, "form %u", i);
        cr_assert_eq(emulator.fault_error_code, 0, "form %u: error code 0x%x", i, emulator.fault_error_code);
    }
}
