/* What one large value costs by memfd, step by step (docs/BENCHMARKS.md, "Large values by
 * sealed memfd: ... second pass"): the producer's memfd_create + ftruncate, pwrite, seals +
 * fstat; the consumer's mmap with MAP_POPULATE, copy out, munmap, or pread into a warm or a
 * fresh buffer; the last close, which frees the pages; and the yardstick, a memcpy of the same
 * size walking two 256 MiB buffers (DRAM, not cache). Mean microseconds per step over ITERS
 * values. No broker needed.
 *
 *     gcc -O2 -o memfd_steps bench/c/memfd_steps.c && ./memfd_steps SIZE ITERS
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF ((size_t)256 << 20)
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

enum { CREATE, PWRITE, SEAL, MMAP, COPY_OUT, MUNMAP, PREAD_WARM, PREAD_FRESH, COPY_FRESH,
       CLOSE, MEMCPY, STEPS };
static const char *const NAMES[STEPS] = {
    "create+ftruncate",   "pwrite",          "seal+fstat",
    "mmap POPULATE",      "memcpy out of map", "munmap",
    "pread into buf",     "pread into fresh malloc", "copy out of it+free",
    "close (frees)",      "DRAM memcpy 256MiB bufs",
};

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void must(int ok, const char *what) {
    if (!ok) {
        perror(what);
        exit(1);
    }
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)1 << 20;
    int iters = argc > 2 ? atoi(argv[2]) : 300;
    must(n > 0 && n < BUF && iters > 0, "arguments");
    char *src = malloc(n), *dst = malloc(n), *a = malloc(BUF), *b = malloc(BUF);
    must(src && dst && a && b, "malloc");
    /* Touched once, so no step below pays for these buffers' first faults. */
    memset(src, 'a', n);
    memset(dst, 0, n);
    memset(a, 1, BUF);
    memset(b, 2, BUF);
    double total[STEPS] = {0};
    unsigned sink = 0; /* read from every destination, so no copy can be optimised away */
    for (int i = 0; i < iters; i++) {
        double t[STEPS + 1];
        t[CREATE] = now_us();
        int fd = memfd_create("v", MFD_ALLOW_SEALING | MFD_CLOEXEC);
        must(fd >= 0 && ftruncate(fd, (off_t)n) == 0, "memfd");
        t[PWRITE] = now_us();
        must(pwrite(fd, src, n, 0) == (ssize_t)n, "pwrite");
        t[SEAL] = now_us();
        struct stat st;
        must(fcntl(fd, F_ADD_SEALS, SEALS) == 0 && fstat(fd, &st) == 0, "seal");
        t[MMAP] = now_us();
        char *m = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        must(m != MAP_FAILED, "mmap");
        t[COPY_OUT] = now_us();
        memcpy(dst, m, n);
        t[MUNMAP] = now_us();
        munmap(m, n);
        t[PREAD_WARM] = now_us();
        must(pread(fd, dst, n, 0) == (ssize_t)n, "pread");
        t[PREAD_FRESH] = now_us();
        char *fresh = malloc(n);
        must(fresh && pread(fd, fresh, n, 0) == (ssize_t)n, "pread fresh");
        t[COPY_FRESH] = now_us();
        memcpy(dst, fresh, n);
        free(fresh);
        t[CLOSE] = now_us();
        close(fd);
        t[MEMCPY] = now_us();
        /* Walk through the big buffers, so each copy comes from and goes to DRAM. */
        size_t at = ((size_t)i * n) % (BUF - n);
        memcpy(b + at, a + at, n);
        t[STEPS] = now_us();
        sink += (unsigned char)b[at + n - 1] + (unsigned char)dst[n - 1];
        for (int s = 0; s < STEPS; s++) total[s] += t[s + 1] - t[s];
    }
    for (int s = 0; s < STEPS; s++) printf("%-26s %10.1f us\n", NAMES[s], total[s] / iters);
    fprintf(stderr, "(checksum %u)\n", sink);
    free(src);
    free(dst);
    free(a);
    free(b);
    return 0;
}
