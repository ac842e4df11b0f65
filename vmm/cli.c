/* cli.c - command-line parsing (see cli.h). */
#include "vmm/cli.h"
#include "vmm/config_json.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WISP_DEFAULT_API_SOCKET "/run/wisp.socket"

static const char usage_text[] =
    "usage: wisp [options]\n"
    "\n"
    "Describe the microVM on the command line, in a --config-file (Firecracker's JSON schema),\n"
    "or through the API socket (Firecracker's REST API).\n"
    "\n"
    "  --kernel PATH          kernel image: ELF vmlinux, bzImage or ELF with a PVH note\n"
    "  --cmdline TEXT         kernel command line (default: \"" CONFIG_DEFAULT_BOOT_ARGS "\")\n"
    "  --initrd PATH          initial ramdisk\n"
    "  --boot-protocol P      auto|linux|pvh: which entry of a multi-protocol ELF (default auto)\n"
    "  --mem-mib N            guest RAM in MiB (default 128)\n"
    "  --vcpus N              vCPUs, 1 to 32 (default 1)\n"
    "  --smt                  two threads per core in the CPUID topology\n"
    "  --huge-pages None|2M   guest RAM on 2 MiB hugetlbfs pages (vm.nr_hugepages)\n"
    "  --no-acpi              no ACPI tables: MP table only, virtio-mmio devices on the command\n"
    "                         line (virtio_mmio.device=) for kernels without ACPI\n"
    "  --drive SPEC           "
    "id=ID,path=FILE[,root=on][,readonly=on][,cache=unsafe|writeback|none]\n"
    "                         [,io=sync|async][,partuuid=UUID]   (repeatable)\n"
    "  --net SPEC             id=ID,tap=TAPNAME[,mac=XX:XX:XX:XX:XX:XX]   (repeatable)\n"
    "  --config-file PATH     configure from a Firecracker-style JSON file and boot\n"
    "  --restore STATE        restore a snapshot (PUT /snapshot/create's snapshot_path) and run\n"
    "                         it; needs --mem\n"
    "  --mem PATH             the snapshot's memory file (mem_file_path)\n"
    "  --api-sock PATH        serve the REST API on this Unix socket\n"
    "  --no-api               no API socket\n"
    "  --id NAME              instance id reported by GET / (default anonymous-instance)\n"
    "  --no-seccomp           do not install seccomp filters (debugging only)\n"
    "  --log-path PATH        write wisp's messages to PATH instead of stderr\n"
    "  --level L              Error|Warning|Info|Debug (default Warning)\n"
    "  --metrics-path PATH    file that FlushMetrics appends to\n"
    "  --help, --version\n"
    "\n"
    "The guest's serial console is on stdin/stdout. wisp exits 0 when the guest resets or shuts\n"
    "down, 1 on an error.\n";

