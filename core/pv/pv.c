/*
 * pv.c - the hypercall interface: PV_INIT, the dispatch, the statistics,
 * and the only ways a hypercall touches guest memory.
 *
 * A hypercall is an OUT to PV_HYPERCALL_PORT made by the stub the VMM wrote
 * into the hypercall page (abi.h). The technique that executes or traps on
 * that OUT calls pv_hypercall() with an emulator on the guest's CPU, which
 * gives the handlers the guest's page tables (to check pointers), segment
 * loading and IRET (traps.c) and the TLB (mmu.c) without knowing which
 * technique is running.
 */
#include "pv_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vm.h"
#include "core/x86/system.h"

static const char *const hypercall_names[PV_HYPERCALL_COUNT] = {
    [PV_INIT] = "init", [PV_SET_TRAP_TABLE] = "set_trap_table",
    [PV_STACK_SWITCH] = "stack_switch", [PV_IRET] = "iret", [PV_MMU_UPDATE] = "mmu_update",
    [PV_MMUEXT] = "mmuext", [PV_SET_TIMER] = "set_timer", [PV_SCHED_OP] = "sched_op",
    [PV_CONSOLE_WRITE] = "console_write", [PV_EVENT_SEND] = "event_send",
    [PV_EVENT_UNMASK] = "event_unmask", [PV_MULTICALL] = "multicall",
    [PV_BLOCK_SETUP] = "block_setup", [PV_BLOCK_NOTIFY] = "block_notify",
};

/* The stub of entry n (abi.h): mov $n, %eax; out %eax, $port; ret. The
 * iret entry, reached by jmp, first saves EAX on the stack. Written into
 * the first PV_PAGE_TSS_OFFSET bytes of `page`. */
static void write_stubs(uint8_t *page)
{
    memset(page, 0xcc, PV_PAGE_TSS_OFFSET);          /* int3 between the stubs */
    for (uint32_t n = 0; n < PV_HYPERCALL_COUNT; n++) {
        uint8_t *stub = page + n * PV_HYPERCALL_ENTRY_SIZE;
        if (n == PV_IRET)
            *stub++ = 0x50;                          /* push %eax: pv_iret pops it */
        stub[0] = 0xb8;
        memcpy(stub + 1, &n, 4);
        stub[5] = 0xe7;
        stub[6] = PV_HYPERCALL_PORT;
        stub[7] = 0xc3;                              /* never reached after an iret */
    }
}


int pv_setup(struct pv *pv, struct vm *vm, const char *image_path, char *error, size_t error_len)
{
    memset(pv, 0, sizeof *pv);
    pv->vm = vm;
    uint32_t prefilled_page;
    if (!pv_image_has_note(image_path, &prefilled_page))
        return 0;
    pv->frame_count = vm->ram.size >> PAGE_SHIFT;
    pv->frame_types = calloc(pv->frame_count, 1);
    if (!pv->frame_types) {
        snprintf(error, error_len, "pv: out of memory");
        return -1;
    }
    pv->enabled = true;
    pv_time_init(pv);
    if (prefilled_page) {
        if ((prefilled_page & (PAGE_SIZE - 1)) || !pv_guest_owns(pv, prefilled_page, PAGE_SIZE)) {
            snprintf(error, error_len, "pv: the image's note names hypercall page 0x%x, which is "
                     "not a page of guest RAM", prefilled_page);
            return -1;
        }
        write_stubs(vm->ram.host + prefilled_page);   /* nothing runs yet: no code to forget */
    }
    return 0;
}

void pv_destroy(struct pv *pv)
{
    free(pv->frame_types);
    pv->frame_types = NULL;
    pv->enabled = false;
}

/* ---- guest memory ------------------------------------------------------------ */

bool pv_guest_owns(const struct pv *pv, uint32_t address, uint32_t length)
{
    return length > 0 && guest_ram_contains(&pv->vm->ram, address, length);
}

struct pv_shared_info *pv_shared(struct pv *pv)
{
    return (struct pv_shared_info *)(pv->vm->ram.host + pv->shared_info);
}

/* The host address of `length` bytes at guest-linear `linear`, which must
 * not cross a page; NULL if the guest's kernel could not access them. */
