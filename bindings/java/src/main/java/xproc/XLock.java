package xproc;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * A shared lock, or a reentrant one from {@link Client#rlock}, as a
 * java.util.concurrent.locks.Lock. It belongs to the connection that took it, and the broker
 * releases it when that connection ends; the next taker then sees {@link #abandonedBy}.
 *
 * <pre>{@code
 * try (XLock.Held held = lock.acquire()) { ... }   // released at the end of the block
 * }</pre>
 */
public final class XLock extends Handle implements Lock {
    private volatile int abandonedBy;

    XLock(long ptr, String kind, String name) {
        super(ptr, kind, name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_lock_free(ptr); // does not release the lock
    }

    private boolean attempt(long ms) {
        return with("acquire", l -> {
            byte[] acquired = flag();
            int[] by = new int[1];
            check(Native.xproc_lock_acquire(l, ms, acquired, by), "acquire");
            if (acquired[0] != 0) {
                abandonedBy = by[0];
            }
            return acquired[0] != 0;
        });
    }

    /** Takes the lock, waiting as long as it takes; an interrupt does not stop it (kept set). */
    @Override
    public void lock() {
        Wait.uninterruptibly(this::attempt);
    }

    @Override
    public void lockInterruptibly() throws InterruptedException {
        Wait.block(Wait.FOREVER, this::attempt);
    }

    @Override
    public boolean tryLock() {
        return attempt(0);
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        return Wait.block(Wait.millis(time, unit), this::attempt);
    }

    /** Releases the lock; IllegalMonitorStateException if this connection does not hold it. */
    @Override
    public void unlock() {
        with("release", l -> {
            int st = Native.xproc_lock_release(l);
            if (st == XprocException.Status.NOT_OWNER.ordinal()) {
                throw new IllegalMonitorStateException(kind + " \"" + name + "\" is not held by this connection");
            }
            check(st, "release");
            return null;
        });
    }

    /** Named conditions are objects of their own: use {@link Client#condition}. */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("use Client.condition(name): a condition is a named object");
    }

    /** Takes the lock (as {@link #lock}) and returns a guard whose close releases it. */
    public Held acquire() {
        lock();
        return new Held();
    }

    /**
     * The pid of the previous owner if the last acquisition through this handle took a lock
     * abandoned by its owner's connection ending, else 0.
     */
    public int abandonedBy() {
        return abandonedBy;
    }

    /** A held lock, released by close (for try-with-resources). */
    public final class Held implements AutoCloseable {
        private boolean released;

        private Held() {}

        @Override
        public void close() {
            if (!released) {
                released = true;
                unlock();
            }
        }
    }
}
