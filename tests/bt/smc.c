/*
 * smc.c - self-modifying code, the translator's hardest promise: after a
 * guest writes to code, the next execution of that code is the new code,
 * wherever the translations of the old code are (tests/bt/run.sh runs this
 * guest under QEMU, interp and bt and compares the transcripts).
 *
 *   1. JIT: code written into a buffer, run a thousand times (translated,
 *      chained), rewritten, run again;
 *   2. a loop that patches its own immediate operand while it runs (the
 *      write lands in the very block being executed);
 *   3. a store into the next instruction of the same block;
 *   4. with paging: the code page written through a second linear address
 *      (an alias of the same frame), then run at the first.
 */
#include "guest.h"

static uint8_t code[2 * PAGE_SIZE] __attribute__((aligned(4096)));

typedef uint32_t (*function)(void);

static void put32(uint8_t *at, uint32_t value)
{
    memcpy(at, &value, 4);
}

/* mov $value, %eax; ret */
static void write_return(uint8_t *at, uint32_t value)
{
    at[0] = 0xb8;
    put32(at + 1, value);
    at[5] = 0xc3;
}

static uint32_t call_many(function f, int times)
{
    uint32_t sum = 0;
    for (int i = 0; i < times; i++)
        sum += f();
    return sum;
}

/* xor %eax,%eax; mov $100,%ecx
 * L: add $1,%eax; cmp $51,%ecx; jne skip; movb $2,L+2; skip: dec %ecx; jnz L; ret */
static void write_self_patching_loop(uint8_t *at)
{
    static const uint8_t body[] = {
        0x31, 0xc0, 0xb9, 100, 0, 0, 0,
        0x83, 0xc0, 0x01,                   /* L: add $1,%eax */
        0x83, 0xf9, 51,                     /* cmp $51,%ecx */
        0x75, 0x07,                         /* jne skip */
        0xc6, 0x05, 0, 0, 0, 0, 0x02,       /* movb $2, L+2 */
        0x49,                               /* skip: dec %ecx */
        0x75, 0xee,                         /* jnz L */
        0xc3,
    };
    memcpy(at, body, sizeof body);
    put32(at + 17, (uint32_t)(uintptr_t)(at + 7 + 2));
}

/* movb $5, next+1; next: mov $1,%eax; ret */
static void write_same_block_store(uint8_t *at)
{
    static const uint8_t body[] = {0xc6, 0x05, 0, 0, 0, 0, 0x05, 0xb8, 0x01, 0, 0, 0, 0xc3};
    memcpy(at, body, sizeof body);
    put32(at + 2, (uint32_t)(uintptr_t)(at + 7 + 1));
}

int guest_main(void)
{
    uint8_t *jit = code, *loop = code + 0x100, *store = code + 0x200;

    write_return(jit, 1);
    printf("jit: %u\n", call_many((function)jit, 1000));
    write_return(jit, 2);
    printf("jit rewritten: %u\n", call_many((function)jit, 1000));

    for (int round = 0; round < 3; round++) {
        write_self_patching_loop(loop);
        printf("self-patching loop, round %d: %u\n", round, ((function)loop)());
    }

    for (int round = 0; round < 3; round++) {
        write_same_block_store(store);
        printf("store into the same block, round %d: %u\n", round, ((function)store)());
    }

    /* The second page of `code`, also mapped at 8 MiB. */
    uint8_t *page = code + PAGE_SIZE, *alias = (uint8_t *)0x800000;
    paging_identity_map(8);
    paging_map((uint32_t)(uintptr_t)alias, (uint32_t)(uintptr_t)page, PTE_P | PTE_W);
    paging_enable();
    write_return(page, 3);
    printf("paging: %u\n", call_many((function)page, 1000));
    write_return(alias, 4);
    printf("written through an alias: %u\n", call_many((function)page, 1000));
    paging_disable();
    return 0;
}
