# kernel.mk - the teaching guest kernel (labs/guests/kernel) and its user
# programs. Included by the top Makefile, which defines BUILD.
#
#   $(BUILD)/guests/kernel.elf   the kernel, user programs linked inside
#
# The same flags as the other guests: freestanding, no x87/SSE/MMX (the
# vmlab interpreter has none), only gcc's own headers.

KERNEL_DIR   := labs/guests/kernel
KERNEL_OBJ   := $(BUILD)/guests/kernel-obj
KERNEL_CC    := gcc
KERNEL_CFLAGS := -m32 -std=gnu11 -ffreestanding -fno-pic -fno-stack-protector -nostdlib \
                 -O2 -Wall -Wextra -Werror -mno-sse -mno-mmx -mno-80387 -mgeneral-regs-only \
                 -fno-asynchronous-unwind-tables
KERNEL_LDFLAGS := -m elf_i386 -nostdlib --no-warn-rwx-segments

KERNEL_USER_PROGRAMS := checksum calls memory echo disk bench

KERNEL_HEADERS := $(wildcard $(KERNEL_DIR)/*.h $(KERNEL_DIR)/lib/*.h $(KERNEL_DIR)/user/*.h \
                    $(KERNEL_DIR)/pv/*.h) core/pv/abi.h
KERNEL_SOURCES := $(wildcard $(KERNEL_DIR)/*.c $(KERNEL_DIR)/*.S)
KERNEL_LIB_OBJS := $(patsubst $(KERNEL_DIR)/%,$(KERNEL_OBJ)/%.o,$(wildcard $(KERNEL_DIR)/lib/*.c))
KERNEL_OBJS := $(patsubst $(KERNEL_DIR)/%,$(KERNEL_OBJ)/%.o,$(KERNEL_SOURCES))
KERNEL_USER_LIB_OBJS := $(KERNEL_OBJ)/user/start.S.o $(KERNEL_OBJ)/user/ulib.c.o
KERNEL_USER_ELFS := $(KERNEL_USER_PROGRAMS:%=$(KERNEL_OBJ)/user/%.elf)

KERNEL_ELFS := $(BUILD)/guests/kernel.elf $(BUILD)/guests/kernel-pv.elf

# Keep the user programs' objects: make would delete them as intermediates.
.SECONDARY: $(KERNEL_USER_PROGRAMS:%=$(KERNEL_OBJ)/user/%.c.o) $(KERNEL_USER_LIB_OBJS)

$(KERNEL_OBJ)/%.c.o: $(KERNEL_DIR)/%.c $(KERNEL_HEADERS) $(KERNEL_DIR)/kernel.mk
	@mkdir -p $(dir $@)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -c $< -o $@

$(KERNEL_OBJ)/%.S.o: $(KERNEL_DIR)/%.S $(KERNEL_HEADERS) $(KERNEL_DIR)/kernel.mk
	@mkdir -p $(dir $@)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -c $< -o $@

# programs.c includes the user ELFs with .incbin, so it depends on them.
$(KERNEL_OBJ)/programs.c.o: $(KERNEL_DIR)/programs.c $(KERNEL_USER_ELFS) $(KERNEL_HEADERS)
	@mkdir -p $(dir $@)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -DUSER_PROGRAM_DIR='"$(KERNEL_OBJ)/user"' -c $< -o $@

$(KERNEL_OBJ)/user/%.elf: $(KERNEL_OBJ)/user/%.c.o $(KERNEL_USER_LIB_OBJS) $(KERNEL_LIB_OBJS) \
                          $(KERNEL_DIR)/user/user.ld
	ld $(KERNEL_LDFLAGS) -T $(KERNEL_DIR)/user/user.ld -o $@ $(KERNEL_USER_LIB_OBJS) $< $(KERNEL_LIB_OBJS)

$(BUILD)/guests/kernel.elf: $(KERNEL_OBJS) $(KERNEL_LIB_OBJS) $(KERNEL_DIR)/kernel.ld
	@mkdir -p $(dir $@)
	ld $(KERNEL_LDFLAGS) -T $(KERNEL_DIR)/kernel.ld -o $@ $(KERNEL_OBJS) $(KERNEL_LIB_OBJS)

# The paravirtual kernel (docs/pv.md): the same sources with -DPV, where
# arch.h takes its bodies from pv/arch_pv.h; the port-I/O drivers (PIC, PIT,
# UART, ATA, APIC) are replaced by pv/devices.c. The user programs and lib/ are
# the same objects as the native kernel's.
KERNEL_PV_OBJ := $(BUILD)/guests/kernel-pv-obj
KERNEL_PV_NATIVE_ONLY := pic.c pit.c uart.c ata.c apic.c
KERNEL_PV_SOURCES := $(filter-out $(KERNEL_PV_NATIVE_ONLY:%=$(KERNEL_DIR)/%),$(KERNEL_SOURCES)) \
                     $(wildcard $(KERNEL_DIR)/pv/*.c $(KERNEL_DIR)/pv/*.S)
KERNEL_PV_OBJS := $(patsubst $(KERNEL_DIR)/%,$(KERNEL_PV_OBJ)/%.o,$(KERNEL_PV_SOURCES))

$(KERNEL_PV_OBJ)/%.c.o: $(KERNEL_DIR)/%.c $(KERNEL_HEADERS) $(KERNEL_DIR)/kernel.mk
	@mkdir -p $(dir $@)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -DPV -c $< -o $@

$(KERNEL_PV_OBJ)/%.S.o: $(KERNEL_DIR)/%.S $(KERNEL_HEADERS) $(KERNEL_DIR)/kernel.mk
	@mkdir -p $(dir $@)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -DPV -c $< -o $@

$(KERNEL_PV_OBJ)/programs.c.o: $(KERNEL_DIR)/programs.c $(KERNEL_USER_ELFS) $(KERNEL_HEADERS)
	@mkdir -p $(dir $@)
	$(KERNEL_CC) $(KERNEL_CFLAGS) -DPV -DUSER_PROGRAM_DIR='"$(KERNEL_OBJ)/user"' -c $< -o $@

$(BUILD)/guests/kernel-pv.elf: $(KERNEL_PV_OBJS) $(KERNEL_LIB_OBJS) $(KERNEL_DIR)/kernel.ld
	@mkdir -p $(dir $@)
	ld $(KERNEL_LDFLAGS) -T $(KERNEL_DIR)/kernel.ld -o $@ $(KERNEL_PV_OBJS) $(KERNEL_LIB_OBJS)

.PHONY: guests
guests: $(KERNEL_ELFS)
