/*
 * The event-loop API from a C program on poll(): one descriptor per client, requests started
 * without waiting, completions collected after xproc_client_process, cancellation that takes
 * nothing (a thousand gets cancelled while items arrive: every item is accounted for exactly
 * once), and replies read by a blocking call on another thread still waking the loop.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "common.h"

static char qname[64], q2name[64], q3name[64], lkname[64];

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (poll) until a completion is ready; returns it. Fails the test after 10 s. */
static xproc_completion_t *next(xproc_client_t *c, int fd, uint64_t *ticket) {
    for (int spins = 0; spins < 1000; spins++) {
        xproc_completion_t *cmp = NULL;
        xproc_status_e st = xproc_client_next_completion(c, ticket, &cmp);
        if (st == XPROC_OK)
            return cmp;
        ASSERT(st == XPROC_EMPTY && cmp == NULL);
        struct pollfd p = {fd, POLLIN, 0};
        int n = poll(&p, 1, 10);
        ASSERT(n >= 0);
        CHECK(xproc_client_process(c, NULL));
    }
    fprintf(stderr, "no completion within 10 s\n");
    exit(1);
}

struct producer {
    const char *name;
    int count;
    long delay_ms;
};

static void *produce(void *arg) {
    const struct producer *p = arg;
    sleep_ms(p->delay_ms);
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(p->name), -1, &q));
    for (int i = 0; i < p->count; i++) {
        xproc_value_t *v = xproc_value_new_int64(i);
        CHECK(xproc_queue_put(q, v, XPROC_WAIT_FOREVER));
        xproc_value_free(v);
    }
    xproc_queue_free(q);
    xproc_client_free(c);
    return NULL;
}

static int64_t value_of(const xproc_completion_t *cmp) {
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK(xproc_completion_value_raw(cmp, &data, &len));
    xproc_value_t *v = NULL;
    CHECK(xproc_value_decode(data, len, &v));
    int64_t n = -1;
    CHECK(xproc_value_as_int64(v, &n));
    xproc_value_free(v);
    return n;
}

static void started_gets_complete_in_a_poll_loop(void) {
    xproc_client_t *c = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    ASSERT(fd >= 0);
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(qname), -1, &q));
    uint64_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK(xproc_queue_get_start(q, XPROC_WAIT_FOREVER, &t[i]));
    /* Nothing yet. */
    size_t ready = 99;
    CHECK(xproc_client_process(c, &ready));
    ASSERT(ready == 0);
    struct producer p = {qname, 3, 50};
    pthread_t th;
    ASSERT(pthread_create(&th, NULL, produce, &p) == 0);
    for (int i = 0; i < 3; i++) {
        uint64_t ticket = 0;
        xproc_completion_t *cmp = next(c, fd, &ticket);
        CHECK(xproc_completion_status(cmp));
        /* FIFO among the started gets: the first started gets the first item. */
        ASSERT(ticket == t[i] && xproc_completion_ticket(cmp) == ticket);
        ASSERT(value_of(cmp) == i);
        xproc_completion_free(cmp);
    }
    ASSERT(pthread_join(th, NULL) == 0);

    /* A timeout at the broker is the completion's status; a put started is OK. */
    uint64_t tt = 0, tp = 0, ticket = 0;
    CHECK(xproc_queue_get_start(q, 20, &tt));
    xproc_completion_t *cmp = next(c, fd, &ticket);
    ASSERT(ticket == tt);
    EXPECT(xproc_completion_status(cmp), XPROC_TIMEOUT);
    const uint8_t *data = NULL;
    size_t len = 0;
    EXPECT(xproc_completion_value_raw(cmp, &data, &len), XPROC_INVALID_ARGUMENT);
    xproc_completion_free(cmp);
    const uint8_t seven[] = {7};
    CHECK(xproc_queue_put_start_raw(q, seven, 1, XPROC_WAIT_FOREVER, &tp));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == tp);
    CHECK(xproc_completion_status(cmp));
    xproc_completion_free(cmp);
    uint64_t qlen = 0;
    CHECK(xproc_queue_qsize(q, &qlen));
    ASSERT(qlen == 1);
    uint8_t *raw = NULL;
    CHECK(xproc_queue_get_raw(q, XPROC_NO_WAIT, &raw, &len));
    xproc_bytes_free(raw, len);
    xproc_queue_free(q);
    xproc_client_free(c);
    printf("ok - started gets complete in a poll loop, in FIFO order\n");
}

