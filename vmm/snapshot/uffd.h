/*
 * uffd.h - Firecracker's Uffd memory backend for snapshot loads: guest RAM is anonymous memory
 * registered with a userfaultfd (guest_mem_init_uffd), and a page-fault handler process that
 * listens on a Unix socket fills each page from wherever it keeps the snapshot's memory.
 *
 * The handshake, as Firecracker documents it: wisp connects to the handler's socket and sends
 * one message whose data is a JSON array describing each region of guest RAM,
 *   [{"base_host_virt_addr": N, "size": N, "offset": N, "page_size": 4096,
 *     "page_size_kib": 4}, ...]
 * (offset: where the region starts in the snapshot's memory file) and whose SCM_RIGHTS control
 * data carries the userfaultfd. Nothing else passes over the socket; the handler resolves
 * faults with UFFDIO_COPY (or UFFDIO_ZEROPAGE) for as long as the VM runs.
 */
#ifndef WISP_SNAPSHOT_UFFD_H
#define WISP_SNAPSHOT_UFFD_H

#include <stddef.h>

struct guest_mem;

/* Sends mem's layout and mem->uffd to the handler listening at socket_path. 0, or -1 with one
 * sentence in err. Before anything touches guest RAM: until the handler has the descriptor, a
 * touch would wait for it. */
int uffd_send_to_handler(const struct guest_mem *mem, const char *socket_path, char *err,
                         size_t errlen);

#endif
