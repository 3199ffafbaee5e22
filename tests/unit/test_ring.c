/*
 * Unit tests for ring: argument checks, single-threaded FIFO/full/empty behaviour and
 * index wrap-around with several slot sizes, then a two-thread hammer that pushes
 * millions of sequence-numbered, checksummed slots through rings of capacity 2 and 1024
 * and checks that the consumer sees every one, once, in order and intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

/*
 * The hammer is about interleavings, so it wants as many operations as the time budget
 * allows. Under ASan every memcpy and atomic is instrumented and roughly ten times
 * slower; the count drops so that the whole binary stays within about 3 s there too.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HAMMER_N 1000000u
#else
#define HAMMER_N 5000000u
#endif

/* ---- helpers ---------------------------------------------------------------------- */

/* splitmix64: a cheap, well-mixed function of the sequence number to fill slots with. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Fill len bytes with a pattern that depends on n, so that a stale slot is detectable. */
static void pattern_fill(unsigned char *p, size_t len, uint64_t n)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(mix64(n * 131u + i) & 0xff);
}

static bool pattern_ok(const unsigned char *p, size_t len, uint64_t n)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (unsigned char)(mix64(n * 131u + i) & 0xff))
            return false;
    return true;
}

/* ---- argument checks -------------------------------------------------------------- */

static void expect_einval(size_t slot_size, size_t capacity)
{
    struct ring *r;

    errno = 0;
    r = ring_new(slot_size, capacity);
    if (r != NULL) {
        ring_free(r);
        fail_msg("ring_new(%zu, %zu) accepted invalid arguments", slot_size, capacity);
    }
    assert_int_equal(errno, EINVAL);
}

static void test_new_rejects_bad_arguments(void **state)
{
    (void)state;
    /* Capacity: not a power of two, below 2, above 2^24. */
    expect_einval(8, 0);
    expect_einval(8, 1);
    expect_einval(8, 3);
    expect_einval(8, 6);
    expect_einval(8, 1000);
    expect_einval(8, 1025);
    expect_einval(8, (size_t)1 << 25);
    expect_einval(8, ((size_t)1 << 24) + 1);
    expect_einval(8, SIZE_MAX);
    /* Slot size: 1..65536. */
    expect_einval(0, 16);
    expect_einval(65537, 16);
    expect_einval(SIZE_MAX, 16);
}

static void test_new_accepts_limits(void **state)
{
    struct ring *r;

    (void)state;
    r = ring_new(1, 2);
    assert_non_null(r);
    assert_int_equal(ring_capacity(r), 2);
    ring_free(r);

    r = ring_new(65536, 2);
    assert_non_null(r);
    assert_int_equal(ring_capacity(r), 2);
    ring_free(r);

    r = ring_new(1, (size_t)1 << 24);
    assert_non_null(r);
    assert_int_equal(ring_capacity(r), (size_t)1 << 24);
    assert_int_equal(ring_count(r), 0);
    assert_int_equal(ring_space(r), (size_t)1 << 24);
    ring_free(r);

    ring_free(NULL); /* documented as a no-op; ASan would catch anything else */
}

/* ---- single-threaded behaviour ---------------------------------------------------- */

static void test_empty_ring(void **state)
{
    struct ring *r = ring_new(sizeof(uint32_t), 8);
    uint32_t v = 0xdeadbeef;

    (void)state;
    assert_non_null(r);
    assert_int_equal(ring_capacity(r), 8);
    assert_int_equal(ring_count(r), 0);
    assert_int_equal(ring_space(r), 8);
    assert_null(ring_peek(r));
    assert_false(ring_pop(r, &v));
    assert_int_equal(v, 0xdeadbeef); /* a failed pop must not write the caller's slot */
    ring_free(r);
}

static void test_fill_until_full_then_fifo(void **state)
{
    const size_t caps[] = {2, 4, 16, 1024};

    (void)state;
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        size_t cap = caps[c];
        struct ring *r = ring_new(sizeof(uint64_t), cap);
        uint64_t v;

        assert_non_null(r);
        for (size_t i = 0; i < cap; i++) {
            v = 1000 + i;
            assert_int_equal(ring_space(r), cap - i);
            assert_true(ring_push(r, &v));
            assert_int_equal(ring_count(r), i + 1);
        }
        /* Exactly at capacity the push is refused and nothing changes. */
        v = 99;
        assert_false(ring_push(r, &v));
        assert_false(ring_push(r, &v));
        assert_int_equal(ring_count(r), cap);
        assert_int_equal(ring_space(r), 0);

        for (size_t i = 0; i < cap; i++) {
            v = 0;
            assert_true(ring_pop(r, &v));
            assert_int_equal(v, 1000 + i);
            assert_int_equal(ring_count(r), cap - i - 1);
            assert_int_equal(ring_space(r), i + 1);
        }
        assert_false(ring_pop(r, &v));
        assert_null(ring_peek(r));

        /* After being full once, the ring accepts a full load again. */
        for (size_t i = 0; i < cap; i++) {
            v = 5000 + i;
            assert_true(ring_push(r, &v));
        }
        assert_false(ring_push(r, &v));
        v = 0;
        assert_true(ring_pop(r, &v));
        assert_int_equal(v, 5000);
        v = 7777;
        assert_true(ring_push(r, &v)); /* one slot freed, one push fits */
        assert_false(ring_push(r, &v));
        ring_free(r);
    }
}

