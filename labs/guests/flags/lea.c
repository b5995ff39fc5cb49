/*
 * lea.c - LEA with every addressing form (Intel SDM vol. 2, 2.1.5, tables
 * 2-1 and 2-2: 16-bit and 32-bit ModR/M, the SIB byte, and its special
 * cases: no index (ESP), no base (mod 00, base 101), EBP needing a disp8).
 * LEA computes the address without touching memory, so odd bases are fine.
 * 16-bit addressing (0x67 prefix, which gas emits for 16-bit registers)
 * wraps modulo 64 KiB; a 16-bit destination truncates.
 */
#include "flags.h"

#define BASE 0x00012340u
#define INDEX 0x00000111u

/* Run one lea with EBX = BASE, ESI = INDEX, EBP = BASE + 0x100000,
 * EDI = 0xfff0 and the result in EAX. */
#define LEA(form) ({                                                               \
    uint32_t r = 0xdeadbeef;                                                       \
    asm("push %%ebp\n\tmovl %[bp], %%ebp\n\t" form "\n\tpop %%ebp"                 \
        : "+a"(r) : "b"(BASE), "S"(INDEX), "D"(0xfff0), [bp] "i"(BASE + 0x100000)); \
    r; })

void test_lea(void)
{
    const uint32_t results[] = {
        LEA("leal (%%ebx), %%eax"),
        LEA("leal 0x7f(%%ebx), %%eax"),
        LEA("leal -0x80(%%ebx), %%eax"),
        LEA("leal 0x12345678(%%ebx), %%eax"),
        LEA("leal -0x10000(%%ebx), %%eax"),
        LEA("leal (%%ebx,%%esi), %%eax"),
        LEA("leal (%%ebx,%%esi,2), %%eax"),
        LEA("leal 4(%%ebx,%%esi,4), %%eax"),
        LEA("leal -4(%%ebx,%%esi,8), %%eax"),
        LEA("leal 0x1000(%%ebx,%%esi,8), %%eax"),
        LEA("leal (,%%esi,8), %%eax"),
        LEA("leal 0x1234(,%%esi,2), %%eax"),
        LEA("leal 0x00abcdef, %%eax"),
        LEA("leal (%%ebp), %%eax"),
        LEA("leal 8(%%ebp,%%esi), %%eax"),
        LEA("leal (%%esi,%%ebp,1), %%eax"),
        LEA("leal 0xffffffff(%%ebx,%%esi,4), %%eax"),
        LEA("leal (%%ebx,%%ebx,2), %%eax"),         /* the x*3 idiom */
        LEA("leal 12(%%eax,%%eax,4), %%eax"),       /* EAX both in and out */
        LEA("leaw 0x12345(%%ebx), %%ax"),           /* 16-bit destination */
        LEA("leal (%%bx,%%si), %%eax"),             /* 16-bit addressing */
        LEA("leal (%%bx,%%di), %%eax"),
        LEA("leal (%%bp,%%si), %%eax"),
        LEA("leal (%%bp,%%di), %%eax"),
        LEA("leal (%%si), %%eax"),
        LEA("leal (%%di), %%eax"),
        LEA("leal 0x10(%%bp), %%eax"),
        LEA("leal (%%bx), %%eax"),
        LEA("leal 0x20(%%bx,%%di), %%eax"),         /* wraps past 0xffff */
        LEA("leal -2(%%bx,%%si), %%eax"),
        LEA("leal 0x7fff(%%di), %%eax"),
        LEA("leaw 0x1234(%%bx,%%si), %%ax"),
        LEA("addr16 leal 0x1234, %%eax"),           /* mod 00 rm 110: disp16 */
    };
    uint32_t esp_relative;
    asm("leal 8(%%esp), %%eax\n\tsubl %%esp, %%eax" : "=a"(esp_relative));
    family_begin("lea");
    for (unsigned i = 0; i < sizeof results / sizeof results[0]; i++)
        family_case("lea", i, 0, 0, results[i], 0, 0);
    family_case("lea-esp", 0, 0, 0, esp_relative, 0, 0);
    family_end();
}
