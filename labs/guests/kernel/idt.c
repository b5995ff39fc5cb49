/*
 * idt.c - the interrupt descriptor table: one gate per vector in
 * vectors.S (SDM vol. 3, 6.11).
 *
 * All gates are interrupt gates, which clear IF on entry (SDM vol. 3,
 * 6.12.1.3), so the kernel runs with interrupts off unless it turns them
 * on itself. Only the system-call gate has DPL 3: a user program may `int
 * 0x80` but not, say, `int 14` (which would #GP instead).
 */
#include "kernel.h"
#include "arch.h"
#include "trapnum.h"

#define GATE_INTERRUPT_32 0x8e   /* present, DPL 0, 32-bit interrupt gate */
#define GATE_DPL3         0x60

uint64_t idt[256];
const uint16_t idt_limit = sizeof(idt) - 1;

static void set_gate(int vector, void (*handler)(void), uint8_t type)
{
    uint32_t offset = (uint32_t)handler;
    idt[vector] = (offset & 0xffff) | ((uint64_t)SEL_KERNEL_CODE << 16) |
                  ((uint64_t)type << 40) | ((uint64_t)(offset >> 16) << 48);
}

#define V(n) extern void vector##n(void);
V(0) V(1) V(2) V(3) V(4) V(5) V(6) V(7) V(8) V(9) V(10) V(11) V(12) V(13)
V(14) V(15) V(16) V(17) V(18) V(19) V(20) V(21) V(22) V(23) V(24) V(25) V(26)
V(27) V(28) V(29) V(30) V(31) V(32) V(33) V(34) V(35) V(36) V(37) V(38)
V(39) V(40) V(41) V(42) V(43) V(44) V(45) V(46) V(47) V(128)
#undef V

static void (*const vectors[48])(void) = {
    vector0, vector1, vector2, vector3, vector4, vector5, vector6, vector7,
    vector8, vector9, vector10, vector11, vector12, vector13, vector14, vector15,
    vector16, vector17, vector18, vector19, vector20, vector21, vector22, vector23,
    vector24, vector25, vector26, vector27, vector28, vector29, vector30, vector31,
    vector32, vector33, vector34, vector35, vector36, vector37, vector38, vector39,
    vector40, vector41, vector42, vector43, vector44, vector45, vector46, vector47,
};

void idt_init(void)
{
    for (int v = 0; v < 48; v++)
        set_gate(v, vectors[v], GATE_INTERRUPT_32);
    set_gate(T_SYSCALL, vector128, GATE_INTERRUPT_32 | GATE_DPL3);
#ifdef PV
    extern void vector48(void);
    set_gate(PV_UPCALL_VECTOR, vector48, GATE_INTERRUPT_32);
#endif
    arch_set_idt(idt, idt_limit);
}
