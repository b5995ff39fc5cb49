/*
 * views.c - guest user code and guest kernel code sharing memory across
 * thousands of privilege changes, and user code kept out of the kernel's
 * pages. Under bt the kernel reaches memory through the supervisor view
 * and user code through the user view (techniques/bt/README.md), two
 * host mappings of the same guest frames: what one side writes the other
 * must read, and what only the kernel may touch must fault at CPL 3 even
 * when the kernel has just used it (so the supervisor view maps it).
 * tests/bt/run.sh compares the transcript with QEMU's
 * (tests/bt/expected/views.out).
 *
 *   1. 2000 system calls: each time user code adds to a user page, the
 *      kernel adds to the same page and to its own secret page, and each
 *      side checks what the other wrote;
 *   2. user reads and writes of the kernel's pages, through a plain MOV,
 *      a string instruction (lods, rep stos) and the stack (ESP pointed
 *      at the kernel page): each one a #PF with the user error code, and
 *      the secret unchanged;
 *   3. the kernel changes a user page's rights (read-only, then
 *      supervisor-only, then writable again) with INVLPG between two
 *      system calls: user code sees each change.
 */
#include "guest.h"

enum { SYS_EXIT = 1, SYS_BUMP = 2, SYS_PROTECT = 3 };
#define ROUNDS 2000

static uint32_t user_page[1024] __attribute__((aligned(4096)));
static uint32_t user_copy[1024] __attribute__((aligned(4096)));
static uint32_t changing_page[1024] __attribute__((aligned(4096)));
static uint32_t secret[1024] __attribute__((aligned(4096)));
static uint32_t untouched[1024] __attribute__((aligned(4096)));
static uint8_t user_stack[4096] __attribute__((aligned(4096)));

static uint32_t kernel_sum, bumps;
static volatile uint32_t user_faults, user_fault_errors[16], user_fault_pages[16];

/* ---- the kernel side ------------------------------------------------------- */

static uint32_t page_of(const void *p)
{
    return (uint32_t)(uintptr_t)p & ~0xfffu;
}

/* The rights of one of our pages, effective at once (SDM vol. 3, 4.10.4.1). */
static void set_rights(void *page, uint32_t flags)
{
    paging_map(page_of(page), page_of(page), flags);
    invlpg(page);
}

static void syscall(struct trapframe *tf)
{
    switch (tf->eax) {
    case SYS_EXIT:
        user_return(tf->ebx);
    case SYS_BUMP:
        /* The user's last write must be visible here, and ours there. */
        bumps++;
        kernel_sum += user_page[bumps % 512];
        user_page[1023] = bumps * 3;
        secret[1] += bumps;
        tf->eax = bumps;
        break;
    case SYS_PROTECT:
        set_rights(changing_page, tf->ebx);
        break;
    default:
        tf->eax = (uint32_t)-1;
    }
}

/* A user #PF: recorded, and user code goes on at trap_resume_eip. */
static void page_fault(struct trapframe *tf)
{
    uint32_t n = user_faults++;
    if (n < 16) {
        user_fault_errors[n] = tf->error;
        user_fault_pages[n] = read_cr2() & ~0xfffu;
    }
    if (tf->cs != SEL_UCODE || !trap_resume_eip) {
        printf("FAIL: #PF error %x at %08x cs %x cr2 %08x\n", tf->error, tf->eip, tf->cs,
               read_cr2());
        guest_exit(2);
    }
    tf->eip = trap_resume_eip;
    trap_resume_eip = 0;
}

/* ---- the user side (CPL 3) ------------------------------------------------- */

static uint32_t sys(uint32_t n, uint32_t a)
{
    uint32_t r;
    asm volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a) : "memory");
    return r;
}

/* Each of these touches memory once, and resumes after it if it faults. */
static void user_read(const volatile uint32_t *p)
{
    uint32_t v;
    asm volatile("movl $1f, trap_resume_eip\n\tmovl (%1), %0\n1:" : "=r"(v) : "r"(p) : "memory");
}

static void user_write(volatile uint32_t *p, uint32_t v)
{
    asm volatile("movl $1f, trap_resume_eip\n\tmovl %1, (%0)\n1:" : : "r"(p), "r"(v) : "memory");
}

static void user_lods(const volatile uint32_t *p)
{
    asm volatile("movl $1f, trap_resume_eip\n\tlodsl\n1:" : "+S"(p) : : "eax", "memory");
}

