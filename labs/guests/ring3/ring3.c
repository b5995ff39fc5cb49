/*
 * ring3 - privilege levels (Intel SDM vol. 3, chapters 5 and 6):
 * a ring-3 task entered by IRET makes system calls through an "int 0x80"
 * gate of DPL 3; privileged instructions in ring 3 raise #GP(0); "int 0x81"
 * through a DPL-0 gate raises #GP with an error code naming the IDT entry;
 * a far call through a DPL-3 call gate runs kernel code at CPL 0.
 */
#include "guest.h"

enum { SYS_WRITE = 1, SYS_GET = 2, SYS_EXIT = 3 };
#define SEL_CALL_GATE ((GDT_FREE << 3) | 3)

/* Labels on the ring-3 instructions expected to fault (user.S-style labels
 * inside the inline assembly below). */
extern char ring3_cli[], ring3_hlt[], ring3_int81[], ring3_in[];
extern char call_gate_entry[];

static uint8_t user_stack[4096] __attribute__((aligned(16)));
static int gp_count;
static uint32_t gp_errors[4], gp_cs[4];

static void syscall(struct trapframe *tf)
{
    switch (tf->eax) {
    case SYS_WRITE:
        printf("ring 3 says: ");
        for (uint32_t i = 0; i < tf->ecx; i++)
            uart_putc(((const char *)tf->ebx)[i]);
        tf->eax = tf->ecx;
        break;
    case SYS_GET:
        tf->eax = tf->cs & 3;   /* the caller's CPL, from the CS the CPU pushed */
        break;
    case SYS_EXIT:
        user_return(tf->ebx);
    default:
        tf->eax = (uint32_t)-1;
    }
}

/* The faulting instruction by name: #GP is a fault, so EIP is exactly the
 * instruction's label. */
static const char *label_name(uint32_t eip)
{
    static const struct { const char *name; char *at; } labels[] = {
        { "ring3_cli", ring3_cli }, { "ring3_hlt", ring3_hlt },
        { "ring3_int81", ring3_int81 }, { "ring3_in", ring3_in },
    };
    for (unsigned i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (eip == (uint32_t)labels[i].at)
            return labels[i].name;
    return "an unexpected instruction";
}

/* #GP is a fault: EIP points at the instruction. Skip it (1 byte for
 * cli/hlt/in, 2 for int imm8) so the user task can go on. */
static void general_protection(struct trapframe *tf)
{
    uint8_t opcode = *(const uint8_t *)tf->eip;
    printf("#GP error=%x from cs=%x at %s (opcode %02x)\n", tf->error, tf->cs,
           label_name(tf->eip), opcode);
    if (gp_count < 4) {
        gp_errors[gp_count] = tf->error;
        gp_cs[gp_count] = tf->cs;
    }
    gp_count++;
    if (tf->cs != SEL_UCODE) {
        printf("FAIL: #GP in the kernel\n");
        guest_exit(2);
    }
    tf->eip += opcode == 0xcd ? 2 : 1;
}

/* ---- the user task (runs at CPL 3) --------------------------------------- */
static uint32_t sys(uint32_t n, uint32_t a, uint32_t b)
{
    uint32_t r;
    asm volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
    return r;
}

static void user_print(const char *s)
{
    sys(SYS_WRITE, (uint32_t)s, str_len(s));
}

static void user_main(void)
{
    user_print("hello from CPL 3\n");
    uint32_t cpl = sys(SYS_GET, 0, 0);
    asm volatile("ring3_cli: cli");
    asm volatile("ring3_hlt: hlt");
    asm volatile("ring3_int81: int $0x81");
    asm volatile("ring3_in: inb %%dx, %%al" : : "d"(0x3f8) : "eax");
    uint32_t gate_cs, caller_cs;
    asm volatile("lcall %2, $0" : "=a"(gate_cs), "=d"(caller_cs) : "i"(SEL_CALL_GATE) : "memory");
    user_print("back from the call gate\n");
    sys(SYS_EXIT, cpl << 16 | (gate_cs & 0xff) << 8 | (caller_cs & 0xff), 0);
}

/* The call gate's target, at CPL 0 on the TSS ring-0 stack (SDM 5.8.5):
 * the CPU pushed the caller's SS, ESP, CS, EIP. Return our CS in EAX and
 * the caller's CS in EDX; LRET goes back to CPL 3. */
asm(".text\n"
    "call_gate_entry:\n"
    "    movl %cs, %eax\n"
    "    movl 4(%esp), %edx\n"
    "    lret\n");

int guest_main(void)
{
    gdt_init();
    idt_init();
    idt_set(0x80, GATE_INT | GATE_DPL3);
    trap_set_handler(0x80, syscall);
    trap_set_handler(13, general_protection);
    gdt_set_gate(GDT_FREE, SEL_KCODE, (uint32_t)call_gate_entry, 0xec, 0);  /* P, DPL 3, 32-bit call gate */
    printf("ring3: entering CPL 3 through iret\n");
    uint32_t r = run_user(user_main, user_stack + sizeof user_stack);
    uint32_t cpl = r >> 16, gate_cs = (r >> 8) & 0xff, caller_cs = r & 0xff;
    printf("ring3: back in the kernel; user CPL %u, call gate ran with CS %x for caller CS %x\n",
           cpl, gate_cs, caller_cs);
    CHECK(cpl == 3, "user CPL %u, want 3", cpl);
    CHECK(gate_cs == SEL_KCODE && caller_cs == SEL_UCODE, "call gate CS %x caller %x", gate_cs, caller_cs);
    CHECK(gp_count == 4, "%d #GP, want 4", gp_count);
    static const uint32_t want_errors[4] = { 0, 0, 0x81 * 8 + 2, 0 };  /* IDT bit 1 set: SDM 6.13 */
    for (int i = 0; i < 4 && i < gp_count; i++)
        CHECK(gp_errors[i] == want_errors[i] && gp_cs[i] == SEL_UCODE,
              "#GP %d: error %x cs %x, want error %x cs %x", i, gp_errors[i], gp_cs[i],
              want_errors[i], SEL_UCODE);
    printf("ring3: %s\n", checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
