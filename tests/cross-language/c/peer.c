/*
 * The C peer of the cross-language matrix (tests/cross-language/README.md), written against
 * the value API of xproc.h: no MessagePack library of its own.
 *
 * Usage: peer <send|recv> <queue|pipe|dict> <object-name>   (broker: $XPROC_SOCKET)
 *
 * The sender puts every value case on the object; the receiver takes each one and checks it
 * against its own copy of the case, built here natively. Both print one line per case,
 * "ok <case>" or "FAIL <case>: expected ..., got ...", and exit 1 if any case failed (2 on
 * a usage error).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xproc.h"

/* How long a receiver waits for each value, and the dict receiver for the done event:
 * generous, because the sender may still be starting (a cold Mono or Python start). */
#define RECV_TIMEOUT_MS 30000
/* How long a sender waits for room (only a broken broker makes it wait at all). */
#define SEND_TIMEOUT_MS 30000
/* Size of the bytes_1mib case. */
#define MIB ((size_t)1 << 20)
/* The dict scenario's extra entry: an integer key, which every language must encode in its
 * shortest form for the receiver's own encoding of it to find the entry. */
#define DICT_INT_KEY 42
#define DICT_INT_VALUE "answer"

static int failures = 0;

static void ok(const char *name) { printf("ok %s\n", name); }

static void fail(const char *name, const char *fmt, ...) {
    va_list ap;
    failures++;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Building a case can fail only if libxproc does; there is nothing to check then. */
static void must(xproc_status_e st, const char *what) {
    if (st != XPROC_OK) {
        fail("setup", "%s: %s: %s", what, xproc_status_str(st), xproc_last_error());
        exit(1);
    }
}

static xproc_value_t *new_str(const char *s) {
    xproc_value_t *v = NULL;
    must(xproc_value_new_string(s, strlen(s), &v), "make a string");
    return v;
}

static xproc_value_t *new_bytes(const uint8_t *data, size_t len) {
    xproc_value_t *v = NULL;
    must(xproc_value_new_bytes(data, len, &v), "make bytes");
    return v;
}

/* An array of `n` values, each consumed. */
static xproc_value_t *new_array(int n, ...) {
    xproc_value_t *a = xproc_value_new_array();
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        must(xproc_value_array_push(a, va_arg(ap, xproc_value_t *)), "push onto an array");
    }
    va_end(ap);
    return a;
}

/* A map of `n` entries, given as key, value, key, value, ... (each consumed). */
static xproc_value_t *new_map(int n, ...) {
    xproc_value_t *m = xproc_value_new_map();
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        xproc_value_t *k = va_arg(ap, xproc_value_t *);
        xproc_value_t *v = va_arg(ap, xproc_value_t *);
        must(xproc_value_map_insert(m, k, v), "insert into a map");
    }
    va_end(ap);
    return m;
}

/* `n` bytes of the pattern: byte i is i % 251 (a prime, so a shifted or truncated copy
 * shows). 1 MiB and 16 MiB (a sealed memfd between clients on the local socket). */
static xproc_value_t *new_pattern(size_t n) {
    uint8_t *buf = malloc(n);
    if (!buf) {
        fail("setup", "out of memory");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i % 251);
    xproc_value_t *v = new_bytes(buf, n);
    free(buf);
    return v;
}

