/*
 * kvm_setup.c - /dev/kvm, a VM, its memory, one vCPU and what it reports
 * through CPUID.
 *
 * The order follows the KVM API: open the system fd and check the API
 * version (KVM_GET_API_VERSION, always 12), KVM_CREATE_VM, give it memory
 * (KVM_SET_USER_MEMORY_REGION), KVM_CREATE_VCPU and map its kvm_run page,
 * then KVM_SET_CPUID2 before the first KVM_RUN.
 *
 * /dev/kvm is opened once, by available() at start-up, and kept for the
 * process (struct kvm_host); the VM and vCPU are kept from one attach to
 * the next (hvm.c), and hvm_reuse_vm makes a kept one forget what it
 * cached while another technique ran the guest.
 *
 * VMLAB_KVM_DEVICE overrides the path of /dev/kvm, so that a test can show
 * what happens on a host without KVM (VMLAB_KVM_DEVICE=/nonexistent).
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/x86/execute.h"
#include "techniques/hvm/hvm_internal.h"

#define LEGACY_HOLE_START 0xA0000u
#define LEGACY_HOLE_END 0x100000u
/* Intel hosts want three pages for the real-mode TSS (KVM API:
 * KVM_SET_TSS_ADDR) that no slot or device uses: just below 4 GiB, far
 * above GUEST_RAM_MAX, where QEMU puts it too. */
#define TSS_ADDRESS 0xfffbd000u
/* Linux 6.12's uapi <asm/kvm.h>; older headers lack it (KVM API:
 * KVM_CAP_DISABLE_QUIRKS2). */
#ifndef KVM_X86_QUIRK_SLOT_ZAP_ALL
#define KVM_X86_QUIRK_SLOT_ZAP_ALL (1 << 7)
#endif

static const char *kvm_device_path(void)
{
    const char *path = getenv("VMLAB_KVM_DEVICE");
    return path && *path ? path : "/dev/kvm";
}

/* Opens the KVM system fd; on failure says why and what to do about it. */
static int open_kvm(char *why, size_t why_len)
{
    const char *path = kvm_device_path();
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    int error = errno;
    if (error == ENOENT)
        snprintf(why, why_len, "%s does not exist: this kernel has no KVM (load kvm_intel or "
                 "kvm_amd, enable VT-x/AMD-V in the firmware, or nested virtualization if this "
                 "is itself a VM)", path);
    else if (error == EACCES || error == EPERM)
        snprintf(why, why_len, "%s: permission denied: add yourself to the kvm group or run as "
                 "root", path);
    else if (error == ENXIO || error == ENODEV)
        snprintf(why, why_len, "%s: no KVM driver behind the device (load kvm_intel or kvm_amd)",
                 path);
    else
        snprintf(why, why_len, "%s: %s", path, strerror(error));
    return -1;
}

static int check_api_version(int kvm_fd, char *why, size_t why_len)
{
    int version = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
    if (version == KVM_API_VERSION)
        return 0;
    if (version < 0)
        snprintf(why, why_len, "%s is not a KVM device (KVM_GET_API_VERSION: %s)",
                 kvm_device_path(), strerror(errno));
    else
        snprintf(why, why_len, "%s speaks KVM API version %d; vmlab needs %d",
                 kvm_device_path(), version, KVM_API_VERSION);
    return -1;
}

static int create_vm(int kvm_fd, char *why, size_t why_len)
{
    int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm_fd < 0)
        snprintf(why, why_len, "KVM_CREATE_VM failed: %s (virtualization disabled in the "
                 "firmware, or another hypervisor holding VT-x/AMD-V?)", strerror(errno));
    return vm_fd;
}

/*
 * What available() learns about this host, once per process: the /dev/kvm
 * fd (kept open for the process's lifetime), whether KVM can create a VM
 * here and why not, and the line hvm_describe_host prints. Every open() and
 * every read of /sys happens here, at start-up (vm_create asks every
 * technique's available() before any attach): once trapemu has attached,
 * its seccomp filter lets no file be opened, and hvm's attach must still
 * work (with ioctls on the kept fd). A static because available() has no
 * VM to keep it in, and /dev/kvm is the process's, not a VM's.
 */
struct kvm_host {
    bool probed, usable;
    bool slot_delete_zaps_all;       /* see hvm_reuse_vm */
    int kvm_fd;
    char why[400];                   /* if not usable */
    char description[400];           /* "vmlab: hvm on ..." */
};
static struct kvm_host kvm_host = {.kvm_fd = -1};

static void describe_host(char *line, size_t length);

