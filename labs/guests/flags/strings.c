/*
 * strings.c - movs, stos, lods, cmps, scas; bare and with rep/repe/repne,
 * forwards (DF = 0) and backwards (DF = 1).
 *
 * Intel SDM vol. 2, REP/REPE/REPNE: ECX counts down once per iteration and a
 * count of 0 runs no iteration; REPE/REPNE also stop on ZF after CMPS/SCAS.
 * ESI/EDI step by the operand size, down when DF = 1. MOVS/STOS/LODS change
 * no flag; CMPS/SCAS set them like CMP.
 */
#include "flags.h"

struct string_state {
    uint32_t esi, edi, ecx, eax, flags;
};

#define STRING_OP(name, insn)                                                      \
    static void name(struct string_state *s)                                       \
    {                                                                              \
        asm volatile(WITH_FLAGS(insn) "\n\tcld"                                    \
                     : "+S"(s->esi), "+D"(s->edi), "+c"(s->ecx), "+a"(s->eax),     \
                       [f] "+r"(s->flags) : : "cc", "memory");                     \
    }

STRING_OP(movsb, "movsb") STRING_OP(movsw, "movsw") STRING_OP(movsl, "movsl")
STRING_OP(rep_movsb, "rep movsb") STRING_OP(rep_movsw, "rep movsw") STRING_OP(rep_movsl, "rep movsl")
STRING_OP(stosb, "stosb") STRING_OP(stosw, "stosw") STRING_OP(stosl, "stosl")
STRING_OP(rep_stosb, "rep stosb") STRING_OP(rep_stosw, "rep stosw") STRING_OP(rep_stosl, "rep stosl")
STRING_OP(lodsb, "lodsb") STRING_OP(lodsw, "lodsw") STRING_OP(lodsl, "lodsl")
STRING_OP(rep_lodsb, "rep lodsb") STRING_OP(rep_lodsl, "rep lodsl")
STRING_OP(cmpsb, "cmpsb") STRING_OP(cmpsw, "cmpsw") STRING_OP(cmpsl, "cmpsl")
STRING_OP(repe_cmpsb, "repe cmpsb") STRING_OP(repe_cmpsw, "repe cmpsw") STRING_OP(repe_cmpsl, "repe cmpsl")
STRING_OP(repne_cmpsb, "repne cmpsb") STRING_OP(repne_cmpsl, "repne cmpsl")
STRING_OP(scasb, "scasb") STRING_OP(scasw, "scasw") STRING_OP(scasl, "scasl")
STRING_OP(repe_scasb, "repe scasb") STRING_OP(repe_scasl, "repe scasl")
STRING_OP(repne_scasb, "repne scasb") STRING_OP(repne_scasw, "repne scasw") STRING_OP(repne_scasl, "repne scasl")

static const struct {
    const char *name;
    void (*fn)(struct string_state *);
} string_ops[] = {
#define OP(n) { #n, n }
    OP(movsb), OP(movsw), OP(movsl), OP(rep_movsb), OP(rep_movsw), OP(rep_movsl),
    OP(stosb), OP(stosw), OP(stosl), OP(rep_stosb), OP(rep_stosw), OP(rep_stosl),
    OP(lodsb), OP(lodsw), OP(lodsl), OP(rep_lodsb), OP(rep_lodsl),
    OP(cmpsb), OP(cmpsw), OP(cmpsl), OP(repe_cmpsb), OP(repe_cmpsw), OP(repe_cmpsl),
    OP(repne_cmpsb), OP(repne_cmpsl),
    OP(scasb), OP(scasw), OP(scasl), OP(repe_scasb), OP(repe_scasl),
    OP(repne_scasb), OP(repne_scasw), OP(repne_scasl),
#undef OP
};

#define BUF 64
static uint8_t src[BUF], dst[BUF];

/* src and dst agree except every 5th byte, so REPE stops early on some
 * starts and REPNE on others; 0x21 (searched for by SCAS) occurs in dst. */
static void fill_buffers(void)
{
    for (int i = 0; i < BUF; i++) {
        src[i] = (uint8_t)(i * 7 + 3);
        dst[i] = i % 5 == 4 ? (uint8_t)(i * 3) : src[i];
    }
}

static uint32_t buffers_hash(void)
{
    uint32_t h = HASH_INIT;
    for (int i = 0; i < BUF; i += 4) {
        h = hash_word(h, src[i] | src[i + 1] << 8 | src[i + 2] << 16 | (uint32_t)src[i + 3] << 24);
        h = hash_word(h, dst[i] | dst[i + 1] << 8 | dst[i + 2] << 16 | (uint32_t)dst[i + 3] << 24);
    }
    return h;
}

void test_strings(void)
{
    static const uint32_t counts[3] = { 0, 1, 6 };
    family_begin("string");
    for (unsigned op = 0; op < sizeof string_ops / sizeof string_ops[0]; op++)
        for (int df = 0; df < 2; df++)
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < N_FLAG_INPUTS; k++) {
                    fill_buffers();
                    uint32_t start = df ? 40 : 16;   /* room for 6 dwords either way */
                    struct string_state s = {
                        .esi = (uint32_t)&src[start], .edi = (uint32_t)&dst[start],
                        .ecx = counts[c], .eax = 0x21212121,
                        .flags = flag_inputs[k] | (df ? FL_DF : 0),
                    };
                    string_ops[op].fn(&s);
                    family_case(string_ops[op].name, df, counts[c], flag_inputs[k],
                                (s.esi - (uint32_t)&src[start]) << 16 | ((s.edi - (uint32_t)&dst[start]) & 0xffff),
                                s.ecx ^ s.eax ^ buffers_hash(),
                                s.flags & (FL_ARITH | FL_DF));
                }
    family_end();
}
