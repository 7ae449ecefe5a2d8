/*
 * _speedups: the per-item calls of the Python binding (queue put/get, put_buffered and
 * get_many, dict set/get) as one C call each, instead of up to three ctypes calls (for
 * get_many: a ctypes call per item) and their argument objects.
 *
 * It is optional: pip builds it when a C compiler and Python's headers are there, and the
 * binding falls back to ctypes when it is missing (or when XPROC_NO_SPEEDUPS is set). It does
 * not link to libxproc: the binding loads libxproc with ctypes and hands this module the
 * addresses of the four functions and of xproc_bytes_free (bind()), so both paths call the
 * same library.
 *
 * Every function takes the handle as an integer (the ctypes handle's .value), releases the GIL
 * around the libxproc call (it may block), and returns the libxproc status as an int —
 * except that a successful get returns the value's MessagePack bytes instead of 0.
 *
 * The aio_* functions serve xproc.aio's driver (bind_aio() hands their addresses): starting a
 * queue get or put returns the ticket, one aio_collect per readable descriptor returns every
 * finished (ticket, completion), and aio_take reads and frees one completion.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef int (*put_fn)(void *, const uint8_t *, size_t, int64_t);
typedef int (*get_fn)(void *, int64_t, uint8_t **, size_t *);
typedef int (*set_fn)(void *, const uint8_t *, size_t, const uint8_t *, size_t);
typedef int (*lookup_fn)(void *, const uint8_t *, size_t, uint8_t **, size_t *);
typedef void (*free_fn)(uint8_t *, size_t);
typedef int (*put_async_fn)(void *, const uint8_t *, size_t);
typedef int (*get_many_fn)(void *, size_t, int64_t, void **);
typedef size_t (*batch_len_fn)(const void *);
typedef int (*batch_item_fn)(const void *, size_t, const uint8_t **, size_t *);
typedef void (*batch_free_fn)(void *);

static put_fn queue_put_raw;
static get_fn queue_get_raw;
static set_fn dict_set_raw;
static lookup_fn dict_get_raw;
static free_fn bytes_free;
static put_async_fn queue_put_async_raw;
static get_many_fn queue_get_many;
static batch_len_fn batch_len;
static batch_item_fn batch_item;
static batch_free_fn batch_free;

static void *address(PyObject *o) {
    void *p = PyLong_AsVoidPtr(o);
    if (p == NULL && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "NULL handle");
    }
    return p;
}

static int check_bound(void) {
    if (bytes_free == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "xproc._speedups: bind() was not called");
        return -1;
    }
    return 0;
}

static int check_args(Py_ssize_t nargs, Py_ssize_t want, const char *name) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    return check_bound();
}

static int check_bytes(PyObject *o, const char *what) {
    if (!PyBytes_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes", what);
        return -1;
    }
    return 0;
}

/* A get's result: the bytes (taking ownership of libxproc's buffer), or the status. */
static PyObject *bytes_or_status(int status, uint8_t *out, size_t len) {
    if (status != 0) {
        return PyLong_FromLong(status);
    }
    PyObject *data = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)len);
    bytes_free(out, len);
    return data;
}

/* bind(put, get, set, get_dict, free, put_async, get_many, batch_len, batch_item,
 * batch_free): the addresses of xproc_queue_put_raw, xproc_queue_get_raw, xproc_dict_set_raw,
 * xproc_dict_get_raw, xproc_bytes_free, xproc_queue_put_async_raw, xproc_queue_get_many,
 * xproc_batch_len, xproc_batch_item and xproc_batch_free. */
#define BOUND 10
static PyObject *bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != BOUND) {
        PyErr_SetString(PyExc_TypeError, "bind takes 10 function addresses");
        return NULL;
    }
    void *p[BOUND];
    for (int i = 0; i < BOUND; i++) {
        if ((p[i] = address(args[i])) == NULL) {
            return NULL;
        }
    }
    /* Object to function pointers through memcpy, as POSIX does for dlsym's result. */
    memcpy(&queue_put_raw, &p[0], sizeof p[0]);
    memcpy(&queue_get_raw, &p[1], sizeof p[1]);
    memcpy(&dict_set_raw, &p[2], sizeof p[2]);
    memcpy(&dict_get_raw, &p[3], sizeof p[3]);
    memcpy(&bytes_free, &p[4], sizeof p[4]);
    memcpy(&queue_put_async_raw, &p[5], sizeof p[5]);
    memcpy(&queue_get_many, &p[6], sizeof p[6]);
    memcpy(&batch_len, &p[7], sizeof p[7]);
    memcpy(&batch_item, &p[8], sizeof p[8]);
    memcpy(&batch_free, &p[9], sizeof p[9]);
    Py_RETURN_NONE;
}