static uint8_t *guest_linear(struct pv *pv, struct emulator *e, uint32_t linear, uint32_t length,
                             bool write, uint32_t *physical)
{
    uint32_t error_code;
    if (!x86_translate(e, linear, write ? ACCESS_WRITE : ACCESS_READ, false, false, physical,
                       &error_code))
        return NULL;
    return guest_ram_contains(&pv->vm->ram, *physical, length) ? pv->vm->ram.host + *physical : NULL;
}

static uint32_t chunk_length(uint32_t linear, uint32_t length)
{
    uint32_t room = PAGE_SIZE - (linear & (PAGE_SIZE - 1));
    return length < room ? length : room;
}

int pv_copy_from_guest(struct pv *pv, struct emulator *e, void *to, uint32_t linear, uint32_t length)
{
    uint8_t *out = to;
    if (linear + (uint64_t)length > 0x100000000ull)
        return -PV_EFAULT;
    while (length > 0) {
        uint32_t chunk = chunk_length(linear, length), physical;
        const uint8_t *host = guest_linear(pv, e, linear, chunk, false, &physical);
        if (!host)
            return -PV_EFAULT;
        memcpy(out, host, chunk);
        out += chunk;
        linear += chunk;
        length -= chunk;
    }
    return 0;
}

int pv_copy_to_guest(struct pv *pv, struct emulator *e, uint32_t linear, const void *from, uint32_t length)
{
    const uint8_t *in = from;
    if (linear + (uint64_t)length > 0x100000000ull)
        return -PV_EFAULT;
    while (length > 0) {
        uint32_t chunk = chunk_length(linear, length), physical;
        if (!guest_linear(pv, e, linear, chunk, true, &physical))
            return -PV_EFAULT;
        pv_write_physical(e, physical, in, chunk);
        in += chunk;
        linear += chunk;
        length -= chunk;
    }
    return 0;
}

void pv_write_physical(struct emulator *e, uint32_t physical, const void *from, uint32_t length)
{
    memcpy(e->ram->host + physical, from, length);
    if (e->code_written && (e->ram->page_flags[physical >> PAGE_SHIFT] & PAGE_FLAG_CODE))
        e->code_written(e, physical & ~(PAGE_SIZE - 1));
}

void pv_count_batch(struct pv *pv, const char *category, uint32_t count)
{
    char reason[STATS_NAME_LEN];
    uint32_t low = 1;
    while (low * 2 <= count)
        low *= 2;
    if (low == 1)
        snprintf(reason, sizeof reason, "1");
    else
        snprintf(reason, sizeof reason, "%u-%u", low, low * 2 - 1);
    stats_count(stats_counter(&pv->vm->stats, category, reason), 0);
}

int32_t pv_refuse(struct pv *pv, int error, const char *what, const char *detail)
{
    struct stats *stats = &pv->vm->stats;
    stats_log(stats, stats_counter(stats, "pv-refused", what), 0, stats_now_ns(),
              pv->vm->cpu.eip, detail);
    return -error;
}

/* ---- PV_INIT ----------------------------------------------------------------- */

static void write_hypercall_page(struct pv *pv, struct emulator *e)
{
    uint8_t page[PV_PAGE_TSS_OFFSET];
    write_stubs(page);
    pv_write_physical(e, pv->hypercall_page, page, sizeof page);
}

static bool usable_page(const struct pv *pv, uint32_t physical)
{
    return (physical & (PAGE_SIZE - 1)) == 0 && pv_guest_owns(pv, physical, PAGE_SIZE);
}

static int32_t pv_init(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    char detail[46];
    if (pv->initialised)
        return pv_refuse(pv, PV_EBUSY, "init-twice", NULL);
    if (args[2] != PV_ABI_VERSION) {
        snprintf(detail, sizeof detail, "version %u, vmlab speaks %u", args[2], PV_ABI_VERSION);
        return pv_refuse(pv, PV_EINVAL, "init-version", detail);
    }
    if (!usable_page(pv, args[0]) || !usable_page(pv, args[1]) || args[0] == args[1]) {
        snprintf(detail, sizeof detail, "pages 0x%x 0x%x", args[0], args[1]);
        return pv_refuse(pv, PV_EINVAL, "init-pages", detail);
    }
    pv->hypercall_page = args[0];
    pv->shared_info = args[1];
    pv->frame_types[pv->hypercall_page >> PAGE_SHIFT] = PV_FRAME_VMM;
    write_hypercall_page(pv, e);
    static const uint8_t zero_page[PAGE_SIZE];
    pv_write_physical(e, pv->shared_info, zero_page, PAGE_SIZE);
    pv_shared(pv)->event_mask = 1;                   /* the guest starts with "cli" */
    pv->initialised = true;
    pv_time_publish(pv);
    return pv_install_descriptor_tables(pv, e);
}