enum {
	OPT_KERNEL = 256,
	OPT_CMDLINE,
	OPT_INITRD,
	OPT_BOOT_PROTOCOL,
	OPT_MEM,
	OPT_VCPUS,
	OPT_SMT,
	OPT_HUGE_PAGES,
	OPT_NO_ACPI,
	OPT_DRIVE,
	OPT_NET,
	OPT_CONFIG,
	OPT_RESTORE,
	OPT_MEM_FILE,
	OPT_API,
	OPT_NO_API,
	OPT_ID,
	OPT_NO_SECCOMP,
	OPT_LOG_PATH,
	OPT_LEVEL,
	OPT_METRICS,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_options[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"boot-protocol", required_argument, NULL, OPT_BOOT_PROTOCOL},
    {"mem-mib", required_argument, NULL, OPT_MEM},
    {"vcpus", required_argument, NULL, OPT_VCPUS},
    {"smt", no_argument, NULL, OPT_SMT},
    {"huge-pages", required_argument, NULL, OPT_HUGE_PAGES},
    {"no-acpi", no_argument, NULL, OPT_NO_ACPI},
    {"drive", required_argument, NULL, OPT_DRIVE},
    {"net", required_argument, NULL, OPT_NET},
    {"config-file", required_argument, NULL, OPT_CONFIG},
    {"restore", required_argument, NULL, OPT_RESTORE},
    {"mem", required_argument, NULL, OPT_MEM_FILE},
    {"api-sock", required_argument, NULL, OPT_API},
    {"no-api", no_argument, NULL, OPT_NO_API},
    {"id", required_argument, NULL, OPT_ID},
    {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
    {"log-path", required_argument, NULL, OPT_LOG_PATH},
    {"level", required_argument, NULL, OPT_LEVEL},
    {"metrics-path", required_argument, NULL, OPT_METRICS},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* A whole decimal number in [min, max], or -1 with a message naming the option. */
static int parse_number(const char *opt, const char *text, unsigned long long min,
                        unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*text < '0' || *text > '9') { /* strtoull would skip spaces and accept a sign */
		fprintf(stderr, "wisp: error: --%s: '%s' is not a number\n", opt, text);
		return -1;
	}
	v = strtoull(text, &end, 10);
	if (*end || errno) {
		fprintf(stderr, "wisp: error: --%s: '%s' is not a number\n", opt, text);
		return -1;
	}
	if (v < min || v > max) {
		fprintf(stderr, "wisp: error: --%s: %llu is out of range (%llu to %llu)\n", opt, v,
		        min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
		*out = false;
	else
		return false;
	return true;
}

/* Walks "k=v,k=v": calls fn for each pair. Values may not contain ','. */
static int parse_kv_list(const char *spec,
                         int (*fn)(void *obj, const char *k, const char *v, char *err,
                                   size_t errlen),
                         void *obj, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *item;
	int rc = 0;

	if (!copy)
		return -1;
	for (item = strtok_r(copy, ",", &save); item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq) {
			snprintf(err, errlen, "'%s' is not key=value", item);
			rc = -1;
			break;
		}
		*eq = '\0';
		rc = fn(obj, item, eq + 1, err, errlen);
	}
	free(copy);
	return rc;
}

static int set_id(char *dst, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n > CONFIG_ID_MAX) {
		snprintf(err, errlen, "id must be 1 to %d characters", CONFIG_ID_MAX);
		return -1;
	}
	memcpy(dst, v, n + 1);
	return 0;
}

static int drive_kv(void *obj, const char *k, const char *v, char *err, size_t errlen)
{
	struct drive_config *d = obj;

	if (!strcmp(k, "id"))
		return set_id(d->id, v, err, errlen);
	if (!strcmp(k, "path"))
		return config_set_string(&d->path_on_host, v);
	if (!strcmp(k, "partuuid"))
		return config_set_string(&d->partuuid, v);
	if (!strcmp(k, "root") || !strcmp(k, "readonly")) {
		if (parse_bool(v, !strcmp(k, "root") ? &d->is_root_device : &d->is_read_only))
			return 0;
		snprintf(err, errlen, "%s=%s: expected on or off", k, v);
		return -1;
	}
	if (!strcmp(k, "cache")) {
		/* none (QEMU's word) and direct: O_DIRECT, cache_type "Direct" */
		if (!strcasecmp(v, "unsafe") || !strcasecmp(v, "writeback") ||
		    !strcasecmp(v, "none") || !strcasecmp(v, "direct")) {
			d->cache_type = !strcasecmp(v, "unsafe")      ? CACHE_UNSAFE
			                : !strcasecmp(v, "writeback") ? CACHE_WRITEBACK
			                                              : CACHE_DIRECT;
			return 0;
		}
		snprintf(err, errlen, "cache=%s: expected unsafe, writeback, none or direct", v);
		return -1;
	}
	if (!strcmp(k, "io")) {
		if (!strcasecmp(v, "sync") || !strcasecmp(v, "async")) {
			d->io_engine = !strcasecmp(v, "sync") ? IO_ENGINE_SYNC : IO_ENGINE_ASYNC;
			return 0;
		}
		snprintf(err, errlen, "io=%s: expected sync or async", v);
		return -1;
	}
	snprintf(err, errlen, "unknown key '%s'", k);
	return -1;
}

int cli_parse_drive(const char *spec, struct drive_config *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->io_engine = IO_ENGINE_SYNC;
	if (parse_kv_list(spec, drive_kv, d, err, errlen) < 0)
		return -1;
	if (!d->id[0] || !d->path_on_host) {
		snprintf(err, errlen, "id= and path= are required");
		return -1;
	}
	return 0;
}

static int net_kv(void *obj, const char *k, const char *v, char *err, size_t errlen)
{
	struct net_config *n = obj;

	if (!strcmp(k, "id"))
		return set_id(n->id, v, err, errlen);
	if (!strcmp(k, "tap")) {
		if (strlen(v) == 0 || strlen(v) >= sizeof(n->host_dev_name)) {
			snprintf(err, errlen, "tap=%s: name must be 1 to 15 characters", v);
			return -1;
		}
		strcpy(n->host_dev_name, v);
		return 0;
	}
	if (!strcmp(k, "mac")) {
		if (config_parse_mac(v, n->guest_mac) < 0) {
			snprintf(err, errlen, "mac=%s: expected XX:XX:XX:XX:XX:XX", v);
			return -1;
		}
		n->has_guest_mac = true;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", k);
	return -1;
}

int cli_parse_net(const char *spec, struct net_config *n, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	if (parse_kv_list(spec, net_kv, n, err, errlen) < 0)
		return -1;
	if (!n->id[0] || !n->host_dev_name[0]) {
		snprintf(err, errlen, "id= and tap= are required");
		return -1;
	}
	return 0;
}

static int cli_add_drive(struct vm_config *cfg, const char *spec)
{
	char err[256];

	if (cfg->ndrives == CONFIG_MAX_DRIVES) {
		fprintf(stderr, "wisp: error: --drive: at most %d drives\n", CONFIG_MAX_DRIVES);
		return -1;
	}
	if (cli_parse_drive(spec, &cfg->drives[cfg->ndrives], err, sizeof(err)) < 0) {
		config_drive_free(&cfg->drives[cfg->ndrives]);
		fprintf(stderr, "wisp: error: --drive %s: %s\n", spec, err);
		return -1;
	}
	cfg->ndrives++;
	return 0;
}

static int cli_add_net(struct vm_config *cfg, const char *spec)
{
	char err[256];

	if (cfg->nnets == CONFIG_MAX_NETS) {
		fprintf(stderr, "wisp: error: --net: at most %d interfaces\n", CONFIG_MAX_NETS);
		return -1;
	}
	if (cli_parse_net(spec, &cfg->nets[cfg->nnets], err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: error: --net %s: %s\n", spec, err);
		return -1;
	}
	cfg->nnets++;
	return 0;
}

static int cli_boot_protocol(const char *v, struct vm_config *cfg)
{
	if (!strcmp(v, "auto"))
		cfg->boot_protocol = BOOT_PROTOCOL_AUTO;
	else if (!strcmp(v, "linux"))
		cfg->boot_protocol = BOOT_PROTOCOL_LINUX;
	else if (!strcmp(v, "pvh"))
		cfg->boot_protocol = BOOT_PROTOCOL_PVH;
	else {
		fprintf(stderr, "wisp: error: --boot-protocol: '%s' is not auto, linux or pvh\n",
		        v);
		return -1;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *opts, struct vm_config *cfg)
{
	unsigned long long n;
	int c;

	memset(opts, 0, sizeof(*opts));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		int rc = 0;

		switch (c) {
		case OPT_KERNEL:
			opts->kernel_given = true;
			rc = config_set_string(&cfg->kernel_image_path, optarg);
			break;
		case OPT_CMDLINE:
			rc = config_set_string(&cfg->boot_args, optarg);
			break;
		case OPT_INITRD:
			rc = config_set_string(&cfg->initrd_path, optarg);
			break;
		case OPT_BOOT_PROTOCOL:
			rc = cli_boot_protocol(optarg, cfg);
			break;
		case OPT_MEM:
			rc = parse_number("mem-mib", optarg, 1, 1ULL << 30, &n);
			if (rc == 0)
				cfg->mem_size_mib = n;
			break;
		case OPT_VCPUS:
			rc = parse_number("vcpus", optarg, 1, CONFIG_MAX_VCPUS, &n);
			if (rc == 0)
				cfg->vcpu_count = (unsigned)n;
			break;
		case OPT_SMT:
			cfg->smt = true;
			break;
		case OPT_HUGE_PAGES:
			if (strcmp(optarg, "None") && strcmp(optarg, "2M")) {
				fprintf(stderr,
				        "wisp: error: --huge-pages: '%s' is not None or 2M\n",
				        optarg);
				rc = -1;
			}
			cfg->huge_pages = !strcmp(optarg, "2M");
			break;
		case OPT_NO_ACPI:
			cfg->no_acpi = true;
			break;
		case OPT_DRIVE:
			rc = cli_add_drive(cfg, optarg);
			break;
		case OPT_NET:
			rc = cli_add_net(cfg, optarg);
			break;
		case OPT_CONFIG:
			opts->config_file = optarg;
			break;
		case OPT_RESTORE:
			opts->restore = optarg;
			break;
		case OPT_MEM_FILE:
			opts->restore_mem = optarg;
			break;
		case OPT_API:
			opts->api_sock = optarg;
			break;
		case OPT_NO_API:
			opts->no_api = true;
			break;
		case OPT_ID:
			opts->id = optarg;
			break;
		case OPT_NO_SECCOMP:
			opts->no_seccomp = true;
			break;
		case OPT_LOG_PATH:
			opts->log_path = optarg;
			break;
		case OPT_LEVEL:
			opts->level = optarg;
			break;
		case OPT_METRICS:
			opts->metrics_path = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 1;
		case OPT_VERSION:
			printf("wisp %s\n", WISP_VERSION);
			return 1;
		default:
			fprintf(stderr,
			        "wisp: error: unknown or incomplete option '%s' (see --help)\n",
			        argv[optind - 1]);
			return -1;
		}
		if (rc < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "wisp: error: unexpected argument '%s' (see --help)\n",
		        argv[optind]);
		return -1;
	}
	if (opts->config_file && opts->kernel_given) {
		fprintf(stderr, "wisp: error: --kernel and --config-file both describe the VM: "
		                "use one\n");
		return -1;
	}
	if (!opts->restore != !opts->restore_mem) {
		fprintf(stderr, "wisp: error: --restore and --mem go together (the state file and "
		                "the memory file of one snapshot)\n");
		return -1;
	}
	if (opts->restore &&
	    (opts->config_file || opts->kernel_given || cfg->ndrives || cfg->nnets)) {
		fprintf(stderr, "wisp: error: --restore describes the whole VM: no --kernel, "
		                "--config-file, --drive or --net with it\n");
		return -1;
	}
	return 0;
}

const char *cli_api_socket(const struct cli_options *opts)
{
	if (opts->no_api)
		return NULL;
	if (opts->api_sock)
		return opts->api_sock;
	if (opts->config_file || opts->kernel_given || opts->restore)
		return NULL;
	return WISP_DEFAULT_API_SOCKET;
}
