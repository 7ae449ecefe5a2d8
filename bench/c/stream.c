/* The C row of the streaming scenario (bench/run.py, docs/BENCHMARKS.md): a producer process
 * hands --iters 64-byte values to xproc_queue_put_async_raw (then xproc_queue_flush), a
 * consumer process (forked here) takes them with xproc_queue_get_many(1024). One op = one
 * value the consumer received; the clock runs from the start signal to the end marker (an
 * empty bin). Prints one JSON line, as every bench program does.
 *
 *     stream SOCKET ITERS SECS SIZE
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xproc.h"

#define BATCH 1024
#define MAXSIZE 10000

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "stream: %s: %s\n", what, xproc_last_error());
    exit(1);
}

static xproc_queue_t *open_queue(const char *sock, const char *name, xproc_client_t **c) {
    xproc_queue_t *q = NULL;
    if (xproc_client_connect(sock, strlen(sock), XPROC_DEFAULT_CONNECT_TIMEOUT_MS, c) != XPROC_OK)
        die("connect");
    if (xproc_queue_open(*c, name, strlen(name), MAXSIZE, &q) != XPROC_OK) die("open");
    return q;
}

/* The consumer: takes batches until the empty marker, writes its count to `out`. */
static void consume(const char *sock, const char *name, int ready, int out) {
    xproc_client_t *c = NULL;
    xproc_queue_t *q = open_queue(sock, name, &c);
    uint64_t n = 0;
    int end = 0;
    if (write(ready, "r", 1) != 1) exit(1);
    while (!end) {
        xproc_batch_t *b = NULL;
        if (xproc_queue_get_many(q, BATCH, 30000, &b) != XPROC_OK) die("get_many");
        size_t len = xproc_batch_len(b);
        for (size_t i = 0; i < len; i++) {
            const uint8_t *data;
            size_t sz;
            if (xproc_batch_item(b, i, &data, &sz) != XPROC_OK) die("batch_item");
            if (sz == 2) end = 1; /* bin 8 of 0 bytes: the end marker */
            else n++;
        }
        xproc_batch_free(b);
    }
    if (write(out, &n, sizeof n) != sizeof n) exit(1);
    xproc_queue_free(q);
    xproc_client_free(c);
    exit(0);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: stream SOCKET ITERS SECS SIZE\n");
        return 2;
    }
    const char *sock = argv[1];
    uint64_t iters = strtoull(argv[2], NULL, 10);
    double secs = atof(argv[3]);
    size_t size = strtoul(argv[4], NULL, 10);
    if (size > 255) size = 255; /* one bin 8 header keeps the program short */
    char name[64];
    snprintf(name, sizeof name, "bench.cstream.%d", (int)getpid());
    int ready[2], result[2];
    if (pipe(ready) || pipe(result)) return 1;
    pid_t child = fork();
    if (child == 0) consume(sock, name, ready[1], result[1]);
    char r;
    if (read(ready[0], &r, 1) != 1) die("consumer did not start");
    xproc_client_t *c = NULL;
    xproc_queue_t *q = open_queue(sock, name, &c);
    uint8_t value[257], end[2] = {0xc4, 0};
    value[0] = 0xc4;
    value[1] = (uint8_t)size;
    for (size_t i = 0; i < size; i++) value[2 + i] = (uint8_t)('a' + i % 26);
    double start = now();
    uint64_t sent = 0;
    while (sent < iters) {
        if (xproc_queue_put_async_raw(q, value, size + 2) != XPROC_OK) die("put_async");
        sent++;
        if ((sent & 0xfff) == 0 && now() - start >= secs) break;
    }
    if (xproc_queue_put_async_raw(q, end, 2) != XPROC_OK || xproc_queue_flush(q, NULL) != XPROC_OK)
        die("flush");
    uint64_t got = 0;
    if (read(result[0], &got, sizeof got) != sizeof got) die("consumer did not report");
    double elapsed = now() - start;
    int status = 0;
    waitpid(child, &status, 0);
    if (got != sent) {
        fprintf(stderr, "stream: sent %llu, consumer got %llu\n", (unsigned long long)sent,
                (unsigned long long)got);
        return 1;
    }
    xproc_client_delete(c, name, strlen(name), NULL);
    printf("{\"scenario\": \"c_stream\", \"ops\": %llu, \"secs\": %.6f, \"ops_per_s\": %.1f, "
           "\"p50_us\": null, \"p99_us\": null, \"note\": \"C xproc_queue_put_async_raw -> "
           "xproc_queue_get_many(%d), queue maxsize %d, 2 processes\"}\n",
           (unsigned long long)got, elapsed, got / elapsed, BATCH, MAXSIZE);
    xproc_queue_free(q);
    xproc_client_free(c);
    return 0;
}
