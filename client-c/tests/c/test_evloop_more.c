/*
 * The started requests added after the first event-loop calls, from a C program on poll():
 * a joinable queue's join, a leased get (and xproc_queue_unlease for a cancelled one that got
 * an item: back at the head, the attempt not counted), pipe send/recv/poll (a cancelled
 * receive that got a message hands it over in its completion), a barrier wait and a condition
 * wait. Peers are other connections (clients) of this process.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdbool.h>

#include "common.h"

static char jname[64], lname[64], pname[64], bname[64], cname[64];

/* Waits (poll) until a completion is ready; returns it. Fails the test after 10 s. */
static xproc_completion_t *next(xproc_client_t *c, int fd, uint64_t *ticket) {
    for (int spins = 0; spins < 1000; spins++) {
        xproc_completion_t *cmp = NULL;
        xproc_status_e st = xproc_client_next_completion(c, ticket, &cmp);
        if (st == XPROC_OK)
            return cmp;
        ASSERT(st == XPROC_EMPTY && cmp == NULL);
        struct pollfd p = {fd, POLLIN, 0};
        ASSERT(poll(&p, 1, 10) >= 0);
        CHECK(xproc_client_process(c, NULL));
    }
    fprintf(stderr, "no completion within 10 s\n");
    exit(1);
}

/* The completion's value as an int (a MessagePack positive fixint). */
static int small_int(const xproc_completion_t *cmp) {
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK(xproc_completion_value_raw(cmp, &data, &len));
    ASSERT(len == 1 && data[0] < 0x80);
    return data[0];
}

static const uint8_t ONE[] = {0x01}, TWO[] = {0x02}, SEVEN[] = {0x07};

static void join_and_leased_gets(void) {
    xproc_client_t *c = connect_default(), *peer = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    xproc_queue_t *j = NULL, *jp = NULL;
    CHECK(xproc_joinable_queue_open(c, S(jname), -1, &j));
    CHECK(xproc_joinable_queue_open(peer, S(jname), -1, &jp));
    CHECK(xproc_queue_put_raw(j, ONE, 1, XPROC_WAIT_FOREVER));
    uint64_t tj = 0, ticket = 0;
    CHECK(xproc_queue_join_start(j, XPROC_WAIT_FOREVER, &tj));
    uint8_t *got = NULL;
    size_t got_len = 0;
    CHECK(xproc_queue_get_raw(jp, XPROC_WAIT_FOREVER, &got, &got_len));
    xproc_bytes_free(got, got_len);
    CHECK(xproc_queue_task_done(jp));
    xproc_completion_t *cmp = next(c, fd, &ticket);
    ASSERT(ticket == tj);
    CHECK(xproc_completion_status(cmp));
    xproc_completion_free(cmp);

    /* A leased get, completed. */
    xproc_queue_t *q = NULL, *qp = NULL;
    CHECK(xproc_queue_open_with(c, S(lname), -1, 1, &q)); /* max_attempts 1 */
    CHECK(xproc_queue_open(peer, S(lname), -1, &qp));
    uint64_t tl = 0, delivery = 0, attempt = 0;
    CHECK(xproc_queue_get_leased_start(q, XPROC_WAIT_FOREVER, 0, &tl));
    CHECK(xproc_queue_put_raw(qp, SEVEN, 1, XPROC_WAIT_FOREVER));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == tl);
    ASSERT(small_int(cmp) == 7);
    CHECK(xproc_completion_uint(cmp, S("delivery"), &delivery));
    CHECK(xproc_completion_uint(cmp, S("attempt"), &attempt));
    ASSERT(attempt == 1);
    xproc_completion_free(cmp);
    /* Cancelled after the broker handed the item over: the completion has it, and
     * unlease gives it back without spending its only attempt (max_attempts 1). */
    CHECK(xproc_queue_unlease(q, delivery));
    EXPECT(xproc_queue_unlease(q, delivery), XPROC_UNKNOWN_DELIVERY);
    CHECK(xproc_queue_get_leased_start(q, XPROC_WAIT_FOREVER, 0, &tl));
    CHECK(xproc_client_ping(c)); /* its reply comes after the get's answer */
    CHECK(xproc_client_cancel(c, tl));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == tl);
    ASSERT(small_int(cmp) == 7);
    CHECK(xproc_completion_uint(cmp, S("delivery"), &delivery));
    CHECK(xproc_completion_uint(cmp, S("attempt"), &attempt));
    ASSERT(attempt == 1);
    xproc_completion_free(cmp);
    CHECK(xproc_queue_unlease(q, delivery));
    uint32_t again = 0;
    CHECK(xproc_queue_get_leased_raw(qp, 0, 0, &got, &got_len, &delivery, &again));
    ASSERT(got_len == 1 && got[0] == 7 && again == 1);
    xproc_bytes_free(got, got_len);
    CHECK(xproc_queue_ack(qp, delivery));
    /* A cancelled leased get on an empty queue takes nothing. */
    CHECK(xproc_queue_get_leased_start(q, XPROC_WAIT_FOREVER, 0, &tl));
    CHECK(xproc_client_cancel(c, tl));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == tl);
    EXPECT(xproc_completion_status(cmp), XPROC_TIMEOUT);
    xproc_completion_free(cmp);
    EXPECT(xproc_queue_join_start(NULL, 0, &tl), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_queue_get_leased_start(q, 0, 0, NULL), XPROC_NULL_ARGUMENT);
    xproc_queue_free(j);
    xproc_queue_free(jp);
    xproc_queue_free(q);
    xproc_queue_free(qp);
    xproc_client_free(c);
    xproc_client_free(peer);
    printf("ok - join and leased gets started, cancelled, unleased\n");
}

