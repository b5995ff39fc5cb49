/*
 * trapemu.h - trap-and-emulate: the guest runs directly on the host CPU,
 * de-privileged to host ring 3; whatever it may not do faults, and the VMM
 * emulates it. See trapemu.c and docs/trapemu.md.
 */
#ifndef VMLAB_TRAPEMU_H
#define VMLAB_TRAPEMU_H

#include "core/technique.h"

extern const struct technique trapemu_technique;

#endif
