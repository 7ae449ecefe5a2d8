// Declarations of the wrappers in wrap.c (see cgo.go for why they exist).
#ifndef XPROC_GO_WRAP_H
#define XPROC_GO_WRAP_H
#include <xproc.h>

typedef const uint8_t cu8;

int xg_connect(const char *p, size_t pl, const char *n, size_t nl, int64_t ms, xproc_client_t **out, char **msg);
int xg_ping(const xproc_client_t *c, char **msg);
int xg_conn_id(const xproc_client_t *c, uint64_t *out, char **msg);
int xg_limits(const xproc_client_t *c, xproc_limits_t *out, char **msg);
int xg_list(const xproc_client_t *c, uint8_t **out, size_t *len, char **msg);
int xg_stat(const xproc_client_t *c, const char *n, size_t nl, uint8_t **out, size_t *len, char **msg);
int xg_delete(const xproc_client_t *c, const char *n, size_t nl, bool *deleted, char **msg);
int xg_queue_open(const xproc_client_t *c, const char *n, size_t nl, int joinable, int64_t maxsize, int64_t attempts, xproc_queue_t **out, char **msg);
int xg_queue_put(const xproc_queue_t *q, cu8 *d, size_t l, int64_t ms, char **msg);
int xg_queue_get(const xproc_queue_t *q, int64_t ms, uint8_t **out, size_t *len, char **msg);
int xg_queue_size(const xproc_queue_t *q, xproc_queue_size_t *out, char **msg);
int xg_queue_task_done(const xproc_queue_t *q, char **msg);
int xg_queue_join(const xproc_queue_t *q, int64_t ms, char **msg);
int xg_queue_get_leased(const xproc_queue_t *q, int64_t ms, int64_t lease, uint8_t **out, size_t *len, uint64_t *delivery, uint32_t *attempt, char **msg);
int xg_queue_ack(const xproc_queue_t *q, uint64_t d, char **msg);
int xg_queue_nack(const xproc_queue_t *q, uint64_t d, int64_t delay, char **msg);
int xg_dict_open(const xproc_client_t *c, const char *n, size_t nl, xproc_dict_t **out, char **msg);
int xg_dict_get(const xproc_dict_t *d, cu8 *k, size_t kl, uint8_t **out, size_t *len, char **msg);
int xg_dict_set(const xproc_dict_t *d, cu8 *k, size_t kl, cu8 *v, size_t vl, char **msg);
int xg_dict_delete(const xproc_dict_t *d, cu8 *k, size_t kl, char **msg);
int xg_dict_contains(const xproc_dict_t *d, cu8 *k, size_t kl, bool *out, char **msg);
int xg_dict_len(const xproc_dict_t *d, uint64_t *out, char **msg);
int xg_dict_items(const xproc_dict_t *d, int which, uint8_t **out, size_t *len, char **msg);
int xg_dict_pop(const xproc_dict_t *d, cu8 *k, size_t kl, uint8_t **out, size_t *len, char **msg);
int xg_dict_popitem(const xproc_dict_t *d, uint8_t **k, size_t *kl, uint8_t **v, size_t *vl, char **msg);
int xg_dict_setdefault(const xproc_dict_t *d, cu8 *k, size_t kl, cu8 *v, size_t vl, uint8_t **out, size_t *len, char **msg);
int xg_dict_clear(const xproc_dict_t *d, char **msg);
int xg_dict_incr(const xproc_dict_t *d, cu8 *k, size_t kl, int64_t delta, int64_t *out, char **msg);
int xg_dict_cas(const xproc_dict_t *d, cu8 *k, size_t kl, cu8 *e, size_t el, cu8 *v, size_t vl, bool *swapped, char **msg);
int xg_pipe_open(const xproc_client_t *c, const char *n, size_t nl, char end, int duplex, int64_t cap, xproc_pipe_t **out, char **msg);
int xg_pipe_close(const xproc_pipe_t *p, char **msg);
int xg_pipe_send(const xproc_pipe_t *p, cu8 *d, size_t l, int64_t ms, char **msg);
int xg_pipe_recv(const xproc_pipe_t *p, int64_t ms, uint8_t **out, size_t *len, char **msg);
int xg_pipe_poll(const xproc_pipe_t *p, int64_t ms, bool *ready, char **msg);
int xg_lock_open(const xproc_client_t *c, const char *n, size_t nl, int reentrant, xproc_lock_t **out, char **msg);
int xg_lock_acquire(const xproc_lock_t *l, int64_t ms, bool *acq, uint32_t *by, char **msg);
int xg_lock_release(const xproc_lock_t *l, char **msg);
int xg_sem_open(const xproc_client_t *c, const char *n, size_t nl, int bounded, uint64_t initial, xproc_semaphore_t **out, char **msg);
int xg_sem_acquire(const xproc_semaphore_t *s, int64_t ms, bool *acq, char **msg);
int xg_sem_release(const xproc_semaphore_t *s, uint64_t n, char **msg);
int xg_event_open(const xproc_client_t *c, const char *n, size_t nl, xproc_event_t **out, char **msg);
int xg_event_set(const xproc_event_t *e, char **msg);
int xg_event_clear(const xproc_event_t *e, char **msg);
int xg_event_is_set(const xproc_event_t *e, bool *out, char **msg);
int xg_event_wait(const xproc_event_t *e, int64_t ms, bool *set, char **msg);
int xg_cond_open(const xproc_client_t *c, const char *n, size_t nl, xproc_condition_t **out, char **msg);
int xg_cond_acquire(const xproc_condition_t *c, int64_t ms, bool *acq, uint32_t *by, char **msg);
int xg_cond_release(const xproc_condition_t *c, char **msg);
int xg_cond_wait(const xproc_condition_t *c, int64_t ms, bool *notified, char **msg);
int xg_cond_notify(const xproc_condition_t *c, uint64_t n, uint64_t *woken, char **msg);
int xg_cond_notify_all(const xproc_condition_t *c, uint64_t *woken, char **msg);
int xg_barrier_open(const xproc_client_t *c, const char *n, size_t nl, uint64_t parties, xproc_barrier_t **out, char **msg);
int xg_barrier_wait(const xproc_barrier_t *b, int64_t ms, uint64_t *index, char **msg);
int xg_barrier_abort(const xproc_barrier_t *b, char **msg);
int xg_barrier_reset(const xproc_barrier_t *b, char **msg);
int xg_barrier_state(const xproc_barrier_t *b, xproc_barrier_state_t *out, char **msg);

#endif