static void test_peek_and_drop(void **state)
{
    struct ring *r = ring_new(sizeof(uint32_t), 4);
    const uint32_t *p, *p2;
    uint32_t v;

    (void)state;
    assert_non_null(r);
    for (v = 10; v < 13; v++)
        assert_true(ring_push(r, &v));

    /* Peek does not consume: two peeks see the same slot, count is unchanged. */
    p = ring_peek(r);
    assert_non_null(p);
    assert_int_equal(*p, 10);
    p2 = ring_peek(r);
    assert_ptr_equal(p, p2);
    assert_int_equal(ring_count(r), 3);

    ring_drop(r);
    assert_int_equal(ring_count(r), 2);
    p = ring_peek(r);
    assert_non_null(p);
    assert_int_equal(*p, 11);

    /* Peek and pop mix: pop takes what peek showed. */
    v = 0;
    assert_true(ring_pop(r, &v));
    assert_int_equal(v, 11);
    p = ring_peek(r);
    assert_non_null(p);
    assert_int_equal(*p, 12);
    ring_drop(r);
    assert_null(ring_peek(r));
    assert_int_equal(ring_count(r), 0);
    assert_int_equal(ring_space(r), 4);
    ring_free(r);
}

/*
 * Drive the indices around the ring many times with push/pop bursts of varying length,
 * checking every byte of every slot against a model queue, and count + space == capacity
 * at every step (exact with one thread).
 */
static void wrap_around(size_t slot_size, size_t cap, unsigned rounds)
{
    struct ring *r = ring_new(slot_size, cap);
    unsigned char *in = malloc(slot_size), *out = malloc(slot_size);
    uint64_t next_push = 0, next_pop = 0;
    uint64_t rng = 12345;

    assert_non_null(r);
    assert_non_null(in);
    assert_non_null(out);
    for (unsigned round = 0; round < rounds; round++) {
        size_t burst;

        rng = mix64(rng);
        burst = (size_t)(rng % (cap + 2)); /* sometimes more than fits */
        for (size_t i = 0; i < burst; i++) {
            bool full = next_push - next_pop == cap;

            pattern_fill(in, slot_size, next_push);
            assert_int_equal(ring_push(r, in), !full);
            if (!full)
                next_push++;
            assert_int_equal(ring_count(r), next_push - next_pop);
            assert_int_equal(ring_space(r) + ring_count(r), cap);
        }
        rng = mix64(rng);
        burst = (size_t)(rng % (cap + 2));
        for (size_t i = 0; i < burst; i++) {
            bool empty = next_push == next_pop;

            if (rng & 1) {
                const unsigned char *p = ring_peek(r);

                assert_int_equal(p == NULL, empty);
                if (p != NULL) {
                    assert_true(pattern_ok(p, slot_size, next_pop));
                    ring_drop(r);
                    next_pop++;
                }
            } else {
                assert_int_equal(ring_pop(r, out), !empty);
                if (!empty) {
                    assert_true(pattern_ok(out, slot_size, next_pop));
                    next_pop++;
                }
            }
            assert_int_equal(ring_count(r), next_push - next_pop);
            assert_int_equal(ring_space(r) + ring_count(r), cap);
        }
    }
    /* Drain and make sure nothing was lost or invented. */
    while (ring_pop(r, out)) {
        assert_true(pattern_ok(out, slot_size, next_pop));
        next_pop++;
    }
    assert_int_equal(next_pop, next_push);
    /* The test is only meaningful if the indices went round the ring many times. */
    assert_true(next_push > 20 * cap);
    free(in);
    free(out);
    ring_free(r);
}

static void test_wrap_slot_1(void **state)
{
    (void)state;
    wrap_around(1, 2, 4000);
    wrap_around(1, 8, 4000);
}

static void test_wrap_slot_24(void **state)
{
    (void)state;
    wrap_around(24, 4, 4000);
    wrap_around(24, 64, 2000);
}

static void test_wrap_slot_1100(void **state)
{
    (void)state;
    wrap_around(1100, 2, 2000);
    wrap_around(1100, 16, 1000);
}

/* ---- two-thread hammer ------------------------------------------------------------ */

/* One slot: a sequence number, a payload derived from it and a checksum over both. */
struct hslot {
    uint64_t seq;
    uint64_t data[6];
    uint64_t sum;
};

static uint64_t hslot_sum(const struct hslot *s)
{
    uint64_t h = 0xcbf29ce484222325u ^ s->seq;

    for (size_t i = 0; i < 6; i++)
        h = mix64(h ^ s->data[i]);
    return h;
}

