/*
 * diff.c - differential testing of the interpreter against the real CPU.
 *
 *   build/diff/vmlab-diff [--bt|--sensitive] [--seed S] [--count N] [--max-items M]
 *                         [--only INDEX] [--max-reports R] [--fault-percent P] [--progress K]
 *                         [--hvm] [--inject-difference]
 *   build/diff/vmlab-diff [--bt] --code "HEX BYTES" [--regs EAX,...,EDI] [--eflags HEX]
 *                         [--paging 0|1|2] [--cpl3] [--read-only PAGE | --absent PAGE]
 *
 * Sequence i of a campaign is generated from sequence_seed(S, i), so any
 * failure is replayed with the same --seed and --only i. Each sequence
 * runs from the same initial state natively (native.c) and under the
 * interpreter's core (interp_runner.c); registers, EFLAGS (minus the bits
 * the SDM leaves undefined, generate.c) and the whole data area must be
 * equal. The last line is exactly "N passed, M failed"; the exit status is
 * 1 if anything failed.
 *
 * --bt: the bt technique is the side under test (bt_runner.c): each
 * sequence runs under bt and under the interpreter, and natively too where
 * the host has compatibility mode, and bt's result must equal each of
 * theirs. This mode runs on every x86-64 host. --sensitive (implies --bt)
 * also generates the sensitive, unprivileged instructions and FS/GS
 * prefixes (generate.h), and compares bt with the interpreter only.
 *
 * --inject-difference flips CF in the final EFLAGS of the side under test
 * (the interpreter, or bt with --bt) before the comparison whenever CF is
 * compared: a self-test that the comparison can fail.
 *
 * The native side runs in 32-bit compatibility mode. On a host without it
 * (core/host.c; or VMLAB_PRETEND_HOST=no-compat) there is no oracle: a
 * campaign prints "SKIP real-CPU differential oracle: <the host fact>" and
 * "0 passed, 0 failed, 1 skipped" and exits 0; --code, which must answer
 * for its bytes, says the same on stderr and exits 2.
 */
#include <capstone/capstone.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/host.h"
#include "bt_runner.h"
#include "generate.h"
#include "interp_runner.h"
#include "native.h"

/* EFLAGS bits compared: all that user code can see and set, minus RF and
 * VM (PUSHFD stores them as 0, SDM vol. 2 PUSHF) and VIF/VIP. */
#define COMPARED_EFLAGS (EFLAGS_ARITHMETIC | EFLAGS_FIXED | EFLAGS_TF | EFLAGS_IF | EFLAGS_DF | \
                         EFLAGS_IOPL | EFLAGS_NT | EFLAGS_AC | EFLAGS_ID)

struct options {
    const char *code_hex;          /* --code: run these bytes instead of a campaign */
    const char *regs;              /* --regs: eight comma-separated initial values */
    uint32_t eflags;               /* --eflags: the initial EFLAGS for --code */
    unsigned paging;               /* --paging 0/1/2: the interpreter's paging for --code */
    bool user_mode;                /* --cpl3: the interpreter at CPL 3 for --code */
    uint32_t read_only_page;       /* --read-only PAGE: write-protected for --code (4 KiB paging) */
    bool page_absent;              /* --absent PAGE: not present instead */
    uint64_t seed;
    uint64_t count;
    unsigned max_items;
    int64_t only;
    unsigned max_reports;
    bool hvm;
    bool inject_difference;
    bool bt;                       /* --bt: bt is the side under test */
    bool sensitive;                /* --sensitive: generate_sensitive, bt against interp only */
    uint64_t progress;             /* --progress K: a line on stderr every K sequences */
};

static const char *const reg_names[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };

/* The sides a sequence can run on. */
enum side { SIDE_NATIVE, SIDE_INTERP, SIDE_BT, SIDES };
static const char *const side_names[SIDES] = { "native", "interp", "bt" };

/* Which sides run, and which pairs are compared (reference, then the side
 * under test): native-interp by default; with --bt interp-bt, and
 * native-bt where the host has compatibility mode. */
static bool side_runs[SIDES];
static unsigned pair_count;
static enum side pairs[2][2];
static enum side tested_side;

struct outcome {
    struct run_result result[SIDES];
    char difference[256];          /* empty: the runs agree */
};

/* ---- comparison ------------------------------------------------------------ */

