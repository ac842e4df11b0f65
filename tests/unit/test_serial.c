/*
 * test_serial.c - the 16550A register model (vmm/legacy/serial.c) without a VM: fake IRQ and kick
 * callbacks record what the device would tell the interrupt controller and the event loop.
 * Register numbers and bits are <linux/serial_reg.h>'s, i.e. what Linux's 8250 driver uses.
 */
#include "tests/unit/unit.h"
#include "vmm/legacy/serial.h"

#include <stdlib.h>

#include <linux/serial_reg.h>

#define BUF_SIZE 65536 /* serial.c's buffer size, each direction */

struct fake {
	int level;       /* last level given to irq() */
	unsigned raises; /* 0 -> 1 transitions */
	unsigned lowers; /* 1 -> 0 transitions */
	unsigned kicks;  /* kick() calls */
};

static void fake_irq(void *opaque, int level)
{
	struct fake *f = opaque;

	if (level)
		f->raises++;
	else
		f->lowers++;
	f->level = level;
}

static void fake_kick(void *opaque)
{
	struct fake *f = opaque;

	f->kicks++;
}

static struct serial *new_serial(struct fake *f)
{
	struct serial *s;

	memset(f, 0, sizeof(*f));
	s = serial_new(fake_irq, fake_kick, f);
	if (!s)
		abort();
	return s;
}

static uint8_t rd(struct serial *s, unsigned reg)
{
	uint8_t v = 0x5a;

	serial_reg_read(s, reg, &v);
	return v;
}

/* Writes n bytes to THR: the low byte of 0, 1, 2, ... */
static void write_thr(struct serial *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		serial_reg_write(s, UART_TX, (uint8_t)i);
}

UNIT_TEST(serial_power_on_state)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t lcr = rd(s, UART_LCR), mcr = rd(s, UART_MCR), ier = rd(s, UART_IER);
	uint8_t iir = rd(s, UART_IIR), lsr = rd(s, UART_LSR), msr = rd(s, UART_MSR);
	uint8_t rbr = rd(s, UART_RX);

	serial_free(s);
	CHECK_EQ(lcr, UART_LCR_WLEN8);
	CHECK_EQ(mcr, 0);
	CHECK_EQ(ier, 0);
	CHECK_EQ(iir, UART_IIR_NO_INT);
	CHECK_EQ(lsr, UART_LSR_THRE | UART_LSR_TEMT);
	/* Not in loopback: carrier, data set ready, clear to send. */
	CHECK_EQ(msr, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	CHECK_EQ(rbr, 0); /* empty receiver reads 0 */
	CHECK_EQ(f.raises, 0);
	CHECK_EQ(f.kicks, 0);
}

UNIT_TEST(serial_scratch_register)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t a, b;

	serial_reg_write(s, UART_SCR, 0x5a);
	a = rd(s, UART_SCR);
	serial_reg_write(s, UART_SCR, 0xa5);
	b = rd(s, UART_SCR);
	serial_free(s);
	CHECK_EQ(a, 0x5a);
	CHECK_EQ(b, 0xa5);
}

