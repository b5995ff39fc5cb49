/*
 * test_execute_instructions.c - whole instructions through the decoder and
 * the executor, on a real struct emulator (guest RAM, flat protected-mode
 * CPU, the system code of core/x86). Checks the instruction-level rules that
 * the pure ALU tests cannot see: stack discipline, string instructions and
 * their REP forms, atomics, exceptions raised by instructions, EFLAGS
 * instructions and their privilege rules.
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

#define CODE_ADDRESS 0x10000u
#define STACK_TOP 0x80000u
#define DATA 0x20000u

static struct cpu cpu;
static struct guest_ram ram;
static struct bus bus;
static struct stats stats;
static struct emulator emulator;
static struct x86_executor executor;

static void setup(void)
{
    char error[128];
    cr_assert_eq(guest_ram_create(&ram, 4u << 20, error, sizeof error), 0, "%s", error);
    cpu_reset_to_flat_protected_mode(&cpu);
    memset(&bus, 0, sizeof bus);
    stats_init(&stats, 0);
    x86_executor_init(&executor, &emulator, &cpu, &ram, &bus, &stats);
    cpu.regs[REG_ESP] = STACK_TOP;
}

static void teardown(void)
{
    guest_ram_destroy(&ram);
}

/* Runs the code until EIP leaves it. Returns -1, or the vector of the
 * first exception raised (EIP then points at the faulting instruction). */
static int run(const uint8_t *code, unsigned length)
{
    jmp_buf landing;
    memcpy(ram.host + CODE_ADDRESS, code, length);
    cpu.eip = CODE_ADDRESS;
    emulator.fault = &landing;
    if (setjmp(landing)) {
        cpu.eip = emulator.instruction_eip;
        x86_executor_sync_flags(&executor);
        return emulator.fault_vector;
    }
    unsigned steps = 0;
    while (cpu.eip >= CODE_ADDRESS && cpu.eip < CODE_ADDRESS + length) {
        struct x86_instruction insn;
        int decoded = x86_decode(&insn, ram.host + cpu.eip, 16, true);
        cr_assert_gt(decoded, 0, "decode at %x", cpu.eip);
        emulator.instruction_eip = cpu.eip;
        cpu.eip += (uint32_t)decoded;
        x86_execute(&executor, &insn);
        cr_assert_lt(++steps, 1000000u, "runaway");
    }
    x86_executor_sync_flags(&executor);
    return -1;
}

#define RUN(...)                                                     \
    do {                                                             \
        static const uint8_t code_[] = { __VA_ARGS__ };              \
        cr_assert_eq(run(code_, sizeof code_), -1, "unexpected fault"); \
    } while (0)

static uint32_t read32(uint32_t address)
{
    uint32_t value;
    memcpy(&value, ram.host + address, 4);
    return value;
}

TestSuite(execute, .init = setup, .fini = teardown);

Test(execute, push_esp_pushes_the_old_value_and_pop_esp_loads_the_popped_one)
{
    RUN(0x54,                      /* push esp */
        0x5b);                     /* pop ebx */
    cr_assert_eq(cpu.regs[REG_EBX], STACK_TOP);
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP);
    RUN(0x68, 0x78, 0x56, 0x34, 0x12,   /* push 0x12345678 */
        0x5c);                          /* pop esp */
    cr_assert_eq(cpu.regs[REG_ESP], 0x12345678);
}

Test(execute, pusha_popa_round_trip_skips_esp)
{
    for (unsigned i = 0; i < 8; i++)
        if (i != REG_ESP)
            cpu.regs[i] = 0x1000 * (i + 1);
    RUN(0x60,                           /* pusha */
        0x31, 0xc0, 0x31, 0xdb,         /* xor eax,eax; xor ebx,ebx */
        0x61);                          /* popa */
    cr_assert_eq(cpu.regs[REG_EAX], 0x1000);
    cr_assert_eq(cpu.regs[REG_EBX], 0x4000);
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP);
    cr_assert_eq(read32(STACK_TOP - 20), STACK_TOP, "pusha stores the original ESP");
}

