/*
 * random_code.c - the seeded part of the guest-survival fuzz guest.
 *
 * fuzz_setup reads seed=N (and canary=PATH) from the Multiboot command line,
 * then, from an xorshift32 generator seeded with N only:
 *   - programs the PICs (IRQ 0 at vector 0x20, the rest masked) and the PIT
 *     at 100 Hz, so that code that waits with IF = 1 is woken;
 *   - picks a mode: paging on/off (4 KiB identity map of 0-16 MiB, 4 MiB
 *     pages above when CR4.PSE, a self-map in PDE 1023, user or supervisor
 *     kernel pages, CR0.WP), ring 0 or ring 3, IOPL, IF;
 *   - fills code_buf with random bytes mixed with a dictionary of
 *     privileged and sensitive instructions (filled with interesting
 *     operands: selectors, MSRs, addresses of the guest's own page tables,
 *     IDT, GDT, TSS, low memory, top of RAM);
 *   - picks the first registers among the same interesting values, and
 *     sometimes sets up Linux-looking system call arguments naming the
 *     canary path, so that a leaked int 0x80 / sysenter / syscall would
 *     create a file on the host;
 *   - for half the seeds, a budget of exceptions (1-400) after which the
 *     handler stops resuming the random code and exits.
 * Nothing here depends on anything but the seed and the command line.
 */
#include <stddef.h>
#include <stdint.h>

#define CODE_SIZE 8192
#define PAGE 4096

extern char gdt[], idt[], tss[], kernel_stack_top[];

uint32_t fuzz_state[14];  /* cr3 cr4 cr0 eflags ring eip esp eax ecx edx ebx ebp esi edi */
uint32_t resume_budget, handler_rng;   /* read by trap_common (random_code.S) */

uint8_t code_buf[CODE_SIZE + 64] __attribute__((aligned(PAGE)));
static uint32_t page_dir[1024] __attribute__((aligned(PAGE)));
static uint32_t page_tables[4][1024] __attribute__((aligned(PAGE)));
static uint8_t user_stack[2 * PAGE] __attribute__((aligned(PAGE)));
static uint8_t fuzz_stack[2 * PAGE] __attribute__((aligned(PAGE)));
static char canary_path[128] = "/tmp/vmlab-fuzz-canary/leaked";
static char canary_dir[128] = "/tmp/vmlab-fuzz-canary";
static const char *touch_argv[4];
static const char bin_touch[] = "/bin/touch";

static uint32_t rng_state;

static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static uint32_t below(uint32_t n) { return rnd() % n; }

/* ---- the command line -------------------------------------------------- */

struct mbi { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline; };

static const char *find_arg(const char *s, const char *key)
{
    while (s && *s) {
        while (*s == ' ')
            s++;
        const char *k = key, *p = s;
        while (*k && *p == *k)
            k++, p++;
        if (!*k && *p == '=')
            return p + 1;
        while (*s && *s != ' ')
            s++;
    }
    return NULL;
}

static uint32_t parse_uint(const char *p)
{
    uint32_t v = 0;
    while (p && *p >= '0' && *p <= '9')
        v = v * 10 + (uint32_t)(*p++ - '0');
    return v;
}

static void copy_word(char *dst, const char *src, size_t size)
{
    size_t n = 0;
    while (src[n] && src[n] != ' ' && n + 1 < size) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = '\0';
}

/* ---- interesting values ------------------------------------------------ */

static uint32_t mem_top;

