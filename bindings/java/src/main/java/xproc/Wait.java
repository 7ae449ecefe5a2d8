package xproc;

import java.util.concurrent.TimeUnit;

/**
 * How blocking calls wait. libxproc cannot end a call another thread is blocked in, so a
 * Java wait is a series of requests of at most {@link #SLICE_MS}, each ended by the broker's
 * own timeout (taking nothing), with Thread.interrupted() checked in between: an interrupt
 * is seen within that time, and the interrupted call took nothing.
 */
final class Wait {
    private Wait() {}

    /** The longest one request waits at the broker, so that interrupts are seen. */
    static final long SLICE_MS = 100;

    static final long FOREVER = -1;

    /** One bounded request: true when the call completed, false when ms passed first. */
    interface Attempt {
        boolean run(long ms);
    }

    static long millis(long timeout, TimeUnit unit) {
        if (timeout <= 0) {
            return 0;
        }
        long ms = unit.toMillis(timeout);
        return ms == 0 ? 1 : Math.min(ms, Long.MAX_VALUE / 4);
    }

    /** Runs a call that waits up to timeoutMs (FOREVER: no limit); false on timeout. */
    static boolean block(long timeoutMs, Attempt call) throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        if (timeoutMs == 0) {
            return call.run(0);
        }
        long deadline = timeoutMs < 0 ? 0 : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (true) {
            long slice = SLICE_MS;
            if (timeoutMs > 0) {
                // Rounded up, so that a wait never ends before its deadline.
                long left = deadline - System.nanoTime();
                slice = left <= 0 ? 0 : Math.min(slice, (left + 999_999) / 1_000_000);
            }
            if (call.run(slice)) {
                return true;
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
            if (timeoutMs > 0 && deadline - System.nanoTime() <= 0) {
                return false;
            }
        }
    }

    /** block() for calls that must not be interrupted (Lock.lock): the interrupt is kept. */
    static void uninterruptibly(Attempt call) {
        boolean interrupted = false;
        while (true) {
            try {
                block(FOREVER, call);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    static boolean isWait(int st) {
        return st == XprocException.Status.TIMEOUT.ordinal() || st == XprocException.Status.EMPTY.ordinal()
                || st == XprocException.Status.FULL.ordinal();
    }
}
