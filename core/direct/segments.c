/*
 * segments.c - can the guest's segment state run on flat host segments?
 *
 * Direct execution, in compatibility mode (trapemu) or translated to 64-bit
 * code (bt), lets the host CPU compute guest addresses: the host's
 * segments are flat (base 0), so the guest's CS, SS, DS and ES must be
 * based at 0 too, and CS must be a 32-bit code segment (its D bit, SDM
 * vol. 3, 3.4.5), or the host would decode the guest's code differently.
 */
#include <stdio.h>

#include "core/direct/direct.h"

bool direct_segments_runnable(const struct cpu *cpu, char *why, size_t why_len)
{
    static const int checked[] = {SEG_CS, SEG_SS, SEG_DS, SEG_ES};
    static const char *const names[] = {"ES", "CS", "SS", "DS", "FS", "GS"};
    const struct segment *cs = &cpu->segments[SEG_CS];
    if (!(cs->attributes & SEG_ATTR_DB)) {
        snprintf(why, why_len, "CS 0x%04x is a 16-bit code segment; direct execution runs "
                 "32-bit code only", cs->selector);
        return false;
    }
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++) {
        const struct segment *s = &cpu->segments[checked[i]];
        if (!(s->attributes & SEG_ATTR_UNUSABLE) && s->base != 0) {
            snprintf(why, why_len, "%s 0x%04x has base 0x%x; direct execution runs on the "
                     "host's flat segments (base 0) only", names[checked[i]], s->selector, s->base);
            return false;
        }
    }
    return true;
}
