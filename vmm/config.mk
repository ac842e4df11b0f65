# Configuration (struct vm_config, Firecracker's JSON schema) and the metrics registry.
WISP_SRCS += vmm/config.c vmm/config_json.c vmm/metrics.c