UNIT_TEST(serial_dlab_divisor_latch)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t dll0, dlm0, dll, dlm, ier, dlm_again;
	size_t out;
	uint8_t buf[4];

	serial_reg_write(s, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	dll0 = rd(s, UART_DLL);
	dlm0 = rd(s, UART_DLM);
	serial_reg_write(s, UART_DLL, 0x0c); /* 9600 baud */
	serial_reg_write(s, UART_DLM, 0x01);
	dll = rd(s, UART_DLL);
	dlm = rd(s, UART_DLM);
	serial_reg_write(s, UART_LCR, UART_LCR_WLEN8);
	ier = rd(s, UART_IER);
	serial_reg_write(s, UART_IER, UART_IER_RDI); /* IER, not DLM, now */
	serial_reg_write(s, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	dlm_again = rd(s, UART_DLM);
	out = serial_take_output(s, buf, sizeof(buf));
	serial_free(s);
	CHECK_EQ(dll0, 1); /* power-on divisor 1: 115200 baud */
	CHECK_EQ(dlm0, 0);
	CHECK_EQ(dll, 0x0c);
	CHECK_EQ(dlm, 0x01);
	CHECK_EQ(ier, 0);
	CHECK_EQ(dlm_again, 0x01);
	/* A DLL write is not a transmitted byte. */
	CHECK_EQ(out, 0);
	CHECK_EQ(f.kicks, 0);
}

UNIT_TEST(serial_lcr_mcr_ier_readback)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t lcr, mcr, ier;

	serial_reg_write(s, UART_LCR, 0x1b); /* 8E1 */
	lcr = rd(s, UART_LCR);
	serial_reg_write(s, UART_MCR, 0xff);
	mcr = rd(s, UART_MCR);
	serial_reg_write(s, UART_MCR, 0);
	serial_reg_write(s, UART_IER, 0xff);
	ier = rd(s, UART_IER);
	serial_free(s);
	CHECK_EQ(lcr, 0x1b);
	CHECK_EQ(mcr, 0x1f); /* bits 7:5 do not exist on a 16550A */
	CHECK_EQ(ier, 0x0f);
}

UNIT_TEST(serial_fifo_enable_sets_iir_bits)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t before, on, off;

	before = rd(s, UART_IIR);
	serial_reg_write(s, UART_FCR,
	                 UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT |
	                     UART_FCR_TRIGGER_14);
	on = rd(s, UART_IIR);
	serial_reg_write(s, UART_FCR, 0);
	off = rd(s, UART_IIR);
	serial_free(s);
	CHECK_EQ(before, UART_IIR_NO_INT);
	/* 8250 autoconfig tells a 16550A by IIR bits 7:6 = 11. */
	CHECK_EQ(on, 0xc0 | UART_IIR_NO_INT);
	CHECK_EQ(off, UART_IIR_NO_INT);
}

UNIT_TEST(serial_thre_interrupt_on_enable_and_after_each_write)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t iir1, iir2, iir3, iir4;
	int level_after_enable, level_after_iir, level_after_write;

	serial_reg_write(s, UART_FCR, UART_FCR_ENABLE_FIFO);
	serial_reg_write(s, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	serial_reg_write(s, UART_IER, UART_IER_THRI);
	level_after_enable = f.level;
	iir1 = rd(s, UART_IIR); /* reading the THRE source clears it */
	level_after_iir = f.level;
	iir2 = rd(s, UART_IIR);
	serial_reg_write(s, UART_TX, 'a');
	level_after_write = f.level;
	iir3 = rd(s, UART_IIR);
	iir4 = rd(s, UART_IIR);
	serial_free(s);
	CHECK_EQ(level_after_enable, 1);
	CHECK_EQ(iir1, 0xc0 | UART_IIR_THRI);
	CHECK_EQ(level_after_iir, 0);
	CHECK_EQ(iir2, 0xc0 | UART_IIR_NO_INT);
	CHECK_EQ(level_after_write, 1);
	CHECK_EQ(iir3, 0xc0 | UART_IIR_THRI);
	CHECK_EQ(iir4, 0xc0 | UART_IIR_NO_INT);
	CHECK_EQ(f.level, 0);
	CHECK_EQ(f.raises, 2);
	CHECK_EQ(f.lowers, 2);
}

UNIT_TEST(serial_thre_not_reraised_by_rewriting_ier)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t iir;

	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_reg_write(s, UART_IER, UART_IER_THRI);
	rd(s, UART_IIR);
	/* THRI already on: writing IER again is not an enable edge. */
	serial_reg_write(s, UART_IER, UART_IER_THRI | UART_IER_RDI);
	iir = rd(s, UART_IIR);
	serial_free(s);
	CHECK_EQ(iir, UART_IIR_NO_INT);
	CHECK_EQ(f.raises, 1);
}

