/*
 * task_worker.c: a C worker for the notes' task_master.py (README.md beside this file), on
 * another machine: it connects to the broker over TCP with the authkey, takes integers n from
 * get_task_queue and puts "n * n = n² (by c worker PID)" on get_result_queue.
 *
 * Usage: task_worker tcp://HOST:PORT   (the key is read from $XPROC_AUTHKEY_FILE).
 * Stops when no task comes for 3 s or the master's broker goes away; exits 0, or 1 on any
 * other failure. Its last line is "c worker PID: done N task(s)".
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xproc.h"

static void check(xproc_status_e st, const char *what) {
    if (st != XPROC_OK) {
        fprintf(stderr, "c worker: %s: %s: %s\n", what, xproc_status_str(st), xproc_last_error());
        exit(1);
    }
}

/* The master got its 10 results and shut its broker down. */
static int gone(xproc_status_e st) {
    return st == XPROC_DISCONNECTED || st == XPROC_SHUTTING_DOWN;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s tcp://HOST:PORT\n", argv[0]);
        return 2;
    }
    long pid = (long)getpid();
    xproc_client_t *client = NULL;
    xproc_queue_t *task = NULL, *result = NULL;
    /* A NULL key reads the file $XPROC_AUTHKEY_FILE names (mode 0600). */
    check(xproc_client_connect_with(argv[1], strlen(argv[1]), "task_worker", 11, "c", 1, NULL, 0,
                                    XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &client),
          "connect");
    check(xproc_queue_open(client, "get_task_queue", 14, -1, &task), "open get_task_queue");
    check(xproc_queue_open(client, "get_result_queue", 16, -1, &result), "open get_result_queue");

    int done = 0;
    for (;;) {
        xproc_value_t *v = NULL;
        xproc_status_e st = xproc_queue_get(task, 3000, &v);
        if (st == XPROC_TIMEOUT) {
            printf("task queue is empty.\n");
            break;
        }
        if (gone(st)) {
            printf("server gone: %s\n", xproc_last_error());
            break;
        }
        check(st, "get a task");
        int64_t n = 0;
        st = xproc_value_as_int64(v, &n);
        xproc_value_free(v);
        check(st, "read a task (not an integer)");
        if (n > INT32_MAX || n < -(int64_t)INT32_MAX) {
            fprintf(stderr, "c worker: task %" PRId64 " is out of range\n", n);
            return 1;
        }
        printf("run task %" PRId64 " * %" PRId64 "...\n", n, n);
        fflush(stdout);
        struct timespec work = {0, 300 * 1000000L}; /* pretend work, so the others get a share */
        nanosleep(&work, NULL);

        char text[128];
        int len = snprintf(text, sizeof text, "%" PRId64 " * %" PRId64 " = %" PRId64
                           " (by c worker %ld)", n, n, n * n, pid);
        xproc_value_t *r = NULL;
        check(xproc_value_new_string(text, (size_t)len, &r), "make a result");
        st = xproc_queue_put(result, r, XPROC_WAIT_FOREVER);
        xproc_value_free(r);
        check(st, "put a result");
        done++;
    }
    printf("c worker %ld: done %d task(s)\n", pid, done);
    fflush(stdout);
    xproc_queue_free(task);
    xproc_queue_free(result);
    xproc_client_free(client);
    return 0;
}
