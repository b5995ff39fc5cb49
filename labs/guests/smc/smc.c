/*
 * smc - self-modifying code. A VMM that caches decoded or translated guest
 * code must notice when the guest writes over it (the interpreter's block
 * cache, lab 01; a binary translator's translation cache). Three cases,
 * each run many times so the code is cached before it is rewritten:
 *
 *   far-patch     rewrite the immediate of a routine on another page
 *   opcode-patch  turn "inc %eax" into "dec %eax" and back
 *   near-patch    a block that rewrites its own next instruction
 *
 * Each prints "NAME: ok" or "NAME: FAIL after N runs (got X, want Y)", and
 * the guest exits with 0 only if all three passed.
 */
#include "guest.h"

extern uint32_t smc_far(void);
extern uint32_t smc_op(uint32_t x);
extern uint32_t smc_near(uint32_t v);
extern volatile uint32_t smc_far_imm;       /* unaligned: a byte after the opcode */
extern volatile uint8_t smc_op_byte;

#define RUNS 200

static bool report(const char *name, uint32_t run, uint32_t got, uint32_t want)
{
    if (got == want)
        return false;
    printf("%s: FAIL after %u runs (got %u, want %u)\n", name, run, got, want);
    return true;
}

static int far_patch(void)
{
    for (uint32_t i = 1; i <= RUNS; i++) {
        smc_far_imm = i;
        if (report("far-patch", i, smc_far(), i))
            return 1;
    }
    printf("far-patch: ok\n");
    return 0;
}

static int opcode_patch(void)
{
    for (uint32_t i = 1; i <= RUNS; i++) {
        bool dec = i & 1;
        smc_op_byte = dec ? 0x48 : 0x40;
        if (report("opcode-patch", i, smc_op(1000), dec ? 999 : 1001))
            return 1;
    }
    printf("opcode-patch: ok\n");
    return 0;
}

static int near_patch(void)
{
    for (uint32_t i = 1; i <= RUNS; i++)
        if (report("near-patch", i, smc_near(i * 7), i * 7))
            return 1;
    printf("near-patch: ok\n");
    return 0;
}

int guest_main(void)
{
    printf("smc: self-modifying code, %u runs per case\n", RUNS);
    int failed = far_patch() + opcode_patch() + near_patch();
    return failed ? 1 : 0;
}
