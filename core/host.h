/*
 * host.h - what this host can run, probed once at start-up.
 *
 * Machines of the same kind differ: a Linux x86-64 kernel may boot with
 * 32-bit emulation disabled (no compatibility-mode code segment for user
 * space), may lack modify_ldt or seccomp, and may or may not have /dev/kvm.
 * Each technique asks here before it offers itself, and a refusal names the
 * host fact and the fix in one line.
 *
 * For testing, VMLAB_PRETEND_HOST makes vmlab behave exactly as if the host
 * lacked a feature it has: a comma-separated list of no-compat, no-ldt,
 * no-seccomp, no-kvm. The reason then says it was pretended. (Pretending can
 * only take features away: a missing feature cannot be pretended present.)
 */
#ifndef VMLAB_HOST_H
#define VMLAB_HOST_H

#include <stdbool.h>
#include <stddef.h>

enum host_feature {
    HOST_COMPAT_MODE,   /* user code can run in 32-bit compatibility mode (selector 0x23) */
    HOST_LDT,           /* modify_ldt(2) works and the CPU loads our LDT selectors */
    HOST_SECCOMP,       /* seccomp filters with SECCOMP_RET_TRAP */
    HOST_KVM,           /* /dev/kvm exists (whether KVM can run the guest is hvm's question) */
    HOST_FEATURE_COUNT,
};

/* Probe every feature once (idempotent). Call it before anything confines
 * the process: the compatibility-mode probe forks a child. */
void host_probe(void);

/* Does the host have the feature? If not, writes the one-line reason. */
bool host_has(enum host_feature feature, char *why, size_t why_len);

/* The feature's name as VMLAB_PRETEND_HOST spells it without "no-". */
const char *host_feature_name(enum host_feature feature);

/* True if VMLAB_PRETEND_HOST takes the feature away. */
bool host_pretends_without(enum host_feature feature);

#endif
