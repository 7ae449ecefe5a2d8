package xproc;

import java.util.concurrent.TimeUnit;

/** A queue whose items are marked done (Python's JoinableQueue). */
public final class XJoinableQueue extends XQueue {
    XJoinableQueue(long ptr, String name) {
        super(ptr, "joinable_queue", name);
    }

    /** Marks one taken item as processed; INVALID_ARGUMENT when called too often. */
    public void taskDone() {
        with("task_done", q -> {
            check(Native.xproc_queue_task_done(q), "task_done");
            return null;
        });
    }

    /** Items put and not yet marked done (one round trip). */
    public long unfinishedTasks() {
        return unfinished();
    }

    private boolean joinMs(long timeoutMs) throws InterruptedException {
        return with("join", q -> Wait.block(timeoutMs, ms -> {
            int st = Native.xproc_queue_join(q, ms);
            if (Wait.isWait(st)) {
                return false;
            }
            check(st, "join");
            return true;
        }));
    }

    /** Waits until every item put has been marked done. */
    public void join() throws InterruptedException {
        joinMs(Wait.FOREVER);
    }

    /** Waits up to timeout until every item put has been marked done; false on timeout. */
    public boolean join(long timeout, TimeUnit unit) throws InterruptedException {
        return joinMs(Wait.millis(timeout, unit));
    }
}