static void flag_names(uint32_t bits, char *out, size_t len)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        { EFLAGS_CF, "CF" }, { EFLAGS_PF, "PF" }, { EFLAGS_AF, "AF" }, { EFLAGS_ZF, "ZF" },
        { EFLAGS_SF, "SF" }, { EFLAGS_TF, "TF" }, { EFLAGS_IF, "IF" }, { EFLAGS_DF, "DF" },
        { EFLAGS_OF, "OF" }, { EFLAGS_NT, "NT" }, { EFLAGS_AC, "AC" }, { EFLAGS_ID, "ID" },
    };
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (bits & names[i].bit)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", names[i].name);
    if (!used)
        snprintf(out, len, "none");
}

/* Records the first differing byte of an area; false if there is one. */
static bool same_memory(struct outcome *o, const char *names[2], uint32_t base, uint32_t size,
                        const uint8_t *reference, const uint8_t *tested)
{
    if (!memcmp(reference, tested, size))
        return true;
    uint32_t offset = 0;
    while (reference[offset] == tested[offset])
        offset++;
    snprintf(o->difference, sizeof o->difference, "memory at 0x%08x: %s 0x%02x, %s 0x%02x",
             base + offset, names[0], reference[offset], names[1], tested[offset]);
    return false;
}

/* The first differing field between the reference side and the side under
 * test, in the order a reader would check them. */
static void compare_pair(struct outcome *o, const struct sequence *sequence, uint32_t undefined,
                         enum side reference, enum side tested)
{
    const struct run_result *a = &o->result[reference], *b = &o->result[tested];
    const struct machine_state *n = &a->final, *i = &b->final;
    const char *names[2] = { side_names[reference], side_names[tested] };
    o->difference[0] = 0;
    if (!a->completed || !b->completed) {
        snprintf(o->difference, sizeof o->difference, "completion: %s %s, %s %s", names[0],
                 a->completed ? "completed" : a->failure, names[1],
                 b->completed ? "completed" : b->failure);
        return;
    }
    const struct fault_report *nf = &a->fault, *f = &b->fault;
    if (nf->faulted != f->faulted || (nf->faulted && (nf->vector != f->vector || nf->eip != f->eip))) {
        snprintf(o->difference, sizeof o->difference,
                 "exception: %s %s vector %d at EIP 0x%08x, %s %s vector %d at EIP 0x%08x", names[0],
                 nf->faulted ? "raised" : "did not raise", nf->vector, nf->eip, names[1],
                 f->faulted ? "raised" : "did not raise", f->vector, f->eip);
        return;
    }
    /* Error codes: #GP's is compared always; #PF's only when both sides
     * run at the same CPL (bit 2 is U/S): the native side is always at 3,
     * the emulated ones at the sequence's CPL. */
    bool same_privilege = reference != SIDE_NATIVE || sequence->interp.user_mode || nf->vector != 14;
    if (nf->faulted && (nf->vector == 13 || nf->vector == 14) && same_privilege &&
        nf->error_code != f->error_code) {
        snprintf(o->difference, sizeof o->difference, "error code of vector %d: %s 0x%x, %s 0x%x",
                 nf->vector, names[0], nf->error_code, names[1], f->error_code);
        return;
    }
    if (nf->faulted && nf->cr2 != f->cr2) {
        snprintf(o->difference, sizeof o->difference, "#PF address (CR2): %s 0x%08x, %s 0x%08x",
                 names[0], nf->cr2, names[1], f->cr2);
        return;
    }
    for (unsigned r = 0; r < 8; r++)
        if (n->regs[r] != i->regs[r]) {
            snprintf(o->difference, sizeof o->difference, "%s: %s 0x%08x, %s 0x%08x",
                     reg_names[r], names[0], n->regs[r], names[1], i->regs[r]);
            return;
        }
    uint32_t mask = COMPARED_EFLAGS & ~undefined;
    if ((n->eflags ^ i->eflags) & mask) {
        char bits[64];
        flag_names((n->eflags ^ i->eflags) & mask, bits, sizeof bits);
        snprintf(o->difference, sizeof o->difference,
                 "eflags: %s 0x%08x, %s 0x%08x, differing: %s", names[0], n->eflags & mask,
                 names[1], i->eflags & mask, bits);
        return;
    }
    if (!same_memory(o, names, DATA_BASE, DATA_SIZE, a->data, b->data))
        same_memory(o, names, LOW_DATA_BASE, LOW_DATA_SIZE, a->low_data, b->low_data);
}

/* The flags undefined where an exception stopped the run: any flag that
 * was undefined at some point of the item holding the faulting
 * instruction (an item may hold a forward jump over several instructions;
 * the generator records the union). */