static void probe_host(struct kvm_host *host)
{
    host->probed = true;
    host->kvm_fd = open_kvm(host->why, sizeof host->why);
    if (host->kvm_fd < 0)
        return;
    int vm_fd = -1;
    if (check_api_version(host->kvm_fd, host->why, sizeof host->why) == 0)
        vm_fd = create_vm(host->kvm_fd, host->why, sizeof host->why);
    if (vm_fd < 0) {
        close(host->kvm_fd);
        host->kvm_fd = -1;
        return;
    }
    close(vm_fd);
    host->usable = true;
    int quirks = ioctl(host->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);
    host->slot_delete_zaps_all = quirks > 0 && (quirks & KVM_X86_QUIRK_SLOT_ZAP_ALL);
    describe_host(host->description, sizeof host->description);
}

bool hvm_kvm_usable(char *why, size_t why_len)
{
    if (!kvm_host.probed)
        probe_host(&kvm_host);
    if (!kvm_host.usable)
        snprintf(why, why_len, "%s", kvm_host.why);
    return kvm_host.usable;
}

/* ---- memory ---------------------------------------------------------------- */

/* Guest RAM is the core's memfd mapping, handed over page for page: no copy,
 * so the interpreter and KVM see the same bytes. Two slots leave the legacy
 * hole 0xA0000-0xFFFFF out, as in the core's physical map (mem.h): guest
 * accesses there are MMIO exits, answered by the bus or with all ones. */
static int add_slot(struct hvm *hvm, uint32_t slot, uint64_t start, uint64_t end,
                    const struct guest_ram *ram, char *why, size_t why_len)
{
    if (end <= start)
        return 0;
    struct kvm_userspace_memory_region region = {
        .slot = slot, .guest_phys_addr = start, .memory_size = end - start,
        .userspace_addr = (uint64_t)(uintptr_t)(ram->host + start)};
    if (ioctl(hvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) == 0)
        return 0;
    snprintf(why, why_len, "KVM_SET_USER_MEMORY_REGION [0x%llx, 0x%llx): %s",
             (unsigned long long)start, (unsigned long long)end, strerror(errno));
    return -1;
}

static int give_ram(struct hvm *hvm, const struct guest_ram *ram, char *why, size_t why_len)
{
    uint64_t size = ram->size;
    uint64_t low_end = size < LEGACY_HOLE_START ? size : LEGACY_HOLE_START;
    if (add_slot(hvm, 0, 0, low_end, ram, why, why_len) < 0)
        return -1;
    return add_slot(hvm, 1, LEGACY_HOLE_END, size, ram, why, why_len);
}

/* memory_size 0 deletes a slot (KVM API: KVM_SET_USER_MEMORY_REGION). */
static int delete_slot(struct hvm *hvm, uint32_t slot, char *why, size_t why_len)
{
    struct kvm_userspace_memory_region region = {.slot = slot};
    if (ioctl(hvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) == 0)
        return 0;
    snprintf(why, why_len, "KVM_SET_USER_MEMORY_REGION (delete slot %u): %s", slot,
             strerror(errno));
    return -1;
}

/*
 * Makes KVM drop every translation it built from guest memory: deleting a
 * slot and adding it again. Where KVM says that deleting any slot zaps the
 * whole VM (KVM API, KVM_CAP_DISABLE_QUIRKS2: KVM_X86_QUIRK_SLOT_ZAP_ALL,
 * on by default, and vmlab never turns it off), the small low slot is
 * enough; elsewhere both go, so that whatever KVM zaps per slot, it zaps
 * all of RAM. Measured on PVM (Linux 6.18), a loop of these ioctls on an
 * idle VM: 45 us for the low slot, 120 us for both (the big slot's
 * bookkeeping is sized by RAM). Inside a run, ("attach",
 * "hvm-reuse-reset") shows 110-150 us, and several ms when the host is
 * busy: each slot change waits for an SRCU grace period, work the kernel
 * does in a worker thread that must get a CPU.
 */
static int forget_translations(struct hvm *hvm, const struct guest_ram *ram, char *why,
                               size_t why_len)
{
    uint64_t low_end = ram->size < LEGACY_HOLE_START ? ram->size : LEGACY_HOLE_START;
    if (delete_slot(hvm, 0, why, why_len) < 0 || add_slot(hvm, 0, 0, low_end, ram, why, why_len) < 0)
        return -1;
    if (kvm_host.slot_delete_zaps_all || ram->size <= LEGACY_HOLE_END)
        return 0;
    if (delete_slot(hvm, 1, why, why_len) < 0)
        return -1;
    return add_slot(hvm, 1, LEGACY_HOLE_END, ram->size, ram, why, why_len);
}

