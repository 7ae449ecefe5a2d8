package xproc;

import java.time.Duration;

/**
 * One connection to an xprocd broker, and the factory of every shared object on it.
 *
 * <pre>{@code
 * try (Client c = Client.connect()) {               // default endpoint, or connect(path)
 *     XQueue q = c.queue("tasks");
 *     q.put(Map.of("n", 7));
 *     Object task = q.poll(5, TimeUnit.SECONDS);     // null on timeout
 *     try (XLock.Held held = c.lock("device").acquire()) { ... }
 * }
 * }</pre>
 *
 * Thread-safe: any number of threads may share a client and its handles. Locks, permits and
 * pipe ends belong to the connection (the broker releases them when it ends), so threads
 * sharing a client share them. Handles keep the connection alive until they are closed.
 */
public final class Client extends Handle {
    /** How long connect waits for the broker's greeting unless told (5 s). */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofMillis(5000);

    private Client(long ptr, String path) {
        super(ptr, "client", path);
    }

    @Override
    void free(long ptr) {
        Native.xproc_client_free(ptr);
    }

    /** Connects to the default endpoint ($XPROC_SOCKET, else $XDG_RUNTIME_DIR/xproc.sock, ...). */
    public static Client connect() {
        return connect(null, DEFAULT_CONNECT_TIMEOUT);
    }

    /** Connects to the broker at path (null: the default endpoint). */
    public static Client connect(String path) {
        return connect(path, DEFAULT_CONNECT_TIMEOUT);
    }

    /**
     * Connects to the broker at path (null: the default endpoint), waiting at most timeout
     * for its greeting. Status NO_BROKER when nothing listens there.
     */
    public static Client connect(String path, Duration timeout) {
        byte[] p = path == null ? null : Native.utf8(path);
        byte[] name = Native.utf8("java");
        byte[] lang = Native.utf8("java");
        long[] out = new long[1];
        int st = Native.xproc_client_connect_as(p, p == null ? 0 : p.length, name, name.length, lang,
                lang.length, timeout.toMillis(), out);
        XprocException.check(st, "connect", path == null ? "" : path);
        return new Client(out[0], path == null ? "" : path);
    }

    /** The version of the loaded libxproc, e.g. "0.1.0". */
    public static String libraryVersion() {
        return Native.xproc_version();
    }

    /** One round trip to the broker. */
    public void ping() {
        with("ping", c -> {
            check(Native.xproc_client_ping(c), "ping");
            return null;
        });
    }

    /** The id the broker gave this connection. */
    public long connId() {
        return with("conn_id", c -> {
            long[] out = new long[1];
            check(Native.xproc_client_conn_id(c, out), "conn_id");
            return out[0];
        });
    }

    /** Deletes the object called name; false if there was none. */
    public boolean delete(String name) {
        return with("delete", c -> {
            byte[] n = Native.utf8(name);
            byte[] deleted = flag();
            XprocException.check(Native.xproc_client_delete(c, n, n.length, deleted), "delete", name);
            return deleted[0] != 0;
        });
    }

    interface Open {
        int run(long client, byte[] name, long len, long[] out);
    }

    long open(String kind, String name, Open open) {
        return with("open", c -> {
            byte[] n = Native.utf8(name);
            long[] out = new long[1];
            XprocException.check(open.run(c, n, n.length, out), kind + ".open", name);
            return out[0];
        });
    }

    /** Opens the unbounded queue called name, creating it if the name is free. */
    public XQueue queue(String name) {
        return queue(name, -1, -1);
    }

    /**
     * Opens the queue called name, creating it with maxsize (0: unbounded; negative: not
     * given) and maxAttempts (leased deliveries before NAME.dead; negative: not given).
     */
    public XQueue queue(String name, long maxsize, long maxAttempts) {
        return new XQueue(open("queue", name,
                (c, n, l, out) -> Native.xproc_queue_open_with(c, n, l, maxsize, maxAttempts, out)), "queue", name);
    }

    /** Opens the joinable queue called name (maxsize as for queue; negative: not given). */
    public XJoinableQueue joinableQueue(String name, long maxsize) {
        return new XJoinableQueue(open("joinable_queue", name,
                (c, n, l, out) -> Native.xproc_joinable_queue_open_with(c, n, l, maxsize, -1, out)), name);
    }

    /** Opens the dict called name, creating it if the name is free. */
    public XDict dict(String name) {
        return new XDict(open("dict", name, Native::xproc_dict_open), name);
    }

    /** Opens end 'a' or 'b' of the duplex pipe called name. */
    public XPipe pipe(String name, char end) {
        return pipe(name, end, null, -1);
    }

    /**
     * Opens end 'a' or 'b' of the pipe called name; duplex (null: not given; false: 'a'
     * sends, 'b' receives) and capacity (negative: not given) apply on creation.
     */
    public XPipe pipe(String name, char end, Boolean duplex, long capacity) {
        int d = duplex == null ? -1 : duplex ? 1 : 0;
        return new XPipe(open("pipe", name,
                (c, n, l, out) -> Native.xproc_pipe_open(c, n, l, (byte) end, d, capacity, out)), name);
    }

    /** Opens the lock called name. */
    public XLock lock(String name) {
        return new XLock(open("lock", name, Native::xproc_lock_open), "lock", name);
    }

    /** Opens the reentrant lock called name. */
    public XLock rlock(String name) {
        return new XLock(open("rlock", name, Native::xproc_rlock_open), "rlock", name);
    }

    /** Opens the semaphore called name, created with initial permits. */
    public XSemaphore semaphore(String name, long initial) {
        return new XSemaphore(open("semaphore", name,
                (c, n, l, out) -> Native.xproc_semaphore_open(c, n, l, initial, out)), "semaphore", name);
    }

    /** Opens the bounded semaphore called name, created with initial permits (also its bound). */
    public XSemaphore boundedSemaphore(String name, long initial) {
        return new XSemaphore(open("bounded_semaphore", name,
                (c, n, l, out) -> Native.xproc_bounded_semaphore_open(c, n, l, initial, out)),
                "bounded_semaphore", name);
    }

    /** Opens the event called name. */
    public XEvent event(String name) {
        return new XEvent(open("event", name, Native::xproc_event_open), name);
    }

    /** Opens the condition called name. */
    public XCondition condition(String name) {
        return new XCondition(open("condition", name, Native::xproc_condition_open), name);
    }

    /** Opens the barrier called name, created for parties. */
    public XBarrier barrier(String name, long parties) {
        return new XBarrier(open("barrier", name,
                (c, n, l, out) -> Native.xproc_barrier_open(c, n, l, parties, out)), name);
    }
}
