/*
 * serial.c - 16550A UART (see serial.h). Register layout and bits: the PC16550D data sheet and
 * Linux's include/uapi/linux/serial_reg.h.
 *
 * What Linux's 8250 driver relies on and this model provides: scratch register, divisor latch,
 * FIFO detection through IIR bits 7:6, loopback (MCR bit 4: THR -> RBR, MCR -> MSR) used by
 * its probe, THRE interrupts raised when enabled and after each transmitted byte, RDA
 * interrupts while input is waiting, and IRQ gating by MCR OUT2 as on a PC.
 */
#include "vmm/legacy/serial.h"
#include "vmm/device.h"
#include "vmm/evloop.h"
#include "vmm/layout.h"
#include "vmm/log.h"
#include "vmm/metrics.h"
#include "vmm/legacy/console.h"
#include "vmm/snapshot/snapfile.h"
#include "vmm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/serial_reg.h>

#define SERIAL_BUF_SIZE 65536 /* each direction; a power of two */
/* A 16550A's transmit FIFO: once THRE is set, Linux's 8250 driver writes up to this many bytes
 * without looking at LSR again, so THRE means "16 bytes of room", not "1 byte". */
#define SERIAL_TX_FIFO 16
/* Output taken from the ring but not yet accepted by a full console. */
#define SERIAL_PENDING_SIZE 4096
/* At exit, how long a full console may take to accept the last output before it is dropped. */
#define SERIAL_EXIT_DRAIN_MS 2000

struct serial_ring {
	uint8_t data[SERIAL_BUF_SIZE];
	uint32_t head; /* next byte to take */
	uint32_t tail; /* next free slot; tail - head = bytes queued (free-running) */
};

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool fifo_enabled;
	bool thre_pending; /* THR-empty interrupt latched until IIR read or THR write */
	/* The console does not take output (stdout full, nobody reading): THR stays empty and
	 * what does not fit in the buffer is dropped, so the guest never waits on LSR. */
	bool output_blocked;
	int irq_level;
	struct serial_ring in, out;
	void (*irq)(void *opaque, int level);
	void (*kick)(void *opaque);
	void *opaque;
	/* Device glue (NULL in unit tests). */
	struct vm *vm;
	int kick_fd;
	bool input_paused;
	bool input_is_file; /* regular file: not pollable, read whenever there is room */
	/* Event-loop side of the output: bytes taken from the ring, not yet written. */
	uint8_t pending[SERIAL_PENDING_SIZE];
	size_t pending_off, pending_len;
	bool output_watched; /* the console output fd is on the event loop (EPOLLOUT) */
	bool warned_blocked; /* the "console full" warning was logged */
	/* uart.missed_write_count: guest output bytes dropped (buffer full while the console
	 * would block, a guest ignoring LSR, or a console that is gone). */
	atomic_ulong missed_write_count;
	/* The rest of Firecracker's "uart" group: bytes the guest wrote to THR (write_count) and
	 * read from RBR (read_count), RBR reads with no input (missed_read_count), writes to the
	 * console (flush_count) and console writes that failed (error_count). */
	atomic_ulong write_count, read_count, missed_read_count, flush_count, error_count;
	bool metrics_registered;
	bool drained; /* serial_drain_console() ran: teardown has nothing left to wait for */
};

static const struct metrics_field serial_metrics[] = {
    {"missed_write_count", offsetof(struct serial, missed_write_count)},
    {"write_count", offsetof(struct serial, write_count)},
    {"read_count", offsetof(struct serial, read_count)},
    {"missed_read_count", offsetof(struct serial, missed_read_count)},
    {"flush_count", offsetof(struct serial, flush_count)},
    {"error_count", offsetof(struct serial, error_count)},
};
#define SERIAL_NMETRICS (sizeof(serial_metrics) / sizeof(serial_metrics[0]))

static uint32_t ring_used(const struct serial_ring *r)
{
	return r->tail - r->head;
}

static bool ring_put(struct serial_ring *r, uint8_t b)
{
	if (ring_used(r) == SERIAL_BUF_SIZE)
		return false;
	r->data[r->tail++ % SERIAL_BUF_SIZE] = b;
	return true;
}

static bool ring_get(struct serial_ring *r, uint8_t *b)
{
	if (ring_used(r) == 0)
		return false;
	*b = r->data[r->head++ % SERIAL_BUF_SIZE];
	return true;
}

