/*
 * ring: a bounded, lock-free, single-producer single-consumer queue of fixed-size slots.
 *
 * Every hand-off between parkguard's threads goes through one of these, so that no thread
 * ever waits on another: a poller never waits for the real-time loop, and the loop never
 * waits for SQLite or the broker. Exactly one thread may push and exactly one other
 * thread may pop; that is what makes plain acquire/release atomics enough.
 *
 * Storage is allocated and touched once in ring_new(), so push and pop never allocate,
 * never fault a page in, and never make a system call: both are safe on the RT path.
 *
 * A full ring refuses the push and the producer decides what that means; each ring's
 * owner documents its full-policy (see docs/architecture.md).
 */
#ifndef PG_RING_H
#define PG_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ring;

/*
 * Create a ring of capacity slots of slot_size bytes. capacity must be a power of two
 * (2..2^24) and slot_size 1..65536. Returns NULL with errno EINVAL or ENOMEM.
 */
struct ring *ring_new(size_t slot_size, size_t capacity);

/* Free a ring. ring_free(NULL) does nothing. No thread may use the ring any more. */
void ring_free(struct ring *r);

/* Producer: copy one slot in. Returns false, changing nothing, when the ring is full. */
bool ring_push(struct ring *r, const void *slot);

/* Consumer: copy the oldest slot out. Returns false when the ring is empty. */
bool ring_pop(struct ring *r, void *slot);

/* Consumer: a pointer to the oldest slot without removing it, or NULL when empty. */
const void *ring_peek(struct ring *r);

/* Consumer: drop the slot ring_peek() returned. */
void ring_drop(struct ring *r);

/* Producer: how many pushes would succeed now (a lower bound; the consumer may free
 * more). */
size_t ring_space(struct ring *r);

/* Either side: slots in use at this instant (approximate while the other side runs). */
size_t ring_count(const struct ring *r);

size_t ring_capacity(const struct ring *r);

#endif
