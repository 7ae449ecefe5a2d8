/*
 * Dicts from C: every operation in the value flavour and the raw flavour, incr and
 * compare_and_set with "expected absent".
 */
#include "common.h"

static xproc_value_t *str(const char *s) {
    xproc_value_t *v = NULL;
    CHECK(xproc_value_new_string(S(s), &v));
    return v;
}

static void value_flavour(xproc_dict_t *d) {
    xproc_value_t *ka = str("a"), *kb = str("b"), *one = xproc_value_new_int64(1);
    CHECK(xproc_dict_set(d, ka, one));
    xproc_value_t *got = NULL;
    CHECK(xproc_dict_get(d, ka, &got));
    int64_t n = 0;
    CHECK(xproc_value_as_int64(got, &n));
    ASSERT(n == 1);
    xproc_value_free(got);
    EXPECT(xproc_dict_get(d, kb, &got), XPROC_KEY_NOT_FOUND);
    bool found = true;
    CHECK(xproc_dict_contains(d, kb, &found));
    ASSERT(!found);

    xproc_value_t *entries = xproc_value_new_map();
    CHECK(xproc_value_map_insert(entries, str("b"), xproc_value_new_double(2.5)));
    CHECK(xproc_value_map_insert(entries, str("c"), xproc_value_new_nil()));
    CHECK(xproc_dict_update(d, entries));
    xproc_value_free(entries);
    uint64_t len = 0;
    CHECK(xproc_dict_len(d, &len));
    ASSERT(len == 3);

    xproc_value_t *keys = NULL, *values = NULL, *items = NULL;
    CHECK(xproc_dict_keys(d, &keys));
    size_t kn = 0;
    CHECK(xproc_value_array_len(keys, &kn));
    ASSERT(kn == 3);
    const xproc_value_t *k2 = NULL;
    CHECK(xproc_value_array_get(keys, 2, &k2));
    ASSERT(str_equals(k2, "c"));
    CHECK(xproc_dict_values(d, &values));
    CHECK(xproc_dict_items(d, &items));
    CHECK(xproc_value_map_len(items, &kn));
    ASSERT(kn == 3);
    ASSERT(xproc_value_type(field(items, "c")) == XPROC_VALUE_NIL);
    xproc_value_free(keys);
    xproc_value_free(values);
    xproc_value_free(items);

    xproc_value_t *want = xproc_value_new_array();
    CHECK(xproc_value_array_push(want, str("b")));
    CHECK(xproc_value_array_push(want, str("zz")));
    xproc_value_t *many = NULL;
    CHECK(xproc_dict_get_many(d, want, &many));
    const xproc_value_t *m1 = NULL;
    CHECK(xproc_value_array_get(many, 1, &m1));
    ASSERT(xproc_value_type(m1) == XPROC_VALUE_NIL);
    xproc_value_free(many);
    xproc_value_free(want);

    CHECK(xproc_dict_pop(d, kb, &got));
    ASSERT(xproc_value_type(got) == XPROC_VALUE_DOUBLE);
    xproc_value_free(got);
    xproc_value_t *pk = NULL, *pv = NULL;
    CHECK(xproc_dict_popitem(d, &pk, &pv));
    ASSERT(str_equals(pk, "c"));
    xproc_value_free(pk);
    xproc_value_free(pv);
    xproc_value_t *dflt = str("default");
    CHECK(xproc_dict_setdefault(d, kb, dflt, &got));
    ASSERT(str_equals(got, "default"));
    xproc_value_free(got);

    xproc_value_t *hits = str("hits");
    CHECK(xproc_dict_incr(d, hits, 3, &n));
    CHECK(xproc_dict_incr(d, hits, 4, &n));
    ASSERT(n == 7);
    EXPECT(xproc_dict_incr(d, kb, 1, &n), XPROC_WRONG_TYPE);

    xproc_value_t *leader = str("leader");
    bool swapped = false;
    CHECK(xproc_dict_compare_and_set(d, leader, NULL, one, &swapped));
    ASSERT(swapped);
    CHECK(xproc_dict_compare_and_set(d, leader, NULL, dflt, &swapped));
    ASSERT(!swapped);
    CHECK(xproc_dict_compare_and_set(d, leader, one, dflt, &swapped));
    ASSERT(swapped);

    CHECK(xproc_dict_delete(d, leader));
    EXPECT(xproc_dict_delete(d, leader), XPROC_KEY_NOT_FOUND);
    CHECK(xproc_dict_clear(d));
    CHECK(xproc_dict_len(d, &len));
    ASSERT(len == 0);
    EXPECT(xproc_dict_popitem(d, &pk, &pv), XPROC_KEY_NOT_FOUND);
    ASSERT(pk == NULL && pv == NULL);
    xproc_value_free(ka);
    xproc_value_free(kb);
    xproc_value_free(one);
    xproc_value_free(dflt);
    xproc_value_free(hits);
    xproc_value_free(leader);
    PASS("dict, value flavour");
}