static uint32_t undefined_at_fault(const struct sequence *sequence, uint32_t eip, uint32_t at_end)
{
    uint32_t offset = eip - CODE_BASE, start = 0;
    for (unsigned k = 0; k < sequence->item_count; k++) {
        if (offset >= start && offset < sequence->item_end[k])
            return sequence->undefined_within[k];
        start = sequence->item_end[k];
    }
    return at_end;
}

/* Runs code[0..length) on every side that runs. The native and bt data
 * areas are shared mappings, so they are compared before the next run
 * overwrites them. */
static bool run_both(const uint8_t *code, unsigned length, const struct sequence *sequence,
                     const uint8_t *data, uint32_t undefined, bool inject, struct outcome *o)
{
    if (side_runs[SIDE_NATIVE])
        native_run(code, length, &sequence->initial, data, sequence->interp.read_only_page,
                   sequence->interp.page_absent, &o->result[SIDE_NATIVE]);
    interp_run(code, length, &sequence->initial, data, sequence->interp, &o->result[SIDE_INTERP]);
    if (side_runs[SIDE_BT])
        bt_runner_run(code, length, &sequence->initial, data, sequence->interp, &o->result[SIDE_BT]);
    /* The reference for where a fault happened: the real CPU if it ran. */
    const struct run_result *first = &o->result[side_runs[SIDE_NATIVE] ? SIDE_NATIVE : SIDE_INTERP];
    if (first->completed && first->fault.faulted)
        undefined = undefined_at_fault(sequence, first->fault.eip, undefined);
    if (inject && !(undefined & EFLAGS_CF))
        o->result[tested_side].final.eflags ^= EFLAGS_CF;
    for (unsigned p = 0; p < pair_count; p++) {
        compare_pair(o, sequence, undefined, pairs[p][0], pairs[p][1]);
        if (o->difference[0])
            return false;
    }
    return true;
}

/* ---- reports ------------------------------------------------------------------ */

static void print_hex(const uint8_t *code, unsigned length)
{
    for (unsigned i = 0; i < length; i++)
        printf("%02x%s", code[i], (i + 1) % 32 == 0 || i + 1 == length ? "\n    " : " ");
    printf("\n");
}

static void print_disassembly(const uint8_t *code, unsigned length, uint32_t address)
{
    csh handle;
    cs_insn *insns;
    if (cs_open(CS_ARCH_X86, CS_MODE_32, &handle) != CS_ERR_OK) {
        printf("    (capstone unavailable)\n");
        return;
    }
    size_t count = cs_disasm(handle, code, length, address, 0, &insns);
    size_t covered = 0;
    for (size_t i = 0; i < count; i++) {
        char bytes[48] = "";
        for (unsigned b = 0; b < insns[i].size && b < 15; b++)
            snprintf(bytes + 3 * b, sizeof bytes - 3 * b, "%02x ", insns[i].bytes[b]);
        printf("    %08" PRIx64 ":  %-33s %s %s\n", insns[i].address, bytes, insns[i].mnemonic,
               insns[i].op_str);
        covered += insns[i].size;
    }
    if (covered < length)
        printf("    (capstone stopped at offset %zu of %u)\n", covered, length);
    cs_free(insns, count);
    cs_close(&handle);
}

static void print_state(const char *label, const struct machine_state *state)
{
    printf("  %-8s", label);
    for (unsigned r = 0; r < 8; r++)
        printf("%s=%08x ", reg_names[r], state->regs[r]);
    printf("eflags=%08x\n", state->eflags);
}

/* The final state of every side that ran, and the exception that ended
 * its run. */
static void print_states(const struct outcome *o)
{
    for (enum side side = 0; side < SIDES; side++) {
        const struct run_result *r = &o->result[side];
        if (!side_runs[side] || !r->completed)
            continue;
        print_state(side_names[side], &r->final);
        if (r->fault.faulted)
            printf("  %-8sexception %d at EIP 0x%08x, CR2 0x%08x, error code 0x%x\n", side_names[side],
                   r->fault.vector, r->fault.eip, r->fault.cr2, r->fault.error_code);
    }
}

/* The shortest prefix of whole items that already differs: usually its
 * last item is the instruction to turn into a unit test. */
