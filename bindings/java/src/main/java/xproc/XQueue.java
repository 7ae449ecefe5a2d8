package xproc;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A shared FIFO queue (Python's multiprocessing.Queue), with java.util.concurrent.BlockingQueue's
 * method names: {@code put}/{@code take} wait, {@code offer}/{@code poll} give up (at once or
 * after a timeout). Unlike a BlockingQueue it carries null (MessagePack nil), so {@code
 * poll}'s null on timeout is ambiguous when nulls are queued: use {@link #get(long,
 * TimeUnit)}, which throws TimeoutException instead.
 */
public class XQueue extends Handle {
    XQueue(long ptr, String kind, String name) {
        super(ptr, kind, name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_queue_free(ptr);
    }

    private boolean putRaw(byte[] data, long timeoutMs) throws InterruptedException {
        return with("put", q -> Wait.block(timeoutMs, ms -> {
            int st = Native.xproc_queue_put_raw(q, data, data.length, ms);
            if (Wait.isWait(st)) {
                return false;
            }
            check(st, "put");
            return true;
        }));
    }

    /** Appends v, waiting while a bounded queue is full. */
    public void put(Object v) throws InterruptedException {
        putRaw(Msgpack.encode(v), Wait.FOREVER);
    }

    /** Appends v if there is room now; false if the queue is full. */
    public boolean offer(Object v) {
        try {
            return putRaw(Msgpack.encode(v), 0);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e); // a zero timeout never waits
        }
    }

    /** Appends v, waiting up to timeout for room; false if there was none. */
    public boolean offer(Object v, long timeout, TimeUnit unit) throws InterruptedException {
        return putRaw(Msgpack.encode(v), Wait.millis(timeout, unit));
    }

    private static final Object NOTHING = new Object();

    private Object getRaw(long timeoutMs) throws InterruptedException {
        Object[] got = {NOTHING};
        with("get", q -> Wait.block(timeoutMs, ms -> {
            long[] out = new long[1];
            long[] len = new long[1];
            int st = Native.xproc_queue_get_raw(q, ms, out, len);
            if (Wait.isWait(st)) {
                return false;
            }
            check(st, "get");
            got[0] = Msgpack.decode(Native.take(out[0], len[0]));
            return true;
        }));
        return got[0];
    }

    /** Removes and returns the head, waiting for one as long as it takes. */
    public Object take() throws InterruptedException {
        return getRaw(Wait.FOREVER);
    }

    /** Removes and returns the head if there is one now, else null. */
    public Object poll() {
        try {
            Object v = getRaw(0);
            return v == NOTHING ? null : v;
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Removes and returns the head, waiting up to timeout; null if nothing came. */
    public Object poll(long timeout, TimeUnit unit) throws InterruptedException {
        Object v = getRaw(Wait.millis(timeout, unit));
        return v == NOTHING ? null : v;
    }

    /** Removes and returns the head, waiting up to timeout; TimeoutException if nothing came. */
    public Object get(long timeout, TimeUnit unit) throws InterruptedException, TimeoutException {
        Object v = getRaw(Wait.millis(timeout, unit));
        if (v == NOTHING) {
            throw new TimeoutException("get on queue \"" + name + "\" timed out after " + timeout + " "
                    + unit.toString().toLowerCase());
        }
        return v;
    }

    private long[] counts() {
        return with("size", q -> {
            long[] out = new long[3];
            check(Native.xproc_queue_size(q, out), "size");
            return out;
        });
    }

    /** The number of items in the queue (exact; one round trip). */
    public int size() {
        return (int) Math.min(Integer.MAX_VALUE, counts()[0]);
    }

    /** Whether the queue is empty (one round trip). */
    public boolean isEmpty() {
        return counts()[0] == 0;
    }

    /** The queue's bound (0: unbounded; one round trip). */
    public long maxSize() {
        return counts()[1];
    }

    /** Items put and not yet marked done (joinable queues; one round trip). */
    long unfinished() {
        return counts()[2];
    }

    /**
     * Takes the head under a lease (null: the broker's default length), waiting up to
     * timeout; null if nothing came. Ack or nack the delivery; if its lease runs out or the
     * connection ends, the item goes back to the head of the queue.
     */
    public Delivery getLeased(Duration lease, long timeout, TimeUnit unit) throws InterruptedException {
        long leaseMs = lease == null ? -1 : Math.max(1, lease.toMillis());
        Delivery[] got = {null};
        with("get_leased", q -> Wait.block(Wait.millis(timeout, unit), ms -> {
            long[] out = new long[1];
            long[] len = new long[1];
            long[] id = new long[1];
            int[] attempt = new int[1];
            int st = Native.xproc_queue_get_leased_raw(q, ms, leaseMs, out, len, id, attempt);
            if (Wait.isWait(st)) {
                return false;
            }
            check(st, "get_leased");
            got[0] = new Delivery(this, Msgpack.decode(Native.take(out[0], len[0])), id[0], attempt[0]);
            return true;
        }));
        return got[0];
    }

    void ack(long id) {
        with("ack", q -> {
            check(Native.xproc_queue_ack(q, id), "ack");
            return null;
        });
    }

    void nack(long id, Duration delay) {
        with("nack", q -> {
            check(Native.xproc_queue_nack(q, id, delay.toMillis()), "nack");
            return null;
        });
    }

    /** An item handed out under a lease by {@link #getLeased}. */
    public static final class Delivery {
        private final XQueue queue;
        private final Object value;
        private final long id;
        private final int attempt;

        Delivery(XQueue queue, Object value, long id, int attempt) {
            this.queue = queue;
            this.value = value;
            this.id = id;
            this.attempt = attempt;
        }

        public Object value() {
            return value;
        }

        /** The broker's delivery id. */
        public long id() {
            return id;
        }

        /** 1 on an item's first delivery. */
        public int attempt() {
            return attempt;
        }

        /** Settles the delivery: done. UNKNOWN_DELIVERY if already settled or expired. */
        public void ack() {
            queue.ack(id);
        }

        /** Gives the item back to the head of the queue after delay. */
        public void nack(Duration delay) {
            queue.nack(id, delay);
        }
    }
}
