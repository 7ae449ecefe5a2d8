// Sync.cs: the other named sync primitives: Condition (a lock plus wait/notify), Semaphore
// and BoundedSemaphore, Event, and Barrier — Python's threading/multiprocessing semantics,
// shared between processes by the broker.

using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace XProc
{
    /// <summary>
    /// A named condition variable (Python's Condition) over its own reentrant lock. Acquire
    /// the lock, then Wait (which releases it while waiting and reacquires it before
    /// returning) or Notify. Open with <see cref="XProcClient.Condition(string)"/>.
    /// </summary>
    /// <example><code>
    /// using (cond.Acquire())
    /// {
    ///     cond.WaitFor(() => (long)dict["ready"] > 0, TimeSpan.FromSeconds(10));
    /// }
    /// </code></example>
    public sealed class XProcCondition : XProcLockBase
    {
        private readonly ConditionHandle handle;

        internal XProcCondition(string name, ConditionHandle handle) : base("condition", name)
        {
            this.handle = handle;
        }

        /// <summary>Releases the lock, waits for a notify, and reacquires the lock before returning.</summary>
        /// <exception cref="NotOwnerException">This connection does not hold the lock.</exception>
        public void Wait()
        {
            WaitCore(Timeouts.Forever);
        }

        /// <summary>
        /// Releases the lock, waits up to <paramref name="timeout"/> for a notify, and
        /// reacquires the lock before returning either way. Returns whether a notify came.
        /// </summary>
        /// <remarks>After the timeout the reacquire itself is not bounded (docs/PROTOCOL.md §6.6).</remarks>
        /// <exception cref="NotOwnerException">This connection does not hold the lock.</exception>
        public bool Wait(TimeSpan timeout)
        {
            return WaitCore(Timeouts.ToMs(timeout, "timeout"));
        }

        /// <summary>Waits until <paramref name="predicate"/> returns true; call with the lock held (the predicate runs with it held).</summary>
        public void WaitFor(Func<bool> predicate)
        {
            WaitForCore(predicate, Timeouts.Forever);
        }

        /// <summary>
        /// Waits until <paramref name="predicate"/> returns true, checking it first and after
        /// each notify, for at most <paramref name="timeout"/> in all. Returns the predicate's
        /// last answer (false: the time ran out). Call with the lock held.
        /// </summary>
        public bool WaitFor(Func<bool> predicate, TimeSpan timeout)
        {
            return WaitForCore(predicate, Timeouts.ToMs(timeout, "timeout"));
        }

        /// <summary>Wakes up to <paramref name="n"/> waiters (default 1) and returns how many were woken. Call with the lock held.</summary>
        /// <exception cref="NotOwnerException">This connection does not hold the lock.</exception>
        public long Notify(long n = 1)
        {
            if (n < 0)
            {
                throw new ArgumentOutOfRangeException("n", n, "n is 0 or more");
            }
            ulong woken;
            Check(Native.xproc_condition_notify(handle, (ulong)n, out woken), "Notify");
            return (long)woken;
        }

        /// <summary>Wakes every waiter and returns how many were woken. Call with the lock held.</summary>
        /// <exception cref="NotOwnerException">This connection does not hold the lock.</exception>
        public long NotifyAll()
        {
            ulong woken;
            Check(Native.xproc_condition_notify_all(handle, out woken), "NotifyAll");
            return (long)woken;
        }

        /// <summary>Releases this handle (it does not release the lock).</summary>
        public override void Dispose()
        {
            handle.Dispose();
        }

        internal override XProcStatus NativeAcquire(long timeoutMs, out bool acquired, out uint abandonedBy)
        {
            return Native.xproc_condition_acquire(handle, timeoutMs, out acquired, out abandonedBy);
        }

        internal override XProcStatus NativeRelease()
        {
            return Native.xproc_condition_release(handle);
        }

        internal override XProcStatus NativeAcquireStart(long timeoutMs, out ulong ticket)
        {
            return Native.xproc_condition_acquire_start(handle, timeoutMs, out ticket);
        }

        /// <summary>
        /// <see cref="Wait()"/> without blocking a thread: the task's result is whether a notify
        /// came, once the lock is held again. Cancelling <paramref name="cancellationToken"/>
        /// gives the wait for a notify up; the lock is still reacquired (as Python's asyncio
        /// Condition does) before the task is cancelled, so the caller holds it either way.
        /// </summary>
        public Task<bool> WaitAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return WaitStarted(Timeouts.Forever, "WaitAsync", cancellationToken);
        }

        /// <summary>As <see cref="Wait()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>, with the lock held again).</summary>
        public void Wait(CancellationToken cancellationToken)
        {
            Calls.Wait(WaitStarted(Timeouts.Forever, "Wait", cancellationToken));
        }

        private Task<bool> WaitStarted(long ms, string op, CancellationToken token)
        {
            ConditionHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_condition_wait_start(h, ms, out t),
                (c, cancelled) =>
                {
                    Calls.Status(c, cancelled, this, op, ms);
                    bool notified = Calls.Bool(c, Calls.Notified);
                    if (cancelled)
                    {
                        throw new OperationCanceledException();
                    }
                    return notified;
                },
                token);
        }

        private bool WaitCore(long timeoutMs)
        {
            if (ThroughPump)
            {
                // Through the pump, so that disposing the client interrupts it.
                return Calls.Wait(WaitStarted(timeoutMs, "Wait", CancellationToken.None));
            }
            bool notified;
            Check(Native.xproc_condition_wait(handle, timeoutMs, out notified), "Wait", timeoutMs);
            return notified;
        }

        /// <summary>
        /// Python's wait_for, in C# rather than through xproc_condition_wait_for: a managed
        /// callback must not throw through native frames, and here the predicate may throw.
        /// </summary>
        private bool WaitForCore(Func<bool> predicate, long timeoutMs)
        {
            if (predicate == null)
            {
                throw new ArgumentNullException("predicate");
            }
            Stopwatch clock = Stopwatch.StartNew();
            bool result = predicate();
            while (!result)
            {
                long wait = Timeouts.Forever;
                if (timeoutMs >= 0)
                {
                    wait = timeoutMs - clock.ElapsedMilliseconds;
                    if (wait <= 0)
                    {
                        break;
                    }
                }
                WaitCore(wait);
                result = predicate();
            }
            return result;
        }
    }

    /// <summary>
    /// A named counting semaphore (Python's Semaphore). Permits a connection holds are
    /// returned when it disconnects. Open with <see cref="XProcClient.Semaphore(string, long)"/>.
    /// </summary>
    public class XProcSemaphore : XProcObject
    {
        private readonly SemaphoreHandle handle;

        internal XProcSemaphore(string kind, string name, SemaphoreHandle handle) : base(kind, name)
        {
            this.handle = handle;
        }

        /// <summary>Takes a permit, waiting as long as it takes. Dispose the result to return it.</summary>
        public Releaser Acquire()
        {
            if (!AcquireCore(Timeouts.Forever))
            {
                throw new XProcException(XProcStatus.ProtocolError,
                    "Acquire on " + Describe() + ": an acquire without a timeout came back without a permit");
            }
            return new Releaser(ReleaseOne, 0);
        }

        /// <summary>Takes a permit, waiting up to <paramref name="timeout"/>. Dispose the result to return it.</summary>
        /// <exception cref="XProcTimeoutException">No permit came in time.</exception>
        public Releaser Acquire(TimeSpan timeout)
        {
            long ms = Timeouts.ToMs(timeout, "timeout");
            if (!AcquireCore(ms))
            {
                throw Error.From(XProcStatus.Timeout, null, "Acquire on " + Describe(), ms);
            }
            return new Releaser(ReleaseOne, 0);
        }

        /// <summary>Takes a permit if one is free now; returns whether it did.</summary>
        public bool TryAcquire()
        {
            return AcquireCore(Timeouts.NoWait);
        }

        /// <summary>Takes a permit, waiting up to <paramref name="timeout"/>; returns whether it did.</summary>
        public bool TryAcquire(TimeSpan timeout)
        {
            return AcquireCore(Timeouts.ToMs(timeout, "timeout"));
        }

        /// <summary>Returns <paramref name="n"/> permits (default 1).</summary>
        /// <exception cref="XProcException">Status InvalidArgument: a bounded semaphore
        /// released above its initial value (Python's ValueError).</exception>
        public void Release(long n = 1)
        {
            if (n < 1)
            {
                throw new ArgumentOutOfRangeException("n", n, "release at least 1 permit");
            }
            Check(Native.xproc_semaphore_release(handle, (ulong)n), "Release");
        }

        /// <summary>Releases this handle (permits held stay held).</summary>
        public override void Dispose()
        {
            handle.Dispose();
        }

        private void ReleaseOne()
        {
            Release(1);
        }

        /// <summary>
        /// Takes a permit without blocking a thread; the task's result is true once it is held
        /// (return it with <see cref="Release"/>). Cancelling <paramref name="cancellationToken"/>
        /// gives the acquire up at the broker (a permit granted meanwhile is released again);
        /// disposing the client fails it with <see cref="ObjectDisposedException"/>.
        /// </summary>
        public Task<bool> AcquireAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return AcquireStarted(Timeouts.Forever, "AcquireAsync", cancellationToken);
        }

        /// <summary>As <see cref="Acquire()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>: no permit was taken).</summary>
        public Releaser Acquire(CancellationToken cancellationToken)
        {
            Calls.Wait(AcquireStarted(Timeouts.Forever, "Acquire", cancellationToken));
            return new Releaser(ReleaseOne, 0);
        }

        internal override XProcHandle WaitTarget(out int kind)
        {
            kind = 4; // XPROC_WAIT_SEMAPHORE
            return handle;
        }

        private Task<bool> AcquireStarted(long ms, string op, CancellationToken token)
        {
            SemaphoreHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_semaphore_acquire_start(h, ms, out t),
                (c, cancelled) =>
                {
                    Calls.Status(c, cancelled, this, op, ms);
                    bool acquired = Calls.Bool(c, Calls.Acquired);
                    if (cancelled)
                    {
                        if (acquired)
                        {
                            Native.xproc_semaphore_release(h, 1); // the caller gave up
                        }
                        throw new OperationCanceledException();
                    }
                    return acquired;
                },
                token);
        }

        private bool AcquireCore(long timeoutMs)
        {
            if (timeoutMs != Timeouts.NoWait && ThroughPump)
            {
                // A free permit is taken directly (one round trip, as before); a wait goes
                // through the pump, so that disposing the client interrupts it.
                return AcquireCore(Timeouts.NoWait)
                    || Calls.Wait(AcquireStarted(timeoutMs, "Acquire", CancellationToken.None));
            }
            bool acquired;
            Check(Native.xproc_semaphore_acquire(handle, timeoutMs, out acquired), "Acquire", timeoutMs);
            return acquired;
        }
    }

    /// <summary>
    /// A named semaphore that refuses a release above its initial value (Python's
    /// BoundedSemaphore). Open with <see cref="XProcClient.BoundedSemaphore(string, long)"/>.
    /// </summary>
    public sealed class XProcBoundedSemaphore : XProcSemaphore
    {
        internal XProcBoundedSemaphore(string name, SemaphoreHandle handle) : base("bounded semaphore", name, handle)
        {
        }
    }

    /// <summary>A named event flag (Python's Event). Open with <see cref="XProcClient.Event(string)"/>.</summary>
    public sealed class XProcEvent : XProcObject
    {
        private readonly EventHandle handle;

        internal XProcEvent(string name, EventHandle handle) : base("event", name)
        {
            this.handle = handle;
        }

        /// <summary>Sets the flag, waking every waiter.</summary>
        public void Set()
        {
            Check(Native.xproc_event_set(handle), "Set");
        }

        /// <summary>Clears the flag (Python's clear; ManualResetEvent.Reset).</summary>
        public void Reset()
        {
            Check(Native.xproc_event_clear(handle), "Reset");
        }

        /// <summary>Whether the flag is set now. Each read is a round trip to the broker.</summary>
        public bool IsSet
        {
            get
            {
                bool set;
                Check(Native.xproc_event_is_set(handle, out set), "IsSet");
                return set;
            }
        }

        /// <summary>Waits until the flag is set.</summary>
        public void Wait()
        {
            WaitCore(Timeouts.Forever);
        }

        /// <summary>Waits up to <paramref name="timeout"/> for the flag; returns whether it is set (as WaitHandle.WaitOne).</summary>
        public bool Wait(TimeSpan timeout)
        {
            return WaitCore(Timeouts.ToMs(timeout, "timeout"));
        }

        /// <summary>Releases this handle.</summary>
        public override void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>
        /// Waits for the flag without blocking a thread (result true). Cancelling
        /// <paramref name="cancellationToken"/> gives the wait up; disposing the client fails it
        /// with <see cref="ObjectDisposedException"/>.
        /// </summary>
        public Task<bool> WaitAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return WaitStarted(Timeouts.Forever, "WaitAsync", cancellationToken);
        }

        /// <summary>As <see cref="Wait()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>).</summary>
        public void Wait(CancellationToken cancellationToken)
        {
            Calls.Wait(WaitStarted(Timeouts.Forever, "Wait", cancellationToken));
        }

        internal override XProcHandle WaitTarget(out int kind)
        {
            kind = 2; // XPROC_WAIT_EVENT
            return handle;
        }

        private Task<bool> WaitStarted(long ms, string op, CancellationToken token)
        {
            EventHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_event_wait_start(h, ms, out t),
                (c, cancelled) =>
                {
                    Calls.Status(c, cancelled, this, op, ms);
                    bool set = Calls.Bool(c, Calls.Set);
                    if (cancelled && !set)
                    {
                        throw new OperationCanceledException();
                    }
                    return set;
                },
                token);
        }

        private bool WaitCore(long timeoutMs)
        {
            if (timeoutMs != Timeouts.NoWait && ThroughPump)
            {
                // A set flag is seen directly (one round trip, as before); a wait goes through
                // the pump, so that disposing the client interrupts it.
                return WaitCore(Timeouts.NoWait)
                    || Calls.Wait(WaitStarted(timeoutMs, "Wait", CancellationToken.None));
            }
            bool set;
            Check(Native.xproc_event_wait(handle, timeoutMs, out set), "Wait", timeoutMs);
            return set;
        }
    }

    /// <summary>
    /// A named barrier for a fixed number of parties (Python's Barrier). Open with
    /// <see cref="XProcClient.Barrier(string, long)"/>.
    /// </summary>
    /// <remarks>
    /// A wait that times out, an <see cref="Abort"/>, or a waiting party's disconnect breaks
    /// the barrier: every waiter, and every later wait until <see cref="Reset"/>, throws
    /// <see cref="BrokenBarrierException"/>.
    /// </remarks>
    public sealed class XProcBarrier : XProcObject
    {
        private readonly BarrierHandle handle;

        internal XProcBarrier(string name, BarrierHandle handle) : base("barrier", name)
        {
            this.handle = handle;
        }

        /// <summary>
        /// Waits until <see cref="ParticipantCount"/> parties are waiting; returns this party's index,
        /// 0..Parties-1 in arrival order, distinct among the parties released together.
        /// </summary>
        /// <exception cref="BrokenBarrierException">The barrier is or became broken.</exception>
        public long Wait()
        {
            return WaitCore(Timeouts.Forever);
        }

        /// <summary>As <see cref="Wait()"/>, for at most <paramref name="timeout"/>; running out breaks the barrier.</summary>
        /// <exception cref="BrokenBarrierException">The barrier is or became broken, this wait's timeout included.</exception>
        public long Wait(TimeSpan timeout)
        {
            return WaitCore(Timeouts.ToMs(timeout, "timeout"));
        }

        /// <summary>Breaks the barrier: current and later waiters throw <see cref="BrokenBarrierException"/> until <see cref="Reset"/>.</summary>
        public void Abort()
        {
            Check(Native.xproc_barrier_abort(handle), "Abort");
        }

        /// <summary>Returns the barrier to its initial, unbroken state.</summary>
        public void Reset()
        {
            Check(Native.xproc_barrier_reset(handle), "Reset");
        }

        /// <summary>Parties needed to release it, fixed at creation (Python's parties; as
        /// System.Threading.Barrier.ParticipantCount). Each read is a round trip to the broker.</summary>
        public long ParticipantCount
        {
            get { return (long)State().Parties; }
        }

        /// <summary>Parties waiting now (Python's n_waiting). Each read is a round trip to the
        /// broker, and the answer may be stale by the time it is used.</summary>
        public long WaitingCount
        {
            get { return (long)State().NWaiting; }
        }

        /// <summary>Whether it is broken (until <see cref="Reset"/>). Each read is a round trip to the broker.</summary>
        public bool IsBroken
        {
            get { return State().Broken != 0; }
        }

        /// <summary>Releases this handle.</summary>
        public override void Dispose()
        {
            handle.Dispose();
        }

        private NativeBarrierState State()
        {
            NativeBarrierState s;
            Check(Native.xproc_barrier_state(handle, out s), "State");
            return s;
        }

        /// <summary>
        /// <see cref="Wait()"/> without blocking a thread: the task's result is this party's
        /// index. Cancelling <paramref name="cancellationToken"/> while it waits gives the wait
        /// up at the broker, which breaks the barrier for every party (as a timeout does: a
        /// party that stopped waiting would leave the others stuck); the task is cancelled. If
        /// the barrier had passed already, the task completes with the index.
        /// </summary>
        public Task<long> WaitAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return WaitStarted(Timeouts.Forever, "WaitAsync", cancellationToken);
        }

        /// <summary>As <see cref="Wait()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>; the barrier is then broken).</summary>
        public long Wait(CancellationToken cancellationToken)
        {
            return Calls.Wait(WaitStarted(Timeouts.Forever, "Wait", cancellationToken));
        }

        private Task<long> WaitStarted(long ms, string op, CancellationToken token)
        {
            BarrierHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_barrier_wait_start(h, ms, out t),
                (c, cancelled) =>
                {
                    XProcStatus st = Native.xproc_completion_status(c);
                    if (st == XProcStatus.BrokenBarrier && cancelled)
                    {
                        throw new OperationCanceledException();
                    }
                    Calls.Status(c, cancelled, this, op, ms);
                    ulong index;
                    Calls.Uint(c, Calls.Index, out index);
                    return (long)index;
                },
                token);
        }

        private long WaitCore(long timeoutMs)
        {
            if (ThroughPump)
            {
                // Through the pump, so that disposing the client interrupts it.
                return Calls.Wait(WaitStarted(timeoutMs, "Wait", CancellationToken.None));
            }
            ulong index;
            Check(Native.xproc_barrier_wait(handle, timeoutMs, out index), "Wait", timeoutMs);
            return (long)index;
        }
    }
}