static void print_shortest_prefix(const struct sequence *sequence, const uint8_t *data, bool inject)
{
    struct outcome o;
    for (unsigned k = 0; k < sequence->item_count; k++) {
        if (run_both(sequence->code, sequence->item_end[k], sequence, data,
                     sequence->undefined_after[k], inject, &o))
            continue;
        unsigned start = k ? sequence->item_end[k - 1] : 0;
        printf("  shortest failing prefix: items 1..%u of %u (%u bytes); %s\n", k + 1,
               sequence->item_count, sequence->item_end[k], o.difference);
        printf("  its last item:\n");
        print_disassembly(sequence->code + start, sequence->item_end[k] - start, CODE_BASE + start);
        print_states(&o);
        return;
    }
    printf("  (no shorter prefix differs)\n");
}

static void report(const struct options *opt, uint64_t index, const struct sequence *sequence,
                   const uint8_t *data, const struct outcome *o, uint32_t undefined)
{
    char masked[64];
    flag_names(undefined, masked, sizeof masked);
    printf("FAIL sequence %" PRIu64 " (replay: --seed %" PRIu64 " --only %" PRIu64
           " --max-items %u --fault-percent %u)\n", index, opt->seed, index, opt->max_items,
           generate_fault_percent);
    printf("  first difference: %s\n", o->difference);
    printf("  undefined flags masked at the end: %s\n", masked);
    printf("  code (%u bytes, at 0x%08x):\n    ", sequence->length, CODE_BASE);
    print_hex(sequence->code, sequence->length);
    printf("  disassembly:\n");
    print_disassembly(sequence->code, sequence->length, CODE_BASE);
    print_state("initial", &sequence->initial);
    printf("  interpreter: paging %s, CPL %d\n",
           (const char *[]){ "off", "with 4 KiB pages", "with 4 MiB pages" }[sequence->interp.paging],
           sequence->interp.user_mode ? 3 : 0);
    if (sequence->interp.read_only_page)
        printf("  page 0x%08x is %s\n", sequence->interp.read_only_page,
               sequence->interp.page_absent ? "not present" : "read-only");
    print_states(o);
    print_shortest_prefix(sequence, data, opt->inject_difference);
    fflush(stdout);
}

/* ---- the campaign ---------------------------------------------------------------- */

static bool run_campaign(const struct options *opt, uint64_t *passed, uint64_t *failed,
                         uint64_t *exceptions)
{
    static struct sequence sequence;
    static uint8_t data[DATA_BUFFER_SIZE];
    struct outcome o;
    uint64_t first = opt->only >= 0 ? (uint64_t)opt->only : 0;
    uint64_t end = opt->only >= 0 ? first + 1 : opt->count;
    for (uint64_t index = first; index < end; index++) {
        if (opt->progress && index % opt->progress == 0)
            fprintf(stderr, "vmlab-diff: seed %" PRIu64 ": %" PRIu64 " sequences run, %" PRIu64 " failed\n",
                    opt->seed, index - first, *failed);
        generate_sequence(sequence_seed(opt->seed, index), opt->max_items, &sequence, data);
        uint32_t undefined = sequence.item_count ? sequence.undefined_after[sequence.item_count - 1] : 0;
        if (run_both(sequence.code, sequence.length, &sequence, data, undefined,
                     opt->inject_difference, &o)) {
            ++*passed;
            *exceptions += o.result[tested_side].fault.faulted;
            if (opt->only >= 0) {
                printf("sequence %" PRIu64 " matches:\n", index);
                print_disassembly(sequence.code, sequence.length, CODE_BASE);
                print_state("final", &o.result[tested_side].final);
            }
            continue;
        }
        if (++*failed <= opt->max_reports)
            report(opt, index, &sequence, data, &o, undefined);
    }
    return *failed == 0;
}

/* ---- one given sequence (--code) ---------------------------------------------------- */

static unsigned parse_hex_bytes(const char *hex, uint8_t *out, unsigned capacity)
{
    unsigned count = 0;
    while (*hex && count < capacity) {
        while (*hex == ' ' || *hex == ',')
            hex++;
        unsigned byte;
        int used;
        if (sscanf(hex, "%2x%n", &byte, &used) != 1)
            break;
        out[count++] = (uint8_t)byte;
        hex += used;
    }
    return count;
}

/*
 * Runs the bytes of --code on both sides and shows both results: the way
 * to turn a minimized failure into a unit test. Initial state: --regs (or
 * all zero, ESP = STACK_INITIAL), --eflags (or 0x202); every data byte at
 * offset i of either area holds i & 0xff. Nothing is masked.
 */
