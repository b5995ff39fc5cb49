/*
 * technique.c - the table of compiled-in techniques.
 *
 * The only place in core/ that names the techniques: everything else goes
 * through struct technique.
 */
#include "technique.h"

#include <stdio.h>
#include <string.h>

#include "techniques/bt/bt.h"
#include "techniques/interp/interp.h"
#include "techniques/pv/pv.h"
#include "techniques/hvm/hvm.h"
#include "techniques/trapemu/trapemu.h"

const struct technique *const all_techniques[] = {
    &interp_technique,
    &hvm_technique,
    &trapemu_technique,
    &bt_technique,
    &pv_technique,
    NULL,
};

/* The five techniques of docs/design.md; those not in the table above are not built yet. */
static const char *const planned_techniques[] = {"interp", "trapemu", "bt", "hvm", "pv", NULL};

const struct technique *technique_find(const char *name)
{
    for (int i = 0; all_techniques[i]; i++)
        if (strcmp(all_techniques[i]->name, name) == 0)
            return all_techniques[i];
    return NULL;
}

int technique_index(const struct technique *technique)
{
    int i = 0;
    while (all_techniques[i] && all_techniques[i] != technique)
        i++;
    return i;   /* every caller passes a technique of the table */
}

/* The table, NULL included, must fit the per-technique arrays sized by
 * TECHNIQUE_MAX: then even technique_index of a stranger stays in them. */
_Static_assert(sizeof all_techniques / sizeof all_techniques[0] <= TECHNIQUE_MAX,
               "more techniques than TECHNIQUE_MAX");

bool technique_is_planned(const char *name)
{
    for (int i = 0; planned_techniques[i]; i++)
        if (strcmp(planned_techniques[i], name) == 0)
            return true;
    return false;
}

void technique_list(char *buffer, size_t length)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (int i = 0; all_techniques[i] && used < length; i++)
        used += (size_t)snprintf(buffer + used, length - used, "%s%s", i ? ", " : "",
                                 all_techniques[i]->name);
}
