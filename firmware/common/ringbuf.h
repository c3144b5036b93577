/* Single-producer (ISR) / single-consumer (main loop) byte ring buffer.
 * Size must be a power of two; head/tail are free-running counters. */
#ifndef QSM_RINGBUF_H
#define QSM_RINGBUF_H

#include <stdint.h>

#define RINGBUF_SIZE 256u

typedef struct {
    volatile uint32_t head;   /* written by the producer */
    volatile uint32_t tail;   /* written by the consumer */
    uint8_t buf[RINGBUF_SIZE];
} ringbuf_t;

_Static_assert((RINGBUF_SIZE & (RINGBUF_SIZE - 1u)) == 0, "RINGBUF_SIZE must be 2^n");

static inline void ringbuf_reset(ringbuf_t *rb) { rb->head = 0; rb->tail = 0; }

/* Producer side. Returns 0 when full (byte dropped). */
static inline int ringbuf_put(ringbuf_t *rb, uint8_t b)
{
    uint32_t h = rb->head;
    if (h - rb->tail >= RINGBUF_SIZE)
        return 0;
    rb->buf[h & (RINGBUF_SIZE - 1u)] = b;
    __asm volatile ("" ::: "memory");
    rb->head = h + 1u;
    return 1;
}

/* Consumer side. Returns -1 when empty. */
static inline int ringbuf_get(ringbuf_t *rb)
{
    uint32_t t = rb->tail;
    if (t == rb->head)
        return -1;
    uint8_t b = rb->buf[t & (RINGBUF_SIZE - 1u)];
    __asm volatile ("" ::: "memory");
    rb->tail = t + 1u;
    return b;
}

#endif