/* ---- dispatch ----------------------------------------------------------------- */

static int32_t pv_multicall(struct pv *pv, struct emulator *e, const uint32_t args[5]);

static const pv_handler handlers[PV_HYPERCALL_COUNT] = {
    [PV_INIT] = pv_init, [PV_SET_TRAP_TABLE] = pv_set_trap_table,
    [PV_STACK_SWITCH] = pv_stack_switch, [PV_IRET] = pv_iret, [PV_MMU_UPDATE] = pv_mmu_update,
    [PV_MMUEXT] = pv_mmuext, [PV_SET_TIMER] = pv_set_timer, [PV_SCHED_OP] = pv_sched_op,
    [PV_CONSOLE_WRITE] = pv_console_write, [PV_EVENT_SEND] = pv_event_send,
    [PV_EVENT_UNMASK] = pv_event_unmask, [PV_MULTICALL] = pv_multicall,
    [PV_BLOCK_SETUP] = pv_block_setup, [PV_BLOCK_NOTIFY] = pv_block_notify,
};

/* One hypercall, counted as hypercall/<name> with its handling time. */
static int32_t call_one(struct pv *pv, struct emulator *e, uint32_t op, const uint32_t args[5])
{
    if (op >= PV_HYPERCALL_COUNT) {
        char detail[46];
        snprintf(detail, sizeof detail, "hypercall %u", op);
        return pv_refuse(pv, PV_ENOSYS, "unknown-hypercall", detail);
    }
    if (!pv->initialised && op != PV_INIT)
        return pv_refuse(pv, PV_EINVAL, "before-init", hypercall_names[op]);
    if (!pv->call_rows[op])
        pv->call_rows[op] = stats_counter(&pv->vm->stats, "hypercall", hypercall_names[op]);
    uint64_t start = stats_now_ns();
    int32_t result = handlers[op](pv, e, args);
    stats_count(pv->call_rows[op], stats_now_ns() - start);
    return result;
}

/* Several hypercalls for one exit (Xen's multicall): each entry's result is
 * written back; an iret or a nested multicall is refused in its entry. */
static int32_t pv_multicall(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    uint32_t list = args[0], count = args[1];
    if (count > PV_MULTICALL_MAX)
        return pv_refuse(pv, PV_E2BIG, "multicall-count", NULL);
    for (uint32_t i = 0; i < count; i++) {
        struct pv_multicall call;
        uint32_t at = list + i * (uint32_t)sizeof call;
        if (pv_copy_from_guest(pv, e, &call, at, sizeof call) < 0)
            return pv_refuse(pv, PV_EFAULT, "multicall-pointer", NULL);
        if (call.op == PV_IRET || call.op == PV_MULTICALL)
            call.result = pv_refuse(pv, PV_EINVAL, "multicall-op", hypercall_names[call.op]);
        else
            call.result = call_one(pv, e, call.op, call.args);
        uint32_t result_at = at + (uint32_t)offsetof(struct pv_multicall, result);
        if (pv_copy_to_guest(pv, e, result_at, &call.result, sizeof call.result) < 0)
            return pv_refuse(pv, PV_EFAULT, "multicall-pointer", NULL);
    }
    return (int32_t)count;
}

void pv_attach_emulator(struct pv *pv, struct emulator *e)
{
    e->pv = pv->enabled ? pv : NULL;
    e->pv_hypercall = pv->enabled ? pv_hypercall : NULL;
    e->pv_page_fault = pv->enabled ? pv_note_page_fault : NULL;
}

void pv_hypercall(struct pv *pv, struct emulator *e)
{
    struct cpu *cpu = e->cpu;
    uint32_t op = cpu->regs[REG_EAX];
    uint32_t args[5] = { cpu->regs[REG_EBX], cpu->regs[REG_ECX], cpu->regs[REG_EDX],
                         cpu->regs[REG_ESI], cpu->regs[REG_EDI] };
    int32_t result = call_one(pv, e, op, args);
    if (op != PV_IRET || result < 0)
        cpu->regs[REG_EAX] = (uint32_t)result;      /* a successful iret left EAX as it was */
    pv_update_upcall(pv);
}
