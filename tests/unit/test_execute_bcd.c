/*
 * test_execute_bcd.c - DAA DAS AAA AAS AAM AAD against the host CPU.
 *
 * These six do not exist in 64-bit mode, so the oracle runs them in 32-bit
 * compatibility mode: a small trampoline in a page below 4 GiB far-returns
 * to Linux's 32-bit code selector 0x23, executes the instruction between a
 * POPFD and a PUSHFD, and far-jumps back to the 64-bit selector 0x33 (the
 * same world switch as the direct-execution substrate, see docs/design.md).
 * Every AX value is tried with every combination of incoming CF and AF;
 * flags the SDM calls undefined are masked.
 *
 * A host without compatibility mode (a kernel booted with
 * ia32_emulation=off) would kill the test at the far return: there each
 * test is skipped with core/host.c's reason, and Criterion counts it as
 * skipped, not passed.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>

#include "core/host.h"
#include "core/x86/execute_alu.h"

#define ARITH (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)

/* Layout of the low page. */
enum { ENTER64 = 0x000, ENTRY32 = 0x100, BACK64 = 0x200, DATA = 0x800, STACK_TOP = 0x1ff0 };
enum { IN_EAX = DATA, IN_FLAGS = DATA + 4, OUT_EAX = DATA + 8, OUT_FLAGS = DATA + 12,
       SAVED_RSP = DATA + 16 };

static uint8_t *low;

static uint8_t *put32(uint8_t *p, uint32_t value)
{
    memcpy(p, &value, 4);
    return p + 4;
}

static uint32_t at(unsigned offset)
{
    return (uint32_t)(uintptr_t)(low + offset);
}

/* Build the trampoline around `op` (1 or 2 bytes). */
static void build(const uint8_t *op, unsigned op_length)
{
    uint8_t *p = low + ENTER64;
    *p++ = 0x48; *p++ = 0x89; *p++ = 0x24; *p++ = 0x25; p = put32(p, at(SAVED_RSP)); /* mov [saved], rsp */
    *p++ = 0x48; *p++ = 0xc7; *p++ = 0xc4; p = put32(p, at(STACK_TOP));               /* mov rsp, low stack */
    *p++ = 0x6a; *p++ = 0x23;                                                          /* push 0x23 */
    *p++ = 0x68; p = put32(p, at(ENTRY32));                                            /* push entry32 */
    *p++ = 0x48; *p++ = 0xcb;                                                          /* retfq */

    p = low + ENTRY32;
    *p++ = 0x16; *p++ = 0x1f; *p++ = 0x16; *p++ = 0x07;   /* push ss; pop ds; push ss; pop es */
    *p++ = 0xa1; p = put32(p, at(IN_EAX));                /* mov eax, [in_eax] */
    *p++ = 0xff; *p++ = 0x35; p = put32(p, at(IN_FLAGS)); /* push dword [in_flags] */
    *p++ = 0x9d;                                          /* popfd */
    memcpy(p, op, op_length);
    p += op_length;
    *p++ = 0x9c;                                          /* pushfd */
    *p++ = 0x8f; *p++ = 0x05; p = put32(p, at(OUT_FLAGS)); /* pop dword [out_flags] */
    *p++ = 0xa3; p = put32(p, at(OUT_EAX));               /* mov [out_eax], eax */
    *p++ = 0xea; p = put32(p, at(BACK64)); *p++ = 0x33; *p++ = 0x00; /* jmp 0x33:back64 */

    p = low + BACK64;
    *p++ = 0x48; *p++ = 0x8b; *p++ = 0x24; *p++ = 0x25; p = put32(p, at(SAVED_RSP)); /* mov rsp, [saved] */
    *p++ = 0xc3;                                                                       /* ret */
}

static void host_run(uint32_t eax, uint32_t flags, uint32_t *out_eax, uint32_t *out_flags)
{
    memcpy(low + IN_EAX, &eax, 4);
    memcpy(low + IN_FLAGS, &flags, 4);
    void *entry = low + ENTER64;
    /* Step over the red zone; everything but RBP/RSP may change in 32-bit mode. */
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\tcall *%0\n\tlea 128(%%rsp), %%rsp"
                     : "+b"(entry)
                     :
                     : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
                       "r13", "r14", "r15", "memory", "cc");
    memcpy(out_eax, low + OUT_EAX, 4);
    memcpy(out_flags, low + OUT_FLAGS, 4);
}

