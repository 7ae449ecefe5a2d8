package xproc

import (
	"context"
	"math"
	"time"
)

// CancelCheckInterval bounds how long a blocking call waits at the broker in one request
// when its context can be cancelled. libxproc has no way to end a call that another thread
// is blocked in (xproc_set_interruptible works by signals, for the thread that reads the
// connection only), so a cancellable wait is made of bounded requests: each ends at the
// broker by its own timeout, taking nothing, and the context is checked in between. A
// cancel is therefore seen within this interval, and nothing the cancelled call asked for
// happens afterwards. A context that cannot be cancelled (Done() == nil) waits in one
// request; a deadline alone is passed to the broker as the timeout of the last request.
const CancelCheckInterval = 100 * time.Millisecond

// maxTimeoutMS is the largest timeout handed to libxproc (it takes int64_t milliseconds);
// longer deadlines are "as long as it takes".
const maxTimeoutMS = math.MaxInt64 / 2

// waitForever is XPROC_WAIT_FOREVER.
const waitForever = -1

// attempt is one bounded request of a blocking call: it waits at most ms milliseconds (-1:
// forever) and reports done=false when that passed without the call completing.
type attempt func(ms int64) (done bool, err error)

// msUntil is the time left before a deadline, in whole milliseconds rounded up (so a wait
// never ends before the deadline), 0 if it passed.
func msUntil(deadline time.Time) int64 {
	left := time.Until(deadline)
	if left <= 0 {
		return 0
	}
	ms := int64((left + time.Millisecond - 1) / time.Millisecond)
	if ms > maxTimeoutMS {
		ms = maxTimeoutMS
	}
	return ms
}

// block runs a blocking call under ctx: in one request when ctx can never be cancelled,
// else in requests of at most CancelCheckInterval. It returns nil once the call completed,
// the call's own error, or (op, name) errors matching ErrTimeout and
// context.DeadlineExceeded at ctx's deadline, ErrInterrupted and context.Canceled on cancel.
func block(ctx context.Context, op, name string, call attempt) error {
	deadline, hasDeadline := ctx.Deadline()
	if ctx.Err() != nil {
		return contextError(ctx, op, name)
	}
	if ctx.Done() == nil {
		done, err := call(waitForever)
		if err == nil && !done {
			return &Error{Op: op, Name: name, Status: StatusTimeout}
		}
		return err
	}
	slice := CancelCheckInterval.Milliseconds()
	for {
		ms := slice
		if hasDeadline {
			if left := msUntil(deadline); left < ms {
				ms = left
			}
		}
		done, err := call(ms)
		if err != nil || done {
			return err
		}
		if ctx.Err() != nil || (hasDeadline && !time.Now().Before(deadline)) {
			if ctx.Err() == nil {
				// The broker's clock ran out a hair before ours: the deadline is what ended it.
				<-ctx.Done()
			}
			return contextError(ctx, op, name)
		}
	}
}

// timeoutMS is the one-request timeout for calls that cannot be sliced (a barrier wait,
// whose timeout breaks the barrier): ctx's deadline, or forever.
func timeoutMS(ctx context.Context) int64 {
	if deadline, ok := ctx.Deadline(); ok {
		return msUntil(deadline)
	}
	return waitForever
}

// isWait reports whether a status is a bounded request's "nothing came in time" outcome.
func isWait(err error) bool {
	e, ok := err.(*Error)
	return ok && (e.Status == StatusTimeout || e.Status == StatusEmpty || e.Status == StatusFull)
}
