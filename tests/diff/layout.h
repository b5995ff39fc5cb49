/*
 * layout.h - where a differential-test sequence lives, on both sides.
 *
 * The native run and the interpreter run use the same linear addresses, so
 * a memory operand computed from the same registers hits the same byte on
 * both sides. Everything sits in one low region (below 4 GiB, so
 * compatibility-mode code can address it; well above mmap_min_addr and far
 * from where a PIE harness and its libraries are mapped).
 *
 *   CODE_BASE     the sequence, then the exit stub (32-bit code)
 *   STUB64_BASE   the 64-bit landing pad the exit stub far-jumps to
 *   SAVE_BASE     the registers and EFLAGS the exit stub stores, and the
 *                 private stack it uses for PUSHFD (so the guest's stack,
 *                 which is part of the compared data area, is not touched)
 *   DATA_BASE     the data area: every memory operand and the stack
 */
#ifndef VMLAB_DIFF_LAYOUT_H
#define VMLAB_DIFF_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#define DIFF_REGION_BASE 0x01000000u
#define CODE_BASE        0x01000000u
#define CODE_CAPACITY    0x2000u          /* sequence + exit stub */
#define STUB64_BASE      0x01002000u
#define SAVE_BASE        0x01003000u
#define SAVE_STACK_TOP   0x01003800u
#define DATA_BASE        0x01010000u
#define DATA_SIZE        0x10000u
#define DIFF_REGION_SIZE (DATA_BASE + DATA_SIZE - DIFF_REGION_BASE)

/* A second, low data area for the 16-bit addressing forms (67h prefix):
 * their effective address is 16 bits, so linear addresses are below
 * 64 KiB. It starts well above this host's vm.mmap_min_addr (4096). If it
 * cannot be mapped, the generator does not use 16-bit addressing. */
#define LOW_DATA_BASE    0x8000u
#define LOW_DATA_SIZE    0x8000u

/* The buffer a sequence's memory is described by: the data area, then the
 * low data area. */
#define DATA_BUFFER_SIZE (DATA_SIZE + LOW_DATA_SIZE)

/* The stack lives inside the data area (so pushes are compared too). */
#define STACK_INITIAL    (DATA_BASE + 0x2000u)
#define STACK_LOWEST     (DATA_BASE + 0x1000u)
#define STACK_HIGHEST    (DATA_BASE + 0x3000u)

/* Memory operands are placed in [DATA_BASE + DATA_MARGIN,
 * DATA_BASE + DATA_SIZE - DATA_MARGIN): string instructions and bit
 * offsets reach at most this far from the address the generator chose. */
#define DATA_MARGIN      0x400u

/* An exception that ended a run: its vector and the EIP it reported
 * (the faulting instruction for a fault, SDM vol. 3, 6.5). */
struct fault_report {
    bool faulted;
    int vector;
    uint32_t eip;
    uint32_t cr2;                 /* for #PF: the faulting linear address */
    uint32_t error_code;          /* for #PF and #GP (SDM vol. 3, 6.13) */
};

/* How the interpreter maps the region (the native side always has the
 * host's 4 KiB pages): paging off, or an identity mapping through 4 KiB
 * pages or 4 MiB pages (CR4.PSE). Accesses that straddle pages then take
 * the interpreter's TLB and page-walk paths. */
enum interp_paging { PAGING_OFF, PAGING_4K, PAGING_4M, PAGING_MODES };

/* The interpreter's machine for one sequence. In user mode it runs at
 * CPL 3 with the host's selectors (CS 0x23, data 0x2b), like the native
 * side, so privileged instructions fault and POPF ignores IF and IOPL on
 * both; otherwise at CPL 0, where the generator avoids what differs. */
struct interp_setup {
    enum interp_paging paging;
    bool user_mode;
    uint32_t read_only_page;      /* 0, or a data page write-protected on both sides */
    bool page_absent;             /* ... and not even readable: not present (P = 0) */
};

/* With 4 KiB paging, half the sequences find one data page read-only
 * (mprotect natively, R/W = 0 in the interpreter's PTE with CR0.WP): a
 * write to it is #PF, and both sides must stop at the same instruction
 * with the same state - a REP string instruction's progress, a PUSHA or
 * ENTER half-way, a read-modify-write that must not write. One candidate
 * is where string pointers go, the other is the stack's lowest page.
 * Sometimes the page is absent instead (PROT_NONE, P = 0): reads fault too. */
#define READ_ONLY_DATA_PAGE  (DATA_BASE + 0x9000u)
#define READ_ONLY_STACK_PAGE (STACK_LOWEST)

/* Registers and EFLAGS as both runners report them. */
struct machine_state {
    uint32_t regs[8];      /* enum reg32 order: eax ecx edx ebx esp ebp esi edi */
    uint32_t eflags;
};

/* What one side reports for one run (native.c, interp_runner.c,
 * bt_runner.c). */
struct run_result {
    bool completed;               /* EIP reached the end, or an exception ended the run */
    struct fault_report fault;    /* the exception (final = the state it left) */
    char failure[96];             /* why not, when !completed */
    struct machine_state final;
    const uint8_t *data;          /* the data area after the run (DATA_SIZE bytes) */
    const uint8_t *low_data;      /* the low data area (LOW_DATA_SIZE bytes) */
};

#endif