static uint32_t interesting_address(void)
{
    switch (below(24)) {
    case 0: return 0;
    case 1: return 0x9000;                              /* Multiboot info */
    case 2: return 0xa0000 + below(0x60000);            /* the legacy hole */
    case 3: return 0xb8000;
    case 4: return (uint32_t)page_dir + 4 * below(1024);
    case 5: return (uint32_t)page_dir + 4092;
    case 6: return (uint32_t)page_tables + 4 * below(4096);
    case 7: return (uint32_t)idt + 8 * below(256);
    case 8: return (uint32_t)gdt + 8 * below(8);
    case 9: return (uint32_t)tss + 4 * below(26);
    case 10: return (uint32_t)code_buf + below(CODE_SIZE);
    case 11: return (uint32_t)kernel_stack_top - 4 * below(64);
    case 12: return mem_top - 4 * below(1024);          /* top of RAM */
    case 13: return mem_top + 4 * below(1024);          /* just past RAM */
    case 14: return 0xfffff000 + 4 * below(1024);
    case 15: return 0xffc00000 + 4 * below(1024);       /* through the self-map */
    case 16: return 0xfec00000;                          /* IOAPIC */
    case 17: return 0xfee00000;                          /* local APIC */
    case 18: return 0x100000;                            /* our own code */
    case 19: return 4 * below(256);                      /* real-mode IVT */
    case 20: return (uint32_t)canary_path;
    default: return rnd();
    }
}

static uint32_t interesting_value(void)
{
    switch (below(10)) {
    case 0: return 0;
    case 1: return 0xffffffff;
    case 2: return 0x80000000;
    case 3: return 0x7fffffff;
    case 4: return below(16);
    case 5: return rnd() & 0xffff;
    case 6: return interesting_address();
    default: return rnd();
    }
}

static uint16_t interesting_selector(void)
{
    static const uint16_t sels[] = { 0, 3, 0x08, 0x0b, 0x10, 0x13, 0x18, 0x1b, 0x20, 0x23,
                                     0x28, 0x2b, 0x30, 0x33, 0x2b, 0x38, 0x3b, 0x4, 0x7, 0xffff };
    if (below(4) == 0)
        return (uint16_t)rnd();
    return sels[below(sizeof sels / sizeof sels[0])];
}

static uint32_t interesting_msr(void)
{
    static const uint32_t msrs[] = { 0x10, 0x1b, 0x3a, 0x174, 0x175, 0x176, 0x277, 0x2ff,
                                     0xc0000080, 0xc0000081, 0xc0000082, 0xc0000084,
                                     0xc0000100, 0xc0000101, 0xc0000102, 0x48, 0x49, 0x8b };
    if (below(4) == 0)
        return rnd();
    return msrs[below(sizeof msrs / sizeof msrs[0])];
}

static uint16_t interesting_port(void)
{
    static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x40, 0x41, 0x42, 0x43, 0x61,
                                      0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3ff, 0x1f0,
                                      0x1f1, 0x1f2, 0x1f6, 0x1f7, 0x3f6, 0x70, 0x71, 0x80,
                                      0x92, 0xcf8, 0xcfc, 0x60, 0x64, 0x510, 0xffff };
    if (below(5) == 0)
        return (uint16_t)rnd();
    return ports[below(sizeof ports / sizeof ports[0])];
}

/* ---- emitting ---------------------------------------------------------- */

static uint8_t *out, *out_end;

static void b(uint32_t v) { if (out < out_end) *out++ = (uint8_t)v; }
static void w(uint32_t v) { b(v); b(v >> 8); }
static void l(uint32_t v) { w(v); w(v >> 16); }
static void mov_imm(int reg, uint32_t v) { b(0xb8 + reg); l(v); }
/* a ModRM byte with the given reg field: register or memory operand */
static void modrm(int reg) { b((rnd() & 0xc7) | (reg << 3)); }
/* a ModRM byte naming memory [disp32] (absolute address) */
static void modrm_abs(int reg, uint32_t addr) { b(0x05 | (reg << 3)); l(addr); }

