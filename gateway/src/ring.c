#include "ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RING_CACHELINE 64

/*
 * head is written only by the consumer and tail only by the producer; each lives on its
 * own cache line so the two cores do not bounce one line between them on every operation.
 * Each side also keeps a private copy of the other side's index and re-reads the shared
 * one only when the copy says the ring looks full (or empty): in steady state an
 * operation touches one shared line, not two.
 */
struct ring {
    size_t slot_size;
    size_t mask;
    unsigned char *slots;

    _Alignas(RING_CACHELINE) _Atomic size_t head; /* next slot to pop */
    size_t tail_cache;                            /* consumer's copy of tail */

    _Alignas(RING_CACHELINE) _Atomic size_t tail; /* next slot to push */
    size_t head_cache;                            /* producer's copy of head */
};

struct ring *ring_new(size_t slot_size, size_t capacity)
{
    struct ring *r;

    if (slot_size == 0 || slot_size > 65536 || capacity < 2 || capacity > (1u << 24) ||
        (capacity & (capacity - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    r = aligned_alloc(RING_CACHELINE, sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->slot_size = slot_size;
    r->mask = capacity - 1;
    /* calloc plus the memset below touches every page now, not on the RT path later. */
    r->slots = calloc(capacity, slot_size);
    if (r->slots == NULL) {
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    memset(r->slots, 0, capacity * slot_size);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void ring_free(struct ring *r)
{
    if (r == NULL)
        return;
    free(r->slots);
    free(r);
}

bool ring_push(struct ring *r, const void *slot)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

    if (tail - r->head_cache > r->mask) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail - r->head_cache > r->mask)
            return false;
    }
    memcpy(r->slots + (tail & r->mask) * r->slot_size, slot, r->slot_size);
    /* Release: the slot's bytes become visible before the consumer can see the new tail.
     */
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return true;
}

const void *ring_peek(struct ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

    if (head == r->tail_cache) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head == r->tail_cache)
            return NULL;
    }
    return r->slots + (head & r->mask) * r->slot_size;
}

void ring_drop(struct ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

    /* Release: the producer may reuse the slot only after we have finished reading it. */
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

bool ring_pop(struct ring *r, void *slot)
{
    const void *p = ring_peek(r);

    if (p == NULL)
        return false;
    memcpy(slot, p, r->slot_size);
    ring_drop(r);
    return true;
}

size_t ring_space(struct ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    return r->mask + 1 - (tail - r->head_cache);
}

size_t ring_count(const struct ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

    return tail - head;
}

size_t ring_capacity(const struct ring *r)
{
    return r->mask + 1;
}
