/*
 * acpi_pm.c - the ACPI power-management registers of wisp's hardware-reduced platform: the
 * FADT's SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG (ACPI 6.4, 4.8.3.7 and 4.8.3.6), one
 * byte each at PORT_ACPI_SLEEP_CONTROL, PORT_ACPI_SLEEP_STATUS and PORT_ACPI_RESET.
 *
 * A guest powers off (Linux: poweroff, halt -p, a panic with the ACPI power-off path) by writing
 * SLP_EN with SLP_TYP = ACPI_PM_S5_SLP_TYP, the value the DSDT's _S5 package gives; it resets
 * through ACPI by writing ACPI_PM_RESET_VALUE to the reset register. Both stop the VM with exit
 * code 0, as the i8042 reset line does. The DSDT offers no other sleep state, so any other
 * write is guest misbehaviour: ignored and counted (acpi.bad_writes), never an exit.
 */
#include "vmm/device.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/vm.h"

#include <stdlib.h>
#include <string.h>

/* 4.8.3.7, Sleep Control Register: SLP_TYP in bits 4:2, SLP_EN bit 5 (write-only).
 * 4.8.3.8, Sleep Status Register: WAK_STS bit 7. */
#define ACPI_PM_SLP_TYP_SHIFT 2
#define ACPI_PM_SLP_TYP_MASK  0x7
#define ACPI_PM_SLP_EN        0x20

enum { ACPI_PM_SLEEP_CONTROL, ACPI_PM_SLEEP_STATUS, ACPI_PM_RESET, ACPI_PM_NPORTS };
_Static_assert(PORT_ACPI_SLEEP_STATUS == PORT_ACPI_SLEEP_CONTROL + ACPI_PM_SLEEP_STATUS &&
                   PORT_ACPI_RESET == PORT_ACPI_SLEEP_CONTROL + ACPI_PM_RESET,
               "the three registers are consecutive ports");

struct acpi_pm {
	struct vm *vm;
	atomic_ulong bad_writes; /* writes that ask for nothing wisp offers */
};

/* Sleep status reads 0: the machine never sleeps and wakes, it only powers off. The control
 * and reset registers are write-only and read as 0. */
static void acpi_pm_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	memset(data, 0, len);
}

static void acpi_pm_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = dev;
	uint8_t v = data[0];

	if (len != 1)
		goto bad;
	switch (offset) {
	case ACPI_PM_SLEEP_CONTROL:
		if (!(v & ACPI_PM_SLP_EN))
			return; /* SLP_TYP set up without SLP_EN: nothing happens yet */
		if (((v >> ACPI_PM_SLP_TYP_SHIFT) & ACPI_PM_SLP_TYP_MASK) != ACPI_PM_S5_SLP_TYP)
			goto bad;
		log_info("acpi: guest powered off (S5)");
		vm_request_stop(pm->vm, 0);
		return;
	case ACPI_PM_SLEEP_STATUS:
		return; /* writing WAK_STS clears it; it is never set */
	case ACPI_PM_RESET:
		if (v != ACPI_PM_RESET_VALUE)
			goto bad;
		log_info("acpi: guest requested reset");
		vm_request_stop(pm->vm, 0);
		return;
	}
bad:
	if (atomic_fetch_add(&pm->bad_writes, 1) == 0)
		log_debug("acpi: ignored write 0x%x (%u bytes) at port 0x%llx", v, len,
		          (unsigned long long)(PORT_ACPI_SLEEP_CONTROL + offset));
}

static void acpi_pm_destroy(void *dev)
{
	struct acpi_pm *pm = dev;

	metrics_unregister(&pm->bad_writes);
	free(pm);
}

static const struct device_ops acpi_pm_ops = {
    .name = "acpi-pm",
    .read = acpi_pm_read,
    .write = acpi_pm_write,
    .destroy = acpi_pm_destroy,
    .save = device_save_nothing,
};

/* Created with or without ACPI tables: without them no guest knows the ports, and a write
 * there still means what it says. */
static int acpi_pm_create(struct vm *vm)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return -1;
	pm->vm = vm;
	atomic_init(&pm->bad_writes, 0);
	if (bus_register(&vm->pio, PORT_ACPI_SLEEP_CONTROL, ACPI_PM_NPORTS, &acpi_pm_ops, pm) < 0 ||
	    vm_add_device(vm, &acpi_pm_ops, pm) < 0) {
		free(pm);
		return -1;
	}
	metrics_register("acpi", "bad_writes", &pm->bad_writes);
	return 0;
}

static const struct device_type acpi_pm_type = {
    .name = "acpi-pm", .order = 12, .create = acpi_pm_create};
DEVICE_TYPE(acpi_pm_type);
