/*
 * moves.c - movzx and movsx (Intel SDM vol. 2, MOVZX/MOVSX): zero- or
 * sign-extend a byte or word; a 16-bit destination keeps the upper half of
 * its 32-bit register. No flag changes.
 */
#include "flags.h"

#define DEFINE_EXTEND(name, insn, stype, dtype, scons)                             \
    static uint32_t name(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)       \
    {                                                                              \
        uint32_t d = 0xdeadbeef; (void)b; (void)r2;                                \
        asm(WITH_FLAGS(insn " %[s], %" dtype "[d]")                                \
            : [d] "+r"(d), [f] "+r"(*fl) : [s] scons((stype)a) : "cc");            \
        return d;                                                                  \
    }

DEFINE_EXTEND(movzbw, "movzbw", uint8_t, "w", "q")
DEFINE_EXTEND(movzbl, "movzbl", uint8_t, "k", "q")
DEFINE_EXTEND(movzwl, "movzwl", uint16_t, "k", "r")
DEFINE_EXTEND(movsbw, "movsbw", uint8_t, "w", "q")
DEFINE_EXTEND(movsbl, "movsbl", uint8_t, "k", "q")
DEFINE_EXTEND(movswl, "movswl", uint16_t, "k", "r")

/* Memory sources too: the decoder takes a different path. */
static uint32_t movsbl_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint8_t m = a; uint32_t d; (void)b; (void)r2;
    asm(WITH_FLAGS("movsbl %[m], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [m] "m"(m) : "cc");
    return d;
}

static uint32_t movzwl_mem(uint32_t a, uint32_t b, uint32_t *fl, uint32_t *r2)
{
    uint16_t m = a; uint32_t d; (void)b; (void)r2;
    asm(WITH_FLAGS("movzwl %[m], %[d]") : [d] "=r"(d), [f] "+r"(*fl) : [m] "m"(m) : "cc");
    return d;
}

void test_moves(void)
{
    family_begin("movzx/movsx");
    run_pairs("movzbw", movzbw, FL_ARITH);
    run_pairs("movzbl", movzbl, FL_ARITH);
    run_pairs("movzwl", movzwl, FL_ARITH);
    run_pairs("movsbw", movsbw, FL_ARITH);
    run_pairs("movsbl", movsbl, FL_ARITH);
    run_pairs("movswl", movswl, FL_ARITH);
    run_pairs("movsbl-m", movsbl_mem, FL_ARITH);
    run_pairs("movzwl-m", movzwl_mem, FL_ARITH);
    family_end();
}
