/*
 * The value API from C: every value type built, read, encoded and decoded, containers that
 * take ownership of their children, and error paths. Needs no broker.
 */
#include "common.h"

static void encode_decode_same(const xproc_value_t *v, xproc_value_type_e type) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK(xproc_value_encode(v, &bytes, &len));
    xproc_value_t *back = NULL;
    CHECK(xproc_value_decode(bytes, len, &back));
    ASSERT(xproc_value_type(back) == type);
    uint8_t *again = NULL;
    size_t again_len = 0;
    CHECK(xproc_value_encode(back, &again, &again_len));
    ASSERT(again_len == len && memcmp(again, bytes, len) == 0);
    xproc_bytes_free(again, again_len);
    xproc_bytes_free(bytes, len);
    xproc_value_free(back);
}

static void scalars(void) {
    xproc_value_t *nil = xproc_value_new_nil();
    ASSERT(xproc_value_type(nil) == XPROC_VALUE_NIL);
    encode_decode_same(nil, XPROC_VALUE_NIL);
    xproc_value_free(nil);

    xproc_value_t *b = xproc_value_new_bool(true);
    bool bv = false;
    CHECK(xproc_value_as_bool(b, &bv));
    ASSERT(bv);
    encode_decode_same(b, XPROC_VALUE_BOOL);
    xproc_value_free(b);

    xproc_value_t *i = xproc_value_new_int64(-1234567890123LL);
    int64_t iv = 0;
    CHECK(xproc_value_as_int64(i, &iv));
    ASSERT(iv == -1234567890123LL);
    uint64_t uv = 0;
    EXPECT(xproc_value_as_uint64(i, &uv), XPROC_OUT_OF_RANGE);
    encode_decode_same(i, XPROC_VALUE_INT);
    xproc_value_free(i);

    xproc_value_t *u = xproc_value_new_uint64(UINT64_MAX);
    ASSERT(xproc_value_type(u) == XPROC_VALUE_UINT);
    CHECK(xproc_value_as_uint64(u, &uv));
    ASSERT(uv == UINT64_MAX);
    EXPECT(xproc_value_as_int64(u, &iv), XPROC_OUT_OF_RANGE);
    encode_decode_same(u, XPROC_VALUE_UINT);
    xproc_value_free(u);

    xproc_value_t *small = xproc_value_new_uint64(5);
    ASSERT(xproc_value_type(small) == XPROC_VALUE_INT);
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK(xproc_value_encode(small, &bytes, &len));
    ASSERT(len == 1 && bytes[0] == 5); /* shortest form */
    xproc_bytes_free(bytes, len);
    xproc_value_free(small);

    xproc_value_t *d = xproc_value_new_double(3.25);
    double dv = 0;
    CHECK(xproc_value_as_double(d, &dv));
    ASSERT(dv == 3.25);
    encode_decode_same(d, XPROC_VALUE_DOUBLE);
    EXPECT(xproc_value_as_bool(d, &bv), XPROC_WRONG_TYPE);
    xproc_value_free(d);

    xproc_value_t *f = xproc_value_new_float(0.5f);
    CHECK(xproc_value_as_double(f, &dv));
    ASSERT(dv == 0.5);
    encode_decode_same(f, XPROC_VALUE_FLOAT);
    xproc_value_free(f);
    PASS("scalars");
}

static void strings_bytes_ext(void) {
    xproc_value_t *s = NULL;
    CHECK(xproc_value_new_string(S("grüße"), &s));
    ASSERT(str_equals(s, "grüße"));
    const char *p = NULL;
    size_t n = 0;
    CHECK(xproc_value_as_string(s, &p, &n));
    ASSERT(strcmp(p, "grüße") == 0); /* NUL-terminated too */
    encode_decode_same(s, XPROC_VALUE_STRING);
    xproc_value_free(s);

    const char bad[] = {(char)0xff, 0};
    xproc_value_t *none = NULL;
    EXPECT(xproc_value_new_string(bad, 1, &none), XPROC_INVALID_ARGUMENT);
    ASSERT(none == NULL);
    EXPECT(xproc_value_new_string(NULL, 2, &none), XPROC_NULL_ARGUMENT);

    const uint8_t raw[] = {0, 1, 2, 0xff};
    xproc_value_t *b = NULL;
    CHECK(xproc_value_new_bytes(raw, sizeof raw, &b));
    const uint8_t *bp = NULL;
    CHECK(xproc_value_as_bytes(b, &bp, &n));
    ASSERT(n == sizeof raw && memcmp(bp, raw, n) == 0);
    EXPECT(xproc_value_as_string(b, &p, &n), XPROC_WRONG_TYPE);
    encode_decode_same(b, XPROC_VALUE_BYTES);
    xproc_value_free(b);

    const uint8_t secs[] = {0x65, 0x53, 0xf1, 0x00}; /* a timestamp: 32-bit seconds */
    xproc_value_t *t = NULL;
    CHECK(xproc_value_new_ext(-1, secs, sizeof secs, &t));
    int8_t type = 0;
    CHECK(xproc_value_as_ext(t, &type, &bp, &n));
    ASSERT(type == -1 && n == 4 && memcmp(bp, secs, 4) == 0);
    encode_decode_same(t, XPROC_VALUE_EXT);
    xproc_value_free(t);
    PASS("strings, bytes, extensions");
}

