/*
 * switch.c - live technique switching.
 */
#include "switch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm.h"

static int refuse(char *error, size_t len, const char *format, const char *detail)
{
    snprintf(error, len, format, detail);
    return -1;
}

int64_t switch_parse_duration(const char *text)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || !(value >= 0) || isinf(value))
        return -1;
    double scale;
    if (strcmp(end, "ns") == 0)
        scale = 1;
    else if (strcmp(end, "us") == 0)
        scale = 1e3;
    else if (strcmp(end, "ms") == 0)
        scale = 1e6;
    else if (strcmp(end, "s") == 0)
        scale = 1e9;
    else
        return -1;
    if (value * scale > 1e18)
        return -1;
    return (int64_t)(value * scale);
}

static int parse_step(struct switch_step *step, char *item, char *error, size_t len)
{
    char *at = strchr(item, '@');
    if (!at)
        return refuse(error, len, "--switch '%s': expected TECHNIQUE@TIME, e.g. hvm@200ms", item);
    *at = '\0';
    step->technique = technique_find(item);
    if (!step->technique) {
        char available[128];
        technique_list(available, sizeof available);
        snprintf(error, len, "--switch: %s technique '%s' (built in: %s)",
                 technique_is_planned(item) ? "not implemented yet:" : "unknown", item, available);
        return -1;
    }
    int64_t time = switch_parse_duration(at + 1);
    if (time < 0)
        return refuse(error, len, "--switch: bad time '%s' (use e.g. 200ms, 1.5s, 500us)", at + 1);
    step->at_ns = (uint64_t)time;
    return 0;
}

int switch_parse_schedule(struct switch_plan *plan, const char *text, char *error, size_t len)
{
    char *copy = strdup(text);
    char *saved;
    int result = 0;
    plan->step_count = 0;
    for (char *item = strtok_r(copy, ",", &saved); item; item = strtok_r(NULL, ",", &saved)) {
        if (plan->step_count == SWITCH_SCHEDULE_MAX) {
            result = refuse(error, len, "--switch: more than %s steps", "64");
            break;
        }
        struct switch_step *step = &plan->steps[plan->step_count];
        if (parse_step(step, item, error, len) < 0) {
            result = -1;
            break;
        }
        if (plan->step_count && step->at_ns < plan->steps[plan->step_count - 1].at_ns) {
            result = refuse(error, len, "--switch: %s", "times must not decrease");
            break;
        }
        plan->step_count++;
    }
    if (result == 0 && plan->step_count == 0)
        result = refuse(error, len, "--switch: %s", "empty schedule");
    free(copy);
    return result;
}

int switch_parse_among(struct switch_plan *plan, const char *text, char *error, size_t len)
{
    for (int i = 0; i < TECHNIQUE_MAX; i++)
        plan->among[i] = text == NULL;
    if (!text)
        return 0;
    char *copy = strdup(text);
    char *saved;
    int result = 0, named = 0;
    for (char *name = strtok_r(copy, ",", &saved); name; name = strtok_r(NULL, ",", &saved)) {
        const struct technique *t = technique_find(name);
        if (!t) {
            char available[128];
            technique_list(available, sizeof available);
            snprintf(error, len, "--switch-among: %s technique '%s' (built in: %s)",
                     technique_is_planned(name) ? "not implemented yet:" : "unknown", name,
                     available);
            result = -1;
            break;
        }
        plan->among[technique_index(t)] = true;
        named++;
    }
    if (result == 0 && named == 0)
        result = refuse(error, len, "--switch-among '%s': name one technique or more", text);
    free(copy);
    return result;
}

/* xorshift64 (Marsaglia 2003): tiny, and reproducible from --switch-seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static bool refused_in_this_mode(const struct vm *vm, const struct technique *technique)
{
    const struct switch_plan *plan = &vm->switches;
    for (int i = 0; i < plan->refusal_count; i++)
        if (plan->refusals[i].technique == technique &&
            (plan->refusals[i].every_mode ||
             (plan->refusals[i].cr0 == vm->cpu.cr0 && plan->refusals[i].cr4 == vm->cpu.cr4)))
            return true;
    return false;
}

/* Remember a refusal; true if it is news (first refusal in this mode, or
 * at all for a refusal that holds in every mode). */
