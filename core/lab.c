/*
 * lab.c - see lab.h.
 */
#include "lab.h"

#include <stdio.h>

void lab_not_implemented(int lab, const char *what)
{
    fprintf(stderr, "vmlab: not implemented (lab %02d): %s\n", lab, what);
}