static bool run_given_code(const struct options *opt)
{
    static struct sequence sequence;
    static uint8_t data[DATA_BUFFER_SIZE];
    for (unsigned i = 0; i < DATA_SIZE; i++)
        data[i] = (uint8_t)i;
    for (unsigned i = 0; i < LOW_DATA_SIZE; i++)
        data[DATA_SIZE + i] = (uint8_t)i;
    sequence.length = parse_hex_bytes(opt->code_hex, sequence.code, SEQUENCE_MAX_BYTES);
    sequence.initial.regs[REG_ESP] = STACK_INITIAL;
    sequence.initial.eflags = opt->eflags;
    sequence.interp.paging = (enum interp_paging)opt->paging;
    sequence.interp.user_mode = opt->user_mode;
    sequence.interp.read_only_page = opt->read_only_page;
    sequence.interp.page_absent = opt->page_absent;
    if (opt->read_only_page && (opt->read_only_page != READ_ONLY_DATA_PAGE &&
                                opt->read_only_page != READ_ONLY_STACK_PAGE)) {
        fprintf(stderr, "--read-only: 0x%x or 0x%x\n", READ_ONLY_DATA_PAGE, READ_ONLY_STACK_PAGE);
        return false;
    }
    if (opt->read_only_page)
        sequence.interp.paging = PAGING_4K;
    if (opt->regs)
        sscanf(opt->regs, "%x,%x,%x,%x,%x,%x,%x,%x", &sequence.initial.regs[0], &sequence.initial.regs[1],
               &sequence.initial.regs[2], &sequence.initial.regs[3], &sequence.initial.regs[4],
               &sequence.initial.regs[5], &sequence.initial.regs[6], &sequence.initial.regs[7]);
    struct outcome o;
    bool same = run_both(sequence.code, sequence.length, &sequence, data, 0, false, &o);
    print_disassembly(sequence.code, sequence.length, CODE_BASE);
    print_state("initial", &sequence.initial);
    print_states(&o);
    printf("%s\n", same ? "same" : o.difference);
    return same;
}

/* The hvm oracle needs KVM on real VT-x/AMD-V; under kvm_pvm the guest's
 * kernel-mode instructions are emulated in software by KVM itself. */
static void hvm_oracle(void)
{
    if (access("/sys/module/kvm_pvm", F_OK) == 0) {
        printf("SKIP hvm oracle: KVM is PVM (software-emulated kernel mode), not the real CPU\n");
        return;
    }
    printf("SKIP hvm oracle: not implemented by this harness (the native runner is the oracle)\n");
}

static bool parse_options(int argc, char **argv, struct options *opt)
{
    *opt = (struct options){ .eflags = EFLAGS_FIXED | EFLAGS_IF, .seed = 1, .count = 20000, .max_items = 24, .only = -1, .max_reports = 5 };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--hvm"))
            opt->hvm = true;
        else if (!strcmp(arg, "--bt"))
            opt->bt = true;
        else if (!strcmp(arg, "--sensitive"))
            opt->bt = opt->sensitive = generate_sensitive = true;
        else if (!strcmp(arg, "--inject-difference"))
            opt->inject_difference = true;
        else if (value && !strcmp(arg, "--seed"))
            opt->seed = strtoull(value, NULL, 0), i++;
        else if (value && !strcmp(arg, "--count"))
            opt->count = strtoull(value, NULL, 0), i++;
        else if (value && !strcmp(arg, "--max-items"))
            opt->max_items = (unsigned)strtoul(value, NULL, 0), i++;
        else if (value && !strcmp(arg, "--only"))
            opt->only = strtoll(value, NULL, 0), i++;
        else if (value && !strcmp(arg, "--code"))
            opt->code_hex = value, i++;
        else if (value && !strcmp(arg, "--absent"))
            opt->read_only_page = (uint32_t)strtoul(value, NULL, 16), opt->page_absent = true, i++;
        else if (value && !strcmp(arg, "--read-only"))
            opt->read_only_page = (uint32_t)strtoul(value, NULL, 16), i++;
        else if (!strcmp(arg, "--cpl3"))
            opt->user_mode = true;
        else if (value && !strcmp(arg, "--paging"))
            opt->paging = (unsigned)strtoul(value, NULL, 0) % PAGING_MODES, i++;
        else if (value && !strcmp(arg, "--regs"))
            opt->regs = value, i++;
        else if (value && !strcmp(arg, "--eflags"))
            opt->eflags = (uint32_t)strtoul(value, NULL, 16), i++;
        else if (value && !strcmp(arg, "--fault-percent"))
            generate_fault_percent = (unsigned)strtoul(value, NULL, 0), i++;
        else if (value && !strcmp(arg, "--progress"))
            opt->progress = strtoull(value, NULL, 0), i++;
        else if (value && !strcmp(arg, "--max-reports"))
            opt->max_reports = (unsigned)strtoul(value, NULL, 0), i++;
        else {
            fprintf(stderr, "usage: %s [--bt|--sensitive] [--seed S] [--count N] [--max-items M] [--only INDEX] "
                            "[--max-reports R] [--fault-percent P] [--progress K] [--hvm] [--inject-difference]\n"
                            "       %s [--bt] --code HEX [--regs EAX,ECX,...,EDI] [--eflags HEX] [--paging 0|1|2] [--cpl3]\n"
                            "         [--read-only|--absent 1011000|1019000]\n", argv[0], argv[0]);
            return false;
        }
    }
    if (opt->max_items == 0)
        opt->max_items = 1;
    return true;
}

