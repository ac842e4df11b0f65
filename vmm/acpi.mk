# ACPI tables (RSDP, XSDT, FADT, DSDT, MADT) for kernels that find their CPUs only through ACPI.
WISP_SRCS += vmm/acpi.c
