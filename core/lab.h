/*
 * lab.h - what a lab skeleton's stubs call (labs/README.md).
 *
 * The student tree of a lab (make lab-skeleton LAB=NN) has the lab's
 * solution regions replaced by stubs. A stub must not crash the VMM: it
 * says once, on stderr, what is missing and then does something harmless
 * (returns "no flag", stops the run with a reason, ...), so the grader
 * reports lost points instead of a crash. The staff tree never calls it.
 */
#ifndef VMLAB_LAB_H
#define VMLAB_LAB_H

#include <stdbool.h>

/* Prints "vmlab: not implemented (lab NN): WHAT" on stderr. */
void lab_not_implemented(int lab, const char *what);

/* The same, once per call site: a stub on a hot path must not flood stderr. */
#define LAB_NOT_IMPLEMENTED(lab, what)                  \
    do {                                                \
        static bool lab_warned_;                        \
        if (!lab_warned_) {                             \
            lab_warned_ = true;                         \
            lab_not_implemented((lab), (what));         \
        }                                               \
    } while (0)

#endif
