/*
 * Shared helpers for the C tests: checks that stop the program with the failing call, its
 * status and xproc_last_error(), a connect helper (the broker comes from $XPROC_SOCKET, which
 * run_c_tests.sh sets), and per-process object names so that the shared, static and
 * valgrind runs of one program never meet on the same broker.
 */
#ifndef XPROC_TEST_COMMON_H
#define XPROC_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xproc.h"

/* A call that must succeed. */
#define CHECK(call)                                                                        \
    do {                                                                                   \
        xproc_status_e st_ = (call);                                                       \
        if (st_ != XPROC_OK) {                                                             \
            fprintf(stderr, "%s:%d: %s\n  -> %s: %s\n", __FILE__, __LINE__, #call,         \
                    xproc_status_str(st_), xproc_last_error());                            \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* A call that must fail with `want` and leave a message. */
#define EXPECT(call, want)                                                                 \
    do {                                                                                   \
        xproc_status_e st_ = (call);                                                       \
        if (st_ != (want) || xproc_last_error()[0] == '\0') {                              \
            fprintf(stderr, "%s:%d: %s\n  -> %s (want %s): %s\n", __FILE__, __LINE__,      \
                    #call, xproc_status_str(st_), xproc_status_str(want),                  \
                    xproc_last_error());                                                   \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* A condition that must hold. */
#define ASSERT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* (pointer, length) of a C string literal or buffer. */
#define S(str) (str), strlen(str)

/* A name unique to this process: "<base>-<pid>". */
static inline const char *uniq(char *buf, size_t size, const char *base) {
    snprintf(buf, size, "%s-%ld", base, (long)getpid());
    return buf;
}

/* A new client on the default endpoint ($XPROC_SOCKET). */
static inline xproc_client_t *connect_default(void) {
    xproc_client_t *c = NULL;
    CHECK(xproc_client_connect(NULL, 0, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &c));
    ASSERT(c != NULL);
    return c;
}

/* Reads a string value into a NUL-terminated buffer for comparison. */
static inline int str_equals(const xproc_value_t *v, const char *want) {
    const char *p = NULL;
    size_t n = 0;
    CHECK(xproc_value_as_string(v, &p, &n));
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

/* The string under `key` in a map value. */
static inline const xproc_value_t *field(const xproc_value_t *map, const char *key) {
    const xproc_value_t *v = NULL;
    CHECK(xproc_value_map_find(map, S(key), &v));
    return v;
}

#define PASS(name) printf("ok - %s\n", name)

#endif