/* queue_put(handle, data: bytes, timeout_ms) -> status */
static PyObject *queue_put(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_args(nargs, 3, "queue_put") < 0 || check_bytes(args[1], "data") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    long long ms = PyLong_AsLongLong(args[2]);
    if (h == NULL || (ms == -1 && PyErr_Occurred())) {
        return NULL;
    }
    /* The bytes object is kept alive by the caller's reference for the whole call. */
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(args[1]);
    size_t len = (size_t)PyBytes_GET_SIZE(args[1]);
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = queue_put_raw(h, data, len, (int64_t)ms);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(status);
}

/* queue_get(handle, timeout_ms) -> bytes, or the status when it failed */
static PyObject *queue_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_args(nargs, 2, "queue_get") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    long long ms = PyLong_AsLongLong(args[1]);
    if (h == NULL || (ms == -1 && PyErr_Occurred())) {
        return NULL;
    }
    uint8_t *out = NULL;
    size_t len = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = queue_get_raw(h, (int64_t)ms, &out, &len);
    Py_END_ALLOW_THREADS
    return bytes_or_status(status, out, len);
}

/* queue_put_async(handle, data: bytes) -> status */
static PyObject *queue_put_async(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_args(nargs, 2, "queue_put_async") < 0 || check_bytes(args[1], "data") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    if (h == NULL) {
        return NULL;
    }
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(args[1]);
    size_t len = (size_t)PyBytes_GET_SIZE(args[1]);
    int status;
    /* Usually a copy into the batch; out of window it waits for the broker. */
    Py_BEGIN_ALLOW_THREADS
    status = queue_put_async_raw(h, data, len);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(status);
}

/* queue_get_many(handle, max, timeout_ms) -> list of bytes, or the status when it failed */
static PyObject *queue_get_many_(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_args(nargs, 3, "queue_get_many") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    size_t max = PyLong_AsSize_t(args[1]);
    long long ms = PyLong_AsLongLong(args[2]);
    if (h == NULL || PyErr_Occurred()) {
        return NULL;
    }
    void *batch = NULL;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = queue_get_many(h, max, (int64_t)ms, &batch);
    Py_END_ALLOW_THREADS
    if (status != 0) {
        return PyLong_FromLong(status);
    }
    size_t n = batch_len(batch);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        const uint8_t *p = NULL;
        size_t len = 0;
        batch_item(batch, i, &p, &len);
        PyObject *item = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)len);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    batch_free(batch);
    return list;
}

/* dict_set(handle, key: bytes, value: bytes) -> status */
static PyObject *dict_set(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_args(nargs, 3, "dict_set") < 0 || check_bytes(args[1], "key") < 0 ||
        check_bytes(args[2], "value") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    if (h == NULL) {
        return NULL;
    }
    const uint8_t *k = (const uint8_t *)PyBytes_AS_STRING(args[1]);
    size_t klen = (size_t)PyBytes_GET_SIZE(args[1]);
    const uint8_t *v = (const uint8_t *)PyBytes_AS_STRING(args[2]);
    size_t vlen = (size_t)PyBytes_GET_SIZE(args[2]);
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = dict_set_raw(h, k, klen, v, vlen);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(status);
}

/* dict_get(handle, key: bytes) -> bytes, or the status when it failed */
static PyObject *dict_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_args(nargs, 2, "dict_get") < 0 || check_bytes(args[1], "key") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    if (h == NULL) {
        return NULL;
    }
    const uint8_t *k = (const uint8_t *)PyBytes_AS_STRING(args[1]);
    size_t klen = (size_t)PyBytes_GET_SIZE(args[1]);
    uint8_t *out = NULL;
    size_t len = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = dict_get_raw(h, k, klen, &out, &len);
    Py_END_ALLOW_THREADS
    return bytes_or_status(status, out, len);
}

