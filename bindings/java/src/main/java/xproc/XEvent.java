package xproc;

import java.util.concurrent.TimeUnit;

/** A shared event (Python's multiprocessing.Event). */
public final class XEvent extends Handle {
    XEvent(long ptr, String name) {
        super(ptr, "event", name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_event_free(ptr);
    }

    public void set() {
        with("set", e -> {
            check(Native.xproc_event_set(e), "set");
            return null;
        });
    }

    public void clear() {
        with("clear", e -> {
            check(Native.xproc_event_clear(e), "clear");
            return null;
        });
    }

    public boolean isSet() {
        return with("is_set", e -> {
            byte[] out = flag();
            check(Native.xproc_event_is_set(e, out), "is_set");
            return out[0] != 0;
        });
    }

    private boolean attempt(long ms) {
        return with("wait", e -> {
            byte[] set = flag();
            check(Native.xproc_event_wait(e, ms, set), "wait");
            return set[0] != 0;
        });
    }

    /** Waits until the event is set. */
    public void await() throws InterruptedException {
        Wait.block(Wait.FOREVER, this::attempt);
    }

    /** Waits up to timeout for the event; whether it is set. */
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return Wait.block(Wait.millis(timeout, unit), this::attempt);
    }
}