/* Builds case `name` (one of CASES below). */
static xproc_value_t *make_case(const char *name) {
    static const uint8_t zeros[] = {0, 1, 0, 0, 0xff, 0};
    static const uint8_t two[] = {0, 0xff};
    if (!strcmp(name, "nil")) return xproc_value_new_nil();
    if (!strcmp(name, "true")) return xproc_value_new_bool(true);
    if (!strcmp(name, "false")) return xproc_value_new_bool(false);
    if (!strcmp(name, "zero")) return xproc_value_new_int64(0);
    if (!strcmp(name, "minus_one")) return xproc_value_new_int64(-1);
    if (!strcmp(name, "i64_min")) return xproc_value_new_int64(INT64_MIN);
    if (!strcmp(name, "i64_max")) return xproc_value_new_int64(INT64_MAX);
    if (!strcmp(name, "u64_max")) return xproc_value_new_uint64(UINT64_MAX);
    if (!strcmp(name, "two_pow_53_plus_1")) return xproc_value_new_int64(9007199254740993LL);
    if (!strcmp(name, "float_1_5")) return xproc_value_new_double(1.5);
    if (!strcmp(name, "nan")) return xproc_value_new_double(NAN);
    if (!strcmp(name, "pos_inf")) return xproc_value_new_double(INFINITY);
    if (!strcmp(name, "neg_inf")) return xproc_value_new_double(-INFINITY);
    if (!strcmp(name, "neg_zero")) return xproc_value_new_double(-0.0);
    if (!strcmp(name, "empty_string")) return new_str("");
    if (!strcmp(name, "unicode_string")) return new_str("h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 "
                                                        "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\x80");
    if (!strcmp(name, "empty_bytes")) return new_bytes(NULL, 0);
    if (!strcmp(name, "bytes_with_zeros")) return new_bytes(zeros, sizeof zeros);
    if (!strcmp(name, "nested_array"))
        return new_array(4, xproc_value_new_int64(1),
                         new_array(2, xproc_value_new_int64(2),
                                   new_array(2, xproc_value_new_int64(3), new_array(0))),
                         new_array(0), new_array(1, new_array(1, new_str("deep"))));
    if (!strcmp(name, "nested_map"))
        return new_map(
            3, new_str("name"), new_str("matrix"), new_str("inner"),
            new_map(2, new_str("list"),
                    new_array(3, xproc_value_new_int64(1), xproc_value_new_int64(2),
                              xproc_value_new_int64(3)),
                    new_str("deep"),
                    new_map(2, new_str("x"), xproc_value_new_int64(-1), new_str("empty"),
                            new_map(0))),
            new_str("empty_list"), new_array(0));
    if (!strcmp(name, "int_key_map"))
        return new_map(2, xproc_value_new_int64(1), new_str("one"), xproc_value_new_int64(-2),
                       new_str("minus two"));
    if (!strcmp(name, "mixed_array"))
        return new_array(8, xproc_value_new_int64(1), new_str("two"),
                         xproc_value_new_double(3.25), xproc_value_new_bool(true),
                         xproc_value_new_nil(), new_bytes(two, sizeof two),
                         new_map(1, new_str("k"), new_str("v")),
                         new_array(1, xproc_value_new_int64(-5)));
    if (!strcmp(name, "bytes_1mib")) return new_pattern(MIB);
    if (!strcmp(name, "bytes_16mib")) return new_pattern(16 * MIB);
    fail("setup", "no case named %s", name);
    exit(1);
}