static void user_rep_stos(volatile uint32_t *p)
{
    uint32_t count = 4;
    asm volatile("movl $1f, trap_resume_eip\n\trep stosl\n1:"
                 : "+D"(p), "+c"(count) : "a"(0xbad) : "memory");
}

/* push with ESP in the kernel's page: the store faults, ESP is unchanged. */
static void user_push_into(volatile uint32_t *p)
{
    asm volatile("movl %%esp, %%ebx\n\t"
                 "movl $1f, trap_resume_eip\n\t"
                 "movl %0, %%esp\n\t"
                 "pushl $0xbad\n"
                 "1:\tmovl %%ebx, %%esp"
                 : : "r"(p + 16) : "ebx", "memory");
}

static void user_main(void)
{
    uint32_t mismatches = 0;
    for (uint32_t i = 1; i <= ROUNDS; i++) {
        user_page[(i + 1) % 512] += i;             /* the kernel reads it at the next call */
        uint32_t n = sys(SYS_BUMP, 0);
        if (n != i || user_page[1023] != 3 * n)
            mismatches++;
    }
    /* A string copy at CPL 3 (ES:EDI: the core does it under bt). */
    uint32_t *from = user_page, *to = user_copy, count = 1024;
    asm volatile("rep movsl" : "+S"(from), "+D"(to), "+c"(count) : : "memory");
    user_read(secret);
    user_write(secret, 0xbad);
    user_lods(secret);
    user_rep_stos(secret);
    user_push_into(secret);
    user_read(untouched);
    sys(SYS_PROTECT, PTE_P | PTE_U);               /* read-only */
    user_read(changing_page);
    user_write(changing_page, 1);
    sys(SYS_PROTECT, PTE_P | PTE_W);               /* supervisor only */
    user_read(changing_page);
    sys(SYS_PROTECT, PTE_P | PTE_W | PTE_U);       /* writable again */
    user_write(changing_page, 7);
    sys(SYS_EXIT, mismatches);
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    idt_set(0x80, GATE_INT | GATE_DPL3);
    trap_set_handler(0x80, syscall);
    trap_set_handler(14, page_fault);
    /* The whole image is the user's (code, stack, the library's data),
     * except the kernel's two pages; CR0.WP makes read-only hold for the
     * kernel too. */
    paging_identity_map(8);
    extern char _end[];
    for (uint32_t va = 0x100000; va < (uint32_t)(uintptr_t)_end; va += PAGE_SIZE)
        paging_map(va, va, PTE_P | PTE_W | PTE_U);
    paging_map(page_of(secret), page_of(secret), PTE_P | PTE_W);
    paging_map(page_of(untouched), page_of(untouched), PTE_P | PTE_W);
    paging_enable();
    write_cr0(read_cr0() | CR0_WP);
    secret[0] = 0x5ec7e7;                          /* the supervisor view maps it now */
    user_page[0] = 1;
    uint32_t mismatches = run_user(user_main, user_stack + sizeof user_stack);

    uint32_t user_sum = 0, copied = 0;
    for (int i = 0; i < 512; i++)
        user_sum += user_page[i];
    for (int i = 0; i < 1024; i++)
        copied += user_copy[i] == user_page[i];
    printf("views: %u system calls, %u mismatches seen at CPL 3\n", bumps, mismatches);
    printf("views: user page sum %u, kernel read %u of it, %u words copied by rep movs\n",
           user_sum, kernel_sum, copied);
    printf("views: secret %x %u\n", secret[0], secret[1]);
    for (uint32_t i = 0; i < user_faults && i < 16; i++)
        printf("views: user #PF %u: error %x on %s\n", i, user_fault_errors[i],
               user_fault_pages[i] == page_of(secret) ? "the secret"
               : user_fault_pages[i] == page_of(untouched) ? "an untouched kernel page"
               : user_fault_pages[i] == page_of(changing_page) ? "the changing page" : "?");
    printf("views: changing page %u\n", changing_page[0]);
    CHECK(mismatches == 0, "%u mismatches", mismatches);
    CHECK(user_sum == 1 + ROUNDS * (ROUNDS + 1) / 2, "user sum %u", user_sum);
    CHECK(copied == 1024, "%u words copied", copied);
    CHECK(secret[0] == 0x5ec7e7 && secret[1] == ROUNDS * (ROUNDS + 1) / 2, "secret %x %u",
          secret[0], secret[1]);
    CHECK(user_faults == 8, "%u user faults, want 8", user_faults);
    CHECK(changing_page[0] == 7, "changing page %u", changing_page[0]);
    printf("views: %s\n", checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
