/*
 * The fork rules of docs/C.md, checked with real processes: a child made by fork() that calls
 * the parent's client or objects gets XPROC_DISCONNECTED ("... after fork, connect again in
 * the child") and writes nothing on the inherited socket; freeing the inherited handles in the
 * child changes nothing for the parent (its lock stays held, its pipe end open, its streamed
 * puts all arrive); a child that connects a client of its own works normally.
 *
 * A watchdog (alarm) turns a hang — a child reading replies meant for the parent — into a
 * failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <sys/wait.h>

#include "common.h"

/* Streamed puts still in flight when the parent forks. */
#define STREAMED 20000

static void must_be_forked_error(xproc_status_e st, const char *what) {
    if (st != XPROC_DISCONNECTED || strstr(xproc_last_error(), "after fork") == NULL) {
        fprintf(stderr, "child: %s -> %s: %s (want XPROC_DISCONNECTED, \"after fork\")\n", what,
                xproc_status_str(st), xproc_last_error());
        _exit(1);
    }
    printf("ok - child: %s is XPROC_DISCONNECTED: %s\n", what, xproc_last_error());
}

/* The child: every call on the parent's handles fails cleanly; its own client works. */
static void child(xproc_client_t *c, xproc_queue_t *q, xproc_queue_t *streamed, xproc_lock_t *lk,
                  xproc_pipe_t *p, const char *qname) {
    must_be_forked_error(xproc_client_ping(c), "xproc_client_ping on the parent's client");
    xproc_value_t *v = NULL;
    CHECK(xproc_value_new_string(S("from the child, on the parent's client"), &v));
    must_be_forked_error(xproc_queue_put(q, v, XPROC_NO_WAIT), "xproc_queue_put on the parent's queue");
    xproc_value_free(v);
    xproc_value_t *got = NULL;
    must_be_forked_error(xproc_queue_get(q, XPROC_NO_WAIT, &got), "xproc_queue_get on the parent's queue");
    ASSERT(got == NULL);
    must_be_forked_error(xproc_lock_release(lk), "xproc_lock_release of the parent's lock");
    must_be_forked_error(xproc_queue_flush(streamed, NULL), "xproc_queue_flush of the parent's streamed puts");

    /* Freeing inherited handles is allowed: it writes nothing (a pipe end is not closed, a
     * stream is not flushed) and reads nothing. */
    xproc_queue_free(q);
    xproc_queue_free(streamed);
    xproc_lock_free(lk);
    xproc_pipe_free(p);
    xproc_client_free(c);
    printf("ok - child: freed the parent's handles\n");

    /* A client of its own works as in any process. */
    xproc_client_t *own = connect_default();
    xproc_queue_t *oq = NULL;
    CHECK(xproc_queue_open(own, qname, strlen(qname), -1, &oq));
    CHECK(xproc_value_new_string(S("from the child"), &v));
    CHECK(xproc_queue_put(oq, v, XPROC_WAIT_FOREVER));
    xproc_value_free(v);
    xproc_queue_free(oq);
    xproc_client_free(own);
    printf("ok - child: its own client put an item\n");
    fflush(stdout);
    _exit(0);
}

int main(void) {
    char qname[64], sname[64], lname[64], pname[64];
    uniq(qname, sizeof qname, "fork-q");
    uniq(sname, sizeof sname, "fork-streamed");
    uniq(lname, sizeof lname, "fork-lock");
    uniq(pname, sizeof pname, "fork-pipe");
    alarm(60);

    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL, *streamed = NULL;
    xproc_lock_t *lk = NULL;
    xproc_pipe_t *p = NULL;
    CHECK(xproc_queue_open(c, S(qname), -1, &q));
    CHECK(xproc_queue_open(c, S(sname), -1, &streamed));
    CHECK(xproc_lock_open(c, S(lname), &lk));
    CHECK(xproc_pipe_open(c, S(pname), 'a', 1, -1, &p));
    bool acquired = false;
    uint32_t abandoned_by = 0;
    CHECK(xproc_lock_acquire(lk, XPROC_WAIT_FOREVER, &acquired, &abandoned_by));
    ASSERT(acquired);

    /* Streamed puts: batches are on their way, their replies not yet read, when fork runs. */
    for (int64_t i = 0; i < STREAMED; i++) {
        xproc_value_t *v = xproc_value_new_int64(i);
        ASSERT(v != NULL);
        CHECK(xproc_queue_put_async(streamed, v));
        xproc_value_free(v);
    }

    fflush(stdout);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        child(c, q, streamed, lk, p, qname);
    }
    int status = 0;
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("ok - the child exited 0\n");

    /* The parent's connection is untouched. */
    CHECK(xproc_client_ping(c));
    CHECK(xproc_queue_flush(streamed, NULL));
    xproc_queue_size_t size;
    CHECK(xproc_queue_size(streamed, &size));
    ASSERT(size.len == STREAMED);
    printf("ok - parent: all %d streamed puts arrived; the child read none of their replies\n", STREAMED);
    CHECK(xproc_lock_release(lk));
    printf("ok - parent: still held its lock\n");
    xproc_value_t *v = NULL;
    CHECK(xproc_value_new_string(S("still open"), &v));
    CHECK(xproc_pipe_send(p, v, XPROC_NO_WAIT));
    xproc_value_free(v);
    printf("ok - parent: its pipe end is still open\n");
    xproc_value_t *got = NULL;
    CHECK(xproc_queue_get(q, 5000, &got));
    ASSERT(str_equals(got, "from the child"));
    xproc_value_free(got);
    got = NULL;
    EXPECT(xproc_queue_get(q, XPROC_NO_WAIT, &got), XPROC_EMPTY);
    printf("ok - parent: only the child's own client put an item\n");

    xproc_queue_free(q);
    xproc_queue_free(streamed);
    xproc_lock_free(lk);
    xproc_pipe_free(p);
    CHECK(xproc_client_delete(c, S(qname), NULL));
    CHECK(xproc_client_delete(c, S(sname), NULL));
    CHECK(xproc_client_delete(c, S(lname), NULL));
    CHECK(xproc_client_delete(c, S(pname), NULL));
    xproc_client_free(c);
    return 0;
}
