/*
 * A C program on its own poll() loop: it keeps two gets started on "jobs" and "urgent",
 * handles whichever completes, and stops on a "stop" job — the C example of docs/ASYNC.md.
 *
 *   cc -o poll_worker poll_worker.c $(pkg-config --cflags --libs xproc)
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "xproc.h"

#define CHECK(call)                                                                   \
    do {                                                                              \
        xproc_status_e st_ = (call);                                                  \
        if (st_ != XPROC_OK) {                                                        \
            fprintf(stderr, "%s: %s\n", #call, xproc_last_error());                   \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

int main(void) {
    xproc_client_t *c = NULL;
    xproc_queue_t *jobs = NULL, *urgent = NULL;
    CHECK(xproc_client_connect(NULL, 0, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &c));
    CHECK(xproc_queue_open(c, "jobs", 4, -1, &jobs));
    CHECK(xproc_queue_open(c, "urgent", 6, -1, &urgent));
    int fd = -1;
    CHECK(xproc_client_event_fd(c, &fd));

    /* One get in flight per queue; each is restarted when it completes. */
    uint64_t t_jobs = 0, t_urgent = 0;
    CHECK(xproc_queue_get_start(jobs, XPROC_WAIT_FOREVER, &t_jobs));
    CHECK(xproc_queue_get_start(urgent, XPROC_WAIT_FOREVER, &t_urgent));
    int handled = 0, running = 1;
    while (running) {
        struct pollfd p = {fd, POLLIN, 0}; /* add your own descriptors here */
        if (poll(&p, 1, 1000) < 0)
            return 1;
        CHECK(xproc_client_process(c, NULL));
        uint64_t ticket = 0;
        xproc_completion_t *done = NULL;
        while (xproc_client_next_completion(c, &ticket, &done) == XPROC_OK) {
            const uint8_t *data = NULL;
            size_t len = 0;
            CHECK(xproc_completion_status(done));
            CHECK(xproc_completion_value_raw(done, &data, &len)); /* borrowed */
            xproc_value_t *v = NULL;
            CHECK(xproc_value_decode(data, len, &v));
            const char *s = NULL;
            size_t n = 0;
            if (xproc_value_as_string(v, &s, &n) == XPROC_OK && n == 4 && !memcmp(s, "stop", 4))
                running = 0;
            else
                handled++;
            xproc_value_free(v);
            xproc_completion_free(done);
            if (ticket == t_jobs)
                CHECK(xproc_queue_get_start(jobs, XPROC_WAIT_FOREVER, &t_jobs));
            else
                CHECK(xproc_queue_get_start(urgent, XPROC_WAIT_FOREVER, &t_urgent));
        }
    }
    /* Give up the gets still in flight: cancelled, they take nothing (an item that was
     * already on its way is in its completion: put it back with xproc_queue_put_raw or
     * handle it). Collect both completions before freeing the client. */
    CHECK(xproc_client_cancel(c, t_jobs));
    CHECK(xproc_client_cancel(c, t_urgent));
    for (int left = 2; left > 0;) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 100);
        CHECK(xproc_client_process(c, NULL));
        uint64_t ticket = 0;
        xproc_completion_t *done = NULL;
        while (xproc_client_next_completion(c, &ticket, &done) == XPROC_OK) {
            if (xproc_completion_status(done) == XPROC_OK)
                handled++; /* it came before the cancel: ours to handle */
            xproc_completion_free(done);
            left--;
        }
    }
    printf("handled %d jobs\n", handled);
    xproc_queue_free(jobs);
    xproc_queue_free(urgent);
    xproc_client_free(c);
    return 0;
}
