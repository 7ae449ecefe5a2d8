/*
 * A worker of the multiprocessing docs' master/worker example, in C over libxproc.
 *
 * It takes integers n from "task_queue" and puts the string "n * n = result" on
 * "result_queue", until it takes the string "STOP" (or nothing comes for 30 s).
 *
 * Usage: worker   (the broker is $XPROC_SOCKET or the default one)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xproc.h"

#define IDLE_TIMEOUT_MS 30000

static void check(xproc_status_e st, const char *what) {
    if (st != XPROC_OK) {
        fprintf(stderr, "worker: %s: %s: %s\n", what, xproc_status_str(st), xproc_last_error());
        exit(1);
    }
}

int main(void) {
    xproc_client_t *client = NULL;
    check(xproc_client_connect(NULL, 0, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &client), "connect");
    xproc_queue_t *tasks = NULL, *results = NULL;
    check(xproc_queue_open(client, "task_queue", strlen("task_queue"), -1, &tasks),
          "open task_queue");
    check(xproc_queue_open(client, "result_queue", strlen("result_queue"), -1, &results),
          "open result_queue");

    for (;;) {
        xproc_value_t *task = NULL;
        xproc_status_e st = xproc_queue_get(tasks, IDLE_TIMEOUT_MS, &task);
        if (st == XPROC_TIMEOUT) {
            fprintf(stderr, "worker: no task for %d s, exiting\n", IDLE_TIMEOUT_MS / 1000);
            break;
        }
        check(st, "get a task");
        if (xproc_value_type(task) == XPROC_VALUE_STRING) { /* "STOP" */
            xproc_value_free(task);
            break;
        }
        int64_t n = 0;
        check(xproc_value_as_int64(task, &n), "read a task");
        xproc_value_free(task);

        char text[64];
        int len = snprintf(text, sizeof text, "%lld * %lld = %lld", (long long)n, (long long)n,
                           (long long)(n * n));
        xproc_value_t *result = NULL;
        check(xproc_value_new_string(text, (size_t)len, &result), "make a result");
        check(xproc_queue_put(results, result, XPROC_WAIT_FOREVER), "put a result");
        xproc_value_free(result);
    }

    xproc_queue_free(tasks);
    xproc_queue_free(results);
    xproc_client_free(client);
    return 0;
}
