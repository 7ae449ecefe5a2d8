package xproc;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A shared condition over its own named lock (Python's multiprocessing.Condition), with
 * java.util.concurrent.locks.Condition's names: {@code await}, {@code signal}, {@code
 * signalAll}. Await and signal need the lock held by this connection ({@link #lock}).
 * As Condition allows, {@code await} may return without a signal (every
 * {@value Wait#SLICE_MS} ms, so that interrupts are seen): await in a loop over what you
 * wait for, or use {@link #awaitUntil}.
 */
public final class XCondition extends Handle {
    XCondition(long ptr, String name) {
        super(ptr, "condition", name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_condition_free(ptr);
    }

    private boolean attempt(long ms) {
        return with("acquire", c -> {
            byte[] acquired = flag();
            int[] by = new int[1];
            check(Native.xproc_condition_acquire(c, ms, acquired, by), "acquire");
            return acquired[0] != 0;
        });
    }

    /** Takes the condition's lock. */
    public void lock() throws InterruptedException {
        Wait.block(Wait.FOREVER, this::attempt);
    }

    /** Releases the condition's lock. */
    public void unlock() {
        with("release", c -> {
            check(Native.xproc_condition_release(c), "release");
            return null;
        });
    }

    private boolean waitMs(long ms) {
        return with("wait", c -> {
            byte[] notified = flag();
            check(Native.xproc_condition_wait(c, ms, notified), "wait");
            return notified[0] != 0;
        });
    }

    /** Releases the lock, waits for a signal (or a spurious wakeup), takes the lock again. */
    public void await() throws InterruptedException {
        waitMs(Wait.SLICE_MS);
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }

    /** As {@link #await()}, for at most timeout; false if it passed without a signal. */
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        long ms = Wait.millis(timeout, unit);
        boolean notified = waitMs(Math.min(ms, Wait.SLICE_MS));
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        return notified || ms > Wait.SLICE_MS;
    }

    /**
     * Waits until pred is true, checking it (with the lock held) first and after every
     * wakeup, for at most timeout; whether it became true.
     */
    public boolean awaitUntil(BooleanSupplier pred, long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        while (!pred.getAsBoolean()) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return false;
            }
            waitMs(Math.min(left, Wait.SLICE_MS));
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
        return true;
    }

    /** Wakes one waiter; how many it woke. */
    public long signal() {
        return with("notify", c -> {
            long[] woken = new long[1];
            check(Native.xproc_condition_notify(c, 1, woken), "notify");
            return woken[0];
        });
    }

    /** Wakes every waiter; how many it woke. */
    public long signalAll() {
        return with("notify_all", c -> {
            long[] woken = new long[1];
            check(Native.xproc_condition_notify_all(c, woken), "notify_all");
            return woken[0];
        });
    }
}
