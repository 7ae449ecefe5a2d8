package xproc;

import java.io.EOFException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One end ('a' or 'b') of a shared pipe, held by this connection until closed. Messages
 * sent on one end arrive at the other in order; once the other end is closed, {@link #recv}
 * returns what is left and then throws EOFException.
 */
public final class XPipe extends Handle {
    XPipe(long ptr, String name) {
        super(ptr, "pipe", name);
    }

    @Override
    void free(long ptr) {
        Native.xproc_pipe_free(ptr); // closes the end if still open
    }

    private static final int CLOSED = XprocException.Status.CLOSED.ordinal();

    private boolean sendMs(Object v, long timeoutMs) throws InterruptedException {
        byte[] data = Msgpack.encode(v);
        return with("send", p -> Wait.block(timeoutMs, ms -> {
            int st = Native.xproc_pipe_send_raw(p, data, data.length, ms);
            if (Wait.isWait(st)) {
                return false;
            }
            check(st, "send");
            return true;
        }));
    }

    /** Sends v, waiting while the other end's inbox is full. CLOSED if either end is closed. */
    public void send(Object v) throws InterruptedException {
        sendMs(v, Wait.FOREVER);
    }

    /** Sends v, waiting up to timeout for room; false if there was none. */
    public boolean send(Object v, long timeout, TimeUnit unit) throws InterruptedException {
        return sendMs(v, Wait.millis(timeout, unit));
    }

    private static final Object NOTHING = new Object();

    private Object recvMs(long timeoutMs) throws InterruptedException, EOFException {
        Object[] got = {NOTHING};
        boolean eof = with("recv", p -> {
            boolean[] closed = {false};
            Wait.block(timeoutMs, ms -> {
                long[] out = new long[1];
                long[] len = new long[1];
                int st = Native.xproc_pipe_recv_raw(p, ms, out, len);
                if (Wait.isWait(st)) {
                    return false;
                }
                if (st == CLOSED) {
                    closed[0] = true;
                    return true;
                }
                check(st, "recv");
                got[0] = Msgpack.decode(Native.take(out[0], len[0]));
                return true;
            });
            return closed[0];
        });
        if (eof) {
            throw new EOFException("pipe \"" + name + "\": the other end is closed and nothing is left");
        }
        return got[0];
    }

    /** Receives the next message, waiting as long as it takes; EOFException at end of file. */
    public Object recv() throws InterruptedException, EOFException {
        return recvMs(Wait.FOREVER);
    }

    /** Receives the next message, waiting up to timeout (TimeoutException if none came). */
    public Object recv(long timeout, TimeUnit unit) throws InterruptedException, EOFException, TimeoutException {
        Object v = recvMs(Wait.millis(timeout, unit));
        if (v == NOTHING) {
            throw new TimeoutException("recv on pipe \"" + name + "\" timed out after " + timeout + " "
                    + unit.toString().toLowerCase());
        }
        return v;
    }

    /** Whether a message (or end of file) is ready, waiting up to timeout. */
    public boolean poll(long timeout, TimeUnit unit) throws InterruptedException {
        return with("poll", p -> Wait.block(Wait.millis(timeout, unit), ms -> {
            byte[] ready = flag();
            check(Native.xproc_pipe_poll(p, ms, ready), "poll");
            return ready[0] != 0;
        }));
    }

    /** Closes this end (the other end reads what is left, then end of file) and frees it. */
    @Override
    public void close() {
        try {
            with("close", p -> {
                check(Native.xproc_pipe_close(p), "close");
                return null;
            });
        } catch (XprocException e) {
            if (e.status() != XprocException.Status.INVALID_ARGUMENT) {
                throw e;
            }
        } finally {
            super.close();
        }
    }
}
