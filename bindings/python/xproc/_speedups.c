/*
 * _speedups: the four per-item calls of the Python binding (queue put/get, dict set/get) as
 * one C call each, instead of up to three ctypes calls and their argument objects.
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

static put_fn queue_put_raw;
static get_fn queue_get_raw;
static set_fn dict_set_raw;
static lookup_fn dict_get_raw;
static free_fn bytes_free;

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

/* bind(put, get, set, get_dict, free): the addresses of xproc_queue_put_raw,
 * xproc_queue_get_raw, xproc_dict_set_raw, xproc_dict_get_raw and xproc_bytes_free. */
static PyObject *bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "bind takes 5 function addresses");
        return NULL;
    }
    void *p[5];
    for (int i = 0; i < 5; i++) {
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
     "bind(put, get, set, dict_get, free): the libxproc function addresses to call."},
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
