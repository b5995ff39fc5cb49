/*
 * interp.h - the interpreter technique: every guest instruction is decoded
 * and executed in C by core/x86 (decode.h, execute.h).
 *
 * It is the reference technique: slow compared with direct execution, but
 * it sees everything, needs nothing from the host, and defines what the
 * other techniques must reproduce. Real mode (CR0.PE = 0) and
 * virtual-8086 mode are not supported; x87/MMX/SSE instructions raise #UD.
 */
#ifndef VMLAB_INTERP_H
#define VMLAB_INTERP_H

#include "core/technique.h"

extern const struct technique interp_technique;

#endif