/* ---- the asyncio driver's calls (xproc.aio): start a request, collect completions ---- */

typedef int (*get_start_fn)(void *, int64_t, uint64_t *);
typedef int (*put_start_fn)(void *, const uint8_t *, size_t, int64_t, uint64_t *);
typedef int (*process_fn)(void *, size_t *);
typedef int (*next_completion_fn)(void *, uint64_t *, void **);
typedef int (*completion_status_fn)(const void *);
typedef int (*completion_value_fn)(const void *, const uint8_t **, size_t *);
typedef void (*completion_free_fn)(void *);
typedef int (*flush_starts_fn)(void *);

static get_start_fn queue_get_start;
static put_start_fn queue_put_start_raw;
static process_fn client_process;
static next_completion_fn client_next_completion;
static completion_status_fn completion_status;
static completion_value_fn completion_value_raw;
static completion_free_fn completion_free;
static flush_starts_fn client_flush_starts;

/* bind_aio(get_start, put_start, process, next_completion, completion_status,
 * completion_value_raw, completion_free, flush_starts): the addresses of
 * xproc_queue_get_start, xproc_queue_put_start_raw, xproc_client_process,
 * xproc_client_next_completion, xproc_completion_status, xproc_completion_value_raw,
 * xproc_completion_free and xproc_client_flush_starts. */
#define BOUND_AIO 8
static PyObject *bind_aio(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != BOUND_AIO) {
        PyErr_SetString(PyExc_TypeError, "bind_aio takes 8 function addresses");
        return NULL;
    }
    void *p[BOUND_AIO];
    for (int i = 0; i < BOUND_AIO; i++) {
        if ((p[i] = address(args[i])) == NULL) {
            return NULL;
        }
    }
    memcpy(&queue_get_start, &p[0], sizeof p[0]);
    memcpy(&queue_put_start_raw, &p[1], sizeof p[1]);
    memcpy(&client_process, &p[2], sizeof p[2]);
    memcpy(&client_next_completion, &p[3], sizeof p[3]);
    memcpy(&completion_status, &p[4], sizeof p[4]);
    memcpy(&completion_value_raw, &p[5], sizeof p[5]);
    memcpy(&completion_free, &p[6], sizeof p[6]);
    memcpy(&client_flush_starts, &p[7], sizeof p[7]);
    Py_RETURN_NONE;
}

static int check_aio(Py_ssize_t nargs, Py_ssize_t want, const char *name) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    if (client_flush_starts == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "xproc._speedups: bind_aio() was not called");
        return -1;
    }
    return 0;
}

/* A started request's ticket, or minus the status when it could not be started. None of the
 * start calls blocks (the loop's client defers its writes), so the GIL is kept. */
static PyObject *ticket_or_status(int status, uint64_t ticket) {
    if (status != 0) {
        return PyLong_FromLong(-(long)status);
    }
    return PyLong_FromUnsignedLongLong(ticket);
}

/* aio_get_start(queue, timeout_ms) -> ticket, or -status */
static PyObject *aio_get_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_aio(nargs, 2, "aio_get_start") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    long long ms = PyLong_AsLongLong(args[1]);
    if (h == NULL || (ms == -1 && PyErr_Occurred())) {
        return NULL;
    }
    uint64_t ticket = 0;
    int status = queue_get_start(h, (int64_t)ms, &ticket);
    return ticket_or_status(status, ticket);
}

/* aio_put_start(queue, data: bytes, timeout_ms) -> ticket, or -status */
static PyObject *aio_put_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_aio(nargs, 3, "aio_put_start") < 0 || check_bytes(args[1], "data") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    long long ms = PyLong_AsLongLong(args[2]);
    if (h == NULL || (ms == -1 && PyErr_Occurred())) {
        return NULL;
    }
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(args[1]);
    size_t len = (size_t)PyBytes_GET_SIZE(args[1]);
    uint64_t ticket = 0;
    int status = queue_put_start_raw(h, data, len, (int64_t)ms, &ticket);
    return ticket_or_status(status, ticket);
}

/* aio_collect(client) -> [(ticket, completion address), ...]: xproc_client_process, then every
 * waiting completion (owned by the caller). A failed process is reported by the completions
 * themselves (a dead connection completes every request with XPROC_DISCONNECTED). */
