/*
 * Waiting on many objects from C: xproc_queue_get_any (first ready queue, a value put by
 * another client wakes it, exactly one taken) and xproc_wait over a queue, an event, a lock,
 * a semaphore and a pipe end.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "common.h"

static char qa[64], qb[64], ev[64], lk[64], sem[64], pp[64];

/* A thread with its own client that puts `n` into queue `name` after 50 ms. */
struct later {
    const char *name;
    int64_t n;
};

static void *put_later_main(void *arg) {
    const struct later *l = arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(l->name), -1, &q));
    xproc_value_t *v = xproc_value_new_int64(l->n);
    CHECK(xproc_queue_put(q, v, XPROC_WAIT_FOREVER));
    xproc_value_free(v);
    xproc_queue_free(q);
    xproc_client_free(c);
    return NULL;
}

static pthread_t put_later(struct later *l) {
    pthread_t t;
    ASSERT(pthread_create(&t, NULL, put_later_main, l) == 0);
    return t;
}

static void reap(pthread_t t) {
    ASSERT(pthread_join(t, NULL) == 0);
}

static void get_any(void) {
    xproc_client_t *c = connect_default();
    xproc_queue_t *a = NULL, *b = NULL;
    CHECK(xproc_queue_open(c, S(qa), -1, &a));
    CHECK(xproc_queue_open(c, S(qb), -1, &b));
    const xproc_queue_t *both[] = {a, b};
    size_t index = 99;
    xproc_value_t *v = NULL;
    EXPECT(xproc_queue_get_any(c, both, 2, XPROC_NO_WAIT, &index, &v), XPROC_EMPTY);
    ASSERT(v == NULL && index == 0);
    EXPECT(xproc_queue_get_any(c, both, 2, 30, &index, &v), XPROC_TIMEOUT);

    /* Another client puts to b while we wait on both. */
    struct later l = {qb, 41};
    pthread_t child = put_later(&l);
    CHECK(xproc_queue_get_any(c, both, 2, 10000, &index, &v));
    int64_t n = 0;
    CHECK(xproc_value_as_int64(v, &n));
    ASSERT(index == 1 && n == 41);
    xproc_value_free(v);
    reap(child);

    /* Raw flavour; the first queue in the array that has an item wins. */
    xproc_value_t *x = xproc_value_new_int64(7);
    CHECK(xproc_queue_put(a, x, XPROC_WAIT_FOREVER));
    CHECK(xproc_queue_put(b, x, XPROC_WAIT_FOREVER));
    xproc_value_free(x);
    const xproc_queue_t *ba[] = {b, a};
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(xproc_queue_get_any_raw(c, ba, 2, XPROC_NO_WAIT, &index, &raw, &len));
    ASSERT(index == 0 && len == 1 && raw[0] == 7);
    xproc_bytes_free(raw, len);
    uint64_t qlen = 0;
    CHECK(xproc_queue_qsize(a, &qlen));
    ASSERT(qlen == 1);

    /* Bad sets cost nothing. */
    const xproc_queue_t *twice[] = {a, a};
    EXPECT(xproc_queue_get_any(c, twice, 2, XPROC_NO_WAIT, &index, &v), XPROC_INVALID_ARGUMENT);
    EXPECT(xproc_queue_get_any(c, both, 0, XPROC_NO_WAIT, &index, &v), XPROC_INVALID_ARGUMENT);
    EXPECT(xproc_queue_get_any(c, NULL, 2, XPROC_NO_WAIT, &index, &v), XPROC_NULL_ARGUMENT);
    const xproc_queue_t *wrong[] = {a, (const xproc_queue_t *)c};
    EXPECT(xproc_queue_get_any(c, wrong, 2, XPROC_NO_WAIT, &index, &v), XPROC_INVALID_ARGUMENT);
    CHECK(xproc_queue_qsize(a, &qlen));
    ASSERT(qlen == 1);
    CHECK(xproc_queue_get_any(c, both, 2, XPROC_NO_WAIT, &index, &v));
    xproc_value_free(v);
    xproc_queue_free(a);
    xproc_queue_free(b);
    xproc_client_free(c);
    printf("ok - get_any\n");
}

