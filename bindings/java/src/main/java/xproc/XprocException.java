package xproc;

/**
 * A failed xproc call: which operation on which object, the libxproc {@link Status} and its
 * message, e.g. {@code dict.incr on "stats": XPROC_WRONG_TYPE: ...}. Timeouts, interrupts and
 * broken barriers are reported the java.util.concurrent way instead (TimeoutException,
 * InterruptedException, BrokenBarrierException), and releasing a lock this connection does
 * not hold with IllegalMonitorStateException.
 */
public class XprocException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** libxproc's status codes (xproc_status_e); the numbers are stable. */
    public enum Status {
        OK, NO_BROKER, TIMEOUT, EMPTY, FULL, TYPE_MISMATCH, CLOSED, DISCONNECTED, LIMIT,
        KEY_NOT_FOUND, NOT_OWNER, BUSY, BROKEN_BARRIER, INVALID_ARGUMENT, NULL_ARGUMENT,
        SHUTTING_DOWN, NOT_FOUND, OPTION_MISMATCH, INVALID_NAME, INVALID_VALUE, WRONG_TYPE,
        OUT_OF_RANGE, BROKER_ERROR, PROTOCOL_ERROR, PANIC, UNKNOWN_DELIVERY, DENIED, INTERRUPTED,
        /** A status this binding does not know (a newer libxproc). */
        UNKNOWN;

        static Status of(int code) {
            Status[] all = values();
            return code >= 0 && code < all.length - 1 ? all[code] : UNKNOWN;
        }
    }

    private final Status status;
    private final String op;
    private final String object;

    XprocException(Status status, String op, String object, String message) {
        super(op + (object == null || object.isEmpty() ? "" : " on \"" + object + "\"") + ": XPROC_"
                + status + (message == null || message.isEmpty() ? "" : ": " + message));
        this.status = status;
        this.op = op;
        this.object = object;
    }

    /** The status libxproc reported. */
    public Status status() {
        return status;
    }

    /** The operation, e.g. {@code "queue.get"}. */
    public String op() {
        return op;
    }

    /** The object's name ({@code ""} for client calls). */
    public String object() {
        return object;
    }

    /** Throws for a failed status (reading this thread's last error), returns for OK. */
    static void check(int st, String op, String object) {
        if (st != 0) {
            throw new XprocException(Status.of(st), op, object, Native.lastError());
        }
    }
}
