'use strict';
// Every libxproc function the binding calls (client-c/include/xproc.h), declared for koffi.
// Handles are opaque pointers; out-parameters are one-element arrays (koffi's _Out_).
//
// libxproc is loaded from $XPROC_LIB, else from the `lib` option of the first connect()
// (xproc.setLibraryPath), else by name through the dynamic loader (LD_LIBRARY_PATH,
// ldconfig: libxproc.so.0 / libxproc.so).

const koffi = require('koffi');

let lib = null;
let explicitPath = null;
const fns = {};

const Limits = koffi.struct('xproc_limits_t', {
  max_frame: 'uint64_t', max_clients: 'uint64_t', max_objects: 'uint64_t', memory_limit: 'uint64_t',
});
const QueueSize = koffi.struct('xproc_queue_size_t', {
  len: 'uint64_t', maxsize: 'uint64_t', unfinished: 'uint64_t',
});
const BarrierState = koffi.struct('xproc_barrier_state_t', {
  parties: 'uint64_t', n_waiting: 'uint64_t', broken: 'bool',
});

const DECLS = [
  'const char *xproc_last_error(void)',
  'const char *xproc_status_str(int status)',
  'const char *xproc_version(void)',
  'void xproc_bytes_free(void *p, size_t len)',
  'int xproc_client_connect_as(const char *p, size_t pl, const char *n, size_t nl, const char *lang, size_t ll, int64_t ms, _Out_ void **out)',
  'void xproc_client_free(void *c)',
  'int xproc_client_ping(void *c)',
  'int xproc_client_conn_id(void *c, _Out_ uint64_t *out)',
  'int xproc_client_limits(void *c, _Out_ xproc_limits_t *out)',
  'int xproc_client_delete(void *c, const char *n, size_t nl, _Out_ bool *deleted)',
  'int xproc_queue_open_with(void *c, const char *n, size_t nl, int64_t maxsize, int64_t attempts, _Out_ void **out)',
  'int xproc_joinable_queue_open_with(void *c, const char *n, size_t nl, int64_t maxsize, int64_t attempts, _Out_ void **out)',
  'void xproc_queue_free(void *q)',
  'int xproc_queue_put_raw(void *q, const uint8_t *d, size_t l, int64_t ms)',
  'int xproc_queue_get_raw(void *q, int64_t ms, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_queue_size(void *q, _Out_ xproc_queue_size_t *out)',
  'int xproc_queue_task_done(void *q)',
  'int xproc_queue_join(void *q, int64_t ms)',
  'int xproc_queue_get_leased_raw(void *q, int64_t ms, int64_t lease, _Out_ void **out, _Out_ size_t *len, _Out_ uint64_t *delivery, _Out_ uint32_t *attempt)',
  'int xproc_queue_ack(void *q, uint64_t d)',
  'int xproc_queue_nack(void *q, uint64_t d, int64_t delay)',
  'int xproc_dict_open(void *c, const char *n, size_t nl, _Out_ void **out)',
  'void xproc_dict_free(void *d)',
  'int xproc_dict_get_raw(void *d, const uint8_t *k, size_t kl, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_dict_set_raw(void *d, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)',
  'int xproc_dict_delete_raw(void *d, const uint8_t *k, size_t kl)',
  'int xproc_dict_contains_raw(void *d, const uint8_t *k, size_t kl, _Out_ bool *out)',
  'int xproc_dict_len(void *d, _Out_ uint64_t *out)',
  'int xproc_dict_keys_raw(void *d, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_dict_values_raw(void *d, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_dict_items_raw(void *d, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_dict_pop_raw(void *d, const uint8_t *k, size_t kl, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_dict_setdefault_raw(void *d, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_dict_clear(void *d)',
  'int xproc_dict_incr_raw(void *d, const uint8_t *k, size_t kl, int64_t delta, _Out_ int64_t *out)',
  'int xproc_dict_compare_and_set_raw(void *d, const uint8_t *k, size_t kl, const uint8_t *e, size_t el, const uint8_t *v, size_t vl, _Out_ bool *swapped)',
  'int xproc_pipe_open(void *c, const char *n, size_t nl, char end, int duplex, int64_t cap, _Out_ void **out)',
  'int xproc_pipe_close(void *p)',
  'void xproc_pipe_free(void *p)',
  'int xproc_pipe_send_raw(void *p, const uint8_t *d, size_t l, int64_t ms)',
  'int xproc_pipe_recv_raw(void *p, int64_t ms, _Out_ void **out, _Out_ size_t *len)',
  'int xproc_pipe_poll(void *p, int64_t ms, _Out_ bool *ready)',
  'int xproc_lock_open(void *c, const char *n, size_t nl, _Out_ void **out)',
  'int xproc_rlock_open(void *c, const char *n, size_t nl, _Out_ void **out)',
  'void xproc_lock_free(void *l)',
  'int xproc_lock_acquire(void *l, int64_t ms, _Out_ bool *acquired, _Out_ uint32_t *by)',
  'int xproc_lock_release(void *l)',
  'int xproc_semaphore_open(void *c, const char *n, size_t nl, uint64_t initial, _Out_ void **out)',
  'int xproc_bounded_semaphore_open(void *c, const char *n, size_t nl, uint64_t initial, _Out_ void **out)',
  'void xproc_semaphore_free(void *s)',
  'int xproc_semaphore_acquire(void *s, int64_t ms, _Out_ bool *acquired)',
  'int xproc_semaphore_release(void *s, uint64_t n)',
  'int xproc_event_open(void *c, const char *n, size_t nl, _Out_ void **out)',
  'void xproc_event_free(void *e)',
  'int xproc_event_set(void *e)',
  'int xproc_event_clear(void *e)',
  'int xproc_event_is_set(void *e, _Out_ bool *out)',
  'int xproc_event_wait(void *e, int64_t ms, _Out_ bool *set)',
  'int xproc_condition_open(void *c, const char *n, size_t nl, _Out_ void **out)',
  'void xproc_condition_free(void *c)',
  'int xproc_condition_acquire(void *c, int64_t ms, _Out_ bool *acquired, _Out_ uint32_t *by)',
  'int xproc_condition_release(void *c)',
  'int xproc_condition_wait(void *c, int64_t ms, _Out_ bool *notified)',
  'int xproc_condition_notify(void *c, uint64_t n, _Out_ uint64_t *woken)',
  'int xproc_condition_notify_all(void *c, _Out_ uint64_t *woken)',
  'int xproc_barrier_open(void *c, const char *n, size_t nl, uint64_t parties, _Out_ void **out)',
  'void xproc_barrier_free(void *b)',
  'int xproc_barrier_wait(void *b, int64_t ms, _Out_ uint64_t *index)',
  'int xproc_barrier_abort(void *b)',
  'int xproc_barrier_reset(void *b)',
  'int xproc_barrier_state(void *b, _Out_ xproc_barrier_state_t *out)',
];

function setLibraryPath(path) {
  if (lib) throw new Error('xproc: libxproc is already loaded');
  explicitPath = path;
}

function load() {
  if (lib) return fns;
  const path = process.env.XPROC_LIB || explicitPath;
  const tried = [];
  for (const candidate of path ? [path] : ['libxproc.so.0', 'libxproc.so']) {
    try {
      lib = koffi.load(candidate);
      break;
    } catch (e) {
      tried.push(`${candidate}: ${e.message}`);
    }
  }
  if (!lib) {
    throw new Error('xproc: libxproc not found; set XPROC_LIB=/path/libxproc.so (or call '
      + 'xproc.setLibraryPath), or put it on the loader\'s path (LD_LIBRARY_PATH, ldconfig); '
      + `build it with cargo build --release -p xproc-c (${tried.join('; ')})`);
  }
  for (const decl of DECLS) {
    const name = decl.match(/(xproc_\w+)\(/)[1];
    fns[name.slice('xproc_'.length)] = lib.func(decl);
  }
  return fns;
}

module.exports = { load, setLibraryPath, koffi };
