/*
 * The C worker of the four-language master/worker example (README.md beside this file).
 *
 * It takes integers n from "task_queue" and puts the string "n * n = n² (by c worker PID)" on
 * "result_queue", until it takes nil (the master's stop sentinel) or no task comes for
 * IDLE_MS. Each task takes WORK_MS of pretend work, as in the multiprocessing docs' example,
 * so that the other workers get a share of the tasks.
 *
 * Usage: worker   (the broker is $XPROC_SOCKET or the default one). Prints one line per task;
 * exits 0, or 1 with a message on stderr if the broker fails it.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xproc.h"

/* How long the worker waits for a task before deciding the master is gone. */
#define IDLE_MS 15000
/* Pretend work per task. */
#define WORK_MS 200

static void check(xproc_status_e st, const char *what) {
    if (st != XPROC_OK) {
        fprintf(stderr, "c worker: %s: %s: %s\n", what, xproc_status_str(st), xproc_last_error());
        exit(1);
    }
}

int main(void) {
    long pid = (long)getpid();
    xproc_client_t *client = NULL;
    check(xproc_client_connect(NULL, 0, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &client), "connect");
    xproc_queue_t *tasks = NULL, *results = NULL;
    check(xproc_queue_open(client, "task_queue", strlen("task_queue"), -1, &tasks),
          "open task_queue");
    check(xproc_queue_open(client, "result_queue", strlen("result_queue"), -1, &results),
          "open result_queue");

    int done = 0;
    for (;;) {
        xproc_value_t *task = NULL;
        xproc_status_e st = xproc_queue_get(tasks, IDLE_MS, &task);
        if (st == XPROC_TIMEOUT) {
            printf("c worker %ld: no task for %d s, stopping\n", pid, IDLE_MS / 1000);
            break;
        }
        check(st, "get a task");
        if (xproc_value_type(task) == XPROC_VALUE_NIL) { /* the stop sentinel */
            xproc_value_free(task);
            break;
        }
        int64_t n = 0;
        st = xproc_value_as_int64(task, &n);
        xproc_value_free(task);
        check(st, "read a task (not an integer)");
        printf("c worker %ld: run task %" PRId64 " * %" PRId64 "...\n", pid, n, n);
        fflush(stdout);

        struct timespec work = {WORK_MS / 1000, (WORK_MS % 1000) * 1000000L};
        nanosleep(&work, NULL);

        char text[128];
        int len;
        /* A square that overflows int64_t gets an answer saying so, not undefined behaviour. */
        if (n > INT32_MAX || n < -(int64_t)INT32_MAX) {
            len = snprintf(text, sizeof text, "%" PRId64 " * %" PRId64 " = overflow (by c worker %ld)",
                           n, n, pid);
        } else {
            len = snprintf(text, sizeof text, "%" PRId64 " * %" PRId64 " = %" PRId64
                           " (by c worker %ld)", n, n, n * n, pid);
        }
        xproc_value_t *result = NULL;
        check(xproc_value_new_string(text, (size_t)len, &result), "make a result");
        st = xproc_queue_put(results, result, XPROC_WAIT_FOREVER);
        xproc_value_free(result);
        check(st, "put a result");
        done++;
    }
    printf("c worker %ld: done, %d task(s)\n", pid, done);

    xproc_queue_free(tasks);
    xproc_queue_free(results);
    xproc_client_free(client);
    return 0;
}
