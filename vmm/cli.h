/*
 * cli.h - wisp's command line.
 */
#ifndef WISP_CLI_H
#define WISP_CLI_H

#include <stdbool.h>

#include "vmm/config.h"

struct cli_options {
	const char *config_file;
	const char *api_sock; /* NULL: see cli_api_socket() */
	bool no_api;
	bool no_seccomp;
	bool kernel_given;       /* --kernel: the VM is described on the command line */
	const char *restore;     /* --restore: a snapshot's state file */
	const char *restore_mem; /* --mem: its memory file */
	const char *id;
	const char *log_path;
	const char *level;
	const char *metrics_path;
};

/* Parses argv into opts and cfg (cfg already config_init()ed). 0 to go on, 1 when --help or
 * --version printed their text, -1 after printing a one-line error. */
int cli_parse(int argc, char **argv, struct cli_options *opts, struct vm_config *cfg);
/* Parses "id=rootfs,path=x.img,root=on,readonly=off,cache=unsafe,io=async" into d. */
int cli_parse_drive(const char *spec, struct drive_config *d, char *err, size_t errlen);
/* Parses "id=eth0,tap=tap0,mac=06:00:ac:10:00:02" into n. */
int cli_parse_net(const char *spec, struct net_config *n, char *err, size_t errlen);
/* The API socket path to serve, or NULL for none: --api-sock, else the Firecracker default
 * /run/wisp.socket unless --no-api, --config-file or --kernel was given. */
const char *cli_api_socket(const struct cli_options *opts);

#endif