struct hammer {
    struct ring *r;
    uint64_t n;
    bool use_peek;
    atomic_bool producer_done;
    atomic_bool stop; /* set by the consumer on the first error, so the producer quits */
    /* Filled in by the consumer; checked by the main thread after joining. */
    uint64_t received;
    uint64_t first_bad_index;
    uint64_t first_bad_seq;
    const char *first_bad_what;
    uint64_t producer_full_spins;
};

static void *hammer_producer(void *arg)
{
    struct hammer *h = arg;
    struct hslot s;

    for (uint64_t i = 0; i < h->n; i++) {
        s.seq = i;
        for (size_t k = 0; k < 6; k++)
            s.data[k] = mix64(i * 7 + k);
        s.sum = hslot_sum(&s);
        while (!ring_push(h->r, &s)) {
            if (atomic_load_explicit(&h->stop, memory_order_relaxed))
                goto out;
            h->producer_full_spins++;
            sched_yield();
        }
    }
out:
    atomic_store_explicit(&h->producer_done, true, memory_order_release);
    return NULL;
}

static bool hammer_check(struct hammer *h, const struct hslot *s)
{
    const char *what = NULL;

    if (s->seq != h->received)
        what = s->seq < h->received ? "duplicate or reordered seq" : "gap in seq";
    else if (s->sum != hslot_sum(s))
        what = "checksum mismatch";
    else
        for (size_t k = 0; k < 6; k++)
            if (s->data[k] != mix64(s->seq * 7 + k))
                what = "payload mismatch";
    if (what != NULL) {
        h->first_bad_index = h->received;
        h->first_bad_seq = s->seq;
        h->first_bad_what = what;
        atomic_store_explicit(&h->stop, true, memory_order_relaxed);
        return false;
    }
    h->received++;
    return true;
}

static void *hammer_consumer(void *arg)
{
    struct hammer *h = arg;
    struct hslot s;

    while (h->received < h->n) {
        bool got;

        if (h->use_peek) {
            /* Validate in place: the producer must not touch the slot until the drop. */
            const struct hslot *p = ring_peek(h->r);

            got = p != NULL;
            if (got) {
                if (!hammer_check(h, p))
                    return NULL;
                ring_drop(h->r);
            }
        } else {
            got = ring_pop(h->r, &s);
            if (got && !hammer_check(h, &s))
                return NULL;
        }
        if (!got) {
            /* Empty: done only if the producer has finished and nothing is left. */
            if (atomic_load_explicit(&h->producer_done, memory_order_acquire) &&
                ring_peek(h->r) == NULL)
                return NULL;
            sched_yield();
        }
    }
    return NULL;
}

static void hammer(size_t cap, bool use_peek)
{
    struct hammer h;
    pthread_t prod, cons;

    memset(&h, 0, sizeof(h));
    h.r = ring_new(sizeof(struct hslot), cap);
    assert_non_null(h.r);
    h.n = HAMMER_N;
    h.use_peek = use_peek;
    atomic_init(&h.producer_done, false);
    atomic_init(&h.stop, false);

    assert_int_equal(pthread_create(&cons, NULL, hammer_consumer, &h), 0);
    assert_int_equal(pthread_create(&prod, NULL, hammer_producer, &h), 0);
    assert_int_equal(pthread_join(prod, NULL), 0);
    assert_int_equal(pthread_join(cons, NULL), 0);

    if (h.first_bad_what != NULL)
        fail_msg("cap %zu %s: at index %llu got seq %llu: %s", cap,
                 use_peek ? "peek/drop" : "pop", (unsigned long long)h.first_bad_index,
                 (unsigned long long)h.first_bad_seq, h.first_bad_what);
    assert_int_equal(h.received, h.n);
    assert_int_equal(ring_count(h.r), 0);
    assert_null(ring_peek(h.r));
    /*
     * With capacity 2 the producer must have found the ring full at least once, or the
     * test never exercised the full/wrap path it exists for.
     */
    if (cap == 2)
        assert_true(h.producer_full_spins > 0);
    ring_free(h.r);
}

static void test_hammer_pop_cap2(void **state)
{
    (void)state;
    hammer(2, false);
}

static void test_hammer_pop_cap1024(void **state)
{
    (void)state;
    hammer(1024, false);
}

static void test_hammer_peek_cap2(void **state)
{
    (void)state;
    hammer(2, true);
}

static void test_hammer_peek_cap1024(void **state)
{
    (void)state;
    hammer(1024, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_arguments),
        cmocka_unit_test(test_new_accepts_limits),
        cmocka_unit_test(test_empty_ring),
        cmocka_unit_test(test_fill_until_full_then_fifo),
        cmocka_unit_test(test_peek_and_drop),
        cmocka_unit_test(test_wrap_slot_1),
        cmocka_unit_test(test_wrap_slot_24),
        cmocka_unit_test(test_wrap_slot_1100),
        cmocka_unit_test(test_hammer_pop_cap2),
        cmocka_unit_test(test_hammer_pop_cap1024),
        cmocka_unit_test(test_hammer_peek_cap2),
        cmocka_unit_test(test_hammer_peek_cap1024),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