/* No oracle for this mode here: a campaign is skipped (status 0), --code,
 * which must answer for its bytes, is an error (status 2). */
static int unavailable(const struct options *opt, const char *what, const char *why)
{
    if (opt->code_hex) {
        fprintf(stderr, "vmlab-diff: no %s for --code: %s\n", what, why);
        return 2;
    }
    printf("SKIP %s: %s\n", what, why);
    printf("0 passed, 0 failed, 1 skipped\n");
    return 0;
}

static void compare_sides(enum side reference, enum side tested)
{
    pairs[pair_count][0] = reference;
    pairs[pair_count][1] = tested;
    pair_count++;
    side_runs[reference] = side_runs[tested] = true;
    tested_side = tested;
}

/* Chooses the sides (see side_runs) and starts them: -1 if a side could
 * not start, 1 after a skip, else 0. */
static int start_sides(const struct options *opt, int *status)
{
    char why[256], bt_why[256];
    bool native = host_has(HOST_COMPAT_MODE, why, sizeof why);
    if (opt->bt) {
        /* Before native_start: the child must not inherit its low mappings. */
        if (bt_runner_start(bt_why, sizeof bt_why) < 0)
            return *status = unavailable(opt, "bt differential", bt_why), 1;
        generate_16bit_addressing = true;      /* unless the native side says otherwise */
        compare_sides(SIDE_INTERP, SIDE_BT);
        if (native && !opt->sensitive)
            compare_sides(SIDE_NATIVE, SIDE_BT);
        else if (native)
            printf("(bt against the interpreter only: --sensitive's results are the machine's, "
                   "and the native side's machine is the host)\n");
        else
            printf("(bt against the interpreter only; no native side: %s)\n", why);
        native = native && !opt->sensitive;
    } else {
        if (!native)
            return *status = unavailable(opt, "real-CPU differential oracle", why), 1;
        compare_sides(SIDE_NATIVE, SIDE_INTERP);
    }
    if ((native && native_start(&generate_16bit_addressing) != 0) || interp_runner_start() != 0)
        return *status = 2, -1;
    return 0;
}

static void stop_sides(void)
{
    if (side_runs[SIDE_NATIVE])
        native_stop();
    if (side_runs[SIDE_BT])
        bt_runner_stop();
}

int main(int argc, char **argv)
{
    struct options opt;
    if (!parse_options(argc, argv, &opt))
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (opt.hvm)
        hvm_oracle();
    int status = 0;
    if (start_sides(&opt, &status) != 0) {
        stop_sides();
        return status;
    }
    if (opt.code_hex) {
        bool same = run_given_code(&opt);
        stop_sides();
        return same ? 0 : 1;
    }
    uint64_t passed = 0, failed = 0, exceptions = 0;
    bool clean = run_campaign(&opt, &passed, &failed, &exceptions);
    stop_sides();
    if (failed > opt.max_reports)
        printf("(%" PRIu64 " more failures not shown; --max-reports)\n", failed - opt.max_reports);
    printf("(%" PRIu64 " of the passing sequences ended in the same exception on every side)\n",
           exceptions);
    if (side_runs[SIDE_BT]) {
        struct bt_totals t;
        bt_runner_totals(&t);
        printf("(bt: %" PRIu64 " runs, %" PRIu64 " blocks translated, %" PRIu64 " exits chained, %" PRIu64
               " callouts, %" PRIu64 " instructions in fallback, %" PRIu64 " deadline exits)\n", t.runs,
               t.blocks, t.chains, t.callouts, t.fallbacks, t.deadline_exits);
    }
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    return clean ? 0 : 1;
}
