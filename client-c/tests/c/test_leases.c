/*
 * Acknowledged delivery from C: leased gets (value and raw flavours), ack, nack with and
 * without a delay, a lease that runs out, a client that goes away holding a lease, repeated
 * and foreign acks, a joinable queue counting acks as done, and max_attempts moving an item
 * to NAME.dead.
 */
#include "common.h"

static xproc_queue_t *open_queue(xproc_client_t *c, const char *name) {
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(name), -1, &q));
    return q;
}

static void put_int(xproc_queue_t *q, int64_t n) {
    xproc_value_t *v = xproc_value_new_int64(n);
    CHECK(xproc_queue_put(q, v, XPROC_WAIT_FOREVER));
    xproc_value_free(v);
}

static int64_t as_int(const xproc_value_t *v) {
    int64_t n = 0;
    CHECK(xproc_value_as_int64(v, &n));
    return n;
}

static void lease_ack_nack(void) {
    char name[64];
    uniq(name, sizeof name, "c-leases");
    xproc_client_t *c = connect_default(), *other = connect_default();
    xproc_queue_t *q = open_queue(c, name), *q2 = open_queue(other, name);
    put_int(q, 1);
    put_int(q, 2);

    xproc_value_t *v = NULL;
    uint64_t d = 0;
    uint32_t attempt = 0;
    CHECK(xproc_queue_get_leased(q, 1000, 60000, &v, &d, &attempt));
    ASSERT(as_int(v) == 1 && attempt == 1 && d != 0);
    xproc_value_free(v);
    /* Another connection cannot settle it. */
    EXPECT(xproc_queue_ack(q2, d), XPROC_UNKNOWN_DELIVERY);
    /* Nacked at once: back at the head, second attempt, a new delivery id. */
    CHECK(xproc_queue_nack(q, d, 0));
    EXPECT(xproc_queue_ack(q, d), XPROC_UNKNOWN_DELIVERY);
    uint64_t d2 = 0;
    CHECK(xproc_queue_get_leased(q, 1000, 0, &v, &d2, &attempt));
    ASSERT(as_int(v) == 1 && attempt == 2 && d2 != d);
    xproc_value_free(v);
    CHECK(xproc_queue_ack(q, d2));
    EXPECT(xproc_queue_ack(q, d2), XPROC_UNKNOWN_DELIVERY);

    /* Raw flavour; attempt is optional. */
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    CHECK(xproc_queue_get_leased_raw(q, 1000, 60000, &raw, &raw_len, &d, NULL));
    xproc_value_t *back = NULL;
    CHECK(xproc_value_decode(raw, raw_len, &back));
    ASSERT(as_int(back) == 2);
    xproc_value_free(back);
    xproc_bytes_free(raw, raw_len);
    /* A short delay: gone from the queue, then back by itself. */
    CHECK(xproc_queue_nack(q, d, 50));
    CHECK(xproc_queue_get_leased(q, 10000, 60000, &v, &d, &attempt));
    ASSERT(as_int(v) == 2 && attempt == 2);
    xproc_value_free(v);
    CHECK(xproc_queue_ack(q, d));
    EXPECT(xproc_queue_get_leased(q, 0, 0, &v, &d, &attempt), XPROC_EMPTY);
    ASSERT(v == NULL && d == 0);
    EXPECT(xproc_queue_get_leased(q, 0, 0, &v, NULL, NULL), XPROC_NULL_ARGUMENT);

    CHECK(xproc_client_delete(c, S(name), NULL));
    xproc_queue_free(q);
    xproc_queue_free(q2);
    xproc_client_free(c);
    xproc_client_free(other);
    PASS("lease, ack, nack");
}