static void setup(void)
{
    low = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE | PROT_EXEC,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    cr_assert_neq(low, MAP_FAILED);
    cr_assert_lt((uintptr_t)low, 0x80000000u);
}

static void teardown(void)
{
    munmap(low, 0x2000);
}

enum bcd { BCD_DAA, BCD_DAS, BCD_AAA, BCD_AAS, BCD_AAM, BCD_AAD };

static uint32_t ours(enum bcd which, uint32_t ax, uint32_t *eflags, unsigned base)
{
    struct lazy_flags flags = { 0 };
    flags.operation = FLAGS_KNOWN;
    uint32_t result = 0;
    switch (which) {
    case BCD_DAA: result = alu_daa(&flags, eflags, ax); break;
    case BCD_DAS: result = alu_das(&flags, eflags, ax); break;
    case BCD_AAA: result = alu_aaa(&flags, eflags, ax); break;
    case BCD_AAS: result = alu_aas(&flags, eflags, ax); break;
    case BCD_AAM: cr_assert(alu_aam(&flags, eflags, ax, base, &result)); break;
    case BCD_AAD: result = alu_aad(&flags, eflags, ax, base); break;
    }
    flags_materialize(&flags, eflags);
    return result;
}

/* The oracle is the host CPU in compatibility mode: no mode, no oracle. */
static void require_compatibility_mode(void)
{
    char why[256];
    if (!host_has(HOST_COMPAT_MODE, why, sizeof why))
        cr_skip_test("the host CPU cannot be the oracle: %s", why);
}

static void check(enum bcd which, const uint8_t *op, unsigned op_length, unsigned base,
                  uint32_t defined)
{
    require_compatibility_mode();
    build(op, op_length);
    for (uint32_t ax = 0; ax < 0x10000; ax += (which == BCD_AAM || which == BCD_AAD) ? 0x13 : 1) {
        if ((which == BCD_DAA || which == BCD_DAS) && ax > 0xff)
            break;                                   /* AH plays no part */
        for (unsigned in = 0; in < 4; in++) {
            uint32_t flags_in = EFLAGS_FIXED | ((in & 1) ? EFLAGS_CF : 0) | ((in & 2) ? EFLAGS_AF : 0);
            uint32_t host_eax, host_flags;
            host_run(ax, flags_in, &host_eax, &host_flags);
            uint32_t eflags = flags_in;
            uint32_t result = ours(which, ax, &eflags, base);
            cr_assert_eq(result & 0xffff, host_eax & 0xffff, "op %d ax=%04x flags %x: %04x != host %04x",
                         which, ax, flags_in, result & 0xffff, host_eax & 0xffff);
            cr_assert_eq(eflags & defined, host_flags & defined,
                         "op %d ax=%04x flags %x: flags %03x != host %03x", which, ax, flags_in,
                         eflags & defined, host_flags & defined);
        }
    }
}

TestSuite(bcd, .init = setup, .fini = teardown);

/* SDM vol. 2: DAA/DAS leave OF undefined; AAA/AAS leave OF SF ZF PF
 * undefined; AAM/AAD leave OF AF CF undefined. */
Test(bcd, daa) { static const uint8_t op[] = { 0x27 }; check(BCD_DAA, op, 1, 0, ARITH & ~EFLAGS_OF); }
Test(bcd, das) { static const uint8_t op[] = { 0x2f }; check(BCD_DAS, op, 1, 0, ARITH & ~EFLAGS_OF); }
Test(bcd, aaa) { static const uint8_t op[] = { 0x37 }; check(BCD_AAA, op, 1, 0, EFLAGS_CF | EFLAGS_AF); }
Test(bcd, aas) { static const uint8_t op[] = { 0x3f }; check(BCD_AAS, op, 1, 0, EFLAGS_CF | EFLAGS_AF); }
Test(bcd, aam_base_10_and_16)
{
    static const uint8_t op10[] = { 0xd4, 0x0a }, op16[] = { 0xd4, 0x10 };
    check(BCD_AAM, op10, 2, 10, EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF);
    check(BCD_AAM, op16, 2, 16, EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF);
}
Test(bcd, aad_base_10_and_7)
{
    static const uint8_t op10[] = { 0xd5, 0x0a }, op7[] = { 0xd5, 0x07 };
    check(BCD_AAD, op10, 2, 10, EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF);
    check(BCD_AAD, op7, 2, 7, EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF);
}
