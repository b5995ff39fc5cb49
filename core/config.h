/*
 * config.h - the settings of one `vmlab run`, from a JSON file and flags.
 *
 * Every command-line flag has a key in the --config file (the flag's name
 * with '_' for '-'); flags given on the command line win over the file.
 */
#ifndef VMLAB_CONFIG_H
#define VMLAB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "vm.h"

struct run_options {
    struct vm_config vm;
    char *command_line;        /* what the guest sees: "PATH ARGS", as QEMU -kernel passes it */
    void *json_document;       /* keeps --config strings alive */
    int show_help;
    /* The ncurses dashboard (core/ui/dashboard.c) and the periodic
     * statistics stream (core/ui/stats_out.c). These are the UI's settings,
     * not the VM's, so they live here rather than in struct vm_config. */
    bool dashboard;
    bool dashboard_exit_on_stop;  /* for scripts: do not wait for q at the end */
    unsigned stats_interval_ms;   /* 0: the default (1000) when stats_out is set */
    const char *stats_out_path;   /* --stats-out: one JSON object per line */
    unsigned disks_given;         /* --disk flags seen: bit 0 master, bit 1 slave */
};

/* Parses the arguments after `vmlab run`. Returns 0, or -1 with a one-line
 * error (malformed JSON is reported with its line and column). */
int config_parse_run(int argc, char **argv, struct run_options *options, char *error,
                     size_t error_len);
void config_free(struct run_options *options);

/* Applies a JSON document to the options; exposed for the unit tests. */
int config_apply_json(struct run_options *options, const char *text, const char *source,
                      char *error, size_t error_len);

#endif