static void expiry_and_a_holder_that_goes_away(void) {
    char name[64];
    uniq(name, sizeof name, "c-expiry");
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = open_queue(c, name);
    put_int(q, 7);
    xproc_value_t *v = NULL;
    uint64_t d = 0;
    uint32_t attempt = 0;
    /* A 20 ms lease runs out; a waiting get receives the item again. */
    CHECK(xproc_queue_get_leased(q, 1000, 20, &v, &d, &attempt));
    xproc_value_free(v);
    uint64_t d2 = 0;
    CHECK(xproc_queue_get_leased(q, 10000, 60000, &v, &d2, &attempt));
    ASSERT(as_int(v) == 7 && attempt == 2);
    xproc_value_free(v);
    EXPECT(xproc_queue_ack(q, d), XPROC_UNKNOWN_DELIVERY);

    /* A client that goes away holding a lease: the item returns at once. */
    xproc_client_t *gone = connect_default();
    xproc_queue_t *gq = open_queue(gone, name);
    CHECK(xproc_queue_ack(q, d2));
    put_int(q, 8);
    CHECK(xproc_queue_get_leased(gq, 1000, 3600000, &v, &d, &attempt));
    ASSERT(as_int(v) == 8 && attempt == 1);
    xproc_value_free(v);
    xproc_queue_free(gq);
    xproc_client_free(gone);
    CHECK(xproc_queue_get_leased(q, 10000, 60000, &v, &d, &attempt));
    ASSERT(as_int(v) == 8 && attempt == 2);
    xproc_value_free(v);
    CHECK(xproc_queue_ack(q, d));

    CHECK(xproc_client_delete(c, S(name), NULL));
    xproc_queue_free(q);
    xproc_client_free(c);
    PASS("lease expiry and disconnect");
}

static void joinable_counts_acks(void) {
    char name[64];
    uniq(name, sizeof name, "c-joinack");
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL;
    CHECK(xproc_joinable_queue_open(c, S(name), -1, &q));
    put_int(q, 1);
    xproc_value_t *v = NULL;
    uint64_t d = 0;
    CHECK(xproc_queue_get_leased(q, 1000, 0, &v, &d, NULL));
    xproc_value_free(v);
    EXPECT(xproc_queue_join(q, 20), XPROC_TIMEOUT);
    CHECK(xproc_queue_ack(q, d));
    CHECK(xproc_queue_join(q, 1000));
    CHECK(xproc_client_delete(c, S(name), NULL));
    xproc_queue_free(q);
    xproc_client_free(c);
    PASS("joinable queue counts acks");
}

static void max_attempts_dead_letters(void) {
    char name[64], dead[80];
    uniq(name, sizeof name, "c-once");
    snprintf(dead, sizeof dead, "%s.dead", name);
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL;
    /* One leased delivery per item: the first nack moves it to NAME.dead. */
    CHECK(xproc_queue_open_with(c, S(name), -1, 1, &q));
    put_int(q, 9);
    xproc_value_t *v = NULL;
    uint64_t d = 0;
    uint32_t attempt = 0;
    CHECK(xproc_queue_get_leased(q, 1000, 0, &v, &d, &attempt));
    ASSERT(as_int(v) == 9 && attempt == 1);
    xproc_value_free(v);
    CHECK(xproc_queue_nack(q, d, 0));
    EXPECT(xproc_queue_get_leased(q, 0, 0, &v, &d, NULL), XPROC_EMPTY);
    xproc_queue_t *dq = open_queue(c, dead);
    CHECK(xproc_queue_get(dq, 1000, &v));
    ASSERT(as_int(v) == 9);
    xproc_value_free(v);

    /* Reopening: the same value or none is accepted, another is an option mismatch. */
    xproc_queue_t *q2 = NULL;
    CHECK(xproc_queue_open_with(c, S(name), -1, 1, &q2));
    xproc_queue_free(q2);
    EXPECT(xproc_queue_open_with(c, S(name), -1, 3, &q2), XPROC_OPTION_MISMATCH);
    ASSERT(q2 == NULL && strstr(xproc_last_error(), "max_attempts") != NULL);
    EXPECT(xproc_joinable_queue_open_with(c, S(name), -1, 1, &q2), XPROC_TYPE_MISMATCH);

    CHECK(xproc_client_delete(c, S(name), NULL));
    CHECK(xproc_client_delete(c, S(dead), NULL));
    xproc_queue_free(dq);
    xproc_queue_free(q);
    xproc_client_free(c);
    PASS("max_attempts dead-letters");
}

int main(void) {
    ASSERT(strcmp(xproc_status_str(XPROC_UNKNOWN_DELIVERY), "XPROC_UNKNOWN_DELIVERY") == 0);
    lease_ack_nack();
    expiry_and_a_holder_that_goes_away();
    joinable_counts_acks();
    max_attempts_dead_letters();
    return 0;
}
