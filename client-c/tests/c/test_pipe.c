/*
 * Pipes from C: both ends on two clients, value and raw messages, poll, one-way pipes,
 * capacity, and end of file after close.
 */
#include "common.h"

int main(void) {
    char name[64];
    uniq(name, sizeof name, "c-pipe");
    xproc_client_t *c1 = connect_default(), *c2 = connect_default();
    xproc_pipe_t *a = NULL, *b = NULL, *busy = NULL;
    CHECK(xproc_pipe_open(c1, S(name), 'a', 1, 4, &a));
    CHECK(xproc_pipe_open(c2, S(name), 'b', -1, -1, &b));
    EXPECT(xproc_pipe_open(c2, S(name), 'a', -1, -1, &busy), XPROC_BUSY);
    EXPECT(xproc_pipe_open(c2, S(name), 'x', -1, -1, &busy), XPROC_INVALID_ARGUMENT);
    ASSERT(busy == NULL);

    xproc_value_t *msg = xproc_value_new_map();
    xproc_value_t *k = NULL, *v = NULL;
    CHECK(xproc_value_new_string(S("reading"), &k));
    CHECK(xproc_value_map_insert(msg, k, xproc_value_new_double(21.5)));
    CHECK(xproc_pipe_send(a, msg, XPROC_WAIT_FOREVER));
    xproc_value_free(msg);
    bool ready = false;
    CHECK(xproc_pipe_poll(b, 1000, &ready));
    ASSERT(ready);
    CHECK(xproc_pipe_recv(b, 1000, &v));
    double d = 0;
    CHECK(xproc_value_as_double(field(v, "reading"), &d));
    ASSERT(d == 21.5);
    xproc_value_free(v);
    PASS("pipe send and receive values");

    const uint8_t raw[] = {0xa2, 'h', 'i'};
    CHECK(xproc_pipe_send_raw(b, raw, sizeof raw, 0));
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK(xproc_pipe_recv_raw(a, 1000, &out, &out_len));
    ASSERT(out_len == 3 && memcmp(out, raw, 3) == 0);
    xproc_bytes_free(out, out_len);
    CHECK(xproc_pipe_poll(a, XPROC_NO_WAIT, &ready));
    ASSERT(!ready);
    EXPECT(xproc_pipe_recv_raw(a, XPROC_NO_WAIT, &out, &out_len), XPROC_EMPTY);
    EXPECT(xproc_pipe_recv_raw(a, 20, &out, &out_len), XPROC_TIMEOUT);
    for (int i = 0; i < 4; i++) CHECK(xproc_pipe_send_raw(a, raw, sizeof raw, 0));
    EXPECT(xproc_pipe_send_raw(a, raw, sizeof raw, 0), XPROC_FULL);
    PASS("pipe raw messages, capacity, timeouts");

    CHECK(xproc_pipe_close(a));
    EXPECT(xproc_pipe_send_raw(a, raw, sizeof raw, 0), XPROC_CLOSED);
    for (int i = 0; i < 4; i++) {
        CHECK(xproc_pipe_recv_raw(b, 1000, &out, &out_len));
        xproc_bytes_free(out, out_len);
    }
    EXPECT(xproc_pipe_recv_raw(b, XPROC_WAIT_FOREVER, &out, &out_len), XPROC_CLOSED);
    EXPECT(xproc_pipe_send_raw(b, raw, sizeof raw, 0), XPROC_CLOSED);
    xproc_pipe_free(a);
    xproc_pipe_free(b);
    PASS("pipe end of file after close");

    /* One-way: a sends, b receives. */
    uniq(name, sizeof name, "c-oneway");
    CHECK(xproc_pipe_open(c1, S(name), 'a', 0, -1, &a));
    CHECK(xproc_pipe_open(c1, S(name), 'b', -1, -1, &b));
    EXPECT(xproc_pipe_send_raw(b, raw, sizeof raw, 0), XPROC_INVALID_ARGUMENT);
    CHECK(xproc_pipe_send_raw(a, raw, sizeof raw, 0));
    xproc_pipe_free(a); /* freeing closes the end */
    CHECK(xproc_pipe_recv_raw(b, 1000, &out, &out_len));
    xproc_bytes_free(out, out_len);
    EXPECT(xproc_pipe_recv_raw(b, 1000, &out, &out_len), XPROC_CLOSED);
    xproc_pipe_free(b);
    PASS("one-way pipe");

    xproc_client_free(c1);
    xproc_client_free(c2);
    return 0;
}
