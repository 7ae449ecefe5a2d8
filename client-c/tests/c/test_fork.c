/*
 * The fork rules of docs/C.md, checked with real processes: a child made by fork() that calls
 * the parent's client or objects gets XPROC_DISCONNECTED ("... after fork, connect again in
 * the child") and neither writes nor reads on the inherited socket; freeing the inherited
 * handles in the child changes nothing for the parent (its lock stays held, its pipe end open,
 * its streamed puts all arrive) and closes the child's copy of the socket, so the broker sees
 * the parent's connection go while the child lives on; a child that connects a client of its
 * own works normally; and libxproc's sockets are close-on-exec.
 *
 * A watchdog (alarm) turns a hang — a child reading replies meant for the parent — into a
 * failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common.h"

/* Every socket this process has open is close-on-exec (a child that execs keeps none). */
static void sockets_are_cloexec(void) {
    int sockets = 0;
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            continue;
        }
        sockets++;
        ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
    ASSERT(sockets > 0);
    printf("ok - parent: its %d socket(s) are close-on-exec\n", sockets);
}

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
                  xproc_pipe_t *p, const char *qname, int ready_fd, int done_fd) {
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

    /* Stay alive until the parent has checked that its own connection closing is seen. */
    char byte = 1;
    ASSERT(write(ready_fd, &byte, 1) == 1);
    ASSERT(read(done_fd, &byte, 1) == 1);
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
    sockets_are_cloexec();

    /* Streamed puts: batches are on their way, their replies not yet read, when fork runs. */
    for (int64_t i = 0; i < STREAMED; i++) {
        xproc_value_t *v = xproc_value_new_int64(i);
        ASSERT(v != NULL);
        CHECK(xproc_queue_put_async(streamed, v));
        xproc_value_free(v);
    }

    int ready[2], done[2];
    ASSERT(pipe(ready) == 0 && pipe(done) == 0);
    fflush(stdout);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        /* Only the parent's ends stay open elsewhere: if the parent dies, the child's read
         * ends (EOF) instead of waiting forever. An alarm is not inherited: set one again. */
        close(ready[0]);
        close(done[1]);
        alarm(60);
        child(c, q, streamed, lk, p, qname, ready[1], done[0]);
    }
    close(ready[1]);
    close(done[0]);
    char byte = 0;
    ASSERT(read(ready[0], &byte, 1) == 1); /* the child did its part and lives on */

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

    /* The parent's connection closes while the child, which freed its copy, still runs: the
     * broker must see it go, and release the lock it held. Had the child kept the inherited
     * socket open, the connection would live on and the lock stay held. */
    CHECK(xproc_lock_acquire(lk, XPROC_WAIT_FOREVER, &acquired, &abandoned_by));
    xproc_queue_free(q);
    xproc_queue_free(streamed);
    xproc_lock_free(lk);
    xproc_pipe_free(p);
    xproc_client_free(c);
    xproc_client_t *after = connect_default();
    CHECK(xproc_lock_open(after, S(lname), &lk));
    CHECK(xproc_lock_acquire(lk, 5000, &acquired, &abandoned_by));
    ASSERT(acquired && abandoned_by == (uint32_t)getpid());
    printf("ok - parent: its connection closed although the child lives on (lock abandoned by %u)\n",
           abandoned_by);
    CHECK(xproc_lock_release(lk));
    xproc_lock_free(lk);

    ASSERT(write(done[1], &byte, 1) == 1);
    int status = 0;
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("ok - the child exited 0\n");

    CHECK(xproc_client_delete(after, S(qname), NULL));
    CHECK(xproc_client_delete(after, S(sname), NULL));
    CHECK(xproc_client_delete(after, S(lname), NULL));
    CHECK(xproc_client_delete(after, S(pname), NULL));
    xproc_client_free(after);
    return 0;
}
