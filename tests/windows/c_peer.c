/* The C side of the Windows cross-language check (tests/windows/c_test.sh): a mingw program
   built against xproc.h and linked with xproc.dll's import library, talking through the broker
   to Rust client processes. It
   1. waits on the empty queue "from_rust" with a 200 ms timeout: XPROC_TIMEOUT (a blocking wait
      that gives up, over a named pipe);
   2. prints "ready", then takes integers from "from_rust" (blocking, up to 30 s each) until a nil,
      putting each one doubled on "to_rust", then a nil;
   3. prints "done N". Before all that it checks that the event-loop API, which is Linux-only so
   far, is in the DLL and says so (XPROC_PROTOCOL_ERROR, "Linux only") instead of working.
   Exits 1 with the status name and message on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xproc.h"

static int fail(const char *what, xproc_status_e st)
{
    fprintf(stderr, "c_peer: %s: %s: %s\n", what, xproc_status_str(st), xproc_last_error());
    return 1;
}

int main(void)
{
    const char *path = getenv("XPROC_SOCKET");
    if (!path) {
        fprintf(stderr, "c_peer: XPROC_SOCKET is not set\n");
        return 1;
    }
    xproc_client_t *client = NULL;
    xproc_status_e st = xproc_client_connect(path, strlen(path), 10000, &client);
    if (st != XPROC_OK)
        return fail("connect", st);
    xproc_queue_t *in = NULL, *out = NULL;
    if ((st = xproc_queue_open(client, "from_rust", 9, 0, &in)) != XPROC_OK)
        return fail("open from_rust", st);
    if ((st = xproc_queue_open(client, "to_rust", 7, 0, &out)) != XPROC_OK)
        return fail("open to_rust", st);

    int efd = -1;
    st = xproc_client_event_fd(client, &efd);
    if (st != XPROC_PROTOCOL_ERROR || !strstr(xproc_last_error(), "Linux only") || efd != -1) {
        fprintf(stderr, "c_peer: event_fd gave %s (%s), fd %d: want XPROC_PROTOCOL_ERROR\n",
                xproc_status_str(st), xproc_last_error(), efd);
        return 1;
    }
    uint64_t ticket = 1;
    st = xproc_queue_get_start(in, 0, &ticket);
    if (st != XPROC_PROTOCOL_ERROR || !strstr(xproc_last_error(), "Linux only") || ticket != 0) {
        fprintf(stderr, "c_peer: get_start gave %s (%s): want XPROC_PROTOCOL_ERROR\n",
                xproc_status_str(st), xproc_last_error());
        return 1;
    }

    xproc_value_t *v = NULL;
    st = xproc_queue_get(in, 200, &v);
    if (st != XPROC_TIMEOUT) {
        fprintf(stderr, "c_peer: get on an empty queue gave %s, not XPROC_TIMEOUT\n",
                xproc_status_str(st));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    long n = 0;
    for (;;) {
        if ((st = xproc_queue_get(in, 30000, &v)) != XPROC_OK)
            return fail("get", st);
        if (xproc_value_type(v) == XPROC_VALUE_NIL) {
            xproc_value_free(v);
            break;
        }
        int64_t x = 0;
        if ((st = xproc_value_as_int64(v, &x)) != XPROC_OK)
            return fail("as_int64", st);
        xproc_value_free(v);
        xproc_value_t *doubled = xproc_value_new_int64(2 * x);
        if ((st = xproc_queue_put(out, doubled, 30000)) != XPROC_OK)
            return fail("put", st);
        xproc_value_free(doubled);
        n++;
    }
    xproc_value_t *nil = xproc_value_new_nil();
    if ((st = xproc_queue_put(out, nil, 30000)) != XPROC_OK)
        return fail("put nil", st);
    xproc_value_free(nil);
    xproc_queue_free(in);
    xproc_queue_free(out);
    xproc_client_free(client);
    printf("done %ld\n", n);
    return 0;
}