Test(execute, enter_with_nesting_and_leave)
{
    cpu.regs[REG_EBP] = 0x7f000;
    memset(ram.host + 0x7f000 - 8, 0xaa, 8);
    RUN(0xc8, 0x10, 0x00, 0x02);        /* enter 16, 2 */
    uint32_t frame = STACK_TOP - 4;
    cr_assert_eq(cpu.regs[REG_EBP], frame);
    cr_assert_eq(read32(frame), 0x7f000, "old EBP saved");
    cr_assert_eq(read32(frame - 4), 0xaaaaaaaa, "outer frame pointer copied");
    cr_assert_eq(read32(frame - 8), frame, "own frame pointer pushed");
    cr_assert_eq(cpu.regs[REG_ESP], frame - 8 - 16);
    RUN(0xc9);                          /* leave */
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP);
    cr_assert_eq(cpu.regs[REG_EBP], 0x7f000);
}

Test(execute, call_and_ret_with_immediate)
{
    /* call +3; jmp out (skipped on return: ret 4 lands after the call) */
    RUN(0x6a, 0x55,                     /* push 0x55 */
        0xe8, 0x02, 0x00, 0x00, 0x00,   /* call next+2 */
        0xeb, 0x03,                     /* jmp +3 -> leaves the code */
        0xc2, 0x04, 0x00);              /* ret 4 */
    cr_assert_eq(cpu.regs[REG_ESP], STACK_TOP, "ret 4 popped the pushed argument");
    cr_assert_eq(cpu.eip, CODE_ADDRESS + 12);
}

Test(execute, rep_movsb_forward_and_backward)
{
    memcpy(ram.host + DATA, "abcdefgh", 8);
    cpu.regs[REG_ESI] = DATA;
    cpu.regs[REG_EDI] = DATA + 0x100;
    cpu.regs[REG_ECX] = 8;
    RUN(0xf3, 0xa4);                    /* rep movsb */
    cr_assert_eq(memcmp(ram.host + DATA + 0x100, "abcdefgh", 8), 0);
    cr_assert_eq(cpu.regs[REG_ECX], 0);
    cr_assert_eq(cpu.regs[REG_ESI], DATA + 8);
    cpu.regs[REG_ESI] = DATA + 7;
    cpu.regs[REG_EDI] = DATA + 0x207;
    cpu.regs[REG_ECX] = 8;
    RUN(0xfd, 0xf3, 0xa4, 0xfc);        /* std; rep movsb; cld */
    cr_assert_eq(memcmp(ram.host + DATA + 0x200, "abcdefgh", 8), 0);
    cr_assert_eq(cpu.regs[REG_EDI], DATA + 0x1ff);
}

Test(execute, repe_cmpsb_stops_at_the_first_difference)
{
    memcpy(ram.host + DATA, "abcXe", 5);
    memcpy(ram.host + DATA + 0x100, "abcde", 5);
    cpu.regs[REG_ESI] = DATA;
    cpu.regs[REG_EDI] = DATA + 0x100;
    cpu.regs[REG_ECX] = 5;
    RUN(0xf3, 0xa6);                    /* repe cmpsb */
    cr_assert_eq(cpu.regs[REG_ECX], 1);
    cr_assert_eq(cpu.regs[REG_ESI], DATA + 4);
    cr_assert_eq(cpu.eflags & EFLAGS_ZF, 0);
}

Test(execute, repne_scasb_finds_a_byte)
{
    memcpy(ram.host + DATA, "hello\0", 6);
    cpu.regs[REG_EDI] = DATA;
    cpu.regs[REG_ECX] = 0xffffffff;
    cpu.regs[REG_EAX] = 0;
    RUN(0xf2, 0xae);                    /* repne scasb */
    cr_assert_eq(cpu.regs[REG_EDI], DATA + 6);
    cr_assert_eq(cpu.regs[REG_ECX], 0xffffffff - 6);
    cr_assert(cpu.eflags & EFLAGS_ZF);
}

/* A long REP stops after a bounded number of iterations with EIP still at
 * the instruction, so the interpreter can take interrupts in between. */
