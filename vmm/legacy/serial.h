/*
 * serial.h - the 16550A UART at COM1 (0x3f8, IRQ 4): the guest's console.
 *
 * Output: bytes the guest writes to THR go into a bounded buffer (64 KiB) that the event loop
 * writes to the console (stdout) without blocking. While the console takes output and the
 * buffer is full, LSR reports the transmitter busy, so a guest that polls THRE (as Linux's
 * console does) waits instead of losing bytes. While the console is full (a pipe nobody
 * reads), THR stays empty and what does not fit is dropped and counted
 * (uart.missed_write_count): neither the vCPU nor the event loop ever waits for a reader.
 * Input: the console's bytes are queued in a bounded buffer; when it is full wisp stops reading
 * the console until the guest drains it (back-pressure, nothing dropped).
 */
#ifndef WISP_SERIAL_H
#define WISP_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct serial;
struct vm;

/* The register logic, usable without a VM (unit tests). irq(opaque, level) drives IRQ 4;
 * kick(opaque) tells the event loop there is output to flush. */
struct serial *serial_new(void (*irq)(void *opaque, int level), void (*kick)(void *opaque),
                          void *opaque);
void serial_free(struct serial *s);
void serial_reg_read(struct serial *s, unsigned offset, uint8_t *value);
void serial_reg_write(struct serial *s, unsigned offset, uint8_t value);
/* Queues console input for the guest; returns how many bytes were taken (less when full). */
size_t serial_input(struct serial *s, const uint8_t *data, size_t len);
/* Room left in the input queue. */
size_t serial_input_room(struct serial *s);
/* The console stopped (true) or resumed (false) taking output; see above. */
void serial_set_output_blocked(struct serial *s, bool blocked);
/* Guest output bytes dropped so far. */
unsigned long serial_missed_writes(struct serial *s);
struct vm;
/* Exit: gives the console its last 2 s to take the queued output, then drops
 * and counts the rest, so the count reaches the last metrics line. Teardown does it too when
 * nobody called this. Event-loop thread, vCPUs stopped. */
void serial_drain_console(struct vm *vm);
/* Takes up to len bytes of pending output; returns the count. */
size_t serial_take_output(struct serial *s, uint8_t *buf, size_t len);

#endif