static void emit_dictionary(void)
{
    switch (below(62)) {
    case 0: b(0xfa); break;                                     /* cli */
    case 1: b(0xfb); break;                                     /* sti */
    case 2: b(0xf4); break;                                     /* hlt */
    case 3: b(0xfb); b(0xf4); break;                            /* sti; hlt */
    case 4: mov_imm(2, interesting_port()); b(0xec + below(4)); break; /* in/out dx */
    case 5: b(0xe4 + below(4)); b(rnd()); break;                /* in/out imm8 */
    case 6:                                                     /* rep ins/outs */
        mov_imm(2, interesting_port()); mov_imm(1, below(4) ? below(64) : rnd());
        mov_imm(below(2) ? 6 : 7, interesting_address());
        if (below(2)) b(0xf3);
        b(0x6c + below(4));
        break;
    case 7: b(0x0f); b(0x20); b(0xc0 | (below(5) << 3) | below(8)); break;  /* mov r, crN */
    case 8: b(0x0f); b(0x22); b(0xc0 | (below(5) << 3) | below(8)); break;  /* mov crN, r */
    case 9:                                                     /* toggle CR0 bits */
        b(0x0f); b(0x20); b(0xc0);
        b(0x35); l(below(2) ? 0x80000000 : below(2) ? 1 : below(2) ? 0x10000 : rnd());
        b(0x0f); b(0x22); b(0xc0);
        break;
    case 10:                                                    /* toggle CR4 bits */
        b(0x0f); b(0x20); b(0xe0);
        b(0x35); l(1u << below(24));
        b(0x0f); b(0x22); b(0xe0);
        break;
    case 11: mov_imm(0, interesting_address() & ~0xfffu); b(0x0f); b(0x22); b(0xd8); break; /* cr3 */
    case 12: b(0x0f); b(0x21 + 2 * below(2)); b(0xc0 | (below(8) << 3) | below(8)); break; /* drN */
    case 13: b(0x0f); b(0x01); modrm_abs(below(4), interesting_address()); break; /* sgdt..lidt */
    case 14: b(0x0f); b(0x01); modrm(below(8)); break;           /* group 7 */
    case 15: b(0x0f); b(0x00); modrm(below(6)); break;           /* sldt str lldt ltr verr verw */
    case 16: mov_imm(0, interesting_selector()); b(0x0f); b(0x00); b(0xd0 | (below(2) << 3)); break; /* lldt/ltr ax */
    case 17: b(0xcd); b(rnd()); break;                          /* int n */
    case 18: b(0xcd); b(0x80); break;                           /* int 0x80 */
    case 19: b(0xcc); break;
    case 20: b(0xce); break;
    case 21: b(0xf1); break;
    case 22: b(0xcf); break;                                    /* iret */
    case 23:                                                    /* iret with a made-up frame */
        b(0x68); l(interesting_selector());                     /* ss */
        b(0x68); l(interesting_address());                      /* esp */
        b(0x68); l(rnd() & 0x247fd7);                           /* eflags (maybe VM, NT, IOPL) */
        b(0x68); l(interesting_selector());                     /* cs */
        b(0x68); l((uint32_t)code_buf + below(CODE_SIZE));      /* eip */
        b(0xcf);
        break;
    case 24: b(0xcb); break;                                    /* retf */
    case 25: b(0xea); l((uint32_t)code_buf + below(CODE_SIZE)); w(interesting_selector()); break;
    case 26: b(0x9a); l((uint32_t)code_buf + below(CODE_SIZE)); w(interesting_selector()); break;
    case 27: b(0xea); l((uint32_t)code_buf + below(CODE_SIZE)); w(0x33); break; /* to 64-bit */
    case 28: b(0xea); l(0); w(0x28 | below(4)); break;           /* task switch to our TSS */
    case 29:                                                    /* mov sreg */
        b(0x66); mov_imm(0, interesting_selector()); b(0x8e); b(0xc0 | (below(6) << 3));
        break;
    case 30: { static const uint8_t pops[] = { 0x07, 0x17, 0x1f }; b(pops[below(3)]); break; }
    case 31: b(0x0f); b(below(2) ? 0xa1 : 0xa9); break;          /* pop fs/gs */
    case 32: b(0x06 + 8 * below(4)); break;                     /* push sreg */
    case 33: b(0x9d); break;                                    /* popf */
    case 34: b(0x9c); break;                                    /* pushf */
    case 35: b(0x68); l(rnd() & 0x277fd7); b(0x9d); break;      /* push imm; popf (TF, AC, NT, IOPL) */
    case 36: b(0x0f); b(0x34); break;                           /* sysenter */
    case 37: b(0x0f); b(0x35); break;                           /* sysexit */
    case 38: b(0x0f); b(0x05); break;                           /* syscall */
    case 39: b(0x0f); b(0x07); break;                           /* sysret */
    case 40: b(0x0f); b(0x0b); break;                           /* ud2 */
    case 41: mov_imm(1, interesting_msr()); mov_imm(0, interesting_value());
             mov_imm(2, interesting_value()); b(0x0f); b(0x30); break; /* wrmsr */
    case 42: mov_imm(1, interesting_msr()); b(0x0f); b(0x32); break;  /* rdmsr */
    case 43: b(0x0f); b(0x31 + below(2) * 2); break;            /* rdtsc, rdpmc */
    case 44: b(0x0f); b(0xa2); break;                           /* cpuid */
    case 45: b(0x0f); b(0x01); modrm_abs(7, interesting_address()); break; /* invlpg */
    case 46: b(0xc7); modrm_abs(0, interesting_address()); l(interesting_value()); break;
    case 47: b(0xa3); l(interesting_address()); break;          /* mov eax, [abs] */
    case 48:                                                    /* rep stos/movs */
        mov_imm(7, interesting_address()); mov_imm(6, interesting_address());
        mov_imm(1, below(4) ? below(1024) : rnd()); b(0xf3); b(0xa4 + below(4) + 2 * below(3) * (below(2)));
        break;
    case 49: mov_imm(4, interesting_address()); break;          /* mov esp */
    case 50: mov_imm(below(8), interesting_value()); break;
    case 51: b(0x0f); b(below(4) ? 0x06 : below(2) ? 0x08 : 0x09); break;  /* clts invd wbinvd */
    case 52: b(0x0f); b(0x02 + below(2)); modrm(below(8)); break;  /* lar lsl */
    case 53: b(0x63); modrm(below(8)); break;                   /* arpl */
    case 54: b(0x62); modrm(below(8)); break;                   /* bound */
    case 55: { static const uint8_t fp[][3] = { {0xd9, 0xee, 0}, {0xdf, 0xe0, 0}, {0x0f, 0x28, 0xc1},
                                               {0x0f, 0x6f, 0xc1}, {0x0f, 0x77, 0}, {0xdb, 0xe3, 0},
                                               {0x66, 0x0f, 0xef}, {0xd9, 0xe8, 0} };
               int i = below(8); b(fp[i][0]); b(fp[i][1]); if (fp[i][2]) b(fp[i][2]); break; }
    case 56: b(0x0f); b(0xae); modrm_abs(below(8), interesting_address()); break; /* fxsave... */
    case 57: b(0xf0); break;                                    /* lock + whatever follows */
    case 58: b(0xe6); b(0xf4); break;                           /* out al, 0xf4: exit */
    case 59: b(0xeb); b(rnd()); break;                          /* jmp rel8 (maybe a loop) */
    case 60:                                                    /* Linux int 0x80 open(canary) */
        mov_imm(0, below(2) ? 5 : 8); mov_imm(3, (uint32_t)canary_path);
        mov_imm(1, 0x41); mov_imm(2, 0644);
        if (below(3) == 0) { b(0x0f); b(0x34); } else { b(0xcd); b(0x80); }
        break;
    default:                                                    /* execve("/bin/touch", canary) */
        mov_imm(0, 11); mov_imm(3, (uint32_t)bin_touch); mov_imm(1, (uint32_t)touch_argv);
        mov_imm(2, 0); b(0xcd); b(0x80);
        break;
    }
}