Test(execute, long_rep_stosd_is_interruptible)
{
    static const uint8_t code[] = { 0xf3, 0xab };   /* rep stosd */
    struct x86_instruction insn;
    memcpy(ram.host + CODE_ADDRESS, code, sizeof code);
    cr_assert_eq(x86_decode(&insn, code, sizeof code, true), 2);
    cpu.regs[REG_EDI] = DATA;
    cpu.regs[REG_ECX] = 100000;
    cpu.regs[REG_EAX] = 0x5a5a5a5a;
    jmp_buf landing;
    emulator.fault = &landing;
    cr_assert_eq(setjmp(landing), 0);
    emulator.instruction_eip = CODE_ADDRESS;
    cpu.eip = CODE_ADDRESS + 2;
    x86_execute(&executor, &insn);
    cr_assert_eq(cpu.eip, CODE_ADDRESS, "EIP left at the REP instruction");
    cr_assert_gt(cpu.regs[REG_ECX], 0);
    cr_assert_lt(cpu.regs[REG_ECX], 100000);
    uint32_t done = 100000 - cpu.regs[REG_ECX];
    cr_assert_eq(cpu.regs[REG_EDI], DATA + 4 * done);
    while (cpu.eip == CODE_ADDRESS) {
        cpu.eip = CODE_ADDRESS + 2;
        x86_execute(&executor, &insn);
    }
    cr_assert_eq(cpu.regs[REG_ECX], 0);
    cr_assert_eq(read32(DATA + 4 * 99999), 0x5a5a5a5a);
}

Test(execute, cmpxchg_xadd_cmpxchg8b)
{
    uint32_t value = 7;
    memcpy(ram.host + DATA, &value, 4);
    cpu.regs[REG_EAX] = 7;
    cpu.regs[REG_ECX] = 9;
    cpu.regs[REG_EBX] = DATA;
    RUN(0xf0, 0x0f, 0xb1, 0x0b);        /* lock cmpxchg [ebx], ecx */
    cr_assert_eq(read32(DATA), 9);
    cr_assert(cpu.eflags & EFLAGS_ZF);
    RUN(0x0f, 0xb1, 0x0b);              /* cmpxchg [ebx], ecx: now EAX(7) != 9 */
    cr_assert_eq(cpu.regs[REG_EAX], 9);
    cr_assert_eq(cpu.eflags & EFLAGS_ZF, 0);
    cpu.regs[REG_EDX] = 5;
    RUN(0x0f, 0xc1, 0xd2);              /* xadd edx, edx: the sum wins */
    cr_assert_eq(cpu.regs[REG_EDX], 10);
    cpu.regs[REG_EDX] = 1;
    RUN(0x0f, 0xc1, 0x13);              /* xadd [ebx], edx */
    cr_assert_eq(read32(DATA), 10);
    cr_assert_eq(cpu.regs[REG_EDX], 9);
    /* cmpxchg8b [ebx]: EDX:EAX = 0:10 matches, store ECX:EBX */
    memset(ram.host + DATA + 4, 0, 4);
    cpu.regs[REG_EAX] = 10;
    cpu.regs[REG_EDX] = 0;
    cpu.regs[REG_ECX] = 0x11111111;
    cpu.regs[REG_ESI] = DATA;
    cpu.regs[REG_EBX] = 0x22222222;
    RUN(0x0f, 0xc7, 0x0e);              /* cmpxchg8b [esi] */
    cr_assert(cpu.eflags & EFLAGS_ZF);
    cr_assert_eq(read32(DATA), 0x22222222);
    cr_assert_eq(read32(DATA + 4), 0x11111111);
}

