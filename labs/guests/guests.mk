# guests.mk - the vmlab test guests: freestanding 32-bit Multiboot kernels.
#
# Each guest is a folder labs/guests/NAME/ (every .c and .S in it), linked
# with the shared library labs/guests/lib/ into $(BUILD)/guests/NAME.elf.
# Included by the top Makefile, which defines BUILD.

GUEST_NAMES := hello flags paging pagefault ring3 timer exceptions triple cpubench disk platform smc pvcheck blkcheck

# No x87/SSE/MMX: the vmlab interpreter does not implement them (#UD), and a
# guest must not depend on host headers or libc.
GUEST_CC     := gcc
GUEST_CFLAGS := -m32 -std=gnu11 -ffreestanding -fno-pic -fno-stack-protector -nostdlib \
                -O2 -Wall -Wextra -Werror -mno-sse -mno-mmx -mno-80387 -mgeneral-regs-only \
                -fno-asynchronous-unwind-tables -Ilabs/guests/lib
GUEST_LDFLAGS := -m elf_i386 -T labs/guests/lib/guest.ld -nostdlib --no-warn-rwx-segments
GUEST_OBJDIR := $(BUILD)/guests/obj
GUEST_HEADERS := $(wildcard labs/guests/lib/*.h $(GUEST_NAMES:%=labs/guests/%/*.h)) core/pv/abi.h

guest_objs = $(patsubst labs/guests/%,$(GUEST_OBJDIR)/%.o,$(wildcard $(1)/*.c $(1)/*.S))
GUEST_LIB_OBJS := $(call guest_objs,labs/guests/lib)
GUEST_ELFS := $(GUEST_NAMES:%=$(BUILD)/guests/%.elf)

$(GUEST_OBJDIR)/%.c.o: labs/guests/%.c $(GUEST_HEADERS) labs/guests/guests.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OBJDIR)/%.S.o: labs/guests/%.S labs/guests/guests.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

define guest_rule
$(BUILD)/guests/$(1).elf: $(GUEST_LIB_OBJS) $(call guest_objs,labs/guests/$(1)) labs/guests/lib/guest.ld
	ld $(GUEST_LDFLAGS) -o $$@ $(call guest_objs,labs/guests/$(1)) $(GUEST_LIB_OBJS)
endef
$(foreach g,$(GUEST_NAMES),$(eval $(call guest_rule,$(g))))

# flags-host: the flags tester as a 32-bit Linux program, so the host CPU
# itself is a reference (labs/guests/flags/host/host.c).
FLAGS_HOST := $(BUILD)/guests/flags-host
FLAGS_HOST_OBJS := $(call guest_objs,labs/guests/flags) $(call guest_objs,labs/guests/flags/host) \
                   $(GUEST_OBJDIR)/lib/printf.c.o $(GUEST_OBJDIR)/lib/string.c.o
$(FLAGS_HOST): $(FLAGS_HOST_OBJS)
	ld -m elf_i386 -static -e _start -o $@ $^

.PHONY: guests
guests: $(GUEST_ELFS) $(FLAGS_HOST)