UNIT_TEST(serial_irq_gated_by_out2)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	int level_without_out2, level_with_out2, level_after_clear;
	uint8_t iir;

	serial_reg_write(s, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	serial_reg_write(s, UART_IER, UART_IER_THRI);
	level_without_out2 = f.level;
	serial_reg_write(s, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	level_with_out2 = f.level;
	serial_reg_write(s, UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	level_after_clear = f.level;
	/* The interrupt stays pending inside the UART while OUT2 hides it. */
	iir = rd(s, UART_IIR);
	serial_free(s);
	CHECK_EQ(level_without_out2, 0);
	CHECK_EQ(level_with_out2, 1);
	CHECK_EQ(level_after_clear, 0);
	CHECK_EQ(iir, UART_IIR_THRI);
	CHECK_EQ(f.raises, 1);
}

UNIT_TEST(serial_rda_interrupt_while_input_waits)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	int level_queued, level_one_left, level_empty;
	uint8_t iir, lsr_full, c1, c2, lsr_empty, iir_empty;
	size_t n;

	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_reg_write(s, UART_IER, UART_IER_RDI);
	n = serial_input(s, (const uint8_t *)"hi", 2);
	level_queued = f.level;
	iir = rd(s, UART_IIR);
	lsr_full = rd(s, UART_LSR);
	c1 = rd(s, UART_RX);
	level_one_left = f.level;
	c2 = rd(s, UART_RX);
	level_empty = f.level;
	lsr_empty = rd(s, UART_LSR);
	iir_empty = rd(s, UART_IIR);
	serial_free(s);
	CHECK_EQ(n, 2);
	CHECK_EQ(level_queued, 1);
	CHECK_EQ(iir, UART_IIR_RDI);
	CHECK_EQ(lsr_full, UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(c1, 'h');
	CHECK_EQ(level_one_left, 1);
	CHECK_EQ(c2, 'i');
	CHECK_EQ(level_empty, 0);
	CHECK_EQ(lsr_empty, UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(iir_empty, UART_IIR_NO_INT);
}

UNIT_TEST(serial_rda_without_ier_raises_nothing)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t iir, lsr;

	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_input(s, (const uint8_t *)"x", 1);
	iir = rd(s, UART_IIR);
	lsr = rd(s, UART_LSR);
	serial_free(s);
	CHECK_EQ(f.raises, 0);
	CHECK_EQ(iir, UART_IIR_NO_INT);
	CHECK_EQ(lsr & UART_LSR_DR, UART_LSR_DR); /* polled input still works */
}

UNIT_TEST(serial_rda_has_priority_over_thre)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t iir1, rx, iir2, iir3;

	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_reg_write(s, UART_IER, UART_IER_RDI | UART_IER_THRI);
	serial_input(s, (const uint8_t *)"z", 1);
	iir1 = rd(s, UART_IIR);
	rx = rd(s, UART_RX);
	iir2 = rd(s, UART_IIR); /* THRE is still latched underneath */
	iir3 = rd(s, UART_IIR);
	serial_free(s);
	CHECK_EQ(iir1, UART_IIR_RDI);
	CHECK_EQ(rx, 'z');
	CHECK_EQ(iir2, UART_IIR_THRI);
	CHECK_EQ(iir3, UART_IIR_NO_INT);
	CHECK_EQ(f.level, 0);
}

UNIT_TEST(serial_loopback_thr_to_rbr)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t lsr, rx, buf[4];
	size_t out;

	serial_reg_write(s, UART_IER, UART_IER_RDI | UART_IER_THRI);
	serial_reg_write(s, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	serial_reg_write(s, UART_TX, 'x');
	lsr = rd(s, UART_LSR);
	rx = rd(s, UART_RX);
	out = serial_take_output(s, buf, sizeof(buf));
	serial_free(s);
	CHECK_EQ(lsr, UART_LSR_DR | UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(rx, 'x');
	/* Nothing reaches the console, and the pin is disconnected in loopback. */
	CHECK_EQ(out, 0);
	CHECK_EQ(f.kicks, 0);
	CHECK_EQ(f.raises, 0);
}

UNIT_TEST(serial_loopback_mcr_to_msr)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t none, dtr_rts, out1_out2, all, normal;

	serial_reg_write(s, UART_MCR, UART_MCR_LOOP);
	none = rd(s, UART_MSR);
	serial_reg_write(s, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS);
	dtr_rts = rd(s, UART_MSR);
	serial_reg_write(s, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1 | UART_MCR_OUT2);
	out1_out2 = rd(s, UART_MSR);
	serial_reg_write(s, UART_MCR, 0x1f);
	all = rd(s, UART_MSR);
	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	normal = rd(s, UART_MSR);
	serial_free(s);
	CHECK_EQ(none, 0);
	CHECK_EQ(dtr_rts, UART_MSR_DSR | UART_MSR_CTS);
	CHECK_EQ(out1_out2, UART_MSR_RI | UART_MSR_DCD);
	CHECK_EQ(all, UART_MSR_DCD | UART_MSR_RI | UART_MSR_DSR | UART_MSR_CTS);
	CHECK_EQ(normal, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}

UNIT_TEST(serial_output_in_order_and_kick_on_first_byte)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t buf[8];
	size_t n1, n2;
	unsigned kicks_after_two, kicks_after_third;

	serial_reg_write(s, UART_TX, 'o');
	serial_reg_write(s, UART_TX, 'k');
	kicks_after_two = f.kicks;
	n1 = serial_take_output(s, buf, 1);
	n2 = serial_take_output(s, buf + 1, sizeof(buf) - 1);
	serial_reg_write(s, UART_TX, '!');
	kicks_after_third = f.kicks;
	serial_free(s);
	/* Only the empty -> non-empty transition wakes the event loop. */
	CHECK_EQ(kicks_after_two, 1);
	CHECK_EQ(n1, 1);
	CHECK_EQ(n2, 1);
	CHECK_EQ(buf[0], 'o');
	CHECK_EQ(buf[1], 'k');
	CHECK_EQ(kicks_after_third, 2);
}

UNIT_TEST(serial_output_back_pressure)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t *buf = malloc(BUF_SIZE + 16);
	uint8_t lsr_almost, lsr_fifo_short, lsr_full, lsr_over, lsr_drained, iir_before, iir_after;
	int level_full, level_drained;
	size_t taken, rest;
	bool content_ok = true;

	if (!buf)
		abort();
	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_reg_write(s, UART_IER, UART_IER_THRI);
	/* THRE promises a 16-byte FIFO's worth of room (Linux writes that many per THRE). */
	write_thr(s, BUF_SIZE - 16);
	lsr_almost = rd(s, UART_LSR);
	write_thr(s, 1);
	lsr_fifo_short = rd(s, UART_LSR);
	write_thr(s, 15);
	lsr_full = rd(s, UART_LSR);
	iir_before = rd(s, UART_IIR); /* acknowledge the THRE of the last write */
	level_full = f.level;
	serial_reg_write(s, UART_TX, 0xee); /* no room: dropped (an overrun) */
	lsr_over = rd(s, UART_LSR);
	rd(s, UART_IIR);
	taken = serial_take_output(s, buf, 100);
	lsr_drained = rd(s, UART_LSR);
	level_drained = f.level; /* room again: THRE interrupts */
	iir_after = rd(s, UART_IIR);
	rest = serial_take_output(s, buf + 100, BUF_SIZE + 16 - 100);
	for (size_t i = 0; i < BUF_SIZE - 16; i++)
		if (buf[i] != (uint8_t)i)
			content_ok = false;
	content_ok = content_ok && buf[BUF_SIZE - 16] == 0;
	for (size_t i = 0; i < 15; i++)
		if (buf[BUF_SIZE - 15 + i] != (uint8_t)i)
			content_ok = false;
	free(buf);
	serial_free(s);
	CHECK_EQ(lsr_almost, UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(lsr_fifo_short, 0);
	CHECK_EQ(lsr_full, 0);
	CHECK_EQ(iir_before, UART_IIR_THRI);
	CHECK_EQ(level_full, 0);
	CHECK_EQ(lsr_over, 0);
	CHECK_EQ(taken, 100);
	CHECK_EQ(lsr_drained, UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(level_drained, 1);
	CHECK_EQ(iir_after, UART_IIR_THRI);
	/* Everything written before the buffer filled, nothing after. */
	CHECK_EQ(rest, BUF_SIZE - 100);
	CHECK(content_ok);
	CHECK_EQ(f.kicks, 1);
}

UNIT_TEST(serial_take_output_from_non_full_buffer_raises_nothing)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t buf[4];

	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_reg_write(s, UART_IER, UART_IER_THRI);
	rd(s, UART_IIR);
	serial_reg_write(s, UART_TX, 'a');
	rd(s, UART_IIR);
	serial_take_output(s, buf, sizeof(buf));
	serial_free(s);
	CHECK_EQ(f.level, 0);
	CHECK_EQ(f.raises, 2); /* the enable and the write, not the take */
}

UNIT_TEST(serial_input_back_pressure_and_kick)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t *data = malloc(BUF_SIZE + 100);
	size_t room0, taken, room_full, again, room_one, refill;
	unsigned kicks_full, kicks_after_read, kicks_after_second_read;
	uint8_t c0, c1;

	if (!data)
		abort();
	for (size_t i = 0; i < BUF_SIZE + 100; i++)
		data[i] = (uint8_t)(i * 7);
	room0 = serial_input_room(s);
	taken = serial_input(s, data, BUF_SIZE + 100);
	room_full = serial_input_room(s);
	again = serial_input(s, data, 10);
	kicks_full = f.kicks;
	c0 = rd(s, UART_RX); /* full -> room: the loop may read the console again */
	kicks_after_read = f.kicks;
	room_one = serial_input_room(s);
	c1 = rd(s, UART_RX); /* not full before: no kick */
	kicks_after_second_read = f.kicks;
	refill = serial_input(s, data + BUF_SIZE, 5);
	free(data);
	serial_free(s);
	CHECK_EQ(room0, BUF_SIZE);
	CHECK_EQ(taken, BUF_SIZE);
	CHECK_EQ(room_full, 0);
	CHECK_EQ(again, 0);
	CHECK_EQ(kicks_full, 0);
	CHECK_EQ(c0, 0);
	CHECK_EQ(c1, 7);
	CHECK_EQ(kicks_after_read, 1);
	CHECK_EQ(room_one, 1);
	CHECK_EQ(kicks_after_second_read, 1);
	CHECK_EQ(refill, 2);
}