Test(execute, divide_errors_raise_de_and_leave_state_unchanged)
{
    cpu.regs[REG_EAX] = 1234;
    cpu.regs[REG_EDX] = 0;
    cpu.regs[REG_ECX] = 0;
    static const uint8_t div_zero[] = { 0xf7, 0xf1 };   /* div ecx */
    cr_assert_eq(run(div_zero, sizeof div_zero), EXC_DE);
    cr_assert_eq(cpu.eip, CODE_ADDRESS, "EIP at the faulting instruction");
    cr_assert_eq(cpu.regs[REG_EAX], 1234);
    cpu.regs[REG_EAX] = 0;
    cpu.regs[REG_EDX] = 0x80000000u;                   /* EDX:EAX = -2^63 */
    cpu.regs[REG_ECX] = 0xffffffffu;                   /* / -1: quotient overflow */
    static const uint8_t idiv_overflow[] = { 0xf7, 0xf9 };
    cr_assert_eq(run(idiv_overflow, sizeof idiv_overflow), EXC_DE);
    static const uint8_t aam_zero[] = { 0xd4, 0x00 };
    cr_assert_eq(run(aam_zero, sizeof aam_zero), EXC_DE);
}

Test(execute, bound_raises_br)
{
    uint32_t bounds[2] = { 10, 20 };
    memcpy(ram.host + DATA, bounds, 8);
    cpu.regs[REG_EBX] = DATA;
    cpu.regs[REG_EAX] = 15;
    static const uint8_t bound[] = { 0x62, 0x03 };      /* bound eax, [ebx] */
    cr_assert_eq(run(bound, sizeof bound), -1);
    cpu.regs[REG_EAX] = 21;
    cr_assert_eq(run(bound, sizeof bound), EXC_BR);
}

Test(execute, bt_with_a_negative_register_offset_addresses_below)
{
    memset(ram.host + DATA - 4, 0, 8);
    ram.host[DATA - 4] = 0x01;                          /* bit -32 */
    cpu.regs[REG_EBX] = DATA;
    cpu.regs[REG_ECX] = (uint32_t)-32;
    RUN(0x0f, 0xa3, 0x0b);                              /* bt [ebx], ecx */
    cr_assert(cpu.eflags & EFLAGS_CF);
    cpu.regs[REG_ECX] = 33;
    RUN(0x0f, 0xab, 0x0b);                              /* bts [ebx], ecx */
    cr_assert_eq(ram.host[DATA + 4], 0x02);
}

Test(execute, popf_privilege_rules)
{
    /* CPL 0: IF and IOPL change. */
    cpu.regs[REG_EAX] = EFLAGS_IF | EFLAGS_IOPL | EFLAGS_CF | EFLAGS_FIXED;
    RUN(0x50, 0x9d);                                    /* push eax; popf */
    cr_assert_eq(cpu.eflags & (EFLAGS_IF | EFLAGS_IOPL | EFLAGS_CF),
                 EFLAGS_IF | EFLAGS_IOPL | EFLAGS_CF);
    /* 16-bit POPF leaves the upper half alone. */
    cpu.eflags |= EFLAGS_AC;
    cpu.regs[REG_EAX] = 0;
    RUN(0x66, 0x50, 0x66, 0x9d);                        /* push ax; popf (16-bit) */
    cr_assert(cpu.eflags & EFLAGS_AC);
    cr_assert_eq(cpu.eflags & EFLAGS_CF, 0);
    cr_assert(cpu.eflags & EFLAGS_FIXED);
}

Test(execute, lahf_sahf_and_carry_instructions)
{
    RUN(0xf9,                                           /* stc */
        0xb4, 0xd5,                                     /* mov ah, 0xd5 */
        0x9e,                                           /* sahf */
        0x9f);                                          /* lahf */
    cr_assert_eq((cpu.regs[REG_EAX] >> 8) & 0xff, 0xd7);
    cr_assert(cpu.eflags & EFLAGS_ZF);
    RUN(0xf5);                                          /* cmc */
    cr_assert_eq(cpu.eflags & EFLAGS_CF, 0);
}

