package xproc;

import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A shared barrier for a fixed number of parties (java.util.concurrent.CyclicBarrier's
 * names). A timeout, {@link #abort}, or a waiting party's disconnect breaks it: every waiter
 * gets BrokenBarrierException. A barrier wait is one request (a bounded one would break the
 * barrier), so an interrupt is not seen until it returns.
 */
public final class XBarrier extends Handle {
    XBarrier(long ptr, String name) {
        super(ptr, "barrier", name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_barrier_free(ptr);
    }

    private int awaitMs(long ms) throws BrokenBarrierException {
        int st;
        long[] index = new long[1];
        st = with("wait", b -> Native.xproc_barrier_wait(b, ms, index));
        if (st == XprocException.Status.BROKEN_BARRIER.ordinal()) {
            throw new BrokenBarrierException("barrier \"" + name + "\" is broken");
        }
        check(st, "wait");
        return (int) index[0];
    }

    /** Waits for every party; this party's arrival index (0..parties-1). */
    public int await() throws BrokenBarrierException {
        return awaitMs(Wait.FOREVER);
    }

    /** Waits up to timeout; a timeout breaks the barrier (TimeoutException here). */
    public int await(long timeout, TimeUnit unit) throws BrokenBarrierException, TimeoutException {
        long ms = Wait.millis(timeout, unit);
        long start = System.nanoTime();
        try {
            return awaitMs(ms);
        } catch (BrokenBarrierException e) {
            if (TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) >= ms) {
                throw new TimeoutException("wait on barrier \"" + name + "\" timed out; the barrier broke");
            }
            throw e;
        }
    }

    public void abort() {
        with("abort", b -> {
            check(Native.xproc_barrier_abort(b), "abort");
            return null;
        });
    }

    public void reset() {
        with("reset", b -> {
            check(Native.xproc_barrier_reset(b), "reset");
            return null;
        });
    }

    private long[] state() {
        return with("state", b -> {
            long[] out = new long[3];
            check(Native.xproc_barrier_state(b, out), "state");
            return out;
        });
    }

    public int getParties() {
        return (int) state()[0];
    }

    public int getNumberWaiting() {
        return (int) state()[1];
    }

    public boolean isBroken() {
        return (state()[2] & 0xff) != 0;
    }
}
