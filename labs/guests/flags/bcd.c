/*
 * bcd.c - the decimal adjust instructions daa, das, aaa, aas, aam, aad.
 *
 * Intel SDM vol. 2: DAA/DAS leave OF undefined; AAA/AAS leave OF, SF, ZF
 * and PF undefined; AAM/AAD leave OF, AF and CF undefined. AAM's immediate
 * is the base (10 for "aam"); AAM 0 raises #DE, so it is not tried.
 */
#include "flags.h"

#define DEFINE_ADJUST(name, insn)                                                  \
    static uint32_t name(uint32_t ax_in, uint32_t *fl)                             \
    {                                                                              \
        uint16_t ax = ax_in;                                                       \
        asm(WITH_FLAGS(insn) : "+a"(ax), [f] "+r"(*fl) : : "cc");                  \
        return ax;                                                                 \
    }

DEFINE_ADJUST(daa, "daa") DEFINE_ADJUST(das, "das")
DEFINE_ADJUST(aaa, "aaa") DEFINE_ADJUST(aas, "aas")
DEFINE_ADJUST(aam10, "aam") DEFINE_ADJUST(aam16, ".byte 0xd4, 0x10")
DEFINE_ADJUST(aad10, "aad") DEFINE_ADJUST(aad7, ".byte 0xd5, 0x07")

typedef uint32_t (*adjust_fn)(uint32_t ax, uint32_t *fl);

/* Every AL value, AH = 0x12 (AAA/AAS carry into it), with the input flags
 * that matter: CF and AF. */
static void adjust(const char *op, adjust_fn fn, uint32_t defined)
{
    static const uint32_t inputs[4] = { 0, FL_CF, FL_AF, FL_CF | FL_AF };
    for (uint32_t al = 0; al < 256; al++)
        for (int k = 0; k < 4; k++) {
            uint32_t fl = inputs[k];
            uint32_t ax = fn(0x1200 | al, &fl);
            family_case(op, 0x1200 | al, 0, inputs[k], ax, 0, fl & defined);
        }
}

void test_bcd(void)
{
    family_begin("daa");
    adjust("daa", daa, FL_ARITH & ~FL_OF);
    family_end();
    family_begin("das");
    adjust("das", das, FL_ARITH & ~FL_OF);
    family_end();
    family_begin("aaa");
    adjust("aaa", aaa, FL_AF | FL_CF);
    family_end();
    family_begin("aas");
    adjust("aas", aas, FL_AF | FL_CF);
    family_end();
    family_begin("aam");
    adjust("10", aam10, FL_SF | FL_ZF | FL_PF);
    adjust("16", aam16, FL_SF | FL_ZF | FL_PF);
    family_end();
    family_begin("aad");
    adjust("10", aad10, FL_SF | FL_ZF | FL_PF);
    adjust("7", aad7, FL_SF | FL_ZF | FL_PF);
    family_end();
}