static void wait_mixed(void) {
    xproc_client_t *c = connect_default(), *other = connect_default();
    xproc_queue_t *q = NULL;
    xproc_event_t *e = NULL, *e2 = NULL;
    xproc_lock_t *l = NULL, *l2 = NULL;
    xproc_semaphore_t *s = NULL;
    xproc_pipe_t *pa = NULL, *pb = NULL;
    CHECK(xproc_queue_open(c, S(qa), -1, &q));
    CHECK(xproc_event_open(c, S(ev), &e));
    CHECK(xproc_event_open(other, S(ev), &e2));
    CHECK(xproc_lock_open(c, S(lk), &l));
    CHECK(xproc_lock_open(other, S(lk), &l2));
    CHECK(xproc_semaphore_open(c, S(sem), 0, &s));
    CHECK(xproc_pipe_open(c, S(pp), 'a', -1, -1, &pa));
    CHECK(xproc_pipe_open(other, S(pp), 'b', -1, -1, &pb));
    bool acquired = false;
    CHECK(xproc_lock_acquire(l2, XPROC_WAIT_FOREVER, &acquired, NULL));
    ASSERT(acquired);

    xproc_wait_object_t objs[] = {
        {XPROC_WAIT_QUEUE, q},  {XPROC_WAIT_EVENT, e},     {XPROC_WAIT_LOCK, l},
        {XPROC_WAIT_SEMAPHORE, s}, {XPROC_WAIT_PIPE, pa},
    };
    uint8_t ready[5];
    size_t n = 99;
    CHECK(xproc_wait(c, objs, 5, XPROC_NO_WAIT, ready, &n));
    ASSERT(n == 0);
    CHECK(xproc_wait(c, objs, 5, 20, ready, &n));
    ASSERT(n == 0);

    /* A put from another client wakes it; nothing is taken. */
    struct later later = {qa, 5};
    pthread_t child = put_later(&later);
    CHECK(xproc_wait(c, objs, 5, 10000, ready, &n));
    ASSERT(n == 1 && ready[0] == 1 && ready[1] == 0);
    reap(child);
    uint64_t qlen = 0;
    CHECK(xproc_queue_qsize(q, &qlen));
    ASSERT(qlen == 1);

    CHECK(xproc_event_set(e2));
    CHECK(xproc_lock_release(l2));
    CHECK(xproc_pipe_close(pb));
    CHECK(xproc_wait(c, objs, 5, XPROC_NO_WAIT, ready, NULL));
    ASSERT(ready[0] && ready[1] && ready[2] && !ready[3] && ready[4]);

    /* A handle of the wrong kind is refused. */
    xproc_wait_object_t bad[] = {{XPROC_WAIT_EVENT, q}};
    EXPECT(xproc_wait(c, bad, 1, XPROC_NO_WAIT, ready, &n), XPROC_INVALID_ARGUMENT);
    EXPECT(xproc_wait(c, objs, 5, XPROC_NO_WAIT, NULL, &n), XPROC_NULL_ARGUMENT);

    xproc_queue_free(q);
    xproc_event_free(e);
    xproc_event_free(e2);
    xproc_lock_free(l);
    xproc_lock_free(l2);
    xproc_semaphore_free(s);
    xproc_pipe_free(pa);
    xproc_pipe_free(pb);
    xproc_client_free(c);
    xproc_client_free(other);
    printf("ok - wait over mixed kinds\n");
}

int main(void) {
    uniq(qa, sizeof qa, "c-any-a");
    uniq(qb, sizeof qb, "c-any-b");
    uniq(ev, sizeof ev, "c-wait-ev");
    uniq(lk, sizeof lk, "c-wait-lock");
    uniq(sem, sizeof sem, "c-wait-sem");
    uniq(pp, sizeof pp, "c-wait-pipe");
    get_any();
    wait_mixed();
    return 0;
}
