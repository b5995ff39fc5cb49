/*
 * pagefault - page faults that the kernel repairs (Intel SDM vol. 3, 4.7
 * and 6.15 interrupt 14): CR2 holds the linear address, the error code says
 * why (bit 0 P: protection violation rather than not-present; bit 1 W/R:
 * write; bit 2 U/S: CPL 3). The handler fixes the mapping and returns; a #PF
 * is a fault, so the CPU re-executes the instruction, which now succeeds.
 *
 * Bit 4 (I/D, instruction fetch) is set only with CR4.SMEP or PAE + NXE
 * (SDM 4.7); under plain 32-bit paging a fetch fault reports 0 like a read.
 */
#include "guest.h"

#define PF_P 1u
#define PF_W 2u
#define PF_U 4u

#define VA_READ   0x50000000u   /* not present, read */
#define VA_WRITE  0x50001000u   /* not present, written */
#define VA_RO     0x50002000u   /* present, read-only, written */
#define VA_SUPER  0x50003000u   /* supervisor page read from ring 3 */
#define VA_URO    0x50004000u   /* user read-only page written from ring 3 */
#define VA_CODE   0x50005000u   /* not present, called */

static uint32_t backing[6];     /* the physical page behind each VA above */
static int faults_in_a_row;

static uint32_t backing_for(uint32_t va)
{
    return backing[(va - VA_READ) >> 12];
}

static const char *fix;
static uint32_t fault_cr2, fault_error;

/* Repair whatever the error code says is missing, then return: the CPU
 * retries the faulting instruction. */
static void page_fault(struct trapframe *tf)
{
    uint32_t cr2 = read_cr2();
    uint32_t page = cr2 & ~0xfffu;
    fault_cr2 = cr2;
    fault_error = tf->error;
    if (++faults_in_a_row > 2 || page < VA_READ || page > VA_CODE) {
        printf("FAIL: unrepairable #PF cr2 %08x error %x eip %08x\n", cr2, tf->error, tf->eip);
        guest_exit(2);
    }
    printf("  #PF cr2=%08x error=%x (P=%u W=%u U=%u)", cr2, tf->error,
           tf->error & PF_P, (tf->error & PF_W) >> 1, (tf->error & PF_U) >> 2);
    volatile uint32_t *pte = paging_pte(page);
    if (!(tf->error & PF_P)) {
        *pte = backing_for(page) | PTE_P | PTE_W;
        fix = "mapped the page";
    } else if (tf->error & PF_U && !(*pte & PTE_U)) {
        *pte |= PTE_U;
        fix = "made the page user-accessible";
    } else if (tf->error & PF_W) {
        *pte |= PTE_W;
        fix = "made the page writable";
    }
    invlpg((void *)page);       /* SDM 4.10.4.1: drop any cached translation */
    printf(" -> %s, retrying\n", fix);
}

static void report(const char *what, uint32_t value, uint32_t want,
                   uint32_t want_cr2, uint32_t want_error)
{
    printf("%s: value %08x after %d fault(s)\n", what, value, faults_in_a_row);
    CHECK(value == want, "%s: got %08x, want %08x", what, value, want);
    CHECK(fault_cr2 == want_cr2 && fault_error == want_error,
          "%s: cr2 %08x error %x, want cr2 %08x error %x", what,
          fault_cr2, fault_error, want_cr2, want_error);
    CHECK(faults_in_a_row == 1, "%s: %d faults, want exactly 1", what, faults_in_a_row);
    faults_in_a_row = 0;
}

/* ---- ring 3 side ------------------------------------------------------- */
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static void syscall_exit(struct trapframe *tf)
{
    user_return(tf->eax);
}

static void user_read_super(void)
{
    uint32_t v = *(volatile uint32_t *)VA_SUPER;
    asm volatile("int $0x80" : : "a"(v));
}

static void user_write_ro(void)
{
    *(volatile uint32_t *)VA_URO = 0x0000beef;
    asm volatile("int $0x80" : : "a"(*(volatile uint32_t *)VA_URO));
}

/* mov $0x1234abcd, %eax; ret */
static const uint8_t code_bytes[] = { 0xb8, 0xcd, 0xab, 0x34, 0x12, 0xc3 };

int guest_main(void)
{
    gdt_init();
    idt_init();
    idt_set(0x80, GATE_INT | GATE_DPL3);
    trap_set_handler(14, page_fault);
    trap_set_handler(0x80, syscall_exit);

    /* Identity map with U set, so ring 3 may run the guest's own code and
     * use its stack; the pages under test decide U/S for themselves. */
    paging_identity_map(8);
    for (uint32_t va = PAGE_SIZE; va < 8u << 20; va += PAGE_SIZE)
        *paging_pte(va) |= PTE_U;
    for (int i = 0; i < 6; i++)
        backing[i] = (uint32_t)page_alloc();
    ((uint32_t *)backing_for(VA_READ))[4] = 0xabcd0001;
    ((uint32_t *)backing_for(VA_SUPER))[0] = 0x5afe0003;
    memcpy((void *)backing_for(VA_CODE), code_bytes, sizeof code_bytes);
    paging_map(VA_RO, backing_for(VA_RO), PTE_P);
    paging_map(VA_SUPER, backing_for(VA_SUPER), PTE_P | PTE_W);
    paging_map(VA_URO, backing_for(VA_URO), PTE_P | PTE_U);
    paging_enable();
    write_cr0(read_cr0() | CR0_WP);     /* so supervisor writes honour R/W */
    printf("pagefault: paging on, CR0.WP=1\n");

    printf("read from a not-present page:\n");
    report("read", *(volatile uint32_t *)(VA_READ + 0x10), 0xabcd0001, VA_READ + 0x10, 0);

    printf("write to a not-present page:\n");
    *(volatile uint32_t *)(VA_WRITE + 4) = 0x0000f00d;
    report("write", ((uint32_t *)backing_for(VA_WRITE))[1], 0x0000f00d, VA_WRITE + 4, PF_W);

    printf("supervisor write to a read-only page:\n");
    *(volatile uint32_t *)VA_RO = 0x00000bad;
    report("read-only write", ((uint32_t *)backing_for(VA_RO))[0], 0x00000bad, VA_RO, PF_P | PF_W);

    printf("ring 3 read of a supervisor page:\n");
    report("user read", run_user(user_read_super, user_stack + sizeof user_stack), 0x5afe0003, VA_SUPER, PF_P | PF_U);

    printf("ring 3 write to a read-only user page:\n");
    report("user write", run_user(user_write_ro, user_stack + sizeof user_stack), 0x0000beef, VA_URO, PF_P | PF_W | PF_U);

    printf("call into a not-present page:\n");
    uint32_t (*fn)(void) = (uint32_t (*)(void))VA_CODE;
    report("instruction fetch", fn(), 0x1234abcd, VA_CODE, 0);

    paging_disable();
    printf("pagefault: %s\n", checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
