/*
 * conditions.c - setcc and cmovcc for all 16 condition codes (Intel SDM
 * vol. 1, appendix B, "EFLAGS condition codes"), over all 32 combinations
 * of CF, PF, ZF, SF and OF.
 */
#include "flags.h"

/* Returns setcc's byte in bit 0, the 32-bit cmov in bit 1 and the 16-bit
 * cmov in bit 2 (cmov copies 1 over 0 when the condition holds). */
#define CONDITION(cc)                                                              \
    static uint32_t test_##cc(uint32_t fl)                                         \
    {                                                                              \
        uint8_t set; uint32_t d32 = 0; uint16_t d16 = 0x8000;                      \
        asm("push %[f]\n\tpopf\n\tset" #cc " %[set]\n\tcmov" #cc "l %[one], %[d32]\n\t" \
            "cmov" #cc "w %w[one], %[d16]"                                         \
            : [set] "=q"(set), [d32] "+r"(d32), [d16] "+r"(d16)                    \
            : [f] "r"(fl), [one] "r"(1u) : "cc");                                  \
        return set | d32 << 1 | (d16 == 1) << 2 | (d16 == 0x8000) << 3;            \
    }

CONDITION(o) CONDITION(no) CONDITION(b) CONDITION(ae) CONDITION(e) CONDITION(ne)
CONDITION(be) CONDITION(a) CONDITION(s) CONDITION(ns) CONDITION(p) CONDITION(np)
CONDITION(l) CONDITION(ge) CONDITION(le) CONDITION(g)

static uint32_t (*const conditions[16])(uint32_t) = {
    test_o, test_no, test_b, test_ae, test_e, test_ne, test_be, test_a,
    test_s, test_ns, test_p, test_np, test_l, test_ge, test_le, test_g,
};

void test_conditions(void)
{
    static const uint32_t bits[5] = { FL_CF, FL_PF, FL_ZF, FL_SF, FL_OF };
    family_begin("setcc/cmovcc");
    for (uint32_t combo = 0; combo < 32; combo++) {
        uint32_t fl = 0;
        for (int b = 0; b < 5; b++)
            if (combo & (1u << b))
                fl |= bits[b];
        for (int cc = 0; cc < 16; cc++)
            family_case("cc", cc, fl, 0, conditions[cc](fl), 0, 0);
    }
    family_end();
}
