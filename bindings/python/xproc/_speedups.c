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

static PyMethodDef methods[] = {
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
