/*
 * platform.h - the probes of the platform guest, one per device.
 */
#ifndef PLATFORM_H
#define PLATFORM_H

#include "guest.h"

int probe_bda(void);
int probe_mptable(void);
int probe_lapic(void);
int probe_ioapic(void);
int probe_fw_cfg(void);
int probe_cga(void);
int probe_ata(void);
int probe_task(void);
int probe_uart(void);

/* Physical memory (paging is off). The empty asm hides the constant
 * address from gcc, which would otherwise call 0x400 an out-of-bounds
 * offset from NULL. */
static inline volatile void *phys(uint32_t address)
{
    asm("" : "+r"(address));
    return (volatile void *)address;
}
static inline uint8_t peek8(uint32_t address) { return *(volatile uint8_t *)phys(address); }
static inline uint16_t peek16(uint32_t address) { return *(volatile uint16_t *)phys(address); }
static inline uint32_t peek32(uint32_t address) { return *(volatile uint32_t *)phys(address); }
static inline void poke32(uint32_t address, uint32_t v) { *(volatile uint32_t *)phys(address) = v; }

#endif
