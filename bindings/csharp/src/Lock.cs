// Lock.cs: named locks owned by a connection (Lock, RLock, and the lock inside Condition),
// their shared acquire/release logic (LockBase), and Releaser, what Acquire returns so that
// `using (lk.Acquire()) { ... }` releases on the way out.
//
// A lock whose owner died holding it is released by the broker; the next acquire succeeds
// and says so: Abandoned / AbandonedBy on the Releaser, and on the handle until its next
// acquire.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace XProc
{
    /// <summary>
    /// What an acquire returns: disposing it releases what was acquired, once (a second
    /// Dispose does nothing). For a lock it also tells whether the previous owner died holding
    /// it.
    /// </summary>
    public sealed class Releaser : IDisposable
    {
        private readonly Action release;
        private int released;

        internal Releaser(Action release, int abandonedBy)
        {
            this.release = release;
            AbandonedBy = abandonedBy;
        }

        /// <summary>Whether the lock was abandoned: its previous owner disconnected (died) holding it, so what it protects may be half-updated.</summary>
        public bool Abandoned
        {
            get { return AbandonedBy != 0; }
        }

        /// <summary>The pid of the owner that died holding the lock, or 0.</summary>
        public int AbandonedBy { get; private set; }

        /// <summary>
        /// Releases what was acquired (the first time only). If the connection is gone there
        /// is nothing to release (the broker released everything the connection held), so
        /// that is not an error here: a failure inside a <c>using</c> block is not replaced
        /// by a DisconnectedException from its end.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                try
                {
                    release();
                }
                catch (DisconnectedException)
                {
                    // Released by the broker when the connection closed.
                }
            }
        }
    }

    /// <summary>
    /// What <see cref="XProcLock"/>, <see cref="XProcRLock"/> and <see cref="XProcCondition"/> share: a lock
    /// in the broker owned by the connection that acquired it and released automatically when
    /// that connection goes away.
    /// </summary>
    public abstract class XProcLockBase : XProcObject
    {
        private int abandonedBy;

        internal XProcLockBase(string kind, string name) : base(kind, name)
        {
        }

        /// <summary>
        /// Whether the latest successful acquire on this handle found the lock abandoned (its
        /// previous owner died holding it). Threads sharing a handle should read the
        /// <see cref="Releaser"/>'s instead.
        /// </summary>
        public bool Abandoned
        {
            get { return AbandonedBy != 0; }
        }

        /// <summary>The pid the latest successful acquire on this handle reported as the dead previous owner, or 0.</summary>
        public int AbandonedBy
        {
            get { return Volatile.Read(ref abandonedBy); }
        }

        /// <summary>Acquires the lock, waiting as long as it takes. Dispose the result to release it.</summary>
        /// <exception cref="ObjectNotFoundException">The lock was deleted.</exception>
        public Releaser Acquire()
        {
            int pid;
            if (!AcquireCore(Timeouts.Forever, out pid))
            {
                // Only a timeout makes acquired false, and there is none.
                throw new XProcException(XProcStatus.ProtocolError,
                    "Acquire on " + Describe() + ": an acquire without a timeout came back without the lock");
            }
            return new Releaser(Release, pid);
        }

        /// <summary>Acquires the lock, waiting up to <paramref name="timeout"/>. Dispose the result to release it.</summary>
        /// <exception cref="XProcTimeoutException">The lock was still held by another owner when the timeout ran out.</exception>
        public Releaser Acquire(TimeSpan timeout)
        {
            int pid;
            long ms = Timeouts.ToMs(timeout, "timeout");
            if (!AcquireCore(ms, out pid))
            {
                throw Error.From(XProcStatus.Timeout, null, "Acquire on " + Describe(), ms);
            }
            return new Releaser(Release, pid);
        }

        /// <summary>Acquires the lock if it is free now; returns whether it did. Call <see cref="Release"/> after a true.</summary>
        public bool TryAcquire()
        {
            int pid;
            return AcquireCore(Timeouts.NoWait, out pid);
        }

        /// <summary>Acquires the lock, waiting up to <paramref name="timeout"/>; returns whether it did (as Monitor.TryEnter).</summary>
        public bool TryAcquire(TimeSpan timeout)
        {
            int pid;
            return AcquireCore(Timeouts.ToMs(timeout, "timeout"), out pid);
        }

        /// <summary>Releases the lock (a reentrant one: one level).</summary>
        /// <exception cref="NotOwnerException">This connection does not hold it.</exception>
        public void Release()
        {
            Check(NativeRelease(), "Release");
        }

        /// <summary>
        /// Acquires the lock without blocking a thread; the task's result is true once it is
        /// held (release it with <see cref="Release"/>). Cancelling
        /// <paramref name="cancellationToken"/> gives the acquire up at the broker (the task is
        /// cancelled; a lock granted meanwhile is released again). Disposing the client fails
        /// the task with <see cref="ObjectDisposedException"/>.
        /// </summary>
        public async Task<bool> AcquireAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return (await AcquireStarted(Timeouts.Forever, "AcquireAsync", cancellationToken).ConfigureAwait(false)).Key;
        }

        /// <summary>As <see cref="Acquire()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>: the lock was not taken).</summary>
        public Releaser Acquire(CancellationToken cancellationToken)
        {
            KeyValuePair<bool, int> got = Calls.Wait(AcquireStarted(Timeouts.Forever, "Acquire", cancellationToken));
            return new Releaser(Release, got.Value);
        }

        /// <summary>An acquire through the pump: (acquired, abandoned-by pid).</summary>
        private Task<KeyValuePair<bool, int>> AcquireStarted(long ms, string op, CancellationToken token)
        {
            return Calls.Start(this,
                (out ulong t) => NativeAcquireStart(ms, out t),
                (c, cancelled) =>
                {
                    Calls.Status(c, cancelled, this, op, ms);
                    bool acquired = Calls.Bool(c, Calls.Acquired);
                    if (cancelled)
                    {
                        if (acquired)
                        {
                            NativeRelease(); // the caller gave up: it must not hold it
                        }
                        throw new OperationCanceledException();
                    }
                    ulong by;
                    int pid = acquired && Calls.Uint(c, Calls.AbandonedBy, out by) ? unchecked((int)by) : 0;
                    if (acquired)
                    {
                        Volatile.Write(ref abandonedBy, pid);
                    }
                    return new KeyValuePair<bool, int>(acquired, pid);
                },
                token);
        }

        private bool AcquireCore(long timeoutMs, out int pid)
        {
            if (timeoutMs != Timeouts.NoWait && ThroughPump)
            {
                if (AcquireCore(Timeouts.NoWait, out pid))
                {
                    return true; // a free lock: one direct round trip, as before
                }
                // Held by another: wait through the pump, so that disposing the client
                // interrupts it.
                KeyValuePair<bool, int> got = Calls.Wait(AcquireStarted(timeoutMs, "Acquire", CancellationToken.None));
                pid = got.Value;
                return got.Key;
            }
            bool acquired;
            uint by;
            Check(NativeAcquire(timeoutMs, out acquired, out by), "Acquire", timeoutMs);
            pid = acquired ? unchecked((int)by) : 0;
            if (acquired)
            {
                Volatile.Write(ref abandonedBy, pid);
            }
            return acquired;
        }

        internal abstract XProcStatus NativeAcquire(long timeoutMs, out bool acquired, out uint abandonedBy);

        /// <summary>Starts an acquire (libxproc's <c>*_acquire_start</c>).</summary>
        internal abstract XProcStatus NativeAcquireStart(long timeoutMs, out ulong ticket);

        internal abstract XProcStatus NativeRelease();
    }

    /// <summary>
    /// A named lock (Python's Lock): one owner connection at a time; acquiring it again from
    /// the owner waits, as Python's does. Open with <see cref="XProcClient.Lock(string)"/>.
    /// </summary>
    /// <example><code>
    /// using (var lk = client.Lock("device"))
    /// using (var held = lk.Acquire(TimeSpan.FromSeconds(5)))
    /// {
    ///     if (held.Abandoned) { /* repair what the dead owner left */ }
    /// }
    /// </code></example>
    public class XProcLock : XProcLockBase
    {
        internal readonly LockHandle Handle;

        internal XProcLock(string name, LockHandle handle) : this("lock", name, handle)
        {
        }

        internal XProcLock(string kind, string name, LockHandle handle) : base(kind, name)
        {
            Handle = handle;
        }

        /// <summary>Releases this handle. It does not release the lock: the connection holds it until released or disconnected.</summary>
        public override void Dispose()
        {
            Handle.Dispose();
        }

        internal override XProcStatus NativeAcquire(long timeoutMs, out bool acquired, out uint abandonedBy)
        {
            return Native.xproc_lock_acquire(Handle, timeoutMs, out acquired, out abandonedBy);
        }

        internal override XProcStatus NativeAcquireStart(long timeoutMs, out ulong ticket)
        {
            return Native.xproc_lock_acquire_start(Handle, timeoutMs, out ticket);
        }

        internal override XProcHandle WaitTarget(out int kind)
        {
            kind = 3; // XPROC_WAIT_LOCK
            return Handle;
        }

        internal override XProcStatus NativeRelease()
        {
            return Native.xproc_lock_release(Handle);
        }
    }

    /// <summary>
    /// A named reentrant lock (Python's RLock): its owner connection may acquire it again, and
    /// it is free once released as many times. Open with <see cref="XProcClient.RLock(string)"/>.
    /// </summary>
    public sealed class XProcRLock : XProcLock
    {
        internal XProcRLock(string name, LockHandle handle) : base("rlock", name, handle)
        {
        }
    }
}
