// The cgo-side wrappers of libxproc calls: each makes one call and, on failure, copies
// xproc_last_error() (thread-local) in the same C call; cgo.go says why.
#include <stdlib.h>
#include <string.h>
#include "wrap.h"

static char *xg_copy(int st) { return st == 0 ? NULL : strdup(xproc_last_error()); }
#define XG(call) int st_ = (int)(call); *msg = xg_copy(st_); return st_;


int xg_connect(const char *p, size_t pl, const char *n, size_t nl, int64_t ms, xproc_client_t **out, char **msg) { XG(xproc_client_connect_as(p, pl, n, nl, "go", 2, ms, out)) }
int xg_ping(const xproc_client_t *c, char **msg) { XG(xproc_client_ping(c)) }
int xg_conn_id(const xproc_client_t *c, uint64_t *out, char **msg) { XG(xproc_client_conn_id(c, out)) }
int xg_limits(const xproc_client_t *c, xproc_limits_t *out, char **msg) { XG(xproc_client_limits(c, out)) }
int xg_list(const xproc_client_t *c, uint8_t **out, size_t *len, char **msg) { XG(xproc_client_list_raw(c, out, len)) }
int xg_stat(const xproc_client_t *c, const char *n, size_t nl, uint8_t **out, size_t *len, char **msg) { XG(xproc_client_stat_raw(c, n, nl, out, len)) }
int xg_delete(const xproc_client_t *c, const char *n, size_t nl, bool *deleted, char **msg) { XG(xproc_client_delete(c, n, nl, deleted)) }

int xg_queue_open(const xproc_client_t *c, const char *n, size_t nl, int joinable, int64_t maxsize, int64_t attempts, xproc_queue_t **out, char **msg) {
	XG(joinable ? xproc_joinable_queue_open_with(c, n, nl, maxsize, attempts, out) : xproc_queue_open_with(c, n, nl, maxsize, attempts, out))
}
int xg_queue_put(const xproc_queue_t *q, cu8 *d, size_t l, int64_t ms, char **msg) { XG(xproc_queue_put_raw(q, d, l, ms)) }
int xg_queue_get(const xproc_queue_t *q, int64_t ms, uint8_t **out, size_t *len, char **msg) { XG(xproc_queue_get_raw(q, ms, out, len)) }
int xg_queue_size(const xproc_queue_t *q, xproc_queue_size_t *out, char **msg) { XG(xproc_queue_size(q, out)) }
int xg_queue_task_done(const xproc_queue_t *q, char **msg) { XG(xproc_queue_task_done(q)) }
int xg_queue_join(const xproc_queue_t *q, int64_t ms, char **msg) { XG(xproc_queue_join(q, ms)) }
int xg_queue_get_leased(const xproc_queue_t *q, int64_t ms, int64_t lease, uint8_t **out, size_t *len, uint64_t *delivery, uint32_t *attempt, char **msg) { XG(xproc_queue_get_leased_raw(q, ms, lease, out, len, delivery, attempt)) }
int xg_queue_ack(const xproc_queue_t *q, uint64_t d, char **msg) { XG(xproc_queue_ack(q, d)) }
int xg_queue_nack(const xproc_queue_t *q, uint64_t d, int64_t delay, char **msg) { XG(xproc_queue_nack(q, d, delay)) }

int xg_dict_open(const xproc_client_t *c, const char *n, size_t nl, xproc_dict_t **out, char **msg) { XG(xproc_dict_open(c, n, nl, out)) }
int xg_dict_get(const xproc_dict_t *d, cu8 *k, size_t kl, uint8_t **out, size_t *len, char **msg) { XG(xproc_dict_get_raw(d, k, kl, out, len)) }
int xg_dict_set(const xproc_dict_t *d, cu8 *k, size_t kl, cu8 *v, size_t vl, char **msg) { XG(xproc_dict_set_raw(d, k, kl, v, vl)) }
int xg_dict_delete(const xproc_dict_t *d, cu8 *k, size_t kl, char **msg) { XG(xproc_dict_delete_raw(d, k, kl)) }
int xg_dict_contains(const xproc_dict_t *d, cu8 *k, size_t kl, bool *out, char **msg) { XG(xproc_dict_contains_raw(d, k, kl, out)) }
int xg_dict_len(const xproc_dict_t *d, uint64_t *out, char **msg) { XG(xproc_dict_len(d, out)) }
int xg_dict_items(const xproc_dict_t *d, int which, uint8_t **out, size_t *len, char **msg) {
	XG(which == 0 ? xproc_dict_keys_raw(d, out, len) : which == 1 ? xproc_dict_values_raw(d, out, len) : xproc_dict_items_raw(d, out, len))
}
int xg_dict_pop(const xproc_dict_t *d, cu8 *k, size_t kl, uint8_t **out, size_t *len, char **msg) { XG(xproc_dict_pop_raw(d, k, kl, out, len)) }
int xg_dict_popitem(const xproc_dict_t *d, uint8_t **k, size_t *kl, uint8_t **v, size_t *vl, char **msg) { XG(xproc_dict_popitem_raw(d, k, kl, v, vl)) }
int xg_dict_setdefault(const xproc_dict_t *d, cu8 *k, size_t kl, cu8 *v, size_t vl, uint8_t **out, size_t *len, char **msg) { XG(xproc_dict_setdefault_raw(d, k, kl, v, vl, out, len)) }
int xg_dict_clear(const xproc_dict_t *d, char **msg) { XG(xproc_dict_clear(d)) }
int xg_dict_incr(const xproc_dict_t *d, cu8 *k, size_t kl, int64_t delta, int64_t *out, char **msg) { XG(xproc_dict_incr_raw(d, k, kl, delta, out)) }
int xg_dict_cas(const xproc_dict_t *d, cu8 *k, size_t kl, cu8 *e, size_t el, cu8 *v, size_t vl, bool *swapped, char **msg) { XG(xproc_dict_compare_and_set_raw(d, k, kl, e, el, v, vl, swapped)) }

