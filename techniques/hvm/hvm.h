/*
 * hvm.h - hardware-assisted virtualization through Linux KVM.
 *
 * The guest runs in hardware guest mode (VT-x, AMD-V, or whatever KVM
 * module the host kernel has); every device stays in vmlab's core and is
 * reached on a VM exit that KVM_RUN returns to user space.
 *
 * Start reading at hvm.c: the run loop and the exit handler.
 */
#ifndef VMLAB_HVM_H
#define VMLAB_HVM_H

#include "core/technique.h"

extern const struct technique hvm_technique;

#endif