static bool loopback(const struct serial *s)
{
	return s->mcr & UART_MCR_LOOP;
}

/* Recomputes the interrupt line; called with the lock held after every state change. */
static void serial_update_irq(struct serial *s)
{
	bool pending = ((s->ier & UART_IER_RDI) && ring_used(&s->in)) ||
	               ((s->ier & UART_IER_THRI) && s->thre_pending);
	/* On a PC the UART's interrupt reaches the PIC only through OUT2. */
	int level = pending && (s->mcr & UART_MCR_OUT2) && !loopback(s);

	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->irq)
			s->irq(s->opaque, level);
	}
}

static uint8_t serial_iir(struct serial *s)
{
	uint8_t fifo = s->fifo_enabled ? 0xc0 : 0;

	if ((s->ier & UART_IER_RDI) && ring_used(&s->in))
		return UART_IIR_RDI | fifo;
	if ((s->ier & UART_IER_THRI) && s->thre_pending) {
		/* Reading IIR with THRE as the source clears it (16550 data sheet). */
		s->thre_pending = false;
		return UART_IIR_THRI | fifo;
	}
	return UART_IIR_NO_INT | fifo;
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t msr = 0;

	if (!loopback(s))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	/* Loopback wires MCR outputs to MSR inputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	if (s->mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	return msr;
}

void serial_reg_read(struct serial *s, unsigned offset, uint8_t *value)
{
	bool dlab, was_full;

	pthread_mutex_lock(&s->lock);
	dlab = s->lcr & UART_LCR_DLAB;
	switch (offset) {
	case UART_RX:
		if (dlab) {
			*value = s->dll;
			break;
		}
		was_full = ring_used(&s->in) == SERIAL_BUF_SIZE;
		if (ring_get(&s->in, value)) {
			atomic_fetch_add(&s->read_count, 1);
		} else {
			*value = 0;
			atomic_fetch_add(&s->missed_read_count, 1);
		}
		/* Room again: let the event loop resume reading the console. */
		if (was_full && s->kick)
			s->kick(s->opaque);
		break;
	case UART_IER:
		*value = dlab ? s->dlm : s->ier;
		break;
	case UART_IIR:
		*value = serial_iir(s);
		break;
	case UART_LCR:
		*value = s->lcr;
		break;
	case UART_MCR:
		*value = s->mcr;
		break;
	case UART_LSR:
		*value = ring_used(&s->in) ? UART_LSR_DR : 0;
		/* The transmitter is "empty" while the output buffer has a FIFO's worth of room,
		 * or while the console is blocked (output is then dropped, not waited for). */
		if (ring_used(&s->out) <= SERIAL_BUF_SIZE - SERIAL_TX_FIFO || s->output_blocked)
			*value |= UART_LSR_THRE | UART_LSR_TEMT;
		break;
	case UART_MSR:
		*value = serial_msr(s);
		break;
	case UART_SCR:
		*value = s->scr;
		break;
	default:
		*value = 0xff;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_transmit(struct serial *s, uint8_t value)
{
	bool was_empty = ring_used(&s->out) == 0;

	atomic_fetch_add(&s->write_count, 1);
	if (loopback(s)) {
		ring_put(&s->in, value);
	} else if (!ring_put(&s->out, value)) {
		/* The byte is lost. A guest that ignored LSR gets no new THRE; while the console is
		 * blocked THR stays empty, so the guest runs on instead of polling forever. */
		atomic_fetch_add(&s->missed_write_count, 1);
		if (s->output_blocked)
			s->thre_pending = true;
		return;
	} else if (was_empty && s->kick) {
		s->kick(s->opaque);
	}
	/* Transmission is instant while a FIFO's worth of room is left: THR is empty again and,
	 * if enabled, interrupts. Otherwise THRE comes back when the console drains. */
	if (ring_used(&s->out) <= SERIAL_BUF_SIZE - SERIAL_TX_FIFO)
		s->thre_pending = true;
}

void serial_reg_write(struct serial *s, unsigned offset, uint8_t value)
{
	bool dlab;

	pthread_mutex_lock(&s->lock);
	dlab = s->lcr & UART_LCR_DLAB;
	switch (offset) {
	case UART_TX:
		if (dlab)
			s->dll = value;
		else
			serial_transmit(s, value);
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = value;
		} else {
			/* Enabling THRI while THR is empty raises the interrupt at once. */
			if (!(s->ier & UART_IER_THRI) && (value & UART_IER_THRI))
				s->thre_pending = true;
			s->ier = value & 0x0f;
		}
		break;
	case UART_FCR:
		/* FIFO enable is all that is modelled. A receive-FIFO clear does not drop the
		 * console bytes queued on the host side: they have not "arrived" yet. */
		s->fifo_enabled = value & UART_FCR_ENABLE_FIFO;
		break;
	case UART_LCR:
		s->lcr = value;
		break;
	case UART_MCR:
		s->mcr = value & 0x1f;
		break;
	case UART_SCR:
		s->scr = value;
		break;
	default:
		/* LSR and MSR are read-only. */
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_input(struct serial *s, const uint8_t *data, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && ring_put(&s->in, data[n]))
		n++;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_input_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_BUF_SIZE - ring_used(&s->in);
	pthread_mutex_unlock(&s->lock);
	return room;
}

void serial_set_output_blocked(struct serial *s, bool blocked)
{
	pthread_mutex_lock(&s->lock);
	if (blocked && !s->output_blocked)
		s->thre_pending = true; /* a guest waiting for THRE is released */
	s->output_blocked = blocked;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

unsigned long serial_missed_writes(struct serial *s)
{
	return atomic_load(&s->missed_write_count);
}

size_t serial_take_output(struct serial *s, uint8_t *buf, size_t len)
{
	size_t n = 0;
	bool was_full;

	pthread_mutex_lock(&s->lock);
	was_full = ring_used(&s->out) > SERIAL_BUF_SIZE - SERIAL_TX_FIFO;
	while (n < len && ring_get(&s->out, &buf[n]))
		n++;
	/* A FIFO's worth of room again after a full buffer: THR is empty, which interrupts. */
	if (was_full && ring_used(&s->out) <= SERIAL_BUF_SIZE - SERIAL_TX_FIFO)
		s->thre_pending = true;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

struct serial *serial_new(void (*irq)(void *opaque, int level), void (*kick)(void *opaque),
                          void *opaque)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->irq = irq;
	s->kick = kick;
	s->opaque = opaque;
	s->kick_fd = -1;
	/* Power-on values: 8N1 (LCR 0x03 is what firmware leaves), divisor 1 (115200). */
	s->lcr = UART_LCR_WLEN8;
	s->dll = 1;
	return s;
}

void serial_free(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- device glue: PIO ops, console fds on the event loop ---- */

static void serial_pio_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	serial_reg_read(dev, (unsigned)offset, data);
	if (len > 1)
		memset(data + 1, 0, len - 1);
}

static void serial_pio_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)len;
	serial_reg_write(dev, (unsigned)offset, data[0]);
}