static void raw_flavour(xproc_dict_t *d) {
    const uint8_t key[] = {0xa1, 'k'};  /* "k" */
    const uint8_t val[] = {0x92, 1, 2}; /* [1, 2] */
    CHECK(xproc_dict_set_raw(d, key, sizeof key, val, sizeof val));
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK(xproc_dict_get_raw(d, key, sizeof key, &out, &out_len));
    ASSERT(out_len == sizeof val && memcmp(out, val, out_len) == 0);
    xproc_bytes_free(out, out_len);
    bool found = false;
    CHECK(xproc_dict_contains_raw(d, key, sizeof key, &found));
    ASSERT(found);
    CHECK(xproc_dict_keys_raw(d, &out, &out_len));
    ASSERT(out_len == 3 && out[0] == 0x91 && out[1] == 0xa1 && out[2] == 'k');
    xproc_bytes_free(out, out_len);
    CHECK(xproc_dict_values_raw(d, &out, &out_len));
    xproc_bytes_free(out, out_len);
    CHECK(xproc_dict_items_raw(d, &out, &out_len));
    xproc_bytes_free(out, out_len);

    const uint8_t k2[] = {0x02}, v2[] = {0xc3};
    const uint8_t *keys[] = {k2}, *values[] = {v2};
    const size_t klens[] = {1}, vlens[] = {1};
    CHECK(xproc_dict_update_raw(d, keys, klens, values, vlens, 1));
    CHECK(xproc_dict_get_many_raw(d, keys, klens, 1, &out, &out_len));
    ASSERT(out_len == 2 && out[0] == 0x91 && out[1] == 0xc3);
    xproc_bytes_free(out, out_len);
    CHECK(xproc_dict_pop_raw(d, k2, 1, &out, &out_len));
    xproc_bytes_free(out, out_len);
    CHECK(xproc_dict_setdefault_raw(d, k2, 1, v2, 1, &out, &out_len));
    xproc_bytes_free(out, out_len);
    uint8_t *kout = NULL, *vout = NULL;
    size_t klen = 0, vlen = 0;
    CHECK(xproc_dict_popitem_raw(d, &kout, &klen, &vout, &vlen));
    ASSERT(klen == 1 && kout[0] == 0x02);
    xproc_bytes_free(kout, klen);
    xproc_bytes_free(vout, vlen);
    int64_t n = 0;
    CHECK(xproc_dict_incr_raw(d, k2, 1, 10, &n));
    ASSERT(n == 10);
    bool swapped = false;
    CHECK(xproc_dict_compare_and_set_raw(d, key, sizeof key, val, sizeof val, v2, 1, &swapped));
    ASSERT(swapped);
    CHECK(xproc_dict_delete_raw(d, key, sizeof key));
    EXPECT(xproc_dict_delete_raw(d, key, sizeof key), XPROC_KEY_NOT_FOUND);
    EXPECT(xproc_dict_get_raw(d, key, sizeof key, &out, &out_len), XPROC_KEY_NOT_FOUND);
    PASS("dict, raw flavour");
}

/* A cursor scan: pages of at most 7 entries, each an owned map freed after use; every key
 * comes exactly once, in insertion order, even with deletes and inserts between pages. */
static void scan(xproc_dict_t *d) {
    CHECK(xproc_dict_clear(d));
    for (int64_t i = 0; i < 50; i++) {
        xproc_value_t *k = xproc_value_new_int64(i);
        xproc_value_t *v = xproc_value_new_int64(-i);
        CHECK(xproc_dict_set(d, k, v));
        xproc_value_free(k);
        xproc_value_free(v);
    }
    int seen[50] = {0};
    int64_t last = -1;
    uint64_t cursor = 0;
    int pages = 0;
    do {
        xproc_value_t *page = NULL;
        uint64_t next = 0;
        CHECK(xproc_dict_scan(d, cursor, 7, &next, &page));
        size_t n = 0;
        CHECK(xproc_value_map_len(page, &n));
        ASSERT(n <= 7);
        for (size_t i = 0; i < n; i++) {
            const xproc_value_t *k = NULL;
            CHECK(xproc_value_map_key_at(page, i, &k));
            int64_t key = 0;
            CHECK(xproc_value_as_int64(k, &key));
            if (key < 50) {
                ASSERT(key > last); /* insertion order */
                last = key;
                seen[key]++;
            }
        }
        xproc_value_free(page);
        /* Between pages another key comes and goes; the 50 stay. */
        xproc_value_t *extra = xproc_value_new_int64(1000 + pages);
        xproc_value_t *one = xproc_value_new_int64(1);
        CHECK(xproc_dict_set(d, extra, one));
        if (pages % 2 == 0) {
            CHECK(xproc_dict_delete(d, extra));
        }
        xproc_value_free(extra);
        xproc_value_free(one);
        cursor = next;
        pages++;
    } while (cursor != 0);
    for (int i = 0; i < 50; i++) {
        ASSERT(seen[i] == 1);
    }
    ASSERT(pages >= 8);
    xproc_value_t *page = NULL;
    uint64_t next = 1;
    EXPECT(xproc_dict_scan(d, 0, 7, NULL, &page), XPROC_NULL_ARGUMENT);
    EXPECT(xproc_dict_scan(NULL, 0, 7, &next, &page), XPROC_NULL_ARGUMENT);
    ASSERT(page == NULL);
    PASS("dict scan");
}

int main(void) {
    char name[64];
    uniq(name, sizeof name, "c-dict");
    xproc_client_t *c = connect_default();
    xproc_dict_t *d = NULL;
    CHECK(xproc_dict_open(c, S(name), &d));
    value_flavour(d);
    raw_flavour(d);
    scan(d);
    CHECK(xproc_client_delete(c, S(name), NULL));
    xproc_dict_free(d);
    xproc_client_free(c);
    return 0;
}