UNIT_TEST(serial_reads_and_writes_past_the_registers)
{
	struct fake f;
	struct serial *s = new_serial(&f);
	uint8_t v8, lsr_before, lsr_after, msr_after;

	serial_reg_write(s, UART_LSR, 0);
	serial_reg_write(s, UART_MSR, 0);
	serial_reg_write(s, 8, 0x12);
	v8 = rd(s, 8);
	lsr_before = rd(s, UART_LSR);
	lsr_after = rd(s, UART_LSR);
	msr_after = rd(s, UART_MSR);
	serial_free(s);
	CHECK_EQ(v8, 0xff);
	CHECK_EQ(lsr_before, UART_LSR_THRE | UART_LSR_TEMT); /* read-only */
	CHECK_EQ(lsr_after, lsr_before);
	CHECK_EQ(msr_after, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
}

UNIT_TEST(serial_without_callbacks)
{
	struct serial *s = serial_new(NULL, NULL, NULL);
	uint8_t rx, buf[2];
	size_t n;

	CHECK(s != NULL);
	serial_reg_write(s, UART_MCR, UART_MCR_OUT2);
	serial_reg_write(s, UART_IER, UART_IER_THRI | UART_IER_RDI);
	serial_reg_write(s, UART_TX, 'q');
	serial_input(s, (const uint8_t *)"r", 1);
	rx = rd(s, UART_RX);
	n = serial_take_output(s, buf, sizeof(buf));
	serial_free(s);
	serial_free(NULL);
	CHECK_EQ(rx, 'r');
	CHECK_EQ(n, 1);
	CHECK_EQ(buf[0], 'q');
}
