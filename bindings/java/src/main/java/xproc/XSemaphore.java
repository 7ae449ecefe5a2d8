package xproc;

import java.util.concurrent.TimeUnit;

/**
 * A shared counting semaphore (java.util.concurrent.Semaphore's method names), or a bounded
 * one that refuses a release above its initial value. Permits held by a connection are
 * returned when it ends.
 */
public final class XSemaphore extends Handle {
    XSemaphore(long ptr, String kind, String name) {
        super(ptr, kind, name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_semaphore_free(ptr);
    }

    private boolean attempt(long ms) {
        return with("acquire", s -> {
            byte[] acquired = flag();
            check(Native.xproc_semaphore_acquire(s, ms, acquired), "acquire");
            return acquired[0] != 0;
        });
    }

    public void acquire() throws InterruptedException {
        Wait.block(Wait.FOREVER, this::attempt);
    }

    public boolean tryAcquire() {
        return attempt(0);
    }

    public boolean tryAcquire(long timeout, TimeUnit unit) throws InterruptedException {
        return Wait.block(Wait.millis(timeout, unit), this::attempt);
    }

    public void release() {
        release(1);
    }

    /** Returns n permits; a bounded semaphore released too far is INVALID_ARGUMENT. */
    public void release(long n) {
        with("release", s -> {
            check(Native.xproc_semaphore_release(s, n), "release");
            return null;
        });
    }
}