static bool remember_refusal(struct vm *vm, const struct technique *technique, bool every_mode)
{
    struct switch_plan *plan = &vm->switches;
    if (refused_in_this_mode(vm, technique))
        return false;
    int slot = plan->refusal_count < 8 ? plan->refusal_count++ : 7;
    plan->refusals[slot].technique = technique;
    plan->refusals[slot].cr0 = vm->cpu.cr0;
    plan->refusals[slot].cr4 = vm->cpu.cr4;
    plan->refusals[slot].every_mode = every_mode;
    return true;
}

/* A technique other than the current one that can run here and has not
 * refused the guest in its current mode; the current one if there is none
 * (a re-attach still exercises the state round trip). */
static const struct technique *random_other_technique(struct vm *vm)
{
    struct switch_plan *plan = &vm->switches;
    const struct technique *candidates[TECHNIQUE_MAX];
    int count = 0;
    for (int i = 0; all_techniques[i]; i++) {
        const struct technique *t = all_techniques[i];
        if (t != vm->technique && plan->available[i] && plan->among[i] &&
            !refused_in_this_mode(vm, t))
            candidates[count++] = t;
    }
    if (count == 0)
        return vm->technique;
    return candidates[next_random(&vm->switches.random_state) % (uint64_t)count];
}

uint64_t switch_next_deadline(const struct vm *vm)
{
    const struct switch_plan *plan = &vm->switches;
    uint64_t next = UINT64_MAX;
    if (plan->next_step < plan->step_count)
        next = plan->steps[plan->next_step].at_ns;
    if (plan->every_ns && plan->next_random_ns < next)
        next = plan->next_random_ns;
    return next == UINT64_MAX ? UINT64_MAX : vm->stats.start_ns + next;
}

void switch_run_due(struct vm *vm, uint64_t now_ns)
{
    struct switch_plan *plan = &vm->switches;
    uint64_t elapsed = now_ns - vm->stats.start_ns;
    const struct technique *requested = atomic_exchange(&vm->switch_request, NULL);
    if (requested)
        vm_switch_technique(vm, requested);
    while (plan->next_step < plan->step_count && plan->steps[plan->next_step].at_ns <= elapsed)
        vm_switch_technique(vm, plan->steps[plan->next_step++].technique);
    if (plan->every_ns && plan->next_random_ns <= elapsed) {
        vm_switch_technique(vm, random_other_technique(vm));
        plan->next_random_ns = elapsed + plan->every_ns;
    }
}

/* The VM stays on its technique; say why, once per technique and CPU mode
 * (once per run if the host cannot run the technique at all). */
static void refuse_switch(struct vm *vm, const struct technique *to, const char *why,
                          bool every_mode, uint64_t now)
{
    stats_log(&vm->stats, stats_counter(&vm->stats, "switch", "refused"), stats_now_ns() - now,
              now, vm->cpu.eip, to->name);
    if (remember_refusal(vm, to, every_mode))
        fprintf(stderr, "vmlab: cannot switch to %s: %s (staying on %s)\n", to->name, why,
                vm->technique->name);
}

int vm_switch_technique(struct vm *vm, const struct technique *to)
{
    /* Switching to the current technique is a full detach and re-attach: a
     * round trip of the state through struct cpu, which the tests use. */
    const struct technique *from = vm->technique;
    char reason[STATS_NAME_LEN];
    snprintf(reason, sizeof reason, "%s->%s", from->name, to->name);
    struct stats_counter *counter = stats_counter(&vm->stats, "switch", reason);
    uint64_t start = stats_now_ns();
    char why[256] = "";
    if ((to->available && !to->available(why, sizeof why)) ||
        (to->takes_guest && !to->takes_guest(vm, why, sizeof why))) {
        refuse_switch(vm, to, why, true, start);
        return -1;
    }
    from->detach(vm);
    vm->technique = to;
    if (to->attach(vm) < 0) {
        vm->technique = from;
        refuse_switch(vm, to, vm->stop_reason, false, start);
        vm->stop_reason[0] = '\0';
        if (from->attach(vm) < 0) {
            vm_request_stop(vm, VMLAB_STATUS_TECHNIQUE, "could not return to the previous technique");
            return -1;
        }
        return -1;
    }
    uint64_t end = stats_now_ns();
    stats_log(&vm->stats, counter, end - start, start, vm->cpu.eip, reason);
    vm->switch_count++;
    return 0;
}

void vm_request_switch(struct vm *vm, const struct technique *to)
{
    atomic_store(&vm->switch_request, to);
}