/* Every case, in the order the queue and pipe scenarios carry them. */
static const char *const CASES[] = {
    "nil",          "true",           "false",        "zero",
    "minus_one",    "i64_min",        "i64_max",      "u64_max",
    "two_pow_53_plus_1", "float_1_5", "nan",          "pos_inf",
    "neg_inf",      "neg_zero",       "empty_string", "unicode_string",
    "empty_bytes",  "bytes_with_zeros", "nested_array", "nested_map",
    "int_key_map",  "mixed_array",    "bytes_1mib", "bytes_16mib",
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

/* ---- describing and comparing values ---- */

/* A growable-enough text buffer for FAIL lines (long content is abridged). */
typedef struct {
    char text[1024];
    size_t len;
} text_t;

static void put(text_t *t, const char *fmt, ...) {
    if (t->len >= sizeof t->text - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->text + t->len, sizeof t->text - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n;
    if (t->len >= sizeof t->text) t->len = sizeof t->text - 1;
}

static void describe(const xproc_value_t *v, text_t *t) {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    const char *s;
    const uint8_t *p;
    size_t n;
    switch (xproc_value_type(v)) {
    case XPROC_VALUE_NIL: put(t, "nil"); break;
    case XPROC_VALUE_BOOL: xproc_value_as_bool(v, &b); put(t, "bool %s", b ? "true" : "false"); break;
    case XPROC_VALUE_INT: xproc_value_as_int64(v, &i); put(t, "int %lld", (long long)i); break;
    case XPROC_VALUE_UINT: xproc_value_as_uint64(v, &u); put(t, "int %llu", (unsigned long long)u); break;
    case XPROC_VALUE_FLOAT: xproc_value_as_double(v, &d); put(t, "float32 %.17g", d); break;
    case XPROC_VALUE_DOUBLE: xproc_value_as_double(v, &d); put(t, "float64 %.17g", d); break;
    case XPROC_VALUE_STRING:
        xproc_value_as_string(v, &s, &n);
        put(t, "str \"%.*s\"%s", (int)(n > 60 ? 60 : n), s, n > 60 ? "..." : "");
        break;
    case XPROC_VALUE_BYTES:
        xproc_value_as_bytes(v, &p, &n);
        put(t, "bytes [");
        for (size_t k = 0; k < n && k < 16; k++) put(t, k ? " %02x" : "%02x", p[k]);
        put(t, n > 16 ? " ...] (%zu bytes)" : "]", n);
        break;
    case XPROC_VALUE_ARRAY:
        xproc_value_array_len(v, &n);
        put(t, "[");
        for (size_t k = 0; k < n; k++) {
            const xproc_value_t *e = NULL;
            xproc_value_array_get(v, k, &e);
            if (k) put(t, ", ");
            describe(e, t);
        }
        put(t, "]");
        break;
    case XPROC_VALUE_MAP:
        xproc_value_map_len(v, &n);
        put(t, "{");
        for (size_t k = 0; k < n; k++) {
            const xproc_value_t *key = NULL, *val = NULL;
            xproc_value_map_key_at(v, k, &key);
            xproc_value_map_value_at(v, k, &val);
            if (k) put(t, ", ");
            describe(key, t);
            put(t, ": ");
            describe(val, t);
        }
        put(t, "}");
        break;
    case XPROC_VALUE_EXT: put(t, "ext"); break;
    default: put(t, "(not a value)"); break;
    }
}

/* The "at PATH: " prefix of a nested difference (nothing at the top level). */
static void at(text_t *why, const char *path) {
    if (*path) put(why, "at %s: ", path);
}

/* Whether two floats are the same number: NaN matches NaN; zeros must agree on the sign bit. */
static bool same_double(double a, double b) {
    if (isnan(a)) return isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* Compares `got` with `expected` exactly: same types (a float must arrive as float 64, as
 * every peer sends it), same numbers, same bytes, same elements; maps compare as sets of
 * entries. On a difference writes where and how into `why` and returns false. */
static bool same(const xproc_value_t *exp, const xproc_value_t *got, const char *path,
                 text_t *why) {
    xproc_value_type_e te = xproc_value_type(exp), tg = xproc_value_type(got);
    bool eq = te == tg;
    if (eq) {
        bool b1, b2;
        int64_t i1, i2;
        uint64_t u1, u2;
        double d1, d2;
        const char *s1, *s2;
        const uint8_t *p1, *p2;
        size_t n1, n2;
        switch (te) {
        case XPROC_VALUE_NIL: break;
        case XPROC_VALUE_BOOL:
            xproc_value_as_bool(exp, &b1);
            xproc_value_as_bool(got, &b2);
            eq = b1 == b2;
            break;
        case XPROC_VALUE_INT:
            xproc_value_as_int64(exp, &i1);
            xproc_value_as_int64(got, &i2);
            eq = i1 == i2;
            break;
        case XPROC_VALUE_UINT:
            xproc_value_as_uint64(exp, &u1);
            xproc_value_as_uint64(got, &u2);
            eq = u1 == u2;
            break;
        case XPROC_VALUE_FLOAT:
        case XPROC_VALUE_DOUBLE:
            xproc_value_as_double(exp, &d1);
            xproc_value_as_double(got, &d2);
            eq = same_double(d1, d2);
            break;
        case XPROC_VALUE_STRING:
            xproc_value_as_string(exp, &s1, &n1);
            xproc_value_as_string(got, &s2, &n2);
            eq = n1 == n2 && memcmp(s1, s2, n1) == 0;
            break;
        case XPROC_VALUE_BYTES:
            xproc_value_as_bytes(exp, &p1, &n1);
            xproc_value_as_bytes(got, &p2, &n2);
            if (n1 != n2) {
                at(why, path);
                put(why, "expected %zu bytes, got %zu bytes", n1, n2);
                return false;
            }
            for (size_t k = 0; k < n1; k++) {
                if (p1[k] != p2[k]) {
                    at(why, path);
                    put(why, "expected byte %zu = 0x%02x, got 0x%02x", k, p1[k], p2[k]);
                    return false;
                }
            }
            break;
        case XPROC_VALUE_ARRAY:
            xproc_value_array_len(exp, &n1);
            xproc_value_array_len(got, &n2);
            eq = n1 == n2;
            for (size_t k = 0; eq && k < n1; k++) {
                const xproc_value_t *e1 = NULL, *e2 = NULL;
                char sub[256];
                xproc_value_array_get(exp, k, &e1);
                xproc_value_array_get(got, k, &e2);
                snprintf(sub, sizeof sub, "%s[%zu]", path, k);
                if (!same(e1, e2, sub, why)) return false;
            }
            break;
        case XPROC_VALUE_MAP:
            xproc_value_map_len(exp, &n1);
            xproc_value_map_len(got, &n2);
            eq = n1 == n2;
            for (size_t k = 0; eq && k < n1; k++) {
                const xproc_value_t *k1 = NULL, *v1 = NULL, *v2 = NULL;
                xproc_value_map_key_at(exp, k, &k1);
                xproc_value_map_value_at(exp, k, &v1);
                for (size_t j = 0; j < n2 && !v2; j++) {
                    const xproc_value_t *k2 = NULL;
                    text_t scratch = {{0}, 0};
                    xproc_value_map_key_at(got, j, &k2);
                    if (same(k1, k2, "", &scratch)) xproc_value_map_value_at(got, j, &v2);
                }
                if (!v2) {
                    text_t key = {{0}, 0};
                    describe(k1, &key);
                    at(why, path);
                    put(why, "expected a key %s, got ", key.text);
                    describe(got, why);
                    return false;
                }
                text_t key = {{0}, 0};
                char sub[256];
                describe(k1, &key);
                snprintf(sub, sizeof sub, "%s[%.80s]", path, key.text);
                if (!same(v1, v2, sub, why)) return false;
            }
            break;
        default: eq = false; break;
        }
    }
    if (!eq) {
        at(why, path);
        put(why, "expected ");
        describe(exp, why);
        put(why, ", got ");
        describe(got, why);
    }
    return eq;
}

/* Reports the receiver's check of case `name` against `got` (owned; freed here). Returns
 * false when nothing was received: a queue or pipe receiver stops there, since every later
 * wait would fail the same way (the runner reports the cases it then never printed). */
static bool check(const char *name, xproc_status_e st, xproc_value_t *got) {
    xproc_value_t *exp = make_case(name);
    text_t why = {{0}, 0};
    if (st != XPROC_OK) {
        describe(exp, &why);
        fail(name, "expected %s, got error %s: %s", why.text, xproc_status_str(st),
             xproc_last_error());
    } else if (same(exp, got, "", &why)) {
        ok(name);
    } else {
        fail(name, "%s", why.text);
    }
    xproc_value_free(exp);
    xproc_value_free(got);
    return st == XPROC_OK;
}

/* Reports a sender's step; returns whether it worked. */
static bool sent(const char *name, xproc_status_e st) {
    if (st == XPROC_OK) {
        ok(name);
        return true;
    }
    fail(name, "send failed: %s: %s", xproc_status_str(st), xproc_last_error());
    return false;
}

/* Reports a failed open; returns whether it worked. */
static bool opened(xproc_status_e st) {
    if (st != XPROC_OK) fail("open", "%s: %s", xproc_status_str(st), xproc_last_error());
    return st == XPROC_OK;
}

/* ---- the three scenarios ---- */

static void send_queue(xproc_client_t *c, const char *name) {
    xproc_queue_t *q = NULL;
    if (!opened(xproc_queue_open(c, name, strlen(name), -1, &q))) return;
    for (size_t k = 0; k < N_CASES; k++) {
        xproc_value_t *v = make_case(CASES[k]);
        bool good = sent(CASES[k], xproc_queue_put(q, v, SEND_TIMEOUT_MS));
        xproc_value_free(v);
        if (!good) break;
    }
    xproc_queue_free(q);
}

static void recv_queue(xproc_client_t *c, const char *name) {
    xproc_queue_t *q = NULL;
    if (!opened(xproc_queue_open(c, name, strlen(name), -1, &q))) return;
    for (size_t k = 0; k < N_CASES; k++) {
        xproc_value_t *got = NULL;
        xproc_status_e st = xproc_queue_get(q, RECV_TIMEOUT_MS, &got);
        if (!check(CASES[k], st, got)) {
            xproc_queue_free(q);
            return;
        }
    }
    xproc_value_t *extra = NULL;
    xproc_status_e st = xproc_queue_get(q, XPROC_NO_WAIT, &extra);
    if (st == XPROC_EMPTY) {
        ok("end");
    } else {
        text_t t = {{0}, 0};
        if (st == XPROC_OK) describe(extra, &t);
        fail("end", "expected an empty queue, got %s%s", st == XPROC_OK ? "" : xproc_status_str(st),
             t.text);
    }
    xproc_value_free(extra);
    xproc_queue_free(q);
}

static void send_pipe(xproc_client_t *c, const char *name) {
    xproc_pipe_t *p = NULL;
    if (!opened(xproc_pipe_open(c, name, strlen(name), 'a', -1, -1, &p))) return;
    bool good = true;
    for (size_t k = 0; good && k < N_CASES; k++) {
        xproc_value_t *v = make_case(CASES[k]);
        good = sent(CASES[k], xproc_pipe_send(p, v, SEND_TIMEOUT_MS));
        xproc_value_free(v);
    }
    /* Closing is what tells the receiver that nothing more comes (end of file). */
    if (good) sent("end", xproc_pipe_close(p));
    xproc_pipe_free(p);
}

static void recv_pipe(xproc_client_t *c, const char *name) {
    xproc_pipe_t *p = NULL;
    if (!opened(xproc_pipe_open(c, name, strlen(name), 'b', -1, -1, &p))) return;
    for (size_t k = 0; k < N_CASES; k++) {
        xproc_value_t *got = NULL;
        xproc_status_e st = xproc_pipe_recv(p, RECV_TIMEOUT_MS, &got);
        if (!check(CASES[k], st, got)) {
            xproc_pipe_free(p);
            return;
        }
    }
    xproc_value_t *extra = NULL;
    xproc_status_e st = xproc_pipe_recv(p, RECV_TIMEOUT_MS, &extra);
    if (st == XPROC_CLOSED) {
        ok("end");
    } else {
        text_t t = {{0}, 0};
        if (st == XPROC_OK) describe(extra, &t);
        fail("end", "expected end of file, got %s%s", st == XPROC_OK ? "" : xproc_status_str(st),
             t.text);
    }
    xproc_value_free(extra);
    xproc_pipe_free(p);
}

/* The name of the event a dict sender sets when every entry is in. */
static void done_name(const char *name, char *out, size_t len) {
    snprintf(out, len, "%s.done", name);
}

static void send_dict(xproc_client_t *c, const char *name) {
    xproc_dict_t *d = NULL;
    if (!opened(xproc_dict_open(c, name, strlen(name), &d))) return;
    bool good = true;
    for (size_t k = 0; good && k < N_CASES; k++) {
        xproc_value_t *key = new_str(CASES[k]);
        xproc_value_t *v = make_case(CASES[k]);
        good = sent(CASES[k], xproc_dict_set(d, key, v));
        xproc_value_free(key);
        xproc_value_free(v);
    }
    if (good) {
        xproc_value_t *key = xproc_value_new_int64(DICT_INT_KEY);
        xproc_value_t *v = new_str(DICT_INT_VALUE);
        good = sent("dict_int_key", xproc_dict_set(d, key, v));
        xproc_value_free(key);
        xproc_value_free(v);
    }
    if (good) {
        char ev_name[300];
        xproc_event_t *ev = NULL;
        done_name(name, ev_name, sizeof ev_name);
        xproc_status_e st = xproc_event_open(c, ev_name, strlen(ev_name), &ev);
        if (st == XPROC_OK) st = xproc_event_set(ev);
        sent("end", st);
        xproc_event_free(ev);
    }
    xproc_dict_free(d);
}

static void recv_dict(xproc_client_t *c, const char *name) {
    char ev_name[300];
    xproc_event_t *ev = NULL;
    bool set = false;
    done_name(name, ev_name, sizeof ev_name);
    xproc_status_e st = xproc_event_open(c, ev_name, strlen(ev_name), &ev);
    if (st == XPROC_OK) st = xproc_event_wait(ev, RECV_TIMEOUT_MS, &set);
    xproc_event_free(ev);
    if (st != XPROC_OK) {
        fail("done", "%s: %s", xproc_status_str(st), xproc_last_error());
        return;
    }
    if (!set) {
        fail("done", "the sender's done event was not set in time");
        return;
    }
    xproc_dict_t *d = NULL;
    if (!opened(xproc_dict_open(c, name, strlen(name), &d))) return;
    for (size_t k = 0; k < N_CASES; k++) {
        xproc_value_t *key = new_str(CASES[k]);
        xproc_value_t *got = NULL;
        st = xproc_dict_get(d, key, &got);
        (void)check(CASES[k], st, got); /* a missing key does not block: check every key */
        xproc_value_free(key);
    }
    {
        xproc_value_t *key = xproc_value_new_int64(DICT_INT_KEY);
        xproc_value_t *got = NULL;
        xproc_value_t *exp = new_str(DICT_INT_VALUE);
        text_t why = {{0}, 0};
        st = xproc_dict_get(d, key, &got);
        if (st != XPROC_OK) {
            fail("dict_int_key", "expected str \"%s\", got error %s: %s", DICT_INT_VALUE,
                 xproc_status_str(st), xproc_last_error());
        } else if (same(exp, got, "", &why)) {
            ok("dict_int_key");
        } else {
            fail("dict_int_key", "%s", why.text);
        }
        xproc_value_free(key);
        xproc_value_free(got);
        xproc_value_free(exp);
    }
    uint64_t len = 0;
    st = xproc_dict_len(d, &len);
    if (st != XPROC_OK) {
        fail("end", "expected %zu entries, got error %s", N_CASES + 1, xproc_status_str(st));
    } else if (len != N_CASES + 1) {
        fail("end", "expected %zu entries, got %llu", N_CASES + 1, (unsigned long long)len);
    } else {
        ok("end");
    }
    xproc_dict_free(d);
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv")) ||
        (strcmp(argv[2], "queue") && strcmp(argv[2], "pipe") && strcmp(argv[2], "dict"))) {
        fprintf(stderr, "usage: peer <send|recv> <queue|pipe|dict> <object-name>\n");
        return 2;
    }
    bool sending = !strcmp(argv[1], "send");
    const char *scenario = argv[2], *name = argv[3];

    xproc_client_t *c = NULL;
    xproc_status_e st = xproc_client_connect(NULL, 0, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &c);
    if (st != XPROC_OK) {
        fail("connect", "%s: %s", xproc_status_str(st), xproc_last_error());
        return 1;
    }
    if (!strcmp(scenario, "queue")) {
        sending ? send_queue(c, name) : recv_queue(c, name);
    } else if (!strcmp(scenario, "pipe")) {
        sending ? send_pipe(c, name) : recv_pipe(c, name);
    } else {
        sending ? send_dict(c, name) : recv_dict(c, name);
    }
    xproc_client_free(c);
    return failures ? 1 : 0;
}
