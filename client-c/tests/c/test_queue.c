/*
 * Queues and joinable queues from C: values of every type through a queue between two
 * clients (value and raw flavours), bounds, timeouts, pipelined puts, task_done/join.
 */
#include "common.h"

/* One value of every type, in an array. */
static xproc_value_t *every_type(void) {
    xproc_value_t *arr = xproc_value_new_array();
    xproc_value_t *s = NULL, *b = NULL, *t = NULL, *k = NULL;
    CHECK(xproc_value_array_push(arr, xproc_value_new_nil()));
    CHECK(xproc_value_array_push(arr, xproc_value_new_bool(true)));
    CHECK(xproc_value_array_push(arr, xproc_value_new_int64(-42)));
    CHECK(xproc_value_array_push(arr, xproc_value_new_uint64(UINT64_MAX)));
    CHECK(xproc_value_array_push(arr, xproc_value_new_double(6.5)));
    CHECK(xproc_value_array_push(arr, xproc_value_new_float(1.5f)));
    CHECK(xproc_value_new_string(S("text"), &s));
    CHECK(xproc_value_array_push(arr, s));
    const uint8_t raw[] = {1, 2, 3};
    CHECK(xproc_value_new_bytes(raw, sizeof raw, &b));
    CHECK(xproc_value_array_push(arr, b));
    const uint8_t secs[] = {0, 0, 0, 1};
    CHECK(xproc_value_new_ext(-1, secs, sizeof secs, &t));
    CHECK(xproc_value_array_push(arr, t));
    xproc_value_t *map = xproc_value_new_map();
    CHECK(xproc_value_new_string(S("inner"), &k));
    CHECK(xproc_value_map_insert(map, k, xproc_value_new_array()));
    CHECK(xproc_value_array_push(arr, map));
    return arr;
}

static int same_encoding(const xproc_value_t *a, const xproc_value_t *b) {
    uint8_t *x = NULL, *y = NULL;
    size_t xn = 0, yn = 0;
    CHECK(xproc_value_encode(a, &x, &xn));
    CHECK(xproc_value_encode(b, &y, &yn));
    int same = xn == yn && memcmp(x, y, xn) == 0;
    xproc_bytes_free(x, xn);
    xproc_bytes_free(y, yn);
    return same;
}

static void every_value_type_between_two_clients(void) {
    char name[64];
    uniq(name, sizeof name, "c-values");
    xproc_client_t *c1 = connect_default(), *c2 = connect_default();
    xproc_queue_t *q1 = NULL, *q2 = NULL;
    CHECK(xproc_queue_open(c1, S(name), -1, &q1));
    CHECK(xproc_queue_open(c2, S(name), -1, &q2));

    xproc_value_t *all = every_type();
    size_t n = 0;
    CHECK(xproc_value_array_len(all, &n));
    for (size_t i = 0; i < n; i++) {
        const xproc_value_t *e = NULL;
        CHECK(xproc_value_array_get(all, i, &e));
        CHECK(xproc_queue_put(q1, e, XPROC_WAIT_FOREVER));
    }
    CHECK(xproc_queue_put(q1, all, XPROC_NO_WAIT));
    uint64_t len = 0;
    CHECK(xproc_queue_qsize(q2, &len));
    ASSERT(len == n + 1);
    for (size_t i = 0; i < n; i++) {
        const xproc_value_t *want = NULL;
        CHECK(xproc_value_array_get(all, i, &want));
        xproc_value_t *got = NULL;
        CHECK(xproc_queue_get(q2, 1000, &got));
        ASSERT(xproc_value_type(got) == xproc_value_type(want));
        ASSERT(same_encoding(got, want));
        xproc_value_free(got);
    }
    /* The whole array, raw: the bytes come back unchanged. */
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    CHECK(xproc_queue_get_raw(q2, 1000, &raw, &raw_len));
    xproc_value_t *back = NULL;
    CHECK(xproc_value_decode(raw, raw_len, &back));
    ASSERT(same_encoding(back, all));
    xproc_value_free(back);
    xproc_bytes_free(raw, raw_len);
    xproc_value_free(all);

    CHECK(xproc_client_delete(c1, S(name), NULL));
    xproc_queue_free(q1);
    xproc_queue_free(q2);
    xproc_client_free(c1);
    xproc_client_free(c2);
    PASS("every value type through a queue");
}

static void bounds_timeouts_and_many(void) {
    char name[64];
    uniq(name, sizeof name, "c-bounded");
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(name), 2, &q));
    /* The client can go first: the handle keeps the connection. */
    xproc_client_free(c);
    uint8_t *out = NULL;
    size_t out_len = 0;
    EXPECT(xproc_queue_get_raw(q, XPROC_NO_WAIT, &out, &out_len), XPROC_EMPTY);
    EXPECT(xproc_queue_get_raw(q, 20, &out, &out_len), XPROC_TIMEOUT);
    const uint8_t one[] = {0x01};
    const uint8_t *values[] = {one, one};
    const size_t lens[] = {1, 1};
    size_t done = 0;
    CHECK(xproc_queue_put_many_raw(q, values, lens, 2, &done));
    ASSERT(done == 2);
    EXPECT(xproc_queue_put_raw(q, one, 1, XPROC_NO_WAIT), XPROC_FULL);
    EXPECT(xproc_queue_put_raw(q, one, 1, 20), XPROC_TIMEOUT);
    xproc_queue_size_t size;
    CHECK(xproc_queue_size(q, &size));
    ASSERT(size.len == 2 && size.maxsize == 2 && size.unfinished == 0);
    const uint8_t bad[] = {0xc1};
    EXPECT(xproc_queue_put_raw(q, bad, 1, 0), XPROC_INVALID_VALUE);
    for (int i = 0; i < 2; i++) {
        CHECK(xproc_queue_get_raw(q, 0, &out, &out_len));
        ASSERT(out_len == 1 && out[0] == 0x01);
        xproc_bytes_free(out, out_len);
    }
    EXPECT(xproc_queue_task_done(q), XPROC_TYPE_MISMATCH);
    xproc_queue_free(q);
    PASS("bounds, timeouts, pipelined puts");
}

static void joinable(void) {
    char name[64];
    uniq(name, sizeof name, "c-joinable");
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL, *wrong = NULL;
    CHECK(xproc_joinable_queue_open(c, S(name), 0, &q));
    EXPECT(xproc_queue_open(c, S(name), -1, &wrong), XPROC_TYPE_MISMATCH);
    ASSERT(wrong == NULL);
    xproc_value_t *v = xproc_value_new_int64(5);
    CHECK(xproc_queue_put(q, v, 0));
    xproc_value_free(v);
    EXPECT(xproc_queue_join(q, 20), XPROC_TIMEOUT);
    CHECK(xproc_queue_get(q, 0, &v));
    xproc_value_free(v);
    CHECK(xproc_queue_task_done(q));
    CHECK(xproc_queue_join(q, 1000));
    EXPECT(xproc_queue_task_done(q), XPROC_INVALID_ARGUMENT);
    CHECK(xproc_client_delete(c, S(name), NULL));
    xproc_queue_free(q);
    xproc_client_free(c);
    PASS("joinable queue");
}

int main(void) {
    every_value_type_between_two_clients();
    bounds_timeouts_and_many();
    joinable();
    return 0;
}
