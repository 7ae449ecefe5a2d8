/*
 * Views (xproc_view_t): a large value the broker passes as a sealed memfd is handed over as
 * its read-only mapping, no copy; a small one as an owned buffer. Either way the bytes stay
 * valid until xproc_view_free, after the queue, dict, pipe and client handles are gone.
 * Under valgrind (run_c_tests.sh) nothing leaks and nothing is read out of bounds.
 */
#include "common.h"

#define BIG (1u << 20)

/* A bin 32 MessagePack value of `n` payload bytes, byte i = i mod 251 (caller frees). */
static unsigned char *bin_value(size_t n, size_t *len) {
    unsigned char *v = malloc(n + 5);
    ASSERT(v != NULL);
    v[0] = 0xc6;
    v[1] = (unsigned char)(n >> 24);
    v[2] = (unsigned char)(n >> 16);
    v[3] = (unsigned char)(n >> 8);
    v[4] = (unsigned char)n;
    for (size_t i = 0; i < n; i++) v[5 + i] = (unsigned char)(i % 251);
    *len = n + 5;
    return v;
}

static int view_equals(const xproc_view_t *view, const unsigned char *want, size_t len) {
    const uint8_t *p = xproc_view_data(view);
    return p != NULL && xproc_view_len(view) == len && memcmp(p, want, len) == 0;
}

int main(void) {
    char qname[64], dname[64], pname[64];
    uniq(qname, sizeof qname, "views-q");
    uniq(dname, sizeof dname, "views-d");
    uniq(pname, sizeof pname, "views-p");
    size_t big_len = 0, small_len = 0;
    unsigned char *big = bin_value(BIG, &big_len);
    unsigned char *small = bin_value(10, &small_len);

    /* Queue: a large item comes back mapped, a small one owned; both outlive every handle. */
    xproc_client_t *c = connect_default();
    xproc_queue_t *q = NULL;
    CHECK(xproc_queue_open(c, S(qname), 0, &q));
    CHECK(xproc_queue_put_raw(q, big, big_len, -1));
    CHECK(xproc_queue_put_raw(q, small, small_len, -1));
    xproc_view_t *vbig = NULL, *vsmall = NULL;
    CHECK(xproc_queue_get_view(q, -1, &vbig));
    CHECK(xproc_queue_get_view(q, -1, &vsmall));
    ASSERT(xproc_view_is_mapped(vbig));
    ASSERT(!xproc_view_is_mapped(vsmall));
    printf("ok - a large queue item is a mapped view, a small one an owned buffer\n");
    xproc_view_t *none = (xproc_view_t *)1;
    EXPECT(xproc_queue_get_view(q, 0, &none), XPROC_EMPTY);
    ASSERT(none == NULL);
    EXPECT(xproc_queue_get_view(q, 0, NULL), XPROC_NULL_ARGUMENT);
    printf("ok - a failed get leaves *out NULL\n");
    bool deleted = false;
    CHECK(xproc_client_delete(c, S(qname), &deleted));
    xproc_queue_free(q);
    xproc_client_free(c);
    ASSERT(view_equals(vbig, big, big_len));
    ASSERT(view_equals(vsmall, small, small_len));
    printf("ok - views stay readable after the queue, its handle and the client are gone\n");
    xproc_view_free(vbig);
    xproc_view_free(vsmall);

    /* Dict: the value under a key, mapped; a missing key is XPROC_KEY_NOT_FOUND. */
    c = connect_default();
    xproc_dict_t *d = NULL;
    CHECK(xproc_dict_open(c, S(dname), &d));
    const unsigned char key[] = {0xa1, 'k'}; /* "k" */
    const unsigned char nokey[] = {0xa1, 'x'};
    CHECK(xproc_dict_set_raw(d, key, sizeof key, big, big_len));
    xproc_view_t *vd = NULL;
    CHECK(xproc_dict_get_view(d, key, sizeof key, &vd));
    ASSERT(xproc_view_is_mapped(vd));
    xproc_view_t *vmissing = (xproc_view_t *)1;
    EXPECT(xproc_dict_get_view(d, nokey, sizeof nokey, &vmissing), XPROC_KEY_NOT_FOUND);
    ASSERT(vmissing == NULL);
    CHECK(xproc_client_delete(c, S(dname), &deleted));
    xproc_dict_free(d);
    ASSERT(view_equals(vd, big, big_len));
    xproc_view_free(vd);
    printf("ok - a dict value as a mapped view, readable after its dict is deleted\n");

    /* Pipe: large messages from end a to end b, mapped. They are sent before end b is held,
       so they wait in the broker (and keep the pipe brokered until taken): a pipe that runs
       direct carries its messages inline on its socket (PROTOCOL.md 6.5.1). The receiving
       client has no rings yet: the first comes inline and makes it open them (4.2); the
       second comes in its down ring, mapped. */
    xproc_client_t *c2 = connect_default();
    xproc_pipe_t *a = NULL, *b = NULL;
    CHECK(xproc_pipe_open(c, S(pname), 'a', -1, -1, &a));
    CHECK(xproc_pipe_send_raw(a, big, big_len, -1));
    CHECK(xproc_pipe_send_raw(a, big, big_len, -1));
    CHECK(xproc_pipe_open(c2, S(pname), 'b', -1, -1, &b));
    xproc_view_t *vp1 = NULL, *vp = NULL;
    CHECK(xproc_pipe_recv_view(b, -1, &vp1));
    CHECK(xproc_pipe_recv_view(b, -1, &vp));
    ASSERT(xproc_view_is_mapped(vp));
    xproc_pipe_free(a);
    xproc_pipe_free(b);
    xproc_client_free(c);
    xproc_client_free(c2);

    ASSERT(view_equals(vp1, big, big_len));
    ASSERT(view_equals(vp, big, big_len));
    xproc_view_free(vp1);
    xproc_view_free(vp);
    printf("ok - a pipe message as a mapped view\n");

    /* Accessors on NULL: NULL/0/false; freeing NULL is a no-op. */
    ASSERT(xproc_view_data(NULL) == NULL);
    ASSERT(xproc_view_len(NULL) == 0);
    ASSERT(!xproc_view_is_mapped(NULL));
    xproc_view_free(NULL);
    printf("ok - NULL views\n");

    free(big);
    free(small);
    return 0;
}
