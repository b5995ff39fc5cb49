/*
 * stack.c - record what stack.S observed: registers relative to the
 * scratch area, and a hash of the area's contents.
 */
#include "flags.h"

#define AREA_WORDS 64
/* 64 KiB-aligned so that the 16-bit SP that PUSHAW pushes is the same in
 * every build: the low half of an address inside the area. */
static uint32_t area[AREA_WORDS] __attribute__((aligned(65536)));
extern uint32_t stack_result[10];
void stack_push_pop(uint32_t *top);
void stack_pusha_popa(uint32_t *top);
void stack_enter_leave(uint32_t *top);

/* Addresses inside the area are shown as offsets from its top. */
static uint32_t rel(uint32_t v)
{
    uint32_t top = (uint32_t)&area[AREA_WORDS];
    return v - (top - sizeof area) <= sizeof area ? 0xa0000000 | (top - v) : v;
}

static void fill_area(void)
{
    for (int i = 0; i < AREA_WORDS; i++)
        area[i] = 0xc0de0000 | i;
    /* enter L > 1 copies frame pointers from below EBP = top - 64 */
    for (int i = 0; i < 4; i++)
        area[AREA_WORDS - 16 - 1 - i] = 0xf0000000 | i;
}

static void record(const char *name, void (*fn)(uint32_t *), int results)
{
    fill_area();
    for (int i = 0; i < 10; i++)
        stack_result[i] = 0;
    fn(&area[AREA_WORDS]);
    uint32_t h = HASH_INIT;
    for (int i = 0; i < AREA_WORDS; i++)
        h = hash_word(h, rel(area[i]));
    for (int i = 0; i < results; i++)
        family_case(name, i, 0, 0, rel(stack_result[i]), 0, 0);
    family_case(name, 0, 0, 0, h, 0, 0);
}

void test_stack(void)
{
    family_begin("push/pop");
    record("pushpop", stack_push_pop, 2);
    family_end();
    family_begin("pusha/popa");
    record("pusha", stack_pusha_popa, 8);
    family_end();
    family_begin("enter/leave");
    record("enter", stack_enter_leave, 10);
    family_end();
}