static void fill_code(void)
{
    out = code_buf;
    out_end = code_buf + CODE_SIZE;
    uint32_t dict_share = below(4);     /* 0: random bytes only ... 3: mostly dictionary */
    while (out < out_end) {
        if (below(4) < dict_share) {
            emit_dictionary();
        } else {
            int n = 1 + below(8);
            while (n--)
                b(rnd());
        }
    }
    /* past the end: ud2, so running off the buffer ends with vector 6 */
    for (int i = 0; i < 64; i += 2) {
        code_buf[CODE_SIZE + i] = 0x0f;
        code_buf[CODE_SIZE + i + 1] = 0x0b;
    }
}

/* ---- paging ------------------------------------------------------------ */

#define PTE_P 1u
#define PTE_W 2u
#define PTE_U 4u
#define PTE_PS 0x80u

static int user_page(uint32_t addr)
{
    uint32_t cb = (uint32_t)code_buf, us = (uint32_t)user_stack;
    return (addr >= cb && addr < cb + sizeof code_buf) || (addr >= us && addr < us + sizeof user_stack);
}

static uint32_t setup_paging(uint32_t *cr4, uint32_t *cr0)
{
    int all_user = below(2);
    int pse = below(2);
    for (uint32_t i = 0; i < 4 * 1024; i++) {
        uint32_t addr = i * PAGE;
        uint32_t flags = PTE_P | PTE_W;
        if (all_user || user_page(addr))
            flags |= PTE_U;
        if (below(64) == 0)
            flags &= ~(below(2) ? PTE_W : PTE_P);               /* a few holes */
        page_tables[i / 1024][i % 1024] = addr | flags;
    }
    for (int i = 0; i < 4; i++)
        page_dir[i] = (uint32_t)page_tables[i] | PTE_P | PTE_W | PTE_U;
    if (pse) {
        *cr4 |= 0x10;
        for (uint32_t i = 4; i < 1023; i++)                     /* 16 MiB - 4 GiB in 4 MiB pages */
            if (i * (4u << 20) < mem_top + (4u << 20) || below(8) == 0)
                page_dir[i] = (i << 22) | PTE_P | PTE_W | PTE_PS | (all_user ? PTE_U : 0);
    }
    if (below(2))
        page_dir[1023] = (uint32_t)page_dir | PTE_P | PTE_W | (below(2) ? PTE_U : 0);
    *cr0 |= 0x80000000;
    if (below(2))
        *cr0 |= 0x10000;                                        /* WP */
    return (uint32_t)page_dir;
}