static void containers(void) {
    xproc_value_t *arr = xproc_value_new_array();
    CHECK(xproc_value_array_push(arr, xproc_value_new_int64(1)));
    xproc_value_t *s = NULL;
    CHECK(xproc_value_new_string(S("two"), &s));
    CHECK(xproc_value_array_push(arr, s));
    xproc_value_t *map = xproc_value_new_map();
    xproc_value_t *k = NULL;
    CHECK(xproc_value_new_string(S("n"), &k));
    CHECK(xproc_value_map_insert(map, k, xproc_value_new_int64(7)));
    CHECK(xproc_value_map_insert(map, xproc_value_new_int64(3), xproc_value_new_nil()));
    CHECK(xproc_value_array_push(arr, map));

    size_t n = 0;
    CHECK(xproc_value_array_len(arr, &n));
    ASSERT(n == 3);
    const xproc_value_t *e = NULL;
    CHECK(xproc_value_array_get(arr, 1, &e));
    ASSERT(str_equals(e, "two"));
    EXPECT(xproc_value_array_get(arr, 3, &e), XPROC_OUT_OF_RANGE);
    ASSERT(e == NULL);
    const xproc_value_t *m = NULL;
    CHECK(xproc_value_array_get(arr, 2, &m));
    CHECK(xproc_value_map_len(m, &n));
    ASSERT(n == 2);
    const xproc_value_t *key = NULL, *val = NULL;
    CHECK(xproc_value_map_key_at(m, 0, &key));
    ASSERT(str_equals(key, "n"));
    CHECK(xproc_value_map_value_at(m, 0, &val));
    int64_t iv = 0;
    CHECK(xproc_value_as_int64(val, &iv));
    ASSERT(iv == 7);
    CHECK(xproc_value_as_int64(field(m, "n"), &iv));
    ASSERT(iv == 7);
    EXPECT(xproc_value_map_find(m, S("absent"), &val), XPROC_KEY_NOT_FOUND);
    EXPECT(xproc_value_map_len(arr, &n), XPROC_WRONG_TYPE);

    /* Elements are borrowed: freeing one is refused (a no-op), cloning one gives a copy. */
    xproc_value_free((xproc_value_t *)m);
    xproc_value_t *copy = NULL;
    CHECK(xproc_value_clone(m, &copy));
    xproc_value_t *other = xproc_value_new_array();
    CHECK(xproc_value_array_push(other, copy));
    CHECK(xproc_value_array_get(arr, 1, &e));
    EXPECT(xproc_value_array_push(other, (xproc_value_t *)e), XPROC_INVALID_ARGUMENT);
    xproc_value_free(other);

    /* A failed push still consumes the item (valgrind checks there is no leak). */
    xproc_value_t *num = xproc_value_new_int64(1);
    CHECK(xproc_value_new_string(S("consumed"), &s));
    EXPECT(xproc_value_array_push(num, s), XPROC_WRONG_TYPE);
    xproc_value_free(num);

    encode_decode_same(arr, XPROC_VALUE_ARRAY);
    encode_decode_same(m, XPROC_VALUE_MAP);
    xproc_value_free(arr);
    PASS("arrays and maps");
}

static void errors(void) {
    ASSERT(xproc_value_type(NULL) == XPROC_VALUE_INVALID);
    bool b = false;
    EXPECT(xproc_value_as_bool(NULL, &b), XPROC_NULL_ARGUMENT);
    xproc_value_t *v = xproc_value_new_bool(false);
    EXPECT(xproc_value_as_bool(v, NULL), XPROC_NULL_ARGUMENT);
    xproc_value_free(v);
    const uint8_t trailing[] = {0x01, 0x02};
    xproc_value_t *out = NULL;
    EXPECT(xproc_value_decode(trailing, sizeof trailing, &out), XPROC_INVALID_VALUE);
    ASSERT(out == NULL);
    const uint8_t c1[] = {0xc1};
    EXPECT(xproc_value_decode(c1, 1, &out), XPROC_INVALID_VALUE);
    xproc_value_free(NULL);
    xproc_bytes_free(NULL, 0);
    ASSERT(strcmp(xproc_status_str(XPROC_TIMEOUT), "XPROC_TIMEOUT") == 0);
    ASSERT(strcmp(xproc_status_str(12345), "XPROC_UNKNOWN_STATUS") == 0);
    ASSERT(strlen(xproc_version()) > 0);
    PASS("value errors");
}

int main(void) {
    scalars();
    strings_bytes_ext();
    containers();
    errors();
    return 0;
}