Test(execute, lazy_flags_feed_conditions_and_carry_chains)
{
    /* 64-bit add through ADD/ADC, then SETC/SETZ/CMOV. */
    cpu.regs[REG_EAX] = 0xffffffff;
    cpu.regs[REG_EDX] = 1;
    RUN(0x83, 0xc0, 0x01,                               /* add eax, 1 */
        0x83, 0xd2, 0x00,                               /* adc edx, 0 */
        0x0f, 0x94, 0xc1,                               /* setz cl (from ADC: edx=2) */
        0x39, 0xc0,                                     /* cmp eax, eax */
        0x0f, 0x44, 0xda);                              /* cmovz ebx, edx */
    cr_assert_eq(cpu.regs[REG_EAX], 0);
    cr_assert_eq(cpu.regs[REG_EDX], 2);
    cr_assert_eq(cpu.regs[REG_ECX] & 0xff, 0);
    cr_assert_eq(cpu.regs[REG_EBX], 2);
}

Test(execute, data_movement_forms)
{
    cpu.regs[REG_EAX] = 0x80;
    RUN(0x0f, 0xbe, 0xd8,                               /* movsx ebx, al */
        0x0f, 0xb6, 0xc8,                               /* movzx ecx, al */
        0x98,                                           /* cwde */
        0x99);                                          /* cdq */
    cr_assert_eq(cpu.regs[REG_EBX], 0xffffff80);
    cr_assert_eq(cpu.regs[REG_ECX], 0x80);
    cr_assert_eq(cpu.regs[REG_EAX], 0x80);
    cr_assert_eq(cpu.regs[REG_EDX], 0);
    cpu.regs[REG_EAX] = 0x11223344;
    RUN(0x0f, 0xc8);                                    /* bswap eax */
    cr_assert_eq(cpu.regs[REG_EAX], 0x44332211);
    ram.host[DATA + 5] = 0x99;
    cpu.regs[REG_EBX] = DATA;
    cpu.regs[REG_EAX] = 5;
    RUN(0xd7);                                          /* xlat */
    cr_assert_eq(cpu.regs[REG_EAX], 0x99);
    /* 16-bit addressing: mov eax, [bx+si+2] */
    cpu.regs[REG_EBX] = 0xffff0000u | (DATA & 0xffff);
    cpu.regs[REG_ESI] = 0x10;
    memcpy(ram.host + (DATA & 0xffff) + 0x12, "\x78\x56\x34\x12", 4);
    RUN(0x67, 0x8b, 0x40, 0x02);
    cr_assert_eq(cpu.regs[REG_EAX], 0x12345678);
}

Test(execute, cpuid_reports_a_p6_without_fpu)
{
    cpu.regs[REG_EAX] = 0;
    RUN(0x0f, 0xa2);
    char vendor[13];
    memcpy(vendor, &cpu.regs[REG_EBX], 4);
    memcpy(vendor + 4, &cpu.regs[REG_EDX], 4);
    memcpy(vendor + 8, &cpu.regs[REG_ECX], 4);
    vendor[12] = 0;
    cr_assert_str_eq(vendor, "GenuineIntel");
    cpu.regs[REG_EAX] = 1;
    RUN(0x0f, 0xa2);
    cr_assert_eq((cpu.regs[REG_EAX] >> 8) & 0xf, 6);
    cr_assert_eq(cpu.regs[REG_EDX] & 1, 0, "no FPU");
    cr_assert(cpu.regs[REG_EDX] & (1u << 15), "CMOV");
    cr_assert(cpu.regs[REG_EDX] & (1u << 8), "CX8");
}

Test(execute, unsupported_and_privileged_instructions_fault)
{
    static const uint8_t fpu[] = { 0xd9, 0xe8 };        /* fld1 */
    cr_assert_eq(run(fpu, sizeof fpu), EXC_UD);
    static const uint8_t ud2[] = { 0x0f, 0x0b };
    cr_assert_eq(run(ud2, sizeof ud2), EXC_UD);
    static const uint8_t rdmsr[] = { 0x0f, 0x32 };      /* unknown MSR 0 */
    cpu.regs[REG_ECX] = 0;
    cr_assert_eq(run(rdmsr, sizeof rdmsr), EXC_GP);
    cpu.regs[REG_ECX] = MSR_IA32_SYSENTER_CS;
    cpu.regs[REG_EAX] = 0x10;
    cpu.regs[REG_EDX] = 0;
    RUN(0x0f, 0x30);                                    /* wrmsr */
    cr_assert_eq(cpu.sysenter_cs, 0x10);
}