/* ---- CPUID ------------------------------------------------------------------ */

/*
 * The guest sees the CPU the interpreter reports (x86_cpuid, core/x86):
 * a P6-class "GenuineIntel" without FPU, MMX or SSE, highest leaf 1. So a
 * guest cannot tell hvm from interp by asking, and a live switch does not
 * change the CPU under its feet. Each feature bit is also ANDed with what
 * KVM can give (KVM_GET_SUPPORTED_CPUID), so we never promise what the vCPU
 * lacks. The host's FPU and SSE still execute if a guest uses them anyway
 * (CPUID is advisory); the interpreter would raise #UD there.
 */
#define MAX_SUPPORTED_ENTRIES 256
#define MAX_GUEST_LEAVES 32

struct cpuid_table {
    struct kvm_cpuid2 header;
    struct kvm_cpuid_entry2 entries[MAX_SUPPORTED_ENTRIES];
};

static const struct kvm_cpuid_entry2 *find_leaf(const struct cpuid_table *table, uint32_t leaf)
{
    for (uint32_t i = 0; i < table->header.nent; i++)
        if (table->entries[i].function == leaf && table->entries[i].index == 0)
            return &table->entries[i];
    return NULL;
}

/* The leaves whose registers are feature bits (SDM vol. 2, CPUID). */
static bool is_feature_leaf(uint32_t leaf)
{
    return leaf == 1 || leaf == 7 || leaf == 0x80000001u;
}

static struct kvm_cpuid_entry2 guest_leaf(uint32_t leaf, const struct cpuid_table *supported)
{
    uint32_t values[4];
    x86_cpuid(leaf, values);
    struct kvm_cpuid_entry2 entry = {.function = leaf, .eax = values[0], .ebx = values[1],
                                     .ecx = values[2], .edx = values[3]};
    if (!is_feature_leaf(leaf))
        return entry;
    const struct kvm_cpuid_entry2 *host = find_leaf(supported, leaf);
    if (leaf != 1)
        entry.ebx &= host ? host->ebx : 0;   /* leaf 1 EBX is not features */
    entry.ecx &= host ? host->ecx : 0;
    entry.edx &= host ? host->edx : 0;
    return entry;
}

/* Some KVMs change what they are given: PVM puts the host's feature bits
 * back into leaf 1 (it runs guest code natively and cannot hide them). Read
 * the table back and keep a note for the user: a guest may then see FPU or
 * SSE that the interpreter lacks. */
static void check_cpuid_taken(struct hvm *hvm, const struct cpuid_table *asked)
{
    struct cpuid_table *taken = calloc(1, sizeof *taken);
    if (!taken)
        return;
    taken->header.nent = MAX_SUPPORTED_ENTRIES;
    if (ioctl(hvm->vcpu_fd, KVM_GET_CPUID2, taken) == 0) {
        for (uint32_t i = 0; i < asked->header.nent; i++) {
            const struct kvm_cpuid_entry2 *want = &asked->entries[i];
            const struct kvm_cpuid_entry2 *got = find_leaf(taken, want->function);
            if (got && got->eax == want->eax && got->ebx == want->ebx &&
                got->ecx == want->ecx && got->edx == want->edx)
                continue;
            snprintf(hvm->cpuid_note, sizeof hvm->cpuid_note,
                     "this KVM changed CPUID leaf %u: the guest sees ECX=0x%08x EDX=0x%08x, "
                     "not 0x%08x 0x%08x as under interp", want->function, got ? got->ecx : 0,
                     got ? got->edx : 0, want->ecx, want->edx);
            break;
        }
    }
    free(taken);
}

