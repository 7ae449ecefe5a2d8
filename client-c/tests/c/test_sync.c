/*
 * Sync primitives from C, with POSIX threads where two parties are needed (one client per
 * thread, since locks and permits belong to the connection): Lock, RLock with abandoned_by,
 * Semaphore, BoundedSemaphore, Event, Condition, Barrier.
 */
#include <pthread.h>

#include "common.h"

static char lock_name[64], rlock_name[64], sem_name[64], bsem_name[64], ev_name[64],
    cv_name[64], bar_name[64];

static void locks(void) {
    xproc_client_t *c1 = connect_default(), *c2 = connect_default();
    xproc_lock_t *l1 = NULL, *l2 = NULL;
    CHECK(xproc_lock_open(c1, S(lock_name), &l1));
    CHECK(xproc_lock_open(c2, S(lock_name), &l2));
    bool acquired = false;
    uint32_t by = 99;
    CHECK(xproc_lock_acquire(l1, XPROC_WAIT_FOREVER, &acquired, &by));
    ASSERT(acquired && by == 0);
    CHECK(xproc_lock_acquire(l2, XPROC_NO_WAIT, &acquired, NULL));
    ASSERT(!acquired);
    CHECK(xproc_lock_acquire(l2, 20, &acquired, NULL));
    ASSERT(!acquired);
    EXPECT(xproc_lock_release(l2), XPROC_NOT_OWNER);
    CHECK(xproc_lock_release(l1));
    CHECK(xproc_lock_acquire(l2, 1000, &acquired, NULL));
    ASSERT(acquired);
    CHECK(xproc_lock_release(l2));
    xproc_lock_free(l1);
    xproc_lock_free(l2);
    PASS("lock");

    /* RLock: reentrant; abandoned by a connection that goes away while holding it. */
    CHECK(xproc_rlock_open(c1, S(rlock_name), &l1));
    CHECK(xproc_rlock_open(c2, S(rlock_name), &l2));
    CHECK(xproc_lock_acquire(l1, -1, &acquired, NULL));
    CHECK(xproc_lock_acquire(l1, 0, &acquired, NULL));
    ASSERT(acquired);
    xproc_lock_free(l1);
    xproc_client_free(c1); /* the connection closes while holding the rlock twice */
    CHECK(xproc_lock_acquire(l2, 5000, &acquired, &by));
    ASSERT(acquired && by == (uint32_t)getpid());
    CHECK(xproc_lock_release(l2));
    xproc_lock_free(l2);
    xproc_client_free(c2);
    PASS("rlock, abandoned_by");
}

static void semaphores(void) {
    xproc_client_t *c = connect_default();
    xproc_semaphore_t *s = NULL, *bs = NULL;
    CHECK(xproc_semaphore_open(c, S(sem_name), 2, &s));
    bool acquired = false;
    CHECK(xproc_semaphore_acquire(s, -1, &acquired));
    CHECK(xproc_semaphore_acquire(s, 0, &acquired));
    ASSERT(acquired);
    CHECK(xproc_semaphore_acquire(s, 20, &acquired));
    ASSERT(!acquired);
    CHECK(xproc_semaphore_release(s, 2));
    CHECK(xproc_bounded_semaphore_open(c, S(bsem_name), 1, &bs));
    CHECK(xproc_semaphore_acquire(bs, 0, &acquired));
    ASSERT(acquired);
    CHECK(xproc_semaphore_release(bs, 1));
    EXPECT(xproc_semaphore_release(bs, 1), XPROC_INVALID_ARGUMENT);
    xproc_semaphore_free(s);
    xproc_semaphore_free(bs);
    xproc_client_free(c);
    PASS("semaphore, bounded semaphore");
}

static void *event_waiter(void *arg) {
    xproc_client_t *c = connect_default();
    xproc_event_t *e = NULL;
    CHECK(xproc_event_open(c, S(ev_name), &e));
    bool set = false;
    CHECK(xproc_event_wait(e, XPROC_WAIT_FOREVER, &set));
    *(bool *)arg = set;
    xproc_event_free(e);
    xproc_client_free(c);
    return NULL;
}

static void events(void) {
    xproc_client_t *c = connect_default();
    xproc_event_t *e = NULL;
    CHECK(xproc_event_open(c, S(ev_name), &e));
    bool set = true;
    CHECK(xproc_event_is_set(e, &set));
    ASSERT(!set);
    CHECK(xproc_event_wait(e, 20, &set));
    ASSERT(!set);
    bool seen = false;
    pthread_t t;
    ASSERT(pthread_create(&t, NULL, event_waiter, &seen) == 0);
    CHECK(xproc_event_set(e));
    ASSERT(pthread_join(t, NULL) == 0);
    ASSERT(seen);
    CHECK(xproc_event_clear(e));
    CHECK(xproc_event_is_set(e, &set));
    ASSERT(!set);
    xproc_event_free(e);
    xproc_client_free(c);
    PASS("event");
}

/* The condition's shared state lives in a dict entry; the waiter waits for it to be 1. */
struct cv_ctx {
    xproc_dict_t *dict;
    xproc_value_t *key;
};

static bool flag_is_one(void *arg) {
    struct cv_ctx *ctx = arg;
    bool found = false;
    CHECK(xproc_dict_contains(ctx->dict, ctx->key, &found));
    return found;
}