static void cancelled_gets_take_nothing(void) {
    enum { GETS = 1000, ITEMS = 500 };
    xproc_client_t *c = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(q2name), -1, &q));
    static uint64_t tickets[GETS];
    for (int i = 0; i < GETS; i++)
        CHECK(xproc_queue_get_start(q, XPROC_WAIT_FOREVER, &tickets[i]));
    struct producer p = {q2name, ITEMS, 0};
    pthread_t th;
    ASSERT(pthread_create(&th, NULL, produce, &p) == 0);
    /* Cancel every get while the items arrive. */
    for (int i = 0; i < GETS; i++) {
        CHECK(xproc_client_cancel(c, tickets[i]));
        if (i % 100 == 0)
            sleep_ms(1);
    }
    static bool seen[ITEMS];
    int got = 0, cancelled = 0;
    for (int i = 0; i < GETS; i++) {
        uint64_t ticket = 0;
        xproc_completion_t *cmp = next(c, fd, &ticket);
        xproc_status_e st = xproc_completion_status(cmp);
        if (st == XPROC_OK) {
            int64_t n = value_of(cmp);
            ASSERT(n >= 0 && n < ITEMS && !seen[n]);
            seen[n] = true;
            got++;
        } else {
            ASSERT(st == XPROC_TIMEOUT);
            cancelled++;
        }
        xproc_completion_free(cmp);
    }
    ASSERT(pthread_join(th, NULL) == 0);
    uint64_t left = 0;
    CHECK(xproc_queue_qsize(q, &left));
    /* Every item is either in a completion (the cancel came too late) or still queued. */
    ASSERT(got + (int)left == ITEMS);
    for (uint64_t i = 0; i < left; i++) {
        xproc_value_t *v = NULL;
        CHECK(xproc_queue_get(q, XPROC_NO_WAIT, &v));
        int64_t n = -1;
        CHECK(xproc_value_as_int64(v, &n));
        ASSERT(n >= 0 && n < ITEMS && !seen[n]);
        seen[n] = true;
        xproc_value_free(v);
    }
    printf("# %d gets cancelled: %d had their item already, %d took nothing, %d items left\n",
           GETS, got, cancelled, (int)left);
    xproc_queue_free(q);
    xproc_client_free(c);
    printf("ok - cancelled gets take nothing; every item exactly once\n");
}

struct blocking {
    xproc_queue_t *q;
    xproc_status_e status;
};

static void *blocking_get(void *arg) {
    struct blocking *b = arg;
    uint8_t *raw = NULL;
    size_t len = 0;
    b->status = xproc_queue_get_raw(b->q, 300, &raw, &len);
    xproc_bytes_free(raw, len);
    return NULL;
}

static void a_blocking_reader_on_another_thread_still_wakes_the_loop(void) {
    xproc_client_t *c = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    xproc_queue_t *q = NULL, *q3 = NULL;
    CHECK(xproc_queue_open(c, S(qname), -1, &q));
    CHECK(xproc_queue_open(c, S(q3name), -1, &q3));
    uint64_t t = 0, ticket = 0;
    CHECK(xproc_queue_get_start(q, XPROC_WAIT_FOREVER, &t));
    /* Another thread blocks on the same connection and reads for it. */
    struct blocking b = {q3, XPROC_OK};
    pthread_t th, prod;
    ASSERT(pthread_create(&th, NULL, blocking_get, &b) == 0);
    sleep_ms(50);
    struct producer p = {qname, 1, 0};
    ASSERT(pthread_create(&prod, NULL, produce, &p) == 0);
    xproc_completion_t *cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    ASSERT(value_of(cmp) == 0);
    xproc_completion_free(cmp);
    ASSERT(pthread_join(prod, NULL) == 0);
    ASSERT(pthread_join(th, NULL) == 0);
    ASSERT(b.status == XPROC_TIMEOUT);
    xproc_queue_free(q);
    xproc_queue_free(q3);
    xproc_client_free(c);
    printf("ok - a reply read by a blocking call on another thread wakes the loop\n");
}

