/*
 * guest.h - the little library every vmlab test guest shares.
 *
 * A guest is a Multiboot kernel: start.S gives it a stack and calls
 * guest_boot(), which initialises the UART and calls the guest's own
 * guest_main(). Whatever guest_main() returns becomes the exit code
 * reported through the isa-debug-exit port (0 = every check passed).
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the guest's entry point (each guest defines it) --------------------- */
int guest_main(void);

/* ---- port I/O (Intel SDM vol. 2, IN/OUT) ---------------------------------- */
static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* ---- control registers (Intel SDM vol. 3, 2.5) ---------------------------- */
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
static inline uint32_t read_cr0(void) { uint32_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr2(void) { uint32_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr3(void) { uint32_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(uint32_t v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(const volatile void *va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }

/* EFLAGS bits (Intel SDM vol. 1, 3.4.3). */
#define FL_CF 0x0001u
#define FL_PF 0x0004u
#define FL_AF 0x0010u
#define FL_ZF 0x0040u
#define FL_SF 0x0080u
#define FL_TF 0x0100u
#define FL_IF 0x0200u
#define FL_DF 0x0400u
#define FL_OF 0x0800u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

/* ---- console and exit ------------------------------------------------------ */
void uart_init(void);
void uart_putc(char c);
void putstr(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
void guest_exit(uint32_t code) __attribute__((noreturn));

/* A failed check: print why and remember that the guest failed. */
extern int checks_failed;
#define CHECK(cond, ...) \
    do { if (!(cond)) { printf("FAIL: " __VA_ARGS__); printf("\n"); checks_failed++; } } while (0)

/* ---- Multiboot information (Multiboot spec 3.3) --------------------------- */
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;      /* KiB below 1 MiB / above 1 MiB, flag bit 0 */
    uint32_t boot_device;
    uint32_t cmdline;                   /* physical address, flag bit 2 */
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;    /* flag bit 6 */
};
extern const struct multiboot_info *boot_info;
const char *cmdline_args(void);
bool cmdline_get(const char *key, char *value, size_t size);
uint32_t cmdline_uint(const char *key, uint32_t fallback);
int str_len(const char *s);
bool str_eq(const char *a, const char *b);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* FNV-1a over 32-bit words: a compact fingerprint of a long transcript. */
#define HASH_INIT 0x811c9dc5u
static inline uint32_t hash_word(uint32_t h, uint32_t w)
{
    for (int i = 0; i < 4; i++, w >>= 8)
        h = (h ^ (w & 0xff)) * 0x01000193u;
    return h;
}

/* ---- segmentation: GDT, TSS, IDT (Intel SDM vol. 3, ch. 3, 5, 6, 7) ------- */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b      /* GDT index 3, RPL 3 */
#define SEL_UDATA 0x23      /* GDT index 4, RPL 3 */
#define SEL_TSS   0x28
#define GDT_FREE  6         /* first GDT slot a guest may use for experiments */
#define GDT_SLOTS 16

/* The 32-bit TSS (SDM vol. 3, 7.2.1, figure 7-2). */
struct tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} __attribute__((packed));

/* What LGDT/LIDT load and SGDT/SIDT store (SDM vol. 3, 2.4.1). */
struct table_register {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

void gdt_init(void);
void gdt_set_segment(int index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags);
void gdt_set_gate(int index, uint16_t selector, uint32_t offset, uint8_t access, uint8_t params);
void tss_set_esp0(uint32_t esp0);

/* IDT gate types (SDM vol. 3, 6.11). */
#define GATE_INT  0x8e      /* present, DPL 0, 32-bit interrupt gate (clears IF) */
#define GATE_TRAP 0x8f      /* present, DPL 0, 32-bit trap gate */
#define GATE_DPL3 0x60      /* or-in: callable by int n from ring 3 */
void idt_init(void);
void idt_set(int vector, uint8_t type);
void idt_set_present(int vector, bool present);
void idt_load(uint16_t limit);

/* What the trap stubs (traps.S) push, lowest address first. */
struct trapframe {
    uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;  /* pusha */
    uint32_t vector, error;      /* error = 0 for vectors without one */
    uint32_t eip, cs, eflags;    /* pushed by the CPU */
    uint32_t user_esp, user_ss;  /* only on a privilege change (SDM 6.12.1) */
};
typedef void (*trap_handler)(struct trapframe *tf);
void trap_set_handler(int vector, trap_handler h);

/* Catch one trap: the next unhandled trap is recorded in last_trap and the
 * CPU resumes at resume_eip instead of retrying the instruction. */
struct trap_record {
    uint32_t vector, error, eip, cs, cr2;
    int count;
};
extern volatile struct trap_record last_trap;
extern volatile uint32_t trap_resume_eip;

/* A 32-bit read or write that may fault (lib/probe.c): true if it did not. */
bool probe_read32(const volatile uint32_t *p, uint32_t *value);
bool probe_write32(volatile uint32_t *p, uint32_t value);

/* Ring 3 (traps.S): run fn at CPL 3 on user_stack until the kernel calls
 * user_return(value) from a trap handler; run_user then returns value. */
uint32_t run_user(void (*fn)(void), void *user_stack_top);
void user_return(uint32_t value) __attribute__((noreturn));

/* ---- interrupt controllers and timer --------------------------------------- */
void pic_remap(uint8_t master_base, uint8_t slave_base);
void pic_mask(int irq, bool masked);
void pic_eoi(int irq);
uint8_t pic_read_isr(void);
uint8_t pic_read_irr(void);
void pit_start_periodic(uint32_t hz);
uint16_t pit_read_count(void);
void pit_wait_periods(int periods);
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }

/* ---- paging (Intel SDM vol. 3, 4.3 "32-bit paging") ------------------------ */
#define PTE_P   0x001u
#define PTE_W   0x002u
#define PTE_U   0x004u
#define PTE_A   0x020u
#define PTE_D   0x040u
#define PDE_PS  0x080u      /* 4 MiB page, needs CR4.PSE */
#define PAGE_SIZE 4096u

/* volatile: the CPU itself writes the A and D bits (SDM 4.8), behind the
 * compiler's back. */
extern volatile uint32_t page_directory[1024];
void paging_identity_map(uint32_t megabytes);
volatile uint32_t *paging_pte(uint32_t va);      /* allocates the page table if missing */
void paging_map(uint32_t va, uint32_t pa, uint32_t flags);
void paging_enable(void);
void paging_disable(void);
void *page_alloc(void);                 /* a zeroed 4 KiB physical page */

#endif
