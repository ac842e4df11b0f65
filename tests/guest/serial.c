/*
 * serial.c - COM1 (16550 at 0x3f8), polled, CPL0 only.
 *
 * Output goes out in 16-byte chunks: wait for THRE, then one `rep outsb` of up to 16 bytes:
 * two port exits per 16 bytes. That assumes a UART that takes 16 bytes once THRE is set: a
 * 16550 with its FIFO on, or any virtual UART that drains THR at once (wisp, QEMU,
 * Firecracker). The THRE wait is bounded: if the UART never reports empty we write anyway
 * rather than hang.
 * Input polls LSR.DR and reads RBR one byte at a time; the VMM keeps its own buffer, so a
 * guest that keeps reading loses nothing.
 */
#include "guest.h"

#define COM1     0x3f8
#define UART_RBR 0 /* receive buffer (read) */
#define UART_THR 0 /* transmit holding (write) */
#define UART_IER 1
#define UART_LCR 3
#define UART_LSR 5

#define LSR_DR   0x01
#define LSR_THRE 0x20

#define UART_FIFO_SIZE 16
#define THRE_MAX_POLLS 100000 /* each poll is a port exit: ~10 us on PVM, ~1 s total */

/*
 * 8N1 with DLAB off (so offset 0 is THR/RBR, whatever the firmware left), no interrupts:
 * two port writes, each an exit (~10 us on PVM hosts). The divisor is not programmed: only
 * a physical line has a baud rate, and this guest only meets virtual UARTs (wisp, QEMU,
 * Firecracker). MCR stays at its reset value (OUT2 off: no IRQ). FCR is left alone on
 * purpose: changing the FIFO enable bit flushes the receive side (QEMU does that too),
 * which would drop input the host sent before the guest booted.
 */
void serial_init(void)
{
	outb(COM1 + UART_LCR, 0x03);
	outb(COM1 + UART_IER, 0x00);
}

static void serial_wait_thre(void)
{
	u32 polls;

	for (polls = 0; polls < THRE_MAX_POLLS; polls++)
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			return;
}

void serial_write(const char *s, size_t len)
{
	while (len) {
		size_t n = len < UART_FIFO_SIZE ? len : UART_FIFO_SIZE;
		size_t count = n;

		serial_wait_thre();
		asm volatile("rep outsb"
		             : "+S"(s), "+c"(count)
		             : "d"((u16)(COM1 + UART_THR))
		             : "memory");
		len -= n;
	}
}

int serial_read(u64 max_polls)
{
	u64 polls;

	for (polls = 0; max_polls == 0 || polls < max_polls; polls++)
		if (inb(COM1 + UART_LSR) & LSR_DR)
			return inb(COM1 + UART_RBR);
	return -1;
}

void gprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vformat(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	serial_write(buf, n);
}