static void locks_and_waits(void) {
    xproc_client_t *c = connect_default(), *other = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    xproc_lock_t *l = NULL, *l2 = NULL;
    CHECK(xproc_lock_open(c, S(lkname), &l));
    CHECK(xproc_lock_open(other, S(lkname), &l2));
    bool acquired = false;
    CHECK(xproc_lock_acquire(l2, XPROC_WAIT_FOREVER, &acquired, NULL));
    uint64_t ta = 0, tw = 0, ticket = 0;
    xproc_wait_object_t objs[] = {{XPROC_WAIT_LOCK, l}};
    CHECK(xproc_wait_start(c, objs, 1, XPROC_WAIT_FOREVER, &tw));
    CHECK(xproc_client_process(c, NULL));
    CHECK(xproc_lock_release(l2));
    /* The lock is free: the wait says so (it reserves nothing). */
    xproc_completion_t *cmp = next(c, fd, &ticket);
    CHECK(xproc_completion_status(cmp));
    ASSERT(ticket == tw);
    uint8_t ready[1] = {0};
    size_t n = 0;
    CHECK(xproc_completion_indices(cmp, ready, 1, &n));
    ASSERT(n == 1 && ready[0] == 1);
    xproc_completion_free(cmp);
    bool saw_wait = true, saw_acquire = false;
    CHECK(xproc_lock_acquire_start(l, XPROC_WAIT_FOREVER, &ta));
    cmp = next(c, fd, &ticket);
    CHECK(xproc_completion_status(cmp));
    ASSERT(ticket == ta);
    CHECK(xproc_completion_bool(cmp, S("acquired"), &acquired));
    ASSERT(acquired);
    uint64_t idx = 0;
    EXPECT(xproc_completion_uint(cmp, S("abandoned_by"), &idx), XPROC_NOT_FOUND);
    EXPECT(xproc_completion_uint(cmp, S("bogus"), &idx), XPROC_INVALID_ARGUMENT);
    saw_acquire = true;
    xproc_completion_free(cmp);
    ASSERT(saw_wait && saw_acquire);
    CHECK(xproc_lock_release(l));
    uint64_t none = 0;
    cmp = NULL;
    EXPECT(xproc_client_next_completion(c, &none, &cmp), XPROC_EMPTY);
    EXPECT(xproc_client_take_completion(c, 12345, &cmp), XPROC_EMPTY);
    EXPECT(xproc_queue_get_start(NULL, 0, &none), XPROC_NULL_ARGUMENT);
    xproc_lock_free(l);
    xproc_lock_free(l2);
    xproc_client_free(c);
    xproc_client_free(other);
    printf("ok - lock acquire and wait started and completed\n");
}

/* With deferred starts, requests leave on xproc_client_flush_starts, on xproc_client_process,
 * with a blocking call, or with a cancel: none is left unsent, and each completes once. */
static void deferred_starts_leave_together_and_never_stay_unsent(void) {
    xproc_client_t *c = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    char name[64];
    uniq(name, sizeof name, "c-ev-defer");
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(name), -1, &q));
    CHECK(xproc_client_defer_starts(c, 1));
    enum { N = 100 };
    uint64_t puts[N], gets[N];
    for (int i = 0; i < N; i++) {
        xproc_value_t *v = xproc_value_new_int64(i);
        uint8_t *data = NULL;
        size_t len = 0;
        CHECK(xproc_value_encode(v, &data, &len));
        CHECK(xproc_queue_put_start_raw(q, data, len, XPROC_WAIT_FOREVER, &puts[i]));
        xproc_bytes_free(data, len);
        xproc_value_free(v);
        CHECK(xproc_queue_get_start(q, XPROC_WAIT_FOREVER, &gets[i]));
    }
    CHECK(xproc_client_flush_starts(c));
    CHECK(xproc_client_flush_starts(c)); /* nothing left: a no-op */
    int64_t sum = 0;
    for (int i = 0; i < 2 * N; i++) {
        uint64_t t = 0;
        xproc_completion_t *cmp = next(c, fd, &t);
        CHECK(xproc_completion_status(cmp));
        for (int j = 0; j < N; j++) {
            if (t == gets[j]) {
                sum += value_of(cmp);
            }
        }
        xproc_completion_free(cmp);
    }
    ASSERT(sum == (int64_t)N * (N - 1) / 2);
    /* A blocking call sends a deferred start first. */
    uint64_t g = 0;
    CHECK(xproc_queue_get_start(q, XPROC_WAIT_FOREVER, &g));
    xproc_value_t *v = xproc_value_new_int64(7);
    CHECK(xproc_queue_put(q, v, XPROC_WAIT_FOREVER));
    xproc_value_free(v);
    uint64_t t = 0;
    xproc_completion_t *cmp = next(c, fd, &t);
    ASSERT(t == g && value_of(cmp) == 7);
    xproc_completion_free(cmp);
    /* A cancel goes at once, with its deferred target: the get completes, taking nothing. */
    CHECK(xproc_queue_get_start(q, XPROC_WAIT_FOREVER, &g));
    CHECK(xproc_client_cancel(c, g));
    cmp = next(c, fd, &t);
    ASSERT(t == g);
    xproc_status_e st = xproc_completion_status(cmp);
    ASSERT(st == XPROC_TIMEOUT || st == XPROC_EMPTY);
    xproc_completion_free(cmp);
    CHECK(xproc_client_defer_starts(c, 0));
    xproc_queue_free(q);
    xproc_client_free(c);
    printf("ok - deferred starts leave together and never stay unsent\n");
}

int main(void) {
    uniq(qname, sizeof qname, "c-ev-q");
    uniq(q2name, sizeof q2name, "c-ev-cancel");
    uniq(q3name, sizeof q3name, "c-ev-q3");
    uniq(lkname, sizeof lkname, "c-ev-lock");
    started_gets_complete_in_a_poll_loop();
    cancelled_gets_take_nothing();
    a_blocking_reader_on_another_thread_still_wakes_the_loop();
    locks_and_waits();
    deferred_starts_leave_together_and_never_stay_unsent();
    return 0;
}
