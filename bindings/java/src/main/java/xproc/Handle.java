package xproc;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Owns one libxproc handle. Calls hold it shared, {@link #close} exclusively, so a handle
 * is never freed under a call that uses it (close waits for calls in progress).
 */
abstract class Handle implements AutoCloseable {
    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    private long ptr;
    final String kind;
    final String name;

    Handle(long ptr, String kind, String name) {
        this.ptr = ptr;
        this.kind = kind;
        this.name = name;
    }

    /** Frees the native handle (xproc_*_free). */
    abstract void free(long ptr);

    /** The object's name. */
    public String name() {
        return name;
    }

    interface Call<T, E extends Exception> {
        T run(long ptr) throws E;
    }

    <T, E extends Exception> T with(String op, Call<T, E> call) throws E {
        rw.readLock().lock();
        try {
            if (ptr == 0) {
                throw new XprocException(XprocException.Status.INVALID_ARGUMENT, kind + "." + op, name,
                        "this handle was closed");
            }
            return call.run(ptr);
        } finally {
            rw.readLock().unlock();
        }
    }

    void check(int st, String op) {
        XprocException.check(st, kind + "." + op, name);
    }

    /** Frees this handle; the object stays in the broker. Closing twice is harmless. */
    @Override
    public void close() {
        rw.writeLock().lock();
        try {
            if (ptr != 0) {
                free(ptr);
                ptr = 0;
            }
        } finally {
            rw.writeLock().unlock();
        }
    }

    static byte[] flag() {
        return new byte[1];
    }
}