static PyObject *aio_collect(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_aio(nargs, 1, "aio_collect") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    if (h == NULL) {
        return NULL;
    }
    (void)client_process(h, NULL);
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    uint64_t ticket;
    void *cmp;
    while (client_next_completion(h, &ticket, &cmp) == 0) {
        PyObject *item = Py_BuildValue("(KN)", (unsigned long long)ticket, PyLong_FromVoidPtr(cmp));
        if (item == NULL || PyList_Append(out, item) < 0) {
            /* The completion is lost to Python: free it (its request is answered). */
            Py_XDECREF(item);
            if (item == NULL) {
                completion_free(cmp);
            }
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

/* aio_take(completion) -> frees the completion; returns its value's MessagePack bytes (a
 * successful get), None (successful, no value: a put), or its status when the request failed
 * (xproc_last_error() then has the message). */
static PyObject *aio_take(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_aio(nargs, 1, "aio_take") < 0) {
        return NULL;
    }
    void *cmp = address(args[0]);
    if (cmp == NULL) {
        return NULL;
    }
    int status = completion_status(cmp);
    PyObject *out;
    if (status != 0) {
        out = PyLong_FromLong(status);
    } else {
        const uint8_t *data = NULL;
        size_t len = 0;
        if (completion_value_raw(cmp, &data, &len) == 0) {
            out = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)len);
        } else {
            Py_INCREF(Py_None);
            out = Py_None;
        }
    }
    completion_free(cmp);
    return out;
}

/* aio_flush(client) -> status: sends the requests the loop started this turn, in one write. */
static PyObject *aio_flush(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (check_aio(nargs, 1, "aio_flush") < 0) {
        return NULL;
    }
    void *h = address(args[0]);
    if (h == NULL) {
        return NULL;
    }
    return PyLong_FromLong(client_flush_starts(h));
}

static PyMethodDef methods[] = {
    {"bind_aio", (PyCFunction)(void (*)(void))bind_aio, METH_FASTCALL,
     "bind_aio(get_start, put_start, process, next_completion, completion_status, "
     "completion_value_raw, completion_free, flush_starts): the event-loop addresses."},
    {"aio_get_start", (PyCFunction)(void (*)(void))aio_get_start, METH_FASTCALL,
     "aio_get_start(queue, timeout_ms) -> ticket | -status"},
    {"aio_put_start", (PyCFunction)(void (*)(void))aio_put_start, METH_FASTCALL,
     "aio_put_start(queue, data, timeout_ms) -> ticket | -status"},
    {"aio_collect", (PyCFunction)(void (*)(void))aio_collect, METH_FASTCALL,
     "aio_collect(client) -> [(ticket, completion), ...]"},
    {"aio_take", (PyCFunction)(void (*)(void))aio_take, METH_FASTCALL,
     "aio_take(completion) -> bytes | None | status (frees it)"},
    {"aio_flush", (PyCFunction)(void (*)(void))aio_flush, METH_FASTCALL,
     "aio_flush(client) -> status"},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(put, get, set, dict_get, free, put_async, get_many, batch_len, batch_item, "
     "batch_free): the libxproc function addresses to call."},
    {"queue_put_async", (PyCFunction)(void (*)(void))queue_put_async, METH_FASTCALL,
     "queue_put_async(handle, data) -> status"},
    {"queue_get_many", (PyCFunction)(void (*)(void))queue_get_many_, METH_FASTCALL,
     "queue_get_many(handle, max, timeout_ms) -> list of bytes | status"},
    {"queue_put", (PyCFunction)(void (*)(void))queue_put, METH_FASTCALL,
     "queue_put(handle, data, timeout_ms) -> status"},
    {"queue_get", (PyCFunction)(void (*)(void))queue_get, METH_FASTCALL,
     "queue_get(handle, timeout_ms) -> bytes | status"},
    {"dict_set", (PyCFunction)(void (*)(void))dict_set, METH_FASTCALL,
     "dict_set(handle, key, value) -> status"},
    {"dict_get", (PyCFunction)(void (*)(void))dict_get, METH_FASTCALL,
     "dict_get(handle, key) -> bytes | status"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "xproc._speedups",
    "The Python binding's per-item calls in C (optional; see the file's comment).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