static void pipes(void) {
    xproc_client_t *c = connect_default(), *peer = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    xproc_pipe_t *b = NULL, *a = NULL;
    CHECK(xproc_pipe_open(c, S(pname), 'b', -1, -1, &b));
    CHECK(xproc_pipe_open(peer, S(pname), 'a', -1, -1, &a));
    uint64_t t = 0, ticket = 0;
    bool ready = true;
    CHECK(xproc_pipe_poll_start(b, 0, &t));
    xproc_completion_t *cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    CHECK(xproc_completion_bool(cmp, S("ready"), &ready));
    ASSERT(!ready);
    xproc_completion_free(cmp);
    /* send from c's end b to the peer's end a */
    CHECK(xproc_pipe_send_start_raw(b, TWO, 1, XPROC_WAIT_FOREVER, &t));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    CHECK(xproc_completion_status(cmp));
    xproc_completion_free(cmp);
    uint8_t *got = NULL;
    size_t got_len = 0;
    CHECK(xproc_pipe_recv_raw(a, XPROC_WAIT_FOREVER, &got, &got_len));
    ASSERT(got_len == 1 && got[0] == 2);
    xproc_bytes_free(got, got_len);
    /* recv, and a poll that waits */
    CHECK(xproc_pipe_poll_start(b, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_pipe_send_raw(a, ONE, 1, XPROC_WAIT_FOREVER));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    CHECK(xproc_completion_bool(cmp, S("ready"), &ready));
    ASSERT(ready);
    xproc_completion_free(cmp);
    CHECK(xproc_pipe_recv_start(b, XPROC_WAIT_FOREVER, &t));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == t && small_int(cmp) == 1);
    xproc_completion_free(cmp);
    /* A receive cancelled as its message came: either its completion has the message (the
       broker, or the socket of a direct end, had answered first), or it took nothing and the
       next receive gets it. Either way the message arrives exactly once. (The pipe runs
       direct here, so the ping does not order the cancel after the answer.) */
    CHECK(xproc_pipe_recv_start(b, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_pipe_send_raw(a, SEVEN, 1, XPROC_WAIT_FOREVER));
    CHECK(xproc_client_ping(c));
    CHECK(xproc_client_cancel(c, t));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    if (xproc_completion_status(cmp) == XPROC_OK) {
        ASSERT(small_int(cmp) == 7);
    } else {
        EXPECT(xproc_completion_status(cmp), XPROC_TIMEOUT);
        CHECK(xproc_pipe_recv_raw(b, XPROC_WAIT_FOREVER, &got, &got_len));
        ASSERT(got_len == 1 && got[0] == 7);
        xproc_bytes_free(got, got_len);
    }
    xproc_completion_free(cmp);
    /* One cancelled while nothing came took nothing; then end of file. */
    CHECK(xproc_pipe_recv_start(b, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_client_cancel(c, t));
    cmp = next(c, fd, &ticket);
    EXPECT(xproc_completion_status(cmp), XPROC_TIMEOUT);
    xproc_completion_free(cmp);
    CHECK(xproc_pipe_close(a));
    CHECK(xproc_pipe_recv_start(b, XPROC_WAIT_FOREVER, &t));
    cmp = next(c, fd, &ticket);
    EXPECT(xproc_completion_status(cmp), XPROC_CLOSED);
    xproc_completion_free(cmp);
    EXPECT(xproc_pipe_recv_start(NULL, 0, &t), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_pipe_send_start_raw(b, NULL, 1, 0, &t), XPROC_NULL_ARGUMENT);
    xproc_pipe_free(a);
    xproc_pipe_free(b);
    xproc_client_free(c);
    xproc_client_free(peer);
    printf("ok - pipe send, recv and poll started; a cancelled recv hands its message over\n");
}

static void barrier_and_condition(void) {
    xproc_client_t *c = connect_default(), *peer = connect_default();
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));
    xproc_barrier_t *b = NULL, *bp = NULL;
    CHECK(xproc_barrier_open(c, S(bname), 2, &b));
    CHECK(xproc_barrier_open(peer, S(bname), 2, &bp));
    uint64_t t = 0, ticket = 0, index = 9;
    CHECK(xproc_barrier_wait_start(b, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_client_ping(c)); /* the started wait arrived first */
    CHECK(xproc_barrier_wait(bp, XPROC_WAIT_FOREVER, &index));
    ASSERT(index == 1);
    xproc_completion_t *cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    CHECK(xproc_completion_uint(cmp, S("index"), &index));
    ASSERT(index == 0);
    xproc_completion_free(cmp);
    /* Cancelling a waiting party breaks the barrier. */
    CHECK(xproc_barrier_wait_start(b, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_client_cancel(c, t));
    cmp = next(c, fd, &ticket);
    EXPECT(xproc_completion_status(cmp), XPROC_BROKEN_BARRIER);
    xproc_completion_free(cmp);

    xproc_condition_t *cv = NULL, *cvp = NULL;
    CHECK(xproc_condition_open(c, S(cname), &cv));
    CHECK(xproc_condition_open(peer, S(cname), &cvp));
    CHECK(xproc_condition_acquire_start(cv, XPROC_WAIT_FOREVER, &t));
    cmp = next(c, fd, &ticket);
    bool flag = false;
    CHECK(xproc_completion_bool(cmp, S("acquired"), &flag));
    ASSERT(flag);
    xproc_completion_free(cmp);
    CHECK(xproc_condition_wait_start(cv, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_client_ping(c)); /* the wait released the lock */
    CHECK(xproc_condition_acquire(cvp, XPROC_WAIT_FOREVER, &flag, NULL));
    ASSERT(flag);
    uint64_t woken = 0;
    CHECK(xproc_condition_notify(cvp, 1, &woken));
    ASSERT(woken == 1);
    CHECK(xproc_condition_release(cvp));
    cmp = next(c, fd, &ticket);
    ASSERT(ticket == t);
    CHECK(xproc_completion_bool(cmp, S("notified"), &flag));
    ASSERT(flag);
    xproc_completion_free(cmp);
    /* A cancelled wait still comes back holding the lock: notified false. */
    CHECK(xproc_condition_wait_start(cv, XPROC_WAIT_FOREVER, &t));
    CHECK(xproc_client_cancel(c, t));
    cmp = next(c, fd, &ticket);
    CHECK(xproc_completion_bool(cmp, S("notified"), &flag));
    ASSERT(!flag);
    xproc_completion_free(cmp);
    CHECK(xproc_condition_release(cv));
    CHECK(xproc_condition_acquire(cvp, 0, &flag, NULL));
    ASSERT(flag); /* free again */
    CHECK(xproc_condition_release(cvp));
    xproc_barrier_free(b);
    xproc_barrier_free(bp);
    xproc_condition_free(cv);
    xproc_condition_free(cvp);
    xproc_client_free(c);
    xproc_client_free(peer);
    printf("ok - barrier and condition waits started and cancelled\n");
}

int main(void) {
    uniq(jname, sizeof jname, "c-evm-join");
    uniq(lname, sizeof lname, "c-evm-lease");
    uniq(pname, sizeof pname, "c-evm-pipe");
    uniq(bname, sizeof bname, "c-evm-bar");
    uniq(cname, sizeof cname, "c-evm-cond");
    join_and_leased_gets();
    pipes();
    barrier_and_condition();
    return 0;
}
