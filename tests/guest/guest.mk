# tests/guest: the freestanding test guest (see tests/guest/README.md).
#
# Built with its own flags only: never the host CFLAGS, sanitizers or EXTRA_CFLAGS, so the
# guest is byte-identical in build/ and build-asan/. Outputs:
#   $(BUILD)/guest/wisp-test-guest.elf     ELF, PVH note + 64-bit Linux entry (e_entry)
#   $(BUILD)/guest/wisp-test-guest.bzImage the same image behind a Linux setup header

GUEST_DIR   := tests/guest
GUEST_OUT   := $(BUILD)/guest
GUEST_CC    ?= gcc
GUEST_LD    ?= ld
GUEST_OBJCOPY ?= objcopy

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -nostdlib -fno-pic \
	-fno-pie -mcmodel=small -mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
	-fno-strict-aliasing -I$(GUEST_DIR)
GUEST_ASFLAGS := -D__ASSEMBLER__ -I$(GUEST_DIR) -g

GUEST_C_SRCS := main.c lib.c format.c serial.c bootinfo.c cmdline.c cpu.c cpl3.c tsc.c \
	tests_basic.c tests_cpu.c smp.c chain.c virtio.c tests_blk.c test_blk_unaligned.c test_net.c test_kbd.c \
	bench_blk.c bench_net.c test_acpi.c test_initrd.c acpi_dsdt.c test_faults.c test_idle.c
GUEST_S_SRCS := boot.S traps.S trampoline.S

GUEST_OBJS := $(addprefix $(GUEST_OUT)/obj/,$(GUEST_S_SRCS:.S=.o) $(GUEST_C_SRCS:.c=.o))

$(GUEST_OUT)/obj/%.o: $(GUEST_DIR)/%.c $(GUEST_DIR)/guest.h $(wildcard $(GUEST_DIR)/*.h)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OUT)/obj/%.o: $(GUEST_DIR)/%.S $(GUEST_DIR)/guest.h
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ASFLAGS) -c $< -o $@

$(GUEST_OUT)/wisp-test-guest.elf: $(GUEST_OBJS) $(GUEST_DIR)/guest.ld
	$(GUEST_LD) -nostdlib -static --no-dynamic-linker --build-id=none -z noexecstack \
		-z max-page-size=4096 --no-warn-rwx-segments -T $(GUEST_DIR)/guest.ld -o $@ $(GUEST_OBJS)

# bzImage = setup sectors (bzimage.S linked against the ELF's symbols for the sizes) followed
# by the ELF's loadable bytes from 0x100000 to _edata.
$(GUEST_OUT)/obj/bzimage-setup.bin: $(GUEST_OUT)/obj/bzimage.o $(GUEST_OUT)/wisp-test-guest.elf \
		$(GUEST_DIR)/bzimage.ld
	$(GUEST_LD) -T $(GUEST_DIR)/bzimage.ld --just-symbols=$(GUEST_OUT)/wisp-test-guest.elf \
		-o $(GUEST_OUT)/obj/bzimage-setup.elf $(GUEST_OUT)/obj/bzimage.o
	$(GUEST_OBJCOPY) -O binary $(GUEST_OUT)/obj/bzimage-setup.elf $@

$(GUEST_OUT)/obj/payload.bin: $(GUEST_OUT)/wisp-test-guest.elf
	$(GUEST_OBJCOPY) -O binary --only-section=.head.text --only-section=.text \
		--only-section=.rodata --only-section=.note.Xen --only-section=.data $< $@

$(GUEST_OUT)/wisp-test-guest.bzImage: $(GUEST_OUT)/obj/bzimage-setup.bin $(GUEST_OUT)/obj/payload.bin
	cat $^ > $@

# The same guest in a 32-bit ELF container (as QEMU and Xen boot PVH kernels): its PVH note and
# segments are unchanged, the 64-bit code runs after the PVH entry switches to long mode.
$(GUEST_OUT)/wisp-test-guest.elf32: $(GUEST_OUT)/wisp-test-guest.elf
	$(GUEST_OBJCOPY) -O elf32-i386 $< $@

BINS += $(GUEST_OUT)/wisp-test-guest.elf $(GUEST_OUT)/wisp-test-guest.bzImage \
	$(GUEST_OUT)/wisp-test-guest.elf32

.PHONY: guest guest-check
guest: $(GUEST_OUT)/wisp-test-guest.elf $(GUEST_OUT)/wisp-test-guest.bzImage

# Static checks of both images (entry points, PVH note, setup header); no VM needed.
guest-check: guest
	$(GUEST_DIR)/check-image.sh $(GUEST_OUT)
