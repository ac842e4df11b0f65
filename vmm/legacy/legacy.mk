# The legacy PC devices: the 16550A console UART and its host side, the i8042 (reset line,
# Ctrl+Alt+Del), the ACPI power-off/reset registers, the boot timer and quiet answers for absent ports.
WISP_SRCS += vmm/legacy/serial.c vmm/legacy/console.c vmm/legacy/i8042.c vmm/legacy/legacy.c \
	     vmm/legacy/acpi_pm.c vmm/legacy/boot_timer.c
