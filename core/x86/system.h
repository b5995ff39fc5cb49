/*
 * system.h - the x86 system architecture: memory access through segmentation
 * and paging, segment loads with their protection checks, control transfers
 * between privilege levels, and exception/interrupt delivery.
 *
 * Every function that can fault raises the exception with x86_raise() and
 * does not return in that case. Offsets are offsets within a segment;
 * "linear" addresses are after segmentation, before paging (SDM vol. 3, 3.1).
 */
#ifndef VMLAB_X86_SYSTEM_H
#define VMLAB_X86_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include "emulator.h"

/* ---- exceptions (exception.c) ------------------------------------------ */

/* Raise an exception from inside an instruction. The error code is pushed
 * only for vectors that have one (8, 10-14, 17). Does not return. */
_Noreturn void x86_raise(struct emulator *emulator, int vector, uint32_t error_code);

enum event_kind {
    EVENT_FAULT,            /* exception; return address = the faulting instruction */
    EVENT_TRAP,             /* exception reported after the instruction (#DB trap, #OF from INTO, #BP) */
    EVENT_SOFTWARE,         /* INT n / INT3 / INTO: gate DPL checked against CPL */
    EVENT_EXTERNAL,         /* hardware interrupt from the PIC */
};

/* Deliver an event through the IDT (SDM vol. 3, 6.12), with the stack switch
 * through the TSS on a privilege change and the double-fault and
 * triple-fault rules of table 6-5. cpu->eip must already hold the return
 * address. Returns true on success; false if the CPU shut down (triple
 * fault), with emulator->triple_fault and the report set. Does not longjmp. */
bool x86_deliver_event(struct emulator *emulator, int vector, enum event_kind kind,
                       bool has_error_code, uint32_t error_code);

/* "#DE", "#PF", ... for vectors 0-31 (SDM vol. 3, table 6-1). */
const char *x86_exception_name(int vector);

/* Vectors that push an error code (SDM vol. 3, 6.13). */
bool x86_exception_has_error_code(int vector);

/* ---- memory access (mmu.c) ---------------------------------------------- */

enum access_kind { ACCESS_READ = 0, ACCESS_WRITE = 1, ACCESS_EXECUTE = 2 };

/* Segmented data access at the current CPL: segment limit and type checks
 * (#GP, or #SS for SS), then paging (#PF with CR2 and error code). */
uint8_t x86_read8(struct emulator *e, int segment, uint32_t offset);
uint16_t x86_read16(struct emulator *e, int segment, uint32_t offset);
uint32_t x86_read32(struct emulator *e, int segment, uint32_t offset);
void x86_write8(struct emulator *e, int segment, uint32_t offset, uint8_t value);
void x86_write16(struct emulator *e, int segment, uint32_t offset, uint16_t value);
void x86_write32(struct emulator *e, int segment, uint32_t offset, uint32_t value);

/* Check that a write of size bytes at segment:offset would succeed (used by
 * instructions that must not fault half-way, e.g. a read-modify-write). */
void x86_check_write(struct emulator *e, int segment, uint32_t offset, unsigned size);

/* Linear access. supervisor=true for implicit supervisor-mode accesses
 * (descriptor tables, the TSS, SDM vol. 3, 4.6.1). size is 1, 2 or 4 and may
 * cross a page boundary. */
uint32_t x86_read_linear(struct emulator *e, uint32_t linear, unsigned size, bool supervisor);
void x86_write_linear(struct emulator *e, uint32_t linear, unsigned size, uint32_t value,
                      bool supervisor);

/* Copy up to max instruction bytes starting at CS:EIP into buf, checking the
 * CS limit and execute permission. Fetches no further than needed: stops at
 * max, and raises #PF/#GP only for the bytes it actually needs, i.e. if fewer
 * than `needed` bytes could be fetched. Returns the number of bytes copied. */
unsigned x86_fetch_code(struct emulator *e, uint32_t eip, uint8_t *buf, unsigned needed,
                        unsigned max);

/* Translate a linear address without raising: returns true and the physical
 * address, or false and the #PF error code the access would produce. Sets
 * accessed/dirty bits only if set_bits is true. */
bool x86_translate(struct emulator *e, uint32_t linear, enum access_kind access, bool user,
                   bool set_bits, uint32_t *physical, uint32_t *error_code);

void x86_tlb_flush_all(struct emulator *e);
void x86_tlb_flush_page(struct emulator *e, uint32_t linear);

/* ---- port I/O permission (mmu.c) ------------------------------------------ */

/* If CPL > IOPL, consult the TSS I/O permission bitmap and raise #GP(0) if
 * any of the size ports is denied (SDM vol. 1, 18.5). */
void x86_check_io_permission(struct emulator *e, uint16_t port, unsigned size);

/* ---- segments and control transfers (segment.c) -------------------------- */

/* MOV/POP to a segment register, with the checks of SDM vol. 2 "MOV" (#GP,
 * #SS, #NP with the selector as error code). Loading SS sets the interrupt
 * shadow. */
void x86_load_segment(struct emulator *e, int segment, uint16_t selector);

/* Far JMP / CALL / RET / IRET, protected-mode rules including call gates and
 * the inter-privilege stack switch through the TSS. operand_size is 2 or 4.
 * For far call, return_eip is the address after the instruction. For far
 * RET, pop_bytes is the immediate of RET imm16. */
void x86_far_jump(struct emulator *e, uint16_t selector, uint32_t offset, unsigned operand_size);
void x86_far_call(struct emulator *e, uint16_t selector, uint32_t offset, unsigned operand_size,
                  uint32_t return_eip);
void x86_far_return(struct emulator *e, unsigned operand_size, uint16_t pop_bytes);
void x86_iret(struct emulator *e, unsigned operand_size);

/* LGDT/LIDT take their operands from the instruction; these load LDTR and TR
 * with their checks (LTR marks the TSS busy). */
void x86_load_ldtr(struct emulator *e, uint16_t selector);
void x86_load_task_register(struct emulator *e, uint16_t selector);

/* Hardware task switching (task.c, SDM vol. 3, 7.3): to the 32-bit TSS
 * `selector` (already taken from a task gate if there was one).
 * return_eip is what the old task's TSS keeps as its EIP; ext is the EXT
 * bit of error codes (1 for hardware events). */
enum task_switch_source {
    TASK_SWITCH_JMP, TASK_SWITCH_CALL, TASK_SWITCH_IRET, TASK_SWITCH_INTERRUPT,
};
void x86_task_switch(struct emulator *e, uint16_t selector, enum task_switch_source source,
                     uint32_t return_eip, uint32_t ext);
/* The previous-task link of the current TSS (for IRET with NT = 1). */
uint16_t x86_task_link(struct emulator *e);

/* LAR, LSL, VERR, VERW: set ZF and return the result; never fault on a bad
 * selector (SDM vol. 2). The caller stores the result only if *zf. */
uint32_t x86_lar(struct emulator *e, uint16_t selector, bool *zf);
uint32_t x86_lsl(struct emulator *e, uint16_t selector, bool *zf);
bool x86_verr(struct emulator *e, uint16_t selector);
bool x86_verw(struct emulator *e, uint16_t selector);

/* MOV to CR0/CR2/CR3/CR4 with #GP on reserved or invalid combinations and
 * the TLB flushes the SDM requires (vol. 3, 4.10.4). */
void x86_write_control_register(struct emulator *e, int number, uint32_t value);

/* SYSENTER / SYSEXIT (SDM vol. 2). */
void x86_sysenter(struct emulator *e);
void x86_sysexit(struct emulator *e);

#endif
