/*
 * bt.h - binary translation: guest code translated to 64-bit host code.
 */
#ifndef VMLAB_BT_H
#define VMLAB_BT_H

#include "core/technique.h"

extern const struct technique bt_technique;

#endif