static void *cv_waiter(void *arg) {
    xproc_client_t *c = connect_default();
    xproc_condition_t *cv = NULL;
    CHECK(xproc_condition_open(c, S(cv_name), &cv));
    struct cv_ctx ctx = {NULL, NULL};
    /* The name holds a condition, so it cannot be opened as a dict; the state lives under
     * another name. */
    EXPECT(xproc_dict_open(c, S(cv_name), &ctx.dict), XPROC_TYPE_MISMATCH);
    char dname[80];
    snprintf(dname, sizeof dname, "%s-state", cv_name);
    CHECK(xproc_dict_open(c, S(dname), &ctx.dict));
    CHECK(xproc_value_new_string(S("ready"), &ctx.key));
    bool acquired = false, result = false;
    CHECK(xproc_condition_acquire(cv, -1, &acquired, NULL));
    CHECK(xproc_condition_wait_for(cv, flag_is_one, &ctx, 10000, &result));
    CHECK(xproc_condition_release(cv));
    *(bool *)arg = result;
    xproc_value_free(ctx.key);
    xproc_dict_free(ctx.dict);
    xproc_condition_free(cv);
    xproc_client_free(c);
    return NULL;
}

static void conditions(void) {
    xproc_client_t *c = connect_default();
    xproc_condition_t *cv = NULL;
    CHECK(xproc_condition_open(c, S(cv_name), &cv));
    bool notified = true, acquired = false;
    EXPECT(xproc_condition_wait(cv, 0, &notified), XPROC_NOT_OWNER);
    CHECK(xproc_condition_acquire(cv, -1, &acquired, NULL));
    CHECK(xproc_condition_wait(cv, 20, &notified));
    ASSERT(!notified);
    CHECK(xproc_condition_release(cv));

    char dname[80];
    snprintf(dname, sizeof dname, "%s-state", cv_name);
    xproc_dict_t *d = NULL;
    CHECK(xproc_dict_open(c, S(dname), &d));
    bool result = false;
    pthread_t t;
    ASSERT(pthread_create(&t, NULL, cv_waiter, &result) == 0);
    /* Set the state under the lock and notify until the waiter has seen it. */
    xproc_value_t *key = NULL, *one = xproc_value_new_int64(1);
    CHECK(xproc_value_new_string(S("ready"), &key));
    CHECK(xproc_condition_acquire(cv, -1, &acquired, NULL));
    CHECK(xproc_dict_set(d, key, one));
    uint64_t woken = 0;
    CHECK(xproc_condition_notify_all(cv, &woken));
    CHECK(xproc_condition_release(cv));
    ASSERT(pthread_join(t, NULL) == 0);
    ASSERT(result);
    CHECK(xproc_condition_acquire(cv, -1, &acquired, NULL));
    CHECK(xproc_condition_notify(cv, 1, NULL));
    CHECK(xproc_condition_release(cv));
    CHECK(xproc_client_delete(c, S(dname), NULL));
    xproc_value_free(key);
    xproc_value_free(one);
    xproc_dict_free(d);
    xproc_condition_free(cv);
    xproc_client_free(c);
    PASS("condition wait, notify, wait_for");
}

static void *barrier_party(void *arg) {
    xproc_client_t *c = connect_default();
    xproc_barrier_t *b = NULL;
    CHECK(xproc_barrier_open(c, S(bar_name), 3, &b));
    CHECK(xproc_barrier_wait(b, 10000, (uint64_t *)arg));
    xproc_barrier_free(b);
    xproc_client_free(c);
    return NULL;
}

static void barriers(void) {
    uint64_t index[3] = {9, 9, 9};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) ASSERT(pthread_create(&t[i], NULL, barrier_party, &index[i]) == 0);
    xproc_client_t *c = connect_default();
    xproc_barrier_t *b = NULL;
    CHECK(xproc_barrier_open(c, S(bar_name), 3, &b));
    CHECK(xproc_barrier_wait(b, 10000, &index[2]));
    for (int i = 0; i < 2; i++) ASSERT(pthread_join(t[i], NULL) == 0);
    ASSERT(index[0] + index[1] + index[2] == 0 + 1 + 2);
    ASSERT(index[0] != index[1] && index[1] != index[2] && index[0] != index[2]);
    xproc_barrier_state_t st;
    CHECK(xproc_barrier_state(b, &st));
    ASSERT(st.parties == 3 && st.n_waiting == 0 && !st.broken);
    EXPECT(xproc_barrier_wait(b, 20, &index[0]), XPROC_BROKEN_BARRIER);
    CHECK(xproc_barrier_reset(b));
    CHECK(xproc_barrier_abort(b));
    EXPECT(xproc_barrier_wait(b, -1, &index[0]), XPROC_BROKEN_BARRIER);
    CHECK(xproc_barrier_state(b, &st));
    ASSERT(st.broken);
    xproc_barrier_free(b);
    xproc_client_free(c);
    PASS("barrier");
}

int main(void) {
    uniq(lock_name, sizeof lock_name, "c-lock");
    uniq(rlock_name, sizeof rlock_name, "c-rlock");
    uniq(sem_name, sizeof sem_name, "c-sem");
    uniq(bsem_name, sizeof bsem_name, "c-bsem");
    uniq(ev_name, sizeof ev_name, "c-event");
    uniq(cv_name, sizeof cv_name, "c-cond");
    uniq(bar_name, sizeof bar_name, "c-barrier");
    locks();
    semaphores();
    events();
    conditions();
    barriers();
    return 0;
}