static int set_cpuid(struct hvm *hvm, char *why, size_t why_len)
{
    struct cpuid_table *supported = calloc(1, sizeof *supported);
    struct cpuid_table *guest = calloc(1, sizeof *guest);
    int result = -1;
    if (!supported || !guest) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    supported->header.nent = MAX_SUPPORTED_ENTRIES;
    if (ioctl(hvm->kvm_fd, KVM_GET_SUPPORTED_CPUID, supported) < 0) {
        snprintf(why, why_len, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
        goto out;
    }
    uint32_t values[4];
    x86_cpuid(0, values);
    uint32_t highest = values[0] < MAX_GUEST_LEAVES ? values[0] : MAX_GUEST_LEAVES - 1;
    for (uint32_t leaf = 0; leaf <= highest; leaf++)
        guest->entries[guest->header.nent++] = guest_leaf(leaf, supported);
    if (ioctl(hvm->vcpu_fd, KVM_SET_CPUID2, guest) < 0) {
        snprintf(why, why_len, "KVM_SET_CPUID2: %s", strerror(errno));
        goto out;
    }
    check_cpuid_taken(hvm, guest);
    result = 0;
out:
    free(supported);
    free(guest);
    return result;
}

/* ---- the VM and its vCPU -------------------------------------------------------- */

static int create_vcpu(struct hvm *hvm, char *why, size_t why_len)
{
    hvm->vcpu_fd = ioctl(hvm->vm_fd, KVM_CREATE_VCPU, 0);
    int size = ioctl(hvm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (hvm->vcpu_fd < 0 || size < (int)sizeof(struct kvm_run)) {
        snprintf(why, why_len, "KVM_CREATE_VCPU: %s", strerror(errno));
        return -1;
    }
    hvm->run_size = (size_t)size;
    void *run = mmap(NULL, hvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, hvm->vcpu_fd, 0);
    if (run == MAP_FAILED) {
        snprintf(why, why_len, "mmap of kvm_run: %s", strerror(errno));
        return -1;
    }
    hvm->run = run;
    /* Have KVM copy the general registers into kvm_run on every exit (KVM
     * API: kvm_valid_regs, KVM_CAP_SYNC_REGS): the exit handler then knows
     * the guest's EIP for free; measured, it costs nothing visible. */
    if (ioctl(hvm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS)
        hvm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    struct kvm_device_attr tsc = {.group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET};
    hvm->has_tsc_offset_attribute = ioctl(hvm->vcpu_fd, KVM_HAS_DEVICE_ATTR, &tsc) == 0;
    return 0;
}

static int set_tss_address(struct hvm *hvm, char *why, size_t why_len)
{
    if (ioctl(hvm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) <= 0)
        return 0;
    if (ioctl(hvm->vm_fd, KVM_SET_TSS_ADDR, TSS_ADDRESS) == 0)
        return 0;
    snprintf(why, why_len, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    return -1;
}

int hvm_open_vm(struct hvm *hvm, struct vm *vm, char *why, size_t why_len)
{
    hvm->vm_fd = hvm->vcpu_fd = -1;
    /* available() has opened /dev/kvm (vm_create and every switch ask it
     * first); if nobody did, this is the place, still before any seccomp. */
    if (!hvm_kvm_usable(why, why_len))
        return -1;
    hvm->kvm_fd = kvm_host.kvm_fd;
    hvm->vm_fd = create_vm(hvm->kvm_fd, why, why_len);
    if (hvm->vm_fd < 0)
        return -1;
    if (set_tss_address(hvm, why, why_len) < 0 || give_ram(hvm, &vm->ram, why, why_len) < 0 ||
        create_vcpu(hvm, why, why_len) < 0 || set_cpuid(hvm, why, why_len) < 0)
        return -1;
    kvm_stats_open(&hvm->vcpu_stats, hvm->vcpu_fd, "", &vm->stats);
    kvm_stats_open(&hvm->vm_stats, hvm->vm_fd, "vm.", &vm->stats);
    return 0;
}

/*
 * A kept VM and vCPU (hvm.c) meet a guest that another technique has run
 * since they last did. Everything struct cpu holds is loaded again by
 * hvm_load_cpu; this forgets what KVM itself remembers of the past:
 *
 * - Translations. Under shadow paging (PVM always; VT-x without EPT, AMD-V
 *   without NPT) KVM keeps shadow page tables built from the guest's page
 *   tables, and keeps them in sync by write-protecting those guest pages -
 *   in the guest's view, not in ours: interp, trapemu or emulate.c writing
 *   a page table through the core's mapping of the same memfd is not seen.
 *   KVM also caches guest-virtual addresses it found to be MMIO, and the
 *   real TLB holds the guest's entries under its VPID/ASID, none of which
 *   saw the INVLPGs and CR3 loads another technique executed. Deleting the
 *   memory slot and adding it again zaps every shadow page of the VM (all
 *   roots become obsolete), bumps the MMIO generation, and flushes the
 *   guest's TLB on every vCPU (forget_translations; kvm_mmu_zap_all_fast
 *   in arch/x86/kvm/mmu/mmu.c): after it, KVM knows nothing the guest has
 *   not shown it since. KVM_SET_SREGS alone is not enough: it rebuilds the
 *   MMU context only if CR0, CR3, CR4 or EFER differ, and even then finds
 *   old shadow pages again by address. On PVM, which runs no guest paging,
 *   there is nothing stale to zap, so no test here can show the need; on
 *   VT-x without EPT it is the difference between right and wrong, and it
 *   costs tens of microseconds, so it is done everywhere.
 * - Events: hvm_load_cpu drops them (discard_past, cpu_state.c).
 * - The kvm_run page: our last exit's ready_for_interrupt_injection and
 *   if_flag describe a CPU that has run on elsewhere; cleared, as in a new
 *   vCPU, the first KVM_RUN asks for an interrupt window instead of
 *   injecting into a guest that may have executed CLI meanwhile.
 * - The TSC offset: hvm_load_cpu sets it if struct cpu's differs from the
 *   one the vCPU holds (an absolute offset, so time spent elsewhere does
 *   not matter).
 */
int hvm_reuse_vm(struct hvm *hvm, struct vm *vm, char *why, size_t why_len)
{
    if (forget_translations(hvm, &vm->ram, why, why_len) < 0)
        return -1;
    struct kvm_run *run = hvm->run;
    run->request_interrupt_window = 0;
    run->ready_for_interrupt_injection = 0;
    run->if_flag = 0;
    run->immediate_exit = 0;
    hvm->registers_in_run = false;
    hvm->draining = false;
    return 0;
}

/* The /dev/kvm fd is not ours to close: it is kept for the process. */
void hvm_close_vm(struct hvm *hvm)
{
    kvm_stats_close(&hvm->vcpu_stats);
    kvm_stats_close(&hvm->vm_stats);
    if (hvm->run)
        munmap(hvm->run, hvm->run_size);
    hvm->run = NULL;
    if (hvm->vcpu_fd >= 0)
        close(hvm->vcpu_fd);
    if (hvm->vm_fd >= 0)
        close(hvm->vm_fd);
    hvm->kvm_fd = hvm->vm_fd = hvm->vcpu_fd = -1;
}

/* ---- which hardware ------------------------------------------------------------- */

/* A module parameter such as /sys/module/kvm_amd/parameters/npt: "Y"/"1" on. */
static int read_module_flag(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    int c = fgetc(file);
    fclose(file);
    return c == 'Y' || c == 'y' || c == '1';
}

static bool module_loaded(const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/module/%s", name);
    return access(path, F_OK) == 0;
}

static void host_vendor(char vendor[13])
{
    unsigned eax, ebx, ecx, edx;
    __cpuid(0, eax, ebx, ecx, edx);
    memcpy(vendor, &ebx, 4);
    memcpy(vendor + 4, &edx, 4);
    memcpy(vendor + 8, &ecx, 4);
    vendor[12] = '\0';
}

/* The line hvm_describe_host prints, naming the hardware extension KVM
 * uses, so a student knows what "hvm" means on this machine. The vendor
 * comes from the host's CPUID; the paging mode from the KVM module's
 * parameters (read here, at start-up: see struct kvm_host). */
static void describe_host(char *line, size_t length)
{
    char vendor[13];
    host_vendor(vendor);
    if (module_loaded("kvm_amd")) {
        int npt = read_module_flag("/sys/module/kvm_amd/parameters/npt");
        snprintf(line, length, "vmlab: hvm on AMD-V (nested paging %s)",
                 npt < 0 ? "unknown" : npt ? "on" : "off: shadow paging");
    } else if (module_loaded("kvm_intel")) {
        int ept = read_module_flag("/sys/module/kvm_intel/parameters/ept");
        snprintf(line, length, "vmlab: hvm on VT-x (EPT %s)",
                 ept < 0 ? "unknown" : ept ? "on" : "off: shadow paging");
    } else if (module_loaded("kvm_pvm")) {
        /* PVM (Ant Group): KVM for hosts that are themselves VMs without
         * nested VT-x/AMD-V. It runs the guest de-privileged and executes
         * the guest's kernel-mode instructions in KVM's software emulator
         * (measured: ("kvm", "insn_emulation") equals the interpreter's
         * instruction count for a ring-0 guest). */
        snprintf(line, length, "vmlab: hvm on PVM (kvm_pvm: no VT-x/AMD-V on this %s host; KVM "
                 "emulates the guest's kernel-mode instructions in software, see the kvm "
                 "insn_emulation row)", vendor);
    } else {
        snprintf(line, length, "vmlab: hvm on a %s host, KVM module not identified (none of "
                 "kvm_intel, kvm_amd, kvm_pvm in /sys/module)", vendor);
    }
}

/* One line on stderr (struct kvm_host says when it was composed). */
void hvm_describe_host(void)
{
    fprintf(stderr, "%s\n", kvm_host.description);
}