/* ---- the timer: IRQ 0 at vector 0x20, 100 Hz --------------------------- */

static void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

/* So that random code waiting with IF = 1 (sti; hlt, a loop) is woken:
 * the PICs remapped to 0x20/0x28, only IRQ 0 unmasked, the PIT at 100 Hz.
 * The handler sends the EOI when it resumes. */
static void timer_setup(void)
{
    outb(0x20, 0x11); outb(0xa0, 0x11);         /* ICW1: edge, cascade, ICW4 */
    outb(0x21, 0x20); outb(0xa1, 0x28);         /* ICW2: vectors */
    outb(0x21, 0x04); outb(0xa1, 0x02);         /* ICW3: slave on IRQ 2 */
    outb(0x21, 0x01); outb(0xa1, 0x01);         /* ICW4: 8086 mode */
    outb(0x21, 0xfe); outb(0xa1, 0xff);         /* only IRQ 0 */
    outb(0x43, 0x34);                           /* channel 0, lobyte/hibyte, rate generator */
    outb(0x40, 11932 & 0xff);
    outb(0x40, 11932 >> 8);
}

/* ---- entry ------------------------------------------------------------- */

void fuzz_setup(const struct mbi *mbi)
{
    const char *cmdline = (mbi->flags & 4) ? (const char *)mbi->cmdline : "";
    uint32_t seed = parse_uint(find_arg(cmdline, "seed"));
    const char *canary = find_arg(cmdline, "canary");
    if (canary) {
        copy_word(canary_dir, canary, sizeof canary_dir);
        copy_word(canary_path, canary, sizeof canary_path - 8);
        size_t n = 0;
        while (canary_path[n])
            n++;
        const char *leaf = "/leaked";
        while (*leaf)
            canary_path[n++] = *leaf++;
        canary_path[n] = '\0';
    }
    touch_argv[0] = bin_touch;
    touch_argv[1] = canary_path;
    touch_argv[2] = 0;
    mem_top = (mbi->flags & 1) ? (mbi->mem_upper + 1024) * 1024 : 64u << 20;

    rng_state = seed * 2654435761u ^ 0x9e3779b9u;
    if (!rng_state)
        rng_state = 1;
    for (int i = 0; i < 8; i++)
        rnd();

    fill_code();
    timer_setup();

    /* half the seeds exit at the first exception, the others resume */
    resume_budget = below(2) ? 0 : 1 + below(400);
    handler_rng = rnd() | 1;

    uint32_t cr0 = 0x11, cr4 = 0, cr3 = 0;                      /* PE, ET */
    uint32_t mode = below(4);
    int paging = mode & 1, ring3 = (mode >> 1) & 1;
    if (paging)
        cr3 = setup_paging(&cr4, &cr0);
    uint32_t eflags = 0x2;
    if (below(2))
        eflags |= 0x200;                                        /* IF */
    if (ring3 && below(2))
        eflags |= 0x3000;                                       /* IOPL 3 */
    if (below(8) == 0)
        eflags |= 0x400;                                        /* DF */
    if (below(16) == 0)
        eflags |= 0x40000;                                      /* AC */

    uint32_t entry = (uint32_t)code_buf;
    if (below(4) == 0)
        entry += below(CODE_SIZE);
    uint32_t esp;
    if (ring3)
        esp = (uint32_t)user_stack + sizeof user_stack - 4 * below(16);
    else
        switch (below(8)) {
        case 0: esp = (uint32_t)code_buf + CODE_SIZE / 2; break;
        case 1: esp = (uint32_t)page_dir + PAGE; break;
        case 2: esp = 0x8000; break;
        default: esp = (uint32_t)fuzz_stack + sizeof fuzz_stack - 4 * below(16); break;
        }

    fuzz_state[0] = cr3;
    fuzz_state[1] = cr4;
    fuzz_state[2] = cr0;
    fuzz_state[3] = eflags;
    fuzz_state[4] = ring3;
    fuzz_state[5] = entry;
    fuzz_state[6] = esp;
    /* registers: half of them point into memory the code may use */
    for (int i = 7; i < 14; i++)
        fuzz_state[i] = below(2) ? interesting_value()
                                 : below(2) ? (uint32_t)code_buf + below(CODE_SIZE)
                                            : (uint32_t)fuzz_stack + below(sizeof fuzz_stack);

    /* one line of what was chosen: the same for a seed under any VMM */
    static const char hex[] = "0123456789abcdef";
    const char *p = "fuzz: seed ";
    while (*p)
        asm volatile("outb %0, %1" : : "a"(*p++), "Nd"((uint16_t)0x3f8));
    for (int i = 28; i >= 0; i -= 4)
        asm volatile("outb %0, %1" : : "a"(hex[(seed >> i) & 15]), "Nd"((uint16_t)0x3f8));
    p = paging ? (ring3 ? " paging ring3" : " paging ring0") : (ring3 ? " flat ring3" : " flat ring0");
    while (*p)
        asm volatile("outb %0, %1" : : "a"(*p++), "Nd"((uint16_t)0x3f8));
    p = resume_budget ? " resume\n" : "\n";
    while (*p)
        asm volatile("outb %0, %1" : : "a"(*p++), "Nd"((uint16_t)0x3f8));
}
