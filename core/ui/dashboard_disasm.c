/*
 * dashboard_disasm.c - reading guest code by hand and naming it with
 * Capstone.
 */
#include "core/ui/dashboard_disasm.h"

#include <stdio.h>
#include <string.h>

#include "core/cpu.h"

#define PTE_PRESENT 1u
#define PDE_LARGE (1u << 7)
#define X86_MAX_INSTRUCTION 15

/* A 32-bit little-endian word of guest-physical memory, if it is RAM. */
static bool read_physical_word(const struct guest_ram *ram, uint32_t address, uint32_t *value)
{
    if (address > UINT32_MAX - 3 || !guest_ram_contains(ram, address, 4))
        return false;
    memcpy(value, guest_ram_pointer(ram, address), 4);
    return true;
}

/* The two-level i386 walk, without setting accessed bits: looking must not
 * change what the guest sees. */
static bool translate(const struct guest_view *view, uint32_t linear, uint32_t *physical)
{
    if (!(view->cr0 & CR0_PG)) {
        *physical = linear;
        return true;
    }
    uint32_t pde, pte;
    if (!read_physical_word(view->ram, (view->cr3 & ~0xfffu) + (linear >> 22) * 4, &pde) ||
        !(pde & PTE_PRESENT))
        return false;
    if ((pde & PDE_LARGE) && (view->cr4 & CR4_PSE)) {
        *physical = (pde & 0xffc00000u) | (linear & 0x3fffffu);
        return true;
    }
    if (!read_physical_word(view->ram, (pde & ~0xfffu) + ((linear >> 12) & 0x3ff) * 4, &pte) ||
        !(pte & PTE_PRESENT))
        return false;
    *physical = (pte & ~0xfffu) | (linear & 0xfffu);
    return true;
}

size_t guest_read_linear(const struct guest_view *view, uint32_t linear, uint8_t *out,
                         size_t length)
{
    size_t done = 0;
    /* Byte by byte, because an instruction may straddle two pages. */
    while (done < length) {
        uint32_t physical;
        const uint8_t *byte;
        if (!translate(view, linear + (uint32_t)done, &physical) ||
            !(byte = guest_ram_pointer(view->ram, physical)))
            break;
        out[done++] = *byte;
    }
    return done;
}

int disassembler_open(struct disassembler *disassembler)
{
    disassembler->open = cs_open(CS_ARCH_X86, CS_MODE_32, &disassembler->handle) == CS_ERR_OK;
    return disassembler->open ? 0 : -1;
}

void disassembler_close(struct disassembler *disassembler)
{
    if (disassembler->open)
        cs_close(&disassembler->handle);
    disassembler->open = false;
}

void disassemble_guest(struct disassembler *disassembler, const struct guest_view *view,
                       uint32_t eip, char *out, size_t length)
{
    uint8_t code[X86_MAX_INSTRUCTION];
    size_t got = view->ram ? guest_read_linear(view, view->code_base + eip, code, sizeof code) : 0;
    cs_insn *instruction = NULL;
    if (!disassembler->open || got == 0 ||
        cs_disasm(disassembler->handle, code, got, eip, 1, &instruction) != 1) {
        snprintf(out, length, "?");
        return;
    }
    snprintf(out, length, "%s%s%s", instruction->mnemonic, instruction->op_str[0] ? " " : "",
             instruction->op_str);
    cs_free(instruction, 1);
}