static void serial_irq(void *opaque, int level)
{
	struct serial *s = opaque;

	vm_irq_line(s->vm, PORT_COM1_IRQ, level);
}

static void serial_kick(void *opaque)
{
	struct serial *s = opaque;
	uint64_t one = 1;

	if (write(s->kick_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: the loop is already due to run. */
	}
}

static void serial_on_console_writable(void *opaque, uint32_t events);

/* The console is full: watch it for room, and let the guest run on (its output is dropped
 * once the buffer is full). One warning per process. */
static void serial_output_block(struct serial *s)
{
	int fd = console_output_fd();

	if (fd < 0)
		return; /* a blocking console never returns a short write */
	if (!s->output_watched &&
	    evloop_add(s->vm->loop, fd, EPOLLOUT, serial_on_console_writable, s) == 0)
		s->output_watched = true;
	else if (s->output_watched)
		evloop_modify(s->vm->loop, fd, EPOLLOUT);
	serial_set_output_blocked(s, true);
	if (!s->warned_blocked) {
		s->warned_blocked = true;
		log_warn("serial: the console output (stdout) is full, nobody reads it: guest "
		         "output beyond %d KiB is dropped and counted (uart.missed_write_count)",
		         SERIAL_BUF_SIZE / 1024);
	}
}

static void serial_output_unblock(struct serial *s)
{
	if (s->output_watched)
		evloop_modify(s->vm->loop, console_output_fd(), 0);
	serial_set_output_blocked(s, false);
}

/* Writes queued output to the console until the queue is empty or the console is full.
 * Event-loop thread (or teardown). Never blocks. */
static void serial_flush(struct serial *s)
{
	for (;;) {
		ssize_t n;

		if (s->pending_off == s->pending_len) {
			s->pending_off = 0;
			s->pending_len = serial_take_output(s, s->pending, sizeof(s->pending));
			if (s->pending_len == 0) {
				if (s->output_blocked)
					serial_output_unblock(s);
				return;
			}
		}
		n = console_write(s->pending + s->pending_off, s->pending_len - s->pending_off);
		if (n < 0) {
			/* The console is gone: the output is lost, the VM runs on. */
			atomic_fetch_add(&s->error_count, 1);
			atomic_fetch_add(&s->missed_write_count, s->pending_len - s->pending_off);
			s->pending_off = s->pending_len;
			continue;
		}
		if (n > 0)
			atomic_fetch_add(&s->flush_count, 1);
		s->pending_off += (size_t)n;
		if (s->pending_off < s->pending_len) {
			serial_output_block(s);
			return;
		}
	}
}

static void serial_on_console_writable(void *opaque, uint32_t events)
{
	(void)events;
	serial_flush(opaque);
}

/* Teardown: gives a full console SERIAL_EXIT_DRAIN_MS to take the last output (a reader that
 * is merely slow gets it all), then drops and counts the rest: exit never hangs on stdout. */
static void serial_drain_at_exit(struct serial *s)
{
	long long deadline = log_clock_ns() + SERIAL_EXIT_DRAIN_MS * 1000000LL;
	long long left;

	if (s->drained)
		return;
	s->drained = true;
	serial_flush(s);
	while (s->output_blocked && (left = deadline - log_clock_ns()) > 0 &&
	       console_wait_writable((int)(left / 1000000) + 1))
		serial_flush(s);
	if (s->output_blocked) {
		uint8_t buf[4096];
		size_t n;

		atomic_fetch_add(&s->missed_write_count, s->pending_len - s->pending_off);
		s->pending_off = s->pending_len;
		while ((n = serial_take_output(s, buf, sizeof(buf))) > 0)
			atomic_fetch_add(&s->missed_write_count, n);
	}
}

/* Reads console input into the queue until it is full or the file ends (regular files only:
 * they cannot be polled, and are always readable). */
static void serial_read_file_input(struct serial *s)
{
	uint8_t buf[4096];
	size_t room;
	ssize_t n;

	while ((room = serial_input_room(s)) > 0) {
		n = read(console_input_fd(), buf, room < sizeof(buf) ? room : sizeof(buf));
		if (n <= 0) {
			s->input_is_file = false; /* end of file (or error): no more input */
			return;
		}
		serial_input(s, buf, (size_t)n);
	}
	s->input_paused = true; /* full: the guest's reads kick us for more */
}

static void serial_on_console_input(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint8_t buf[4096];
	size_t room = serial_input_room(s);
	ssize_t n;

	(void)events;
	if (room == 0) {
		/* Back-pressure: stop reading until the guest drains the queue. */
		evloop_modify(s->vm->loop, console_input_fd(), 0);
		s->input_paused = true;
		return;
	}
	n = read(console_input_fd(), buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n > 0) {
		serial_input(s, buf, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* End of input: the guest keeps running without a keyboard. */
		evloop_del(s->vm->loop, console_input_fd());
	}
}

static void serial_on_kick(void *opaque, uint32_t events)
{
	struct serial *s = opaque;
	uint64_t count;

	(void)events;
	if (read(s->kick_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	serial_flush(s);
	if (s->input_paused && serial_input_room(s) > 0) {
		s->input_paused = false;
		if (s->input_is_file)
			serial_read_file_input(s);
		else
			evloop_modify(s->vm->loop, console_input_fd(), EPOLLIN);
	}
}

static void serial_destroy(void *dev)
{
	struct serial *s = dev;

	serial_drain_at_exit(s);
	if (serial_missed_writes(s))
		log_warn("serial: %lu bytes of guest output were dropped (console full or gone)",
		         serial_missed_writes(s));
	if (s->output_watched)
		evloop_del(s->vm->loop, console_output_fd());
	if (s->metrics_registered)
		metrics_unregister_fields(serial_metrics, SERIAL_NMETRICS, s);
	if (console_input_fd() >= 0 && !s->input_is_file)
		evloop_del(s->vm->loop, console_input_fd());
	if (s->kick_fd >= 0) {
		evloop_del(s->vm->loop, s->kick_fd);
		close(s->kick_fd);
	}
	serial_free(s);
}

/* Snapshot: the registers and the input not yet read by the guest (section "UART"). Output
 * is flushed to the console first, so none is pending. */
#define SNAP_TAG_SERIAL 0x54524155u /* "UART" */

static int serial_save(void *dev, struct snap_writer *w, char *err, size_t errlen)
{
	struct serial *s = dev;
	uint8_t regs[9];
	uint32_t n;

	serial_flush(s);
	pthread_mutex_lock(&s->lock);
	regs[0] = s->ier;
	regs[1] = s->lcr;
	regs[2] = s->mcr;
	regs[3] = s->scr;
	regs[4] = s->dll;
	regs[5] = s->dlm;
	regs[6] = s->fifo_enabled;
	regs[7] = s->thre_pending;
	regs[8] = (uint8_t)s->irq_level;
	n = ring_used(&s->in);
	snap_begin(w, SNAP_TAG_SERIAL, 0);
	snap_put(w, regs, sizeof(regs));
	snap_put_u32(w, n);
	for (uint32_t i = 0; i < n; i++)
		snap_put(w, &s->in.data[(s->in.head + i) & (SERIAL_BUF_SIZE - 1)], 1);
	snap_end(w);
	pthread_mutex_unlock(&s->lock);
	if (w->failed)
		snprintf(err, errlen, "serial: the state file cannot grow");
	return w->failed ? -1 : 0;
}

static int serial_restore(void *dev, const struct snap_reader *r, char *err, size_t errlen)
{
	struct serial *s = dev;
	struct snap_section sec;
	struct snap_cursor c;
	uint8_t regs[9];
	uint32_t n;

	if (!snap_find(r, SNAP_TAG_SERIAL, 0, &sec)) {
		snprintf(err, errlen, "the snapshot has no serial port state");
		return -1;
	}
	snap_cursor_init(&c, &sec);
	snap_get(&c, regs, sizeof(regs));
	n = snap_get_u32(&c);
	if (c.bad || n > SERIAL_BUF_SIZE || n != c.left || regs[6] > 1 || regs[7] > 1 ||
	    regs[8] > 1) {
		snprintf(err, errlen, "serial port state: malformed section");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	s->ier = regs[0] & 0x0f;
	s->lcr = regs[1];
	s->mcr = regs[2] & 0x1f;
	s->scr = regs[3];
	s->dll = regs[4];
	s->dlm = regs[5];
	s->fifo_enabled = regs[6];
	s->thre_pending = regs[7];
	s->in.head = s->in.tail = 0;
	for (uint32_t i = 0; i < n; i++)
		ring_put(&s->in, c.p[i]);
	/* The line as the IOAPIC saw it: the irqchip state restores the pin, this the model. */
	s->irq_level = regs[8];
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct device_ops serial_ops = {
    .name = "serial",
    .read = serial_pio_read,
    .write = serial_pio_write,
    .destroy = serial_destroy,
    .save = serial_save,
    .restore = serial_restore,
};

void serial_drain_console(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].ops == &serial_ops)
			serial_drain_at_exit(vm->devices[i].dev);
}

static int serial_create(struct vm *vm)
{
	struct serial *s = serial_new(serial_irq, serial_kick, NULL);

	if (!s)
		return -1;
	s->opaque = s;
	s->vm = vm;
	s->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->kick_fd < 0 || evloop_add(vm->loop, s->kick_fd, EPOLLIN, serial_on_kick, s) < 0)
		goto fail;
	if (console_input_fd() >= 0) {
		int rc =
		    evloop_add(vm->loop, console_input_fd(), EPOLLIN, serial_on_console_input, s);

		if (rc == -EPERM) {
			/* A regular file (or /dev/null): feed it as the guest drains the queue. */
			s->input_is_file = true;
			serial_read_file_input(s);
		} else if (rc < 0) {
			log_warn("serial: console input cannot be watched: %s", strerror(-rc));
		}
	}
	if (bus_register(&vm->pio, PORT_COM1, 8, &serial_ops, s) < 0)
		goto fail;
	s->metrics_registered = true;
	metrics_register_fields("uart", serial_metrics, SERIAL_NMETRICS, s);
	return vm_add_device(vm, &serial_ops, s);
fail:
	log_error("serial: setup failed");
	serial_destroy(s);
	return -1;
}

static const struct device_type serial_type = {
    .name = "serial", .order = 10, .create = serial_create};
DEVICE_TYPE(serial_type);
