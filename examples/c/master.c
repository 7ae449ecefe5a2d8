/*
 * The master of the multiprocessing docs' master/worker example, in C over libxproc.
 *
 * It puts 10 random integers on the shared queue "task_queue", collects the 10 answers the
 * workers put on "result_queue" (strings such as "7 * 7 = 49"), waiting at most 10 s for
 * each, prints them, and finally puts one "STOP" per worker so the workers exit.
 *
 * Usage: master [WORKERS]   (default 2; the broker is $XPROC_SOCKET or the default one)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xproc.h"

#define TASKS 10
#define RESULT_TIMEOUT_MS 10000

/* Prints a failed call's status and message, and exits. */
static void check(xproc_status_e st, const char *what) {
    if (st != XPROC_OK) {
        fprintf(stderr, "master: %s: %s: %s\n", what, xproc_status_str(st), xproc_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    int workers = argc > 1 ? atoi(argv[1]) : 2;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    xproc_client_t *client = NULL;
    check(xproc_client_connect(NULL, 0, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &client), "connect");
    xproc_queue_t *tasks = NULL, *results = NULL;
    check(xproc_queue_open(client, "task_queue", strlen("task_queue"), -1, &tasks),
          "open task_queue");
    check(xproc_queue_open(client, "result_queue", strlen("result_queue"), -1, &results),
          "open result_queue");

    for (int i = 0; i < TASKS; i++) {
        xproc_value_t *n = xproc_value_new_int64(rand() % 100);
        check(xproc_queue_put(tasks, n, XPROC_WAIT_FOREVER), "put a task");
        xproc_value_free(n);
    }

    for (int i = 0; i < TASKS; i++) {
        xproc_value_t *r = NULL;
        check(xproc_queue_get(results, RESULT_TIMEOUT_MS, &r), "get a result");
        const char *text = NULL;
        size_t len = 0;
        check(xproc_value_as_string(r, &text, &len), "read a result");
        printf("%.*s\n", (int)len, text);
        xproc_value_free(r);
    }

    xproc_value_t *stop = NULL;
    check(xproc_value_new_string("STOP", 4, &stop), "make STOP");
    for (int i = 0; i < workers; i++) check(xproc_queue_put(tasks, stop, 0), "put STOP");
    xproc_value_free(stop);

    xproc_queue_free(tasks);
    xproc_queue_free(results);
    xproc_client_free(client);
    return 0;
}
