/*
 * fault.c - a fault in the middle of a block: the guest's exception
 * handler must see the EIP of the faulting instruction and every register
 * as it was just before it, with the instructions before it in the block
 * completed and the ones after it not begun (SDM vol. 3, 6.5: faults are
 * precise). tests/bt/run.sh compares this guest's transcript under bt with
 * QEMU's (tests/bt/expected/fault.out).
 *
 * Each case runs three times: first translated, then from the code cache,
 * then with the block chained from the one before (the loop in run_case).
 */
#include "guest.h"

static uint8_t code[PAGE_SIZE] __attribute__((aligned(4096)));
static uint8_t data[PAGE_SIZE] __attribute__((aligned(4096)));

#define UNMAPPED 0x50000000u

volatile uint32_t call_esp, result[5];
uint32_t run_code(uint32_t function, uint32_t ecx);
__asm__(".globl run_code\n"
        "run_code:\n"
        "    push %ebx\n push %esi\n push %edi\n push %ebp\n"
        "    mov 20(%esp), %eax\n"
        "    mov 24(%esp), %ecx\n"
        "    mov $7, %esi\n"
        "    xor %edx, %edx\n"
        "    xor %edi, %edi\n"
        "    mov $0xbb0, %ebp\n"
        "    mov %esp, call_esp\n"
        "    call *%eax\n"
        "    mov %eax, result\n mov %ebx, result+4\n mov %edx, result+8\n"
        "    mov %esi, result+12\n mov %edi, result+16\n"
        "    pop %ebp\n pop %edi\n pop %esi\n pop %ebx\n"
        "    ret\n");

/* mov $0x11111111,%eax; mov $0x22222222,%ebx; push %eax; add %ebx,%eax;
 * inc %esi; <the faulting instruction>; add $5,%edx; pop %edi; ret */
static const uint8_t prologue[] = {0xb8, 0x11, 0x11, 0x11, 0x11, 0xbb, 0x22, 0x22, 0x22, 0x22,
                                   0x50, 0x01, 0xd8, 0x46};
static const uint8_t epilogue[] = {0x83, 0xc2, 0x05, 0x5f, 0xc3};

static void write_case(uint8_t *at, const uint8_t *faulting, unsigned length)
{
    memcpy(at, prologue, sizeof prologue);
    memcpy(at + sizeof prologue, faulting, length);
    memcpy(at + sizeof prologue + length, epilogue, sizeof epilogue);
}

static void report(const char *what, struct trapframe *tf)
{
    /* Same privilege: the CPU's frame ends at EFLAGS, and the faulting
     * ESP is the address just above it (SDM vol. 3, 6.12.1). */
    uint32_t esp = (uint32_t)(uintptr_t)&tf->user_esp;
    printf("  %s at code+%u: eax=%08x ebx=%08x ecx=%08x edx=%08x esi=%08x edi=%08x "
           "ebp=%08x esp=call-%u flags=%03x\n", what, tf->eip - (uint32_t)(uintptr_t)code,
           tf->eax, tf->ebx, tf->ecx, tf->edx, tf->esi, tf->edi, tf->ebp, call_esp - esp,
           tf->eflags & 0x8d5);
}

static void page_fault(struct trapframe *tf)
{
    report("#PF", tf);
    printf("  cr2=%08x error=%x\n", read_cr2(), tf->error);
    paging_map(read_cr2() & ~0xfffu, (uint32_t)(uintptr_t)data, PTE_P | PTE_W);
    invlpg((void *)(uintptr_t)read_cr2());
}

static void divide_error(struct trapframe *tf)
{
    report("#DE", tf);
    tf->eip += 2;                       /* skip the div */
}

static void run_case(const char *name, uint32_t ecx)
{
    for (int round = 0; round < 3; round++) {
        printf("%s, round %d:\n", name, round);
        paging_map(UNMAPPED, 0, 0);     /* not present again */
        invlpg((void *)(uintptr_t)UNMAPPED);
        run_code((uint32_t)(uintptr_t)code, ecx);
        printf("  after: eax=%08x ebx=%08x edx=%08x esi=%08x edi=%08x\n", result[0],
               result[1], result[2], result[3], result[4]);
    }
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    trap_set_handler(14, page_fault);
    trap_set_handler(0, divide_error);
    paging_identity_map(8);
    paging_enable();
    ((volatile uint32_t *)data)[0] = 0x1234;

    static const uint8_t load[] = {0x8b, 0x11};              /* mov (%ecx),%edx */
    write_case(code, load, sizeof load);
    run_case("load from a not-present page", UNMAPPED);

    static const uint8_t store[] = {0x89, 0x01};             /* mov %eax,(%ecx) */
    write_case(code, store, sizeof store);
    run_case("store to a not-present page", UNMAPPED);

    static const uint8_t divide[] = {0xf7, 0xf1};            /* div %ecx */
    write_case(code, divide, sizeof divide);
    run_case("divide by zero", 0);

    static const uint8_t push[] = {0xff, 0x31};              /* push (%ecx) */
    write_case(code, push, sizeof push);
    code[sizeof prologue + sizeof push + 3] = 0x5f;          /* two pops: edi, edi */
    code[sizeof prologue + sizeof push + 4] = 0x5f;
    code[sizeof prologue + sizeof push + 5] = 0xc3;
    run_case("push from a not-present page", UNMAPPED);
    return 0;
}
