/*
 * fuzz_kernel_image.c - kernel image bytes -> loader_load_kernel -> initrd -> boot info.
 *
 * The input is the kernel image; its last byte (when there is one) also picks the requested
 * boot protocol, so PVH and Linux paths of the same ELF are both reached. Guest RAM is a 32 MiB
 * buffer kept across runs (a bzImage's usual 16 MiB pref_address plus init_size fits).
 * Beyond "no crash, no out-of-bounds access", the target checks the loader's contract and traps
 * when it is broken: a failure always explains itself, a success has its entry inside the
 * loaded range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/layout.h"
#include "vmm/boot/loader.h"
#include "vmm/boot/mptable.h"

#define FUZZ_RAM_SIZE (32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static const uint8_t initrd[4096] = {'0', '7', '0', '7', '0', '1'};
	static const enum boot_protocol protocols[] = {BOOT_PROTOCOL_AUTO, BOOT_PROTOCOL_LINUX,
	                                               BOOT_PROTOCOL_PVH};
	struct guest_mem mem;
	struct kernel_info info;
	char err[256] = "";
	uint64_t initrd_gpa = 0;
	enum boot_protocol proto = size ? protocols[data[size - 1] % 3] : BOOT_PROTOCOL_AUTO;

	if (!ram && !(ram = calloc(1, FUZZ_RAM_SIZE)))
		return 0;
	guest_mem_init_buffer(&mem, ram, FUZZ_RAM_SIZE);
	if (loader_load_kernel(&mem, data, size, proto, &info, err, sizeof(err)) < 0) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	if (info.entry < info.load_start || info.entry >= info.load_end ||
	    info.load_start < LAYOUT_HIMEM || info.load_end > FUZZ_RAM_SIZE)
		__builtin_trap();
	if (loader_load_initrd(&mem, &info, initrd, sizeof(initrd), &initrd_gpa, err, sizeof(err)) <
	    0)
		initrd_gpa = 0;
	err[0] = '\0';
	if (loader_write_boot_info(&mem, &info, "console=ttyS0 reboot=k panic=1", initrd_gpa,
	                           initrd_gpa ? sizeof(initrd) : 0, err, sizeof(err)) < 0 &&
	    !err[0])
		__builtin_trap();
	mptable_write(&mem, 1 + (unsigned)(size % 32), err, sizeof(err));
	return 0;
}
