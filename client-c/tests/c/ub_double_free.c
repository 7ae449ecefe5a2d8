/*
 * Not a test of libxproc's behaviour but of its header's honesty: xproc.h says that freeing a
 * value or handle twice is undefined behaviour, as with free(3), and not an error code. This
 * program does exactly that; run_c_tests.sh runs it under valgrind and requires valgrind to
 * report the invalid access. (It used to promise "a no-op returning XPROC_INVALID_ARGUMENT",
 * which valgrind showed to be a real double free.) Never run outside valgrind.
 */
#include "common.h"

int main(void) {
    xproc_value_t *v = xproc_value_new_int64(7);
    xproc_value_free(v);
    xproc_value_free(v); /* undefined behaviour: valgrind must flag this */
    return 0;
}
