/*
 * i8042.h - the PS/2 controller, just enough for the reset line and Ctrl+Alt+Del.
 */
#ifndef WISP_I8042_H
#define WISP_I8042_H

struct vm;

/* Queues the Ctrl+Alt+Del key sequence and raises IRQ 1. 0, or -1 when the VM has no i8042.
 * Event-loop thread. */
int i8042_send_ctrl_alt_del(struct vm *vm);

#endif
