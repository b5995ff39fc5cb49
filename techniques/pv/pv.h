/*
 * pv.h - paravirtualization: a guest ported to hypercalls (docs/pv.md).
 */
#ifndef VMLAB_PV_TECHNIQUE_H
#define VMLAB_PV_TECHNIQUE_H

#include "core/technique.h"

extern const struct technique pv_technique;

#endif
