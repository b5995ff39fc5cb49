/*
 * gdt.c - the segment descriptors and the task-state segment.
 *
 * Segmentation is flat (base 0, limit 4 GiB) and only separates privilege:
 * the kernel's segments have DPL 0, the user's DPL 3 (Intel SDM vol. 3,
 * 3.4.5). The TSS is needed for one field: on a trap from ring 3, the CPU
 * takes the kernel stack from TSS.ESP0/SS0 (SDM vol. 3, 6.12.1).
 */
#include "kernel.h"
#include "arch.h"

struct tss {
    uint32_t link, esp0, ss0, unused[22];
    uint16_t trap_flag, iomap_base;
} __attribute__((packed));

static struct tss tss;

/* A descriptor (SDM vol. 3, figure 3-8). The accessed bit (type bit 0) is
 * set in advance, so the CPU never has to write it back into the table and
 * every observer (see sensitive.c: lar) reads the same access rights. */
static uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    uint64_t d = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16);
    d |= (uint64_t)access << 40;
    d |= (uint64_t)((limit >> 16) & 0xf) << 48;
    d |= (uint64_t)(flags & 0xf) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

#define ACCESS_KERNEL_CODE 0x9b   /* present, DPL 0, code, readable, accessed */
#define ACCESS_KERNEL_DATA 0x93   /* present, DPL 0, data, writable, accessed */
#define ACCESS_USER_CODE   0xfb   /* the same with DPL 3 */
#define ACCESS_USER_DATA   0xf3
#define ACCESS_TSS         0x89   /* present, DPL 0, 32-bit TSS, not busy */
#define FLAGS_4K_32BIT     0xc    /* G = 1 (limit in pages), D/B = 1 */

uint64_t gdt[6];
const uint16_t gdt_limit = sizeof(gdt) - 1;

void gdt_init(void)
{
    gdt[0] = 0;
    gdt[1] = descriptor(0, 0xfffff, ACCESS_KERNEL_CODE, FLAGS_4K_32BIT);
    gdt[2] = descriptor(0, 0xfffff, ACCESS_KERNEL_DATA, FLAGS_4K_32BIT);
    gdt[3] = descriptor(0, 0xfffff, ACCESS_USER_CODE, FLAGS_4K_32BIT);
    gdt[4] = descriptor(0, 0xfffff, ACCESS_USER_DATA, FLAGS_4K_32BIT);
    tss.ss0 = SEL_KERNEL_DATA;
    tss.iomap_base = sizeof(tss);   /* no I/O bitmap: ring 3 may not use ports */
    gdt[5] = descriptor((uint32_t)&tss, sizeof(tss) - 1, ACCESS_TSS, 0);

    arch_set_gdt(gdt, gdt_limit);
    arch_load_segments(SEL_KERNEL_CODE, SEL_KERNEL_DATA);
    arch_set_task_register(SEL_TSS);
}

/* Called on every switch to a process: its traps land on its own stack. */
void tss_set_kernel_stack(uint32_t esp0)
{
#ifdef PV
    arch_set_kernel_stack(esp0);     /* the TSS is the VMM's: PV_STACK_SWITCH */
#else
    tss.esp0 = esp0;
#endif
}