int xg_pipe_open(const xproc_client_t *c, const char *n, size_t nl, char end, int duplex, int64_t cap, xproc_pipe_t **out, char **msg) { XG(xproc_pipe_open(c, n, nl, end, duplex, cap, out)) }
int xg_pipe_close(const xproc_pipe_t *p, char **msg) { XG(xproc_pipe_close(p)) }
int xg_pipe_send(const xproc_pipe_t *p, cu8 *d, size_t l, int64_t ms, char **msg) { XG(xproc_pipe_send_raw(p, d, l, ms)) }
int xg_pipe_recv(const xproc_pipe_t *p, int64_t ms, uint8_t **out, size_t *len, char **msg) { XG(xproc_pipe_recv_raw(p, ms, out, len)) }
int xg_pipe_poll(const xproc_pipe_t *p, int64_t ms, bool *ready, char **msg) { XG(xproc_pipe_poll(p, ms, ready)) }

int xg_lock_open(const xproc_client_t *c, const char *n, size_t nl, int reentrant, xproc_lock_t **out, char **msg) {
	XG(reentrant ? xproc_rlock_open(c, n, nl, out) : xproc_lock_open(c, n, nl, out))
}
int xg_lock_acquire(const xproc_lock_t *l, int64_t ms, bool *acq, uint32_t *by, char **msg) { XG(xproc_lock_acquire(l, ms, acq, by)) }
int xg_lock_release(const xproc_lock_t *l, char **msg) { XG(xproc_lock_release(l)) }

int xg_sem_open(const xproc_client_t *c, const char *n, size_t nl, int bounded, uint64_t initial, xproc_semaphore_t **out, char **msg) {
	XG(bounded ? xproc_bounded_semaphore_open(c, n, nl, initial, out) : xproc_semaphore_open(c, n, nl, initial, out))
}
int xg_sem_acquire(const xproc_semaphore_t *s, int64_t ms, bool *acq, char **msg) { XG(xproc_semaphore_acquire(s, ms, acq)) }
int xg_sem_release(const xproc_semaphore_t *s, uint64_t n, char **msg) { XG(xproc_semaphore_release(s, n)) }

int xg_event_open(const xproc_client_t *c, const char *n, size_t nl, xproc_event_t **out, char **msg) { XG(xproc_event_open(c, n, nl, out)) }
int xg_event_set(const xproc_event_t *e, char **msg) { XG(xproc_event_set(e)) }
int xg_event_clear(const xproc_event_t *e, char **msg) { XG(xproc_event_clear(e)) }
int xg_event_is_set(const xproc_event_t *e, bool *out, char **msg) { XG(xproc_event_is_set(e, out)) }
int xg_event_wait(const xproc_event_t *e, int64_t ms, bool *set, char **msg) { XG(xproc_event_wait(e, ms, set)) }

int xg_cond_open(const xproc_client_t *c, const char *n, size_t nl, xproc_condition_t **out, char **msg) { XG(xproc_condition_open(c, n, nl, out)) }
int xg_cond_acquire(const xproc_condition_t *c, int64_t ms, bool *acq, uint32_t *by, char **msg) { XG(xproc_condition_acquire(c, ms, acq, by)) }
int xg_cond_release(const xproc_condition_t *c, char **msg) { XG(xproc_condition_release(c)) }
int xg_cond_wait(const xproc_condition_t *c, int64_t ms, bool *notified, char **msg) { XG(xproc_condition_wait(c, ms, notified)) }
int xg_cond_notify(const xproc_condition_t *c, uint64_t n, uint64_t *woken, char **msg) { XG(xproc_condition_notify(c, n, woken)) }
int xg_cond_notify_all(const xproc_condition_t *c, uint64_t *woken, char **msg) { XG(xproc_condition_notify_all(c, woken)) }

int xg_barrier_open(const xproc_client_t *c, const char *n, size_t nl, uint64_t parties, xproc_barrier_t **out, char **msg) { XG(xproc_barrier_open(c, n, nl, parties, out)) }
int xg_barrier_wait(const xproc_barrier_t *b, int64_t ms, uint64_t *index, char **msg) { XG(xproc_barrier_wait(b, ms, index)) }
int xg_barrier_abort(const xproc_barrier_t *b, char **msg) { XG(xproc_barrier_abort(b)) }
int xg_barrier_reset(const xproc_barrier_t *b, char **msg) { XG(xproc_barrier_reset(b)) }
int xg_barrier_state(const xproc_barrier_t *b, xproc_barrier_state_t *out, char **msg) { XG(xproc_barrier_state(b, out)) }
