// Many.cs: waiting on many objects from one client (docs/ASYNC.md, "Waiting on many
// objects"): GetAny takes one item from the first of several queues, Wait says which of
// several queues, pipe ends, events, locks and semaphores are ready (a hint, not a
// reservation) — each one request, each also as a Task (GetAnyAsync, WaitAsync) and with a
// CancellationToken. A cancelled GetAny takes nothing (an item already on its way is returned).

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace XProc
{
    public sealed partial class XProcClient
    {
        /// <summary>
        /// Takes one item from the first of <paramref name="queues"/> that has one, waiting up
        /// to <paramref name="timeout"/> (null: as long as it takes) — one waiter in the line
        /// of every queue (Redis BLPOP on many keys). Returns the position of the queue in
        /// the list and the item.
        /// </summary>
        /// <exception cref="XProcTimeoutException">Nothing came in time.</exception>
        /// <exception cref="ArgumentException">No queues, a queue twice, or one opened from another client.</exception>
        public Tuple<int, T> GetAny<T>(IList<XProcQueue<T>> queues, TimeSpan? timeout = null)
        {
            long ms = timeout.HasValue ? Timeouts.ToMs(timeout.Value, "timeout") : Timeouts.Forever;
            CheckQueues(queues, "GetAny");
            if (ms != Timeouts.NoWait && queues[0].ThroughPump)
            {
                // Through the pump, so that disposing the client interrupts it.
                return Calls.Wait(GetAnyStarted(queues, ms, "GetAny", CancellationToken.None));
            }
            IntPtr[] handles = null;
            bool[] held = new bool[queues.Count];
            try
            {
                handles = Raw(queues, held);
                UIntPtr index;
                IntPtr data;
                UIntPtr len;
                XProcStatus st = Native.xproc_queue_get_any_raw(handle, handles, (UIntPtr)handles.Length, ms, out index, out data, out len);
                queues[0].Check(st, "GetAny", ms);
                int i = (int)index.ToUInt64();
                return Tuple.Create(i, queues[i].ReadItem(Buffers.Take(data, len), "GetAny"));
            }
            finally
            {
                Release(queues, held);
            }
        }

        /// <summary>
        /// <see cref="GetAny{T}(IList{XProcQueue{T}}, TimeSpan?)"/> without blocking a thread.
        /// Cancelling <paramref name="cancellationToken"/> takes nothing (an item already on
        /// its way completes the task instead); disposing the client fails it with
        /// <see cref="ObjectDisposedException"/>.
        /// </summary>
        public Task<Tuple<int, T>> GetAnyAsync<T>(IList<XProcQueue<T>> queues,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            CheckQueues(queues, "GetAnyAsync");
            return GetAnyStarted(queues, Timeouts.Forever, "GetAnyAsync", cancellationToken);
        }

        /// <summary>As <see cref="GetAnyAsync{T}"/>, blocking this thread:
        /// <see cref="OperationCanceledException"/> when the token is cancelled (nothing was taken).</summary>
        public Tuple<int, T> GetAny<T>(IList<XProcQueue<T>> queues, CancellationToken cancellationToken)
        {
            return Calls.Wait(GetAnyAsync(queues, cancellationToken));
        }

        /// <summary>
        /// Which of <paramref name="objects"/> (queues, pipe ends, events, locks, semaphores)
        /// are ready — an item, a message or end of file, set, free, a permit — waiting up to
        /// <paramref name="timeout"/> (null: as long as it takes) for one; their positions, in
        /// order, empty on timeout. A hint, not a reservation: take with a Try call and wait
        /// again if that finds nothing.
        /// </summary>
        /// <exception cref="ArgumentException">No objects, or one of a kind it cannot watch.</exception>
        public IList<int> Wait(IList<XProcObject> objects, TimeSpan? timeout = null)
        {
            long ms = timeout.HasValue ? Timeouts.ToMs(timeout.Value, "timeout") : Timeouts.Forever;
            NativeWaitObject[] targets = Targets(objects, "Wait");
            if (ms != Timeouts.NoWait && objects[0].ThroughPump)
            {
                return Calls.Wait(WaitStarted(objects, ms, "Wait", CancellationToken.None));
            }
            bool[] held = new bool[objects.Count];
            try
            {
                Hold(objects, targets, held);
                var ready = new byte[objects.Count];
                UIntPtr n;
                objects[0].Check(Native.xproc_wait(handle, targets, (UIntPtr)targets.Length, ms, ready, out n), "Wait", ms);
                return Indices(ready);
            }
            finally
            {
                Release(objects, held);
            }
        }

        /// <summary>
        /// <see cref="Wait(IList{XProcObject}, TimeSpan?)"/> without blocking a thread (it takes
        /// nothing, so cancelling <paramref name="cancellationToken"/> only gives it up).
        /// </summary>
        public Task<IList<int>> WaitAsync(IList<XProcObject> objects,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            Targets(objects, "WaitAsync");
            return WaitStarted(objects, Timeouts.Forever, "WaitAsync", cancellationToken);
        }

        /// <summary>As <see cref="WaitAsync"/>, blocking this thread
        /// (<see cref="OperationCanceledException"/> when the token is cancelled).</summary>
        public IList<int> Wait(IList<XProcObject> objects, CancellationToken cancellationToken)
        {
            return Calls.Wait(WaitAsync(objects, cancellationToken));
        }

        private Task<Tuple<int, T>> GetAnyStarted<T>(IList<XProcQueue<T>> queues, long ms, string op, CancellationToken token)
        {
            var list = new List<XProcQueue<T>>(queues);
            return Calls.Start(list[0],
                (out ulong t) =>
                {
                    bool[] held = new bool[list.Count];
                    try
                    {
                        IntPtr[] handles = Raw(list, held);
                        return Native.xproc_queue_get_any_start(handle, handles, (UIntPtr)handles.Length, ms, out t);
                    }
                    finally
                    {
                        Release(list, held);
                    }
                },
                (c, cancelled) =>
                {
                    Calls.Strict(Calls.Status(c, cancelled, list[0], op, ms), list[0], op, ms);
                    ulong index;
                    Calls.Uint(c, Calls.Index, out index);
                    int i = (int)index;
                    // An item that came is handed over, even to a call cancelled too late.
                    return Tuple.Create(i, list[i].ReadItem(AsyncPump.Value(c), op));
                },
                token);
        }

        private Task<IList<int>> WaitStarted(IList<XProcObject> objects, long ms, string op, CancellationToken token)
        {
            var list = new List<XProcObject>(objects);
            NativeWaitObject[] targets = Targets(list, op);
            return Calls.Start(list[0],
                (out ulong t) =>
                {
                    bool[] held = new bool[list.Count];
                    try
                    {
                        Hold(list, targets, held);
                        return Native.xproc_wait_start(handle, targets, (UIntPtr)targets.Length, ms, out t);
                    }
                    finally
                    {
                        Release(list, held);
                    }
                },
                (c, cancelled) =>
                {
                    Calls.Status(c, cancelled, list[0], op, ms);
                    var ready = new byte[list.Count];
                    UIntPtr n;
                    Error.Check(Native.xproc_completion_indices(c, ready, (UIntPtr)ready.Length, out n));
                    if (cancelled && n.ToUInt64() == 0)
                    {
                        throw new OperationCanceledException();
                    }
                    return Indices(ready);
                },
                token);
        }

        private void CheckQueues<T>(IList<XProcQueue<T>> queues, string op)
        {
            if (queues == null || queues.Count == 0)
            {
                throw new ArgumentException(op + ": give at least one queue", "queues");
            }
            foreach (XProcQueue<T> q in queues)
            {
                if (q == null || q.Owner != this)
                {
                    throw new ArgumentException(op + ": every queue must be opened from this client", "queues");
                }
            }
        }

        private NativeWaitObject[] Targets(IList<XProcObject> objects, string op)
        {
            if (objects == null || objects.Count == 0)
            {
                throw new ArgumentException(op + ": give at least one object", "objects");
            }
            var targets = new NativeWaitObject[objects.Count];
            for (int i = 0; i < objects.Count; i++)
            {
                int kind;
                if (objects[i] == null || objects[i].Owner != this || objects[i].WaitTarget(out kind) == null)
                {
                    throw new ArgumentException(op + ": objects[" + i + "] is not a queue, pipe end, event, lock or semaphore opened from this client", "objects");
                }
                targets[i].Kind = kind;
            }
            return targets;
        }

        /// <summary>Fills in the handles (kept alive until <see cref="Release{TO}"/>).</summary>
        private static void Hold(IList<XProcObject> objects, NativeWaitObject[] targets, bool[] held)
        {
            for (int i = 0; i < objects.Count; i++)
            {
                int kind;
                XProcHandle h = objects[i].WaitTarget(out kind);
                h.DangerousAddRef(ref held[i]);
                targets[i].Object = h.DangerousGetHandle();
            }
        }

        private static IntPtr[] Raw<T>(IList<XProcQueue<T>> queues, bool[] held)
        {
            var handles = new IntPtr[queues.Count];
            for (int i = 0; i < queues.Count; i++)
            {
                queues[i].Handle.DangerousAddRef(ref held[i]);
                handles[i] = queues[i].Handle.DangerousGetHandle();
            }
            return handles;
        }

        private static void Release<TO>(IList<TO> objects, bool[] held) where TO : XProcObject
        {
            for (int i = 0; i < objects.Count; i++)
            {
                if (held[i])
                {
                    int kind;
                    objects[i].WaitTarget(out kind).DangerousRelease();
                }
            }
        }

        private static IList<int> Indices(byte[] ready)
        {
            var indices = new List<int>();
            for (int i = 0; i < ready.Length; i++)
            {
                if (ready[i] != 0)
                {
                    indices.Add(i);
                }
            }
            return indices;
        }
    }
}
