// Queue.cs: XProcQueue<T> and XProcJoinableQueue<T>, FIFO queues living in the broker
// (Python's multiprocessing Queue / JoinableQueue), their untyped forms XProcQueue and
// XProcJoinableQueue (items of any value MessagePack.cs can encode), and Delivery<T>, an item
// taken on a lease. A typed queue's items go through its IXProcSerializer<T>.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace XProc
{
    /// <summary>
    /// A named FIFO queue in the broker, shared by every process that opens the name, whose
    /// items are <typeparamref name="T"/>s. Open with
    /// <see cref="XProcClient.Queue{T}(string, long?, long?, IXProcSerializer{T})"/>.
    /// </summary>
    /// <remarks>
    /// Blocking calls wait as long as it takes unless given a timeout; a timeout that runs out
    /// throws <see cref="XProcTimeoutException"/> (a <see cref="TimeoutException"/>). The
    /// <c>Try</c> forms return false instead. Thread-safe. Disposing releases this handle;
    /// the queue and its items stay in the broker. Items are written by the queue's
    /// serializer (<see cref="XProcDefaultSerializer{T}"/> unless one was given); an item the
    /// serializer cannot read is an <see cref="XProcException"/> (status InvalidValue) naming
    /// the queue, and it is gone from the queue (a leased one is given back at once).
    /// </remarks>
    /// <typeparam name="T">The items' type; object for any value.</typeparam>
    public class XProcQueue<T> : XProcObject
    {
        internal readonly QueueHandle Handle;

        private readonly IXProcSerializer<T> serializer;

        internal XProcQueue(string kind, string name, QueueHandle handle, IXProcSerializer<T> serializer) : base(kind, name)
        {
            Handle = handle;
            this.serializer = serializer;
        }

        /// <summary>Puts <paramref name="item"/>, waiting as long as it takes for room.</summary>
        /// <exception cref="LimitExceededException">The value is above the broker's frame
        /// limit, or its memory budget is spent.</exception>
        /// <exception cref="ArgumentException">The item has no MessagePack form.</exception>
        public void Put(T item)
        {
            PutWaiting(item, Timeouts.Forever, "Put", true);
        }

        /// <summary>Puts <paramref name="item"/>, waiting up to <paramref name="timeout"/> for room.</summary>
        /// <exception cref="XProcTimeoutException">Still full when the timeout ran out
        /// (status Full for a zero timeout, Timeout otherwise).</exception>
        public void Put(T item, TimeSpan timeout)
        {
            PutWaiting(item, Timeouts.ToMs(timeout, "timeout"), "Put", true);
        }

        /// <summary>Puts <paramref name="item"/> if there is room now; false if the queue is full.</summary>
        public bool TryPut(T item)
        {
            return Try(PutCore(item, Timeouts.NoWait), "TryPut");
        }

        /// <summary>Puts <paramref name="item"/>, waiting up to <paramref name="timeout"/>; false if still full then.</summary>
        public bool TryPut(T item, TimeSpan timeout)
        {
            return PutWaiting(item, Timeouts.ToMs(timeout, "timeout"), "TryPut", false);
        }

        /// <summary>
        /// Puts every item in order, pipelined (far cheaper than one Put each), each waiting as
        /// long as it takes for room. Returns how many were put.
        /// </summary>
        /// <remarks>On a failure the exception is thrown; items after the failed one may or may
        /// not have been put (they were already sent).</remarks>
        public int PutMany(IEnumerable<T> items)
        {
            if (items == null)
            {
                throw new ArgumentNullException("items");
            }
            var encoded = new List<byte[]>();
            foreach (T item in items)
            {
                encoded.Add(Write(serializer, item, "PutMany", "item"));
            }
            using (var pinned = new PinnedValues(encoded))
            {
                UIntPtr done;
                Check(Native.xproc_queue_put_many_raw(Handle, pinned.Pointers, pinned.Lengths, pinned.Count, out done), "PutMany");
                return (int)done.ToUInt64();
            }
        }

        /// <summary>Takes the oldest item, waiting as long as it takes for one.</summary>
        /// <exception cref="ObjectNotFoundException">The queue was deleted.</exception>
        public T Get()
        {
            return GetWaiting(Timeouts.Forever, "Get");
        }

        /// <summary>Takes the oldest item, waiting up to <paramref name="timeout"/> for one.</summary>
        /// <exception cref="XProcTimeoutException">Still empty when the timeout ran out
        /// (status Empty for a zero timeout, Timeout otherwise). Python's queue.Empty.</exception>
        public T Get(TimeSpan timeout)
        {
            return GetWaiting(Timeouts.ToMs(timeout, "timeout"), "Get");
        }

        /// <summary>Takes the oldest item if there is one now; false if the queue is empty.</summary>
        public bool TryGet(out T item)
        {
            return TryGetCore(Timeouts.NoWait, out item);
        }

        /// <summary>Takes the oldest item, waiting up to <paramref name="timeout"/>; false if still empty then.</summary>
        public bool TryGet(out T item, TimeSpan timeout)
        {
            long ms = Timeouts.ToMs(timeout, "timeout");
            if (ms != Timeouts.NoWait && ThroughPump)
            {
                if (TryGetCore(Timeouts.NoWait, out item))
                {
                    return true; // the common case stays one direct round trip
                }
                KeyValuePair<bool, T> got = Calls.Wait(GetStarted(ms, "TryGet", false, CancellationToken.None));
                item = got.Value;
                return got.Key;
            }
            return TryGetCore(ms, out item);
        }

        /// <summary>
        /// Takes the oldest item on a lease (acknowledged delivery), waiting up to
        /// <paramref name="timeout"/> (null: as long as it takes). The item stays in the broker
        /// until the returned <see cref="Delivery{T}"/> is acked; if <paramref name="lease"/>
        /// (null: 30 s) passes first, or this client's connection closes, it goes back to the
        /// head of the queue for another consumer. After the queue's max_attempts deliveries
        /// (5 by default) it moves to the queue NAME.dead instead.
        /// </summary>
        /// <exception cref="XProcTimeoutException">Still empty when the timeout ran out.</exception>
        /// <example><code>
        /// using (Delivery&lt;Job&gt; d = q.GetLeased())
        /// {
        ///     Process(d.Value);
        ///     d.Ack();   // without it, Dispose gives the item back at once
        /// }
        /// </code></example>
        public Delivery<T> GetLeased(TimeSpan? timeout = null, TimeSpan? lease = null)
        {
            long ms = WaitMs(timeout);
            Delivery<T> d;
            if (ms != Timeouts.NoWait && ThroughPump)
            {
                XProcStatus now = GetLeasedCore(Timeouts.NoWait, lease, out d);
                if (now == XProcStatus.Ok)
                {
                    return d; // the common case stays one direct round trip
                }
                if (now != XProcStatus.Empty)
                {
                    Check(now, "GetLeased", ms);
                }
                return Calls.Wait(GetLeasedStarted(ms, lease, "GetLeased", CancellationToken.None));
            }
            Check(GetLeasedCore(ms, lease, out d), "GetLeased", ms);
            return d;
        }

        /// <summary>Like <see cref="GetLeased(Nullable{TimeSpan}, Nullable{TimeSpan})"/> if an item is ready now; false if the queue is empty.</summary>
        public bool TryGetLeased(out Delivery<T> delivery, TimeSpan? lease = null)
        {
            return Try(GetLeasedCore(Timeouts.NoWait, lease, out delivery), "TryGetLeased");
        }

        /// <summary>The number of items in the queue now (exact; items in flight are not counted).
        /// Each read is a round trip to the broker.</summary>
        public int Count
        {
            get { return checked((int)Size().Len); }
        }

        /// <summary>Whether the queue is empty now (a round trip to the broker).</summary>
        public bool IsEmpty
        {
            get { return Size().Len == 0; }
        }

        /// <summary>Whether the queue is bounded and at its bound now (a round trip to the broker).</summary>
        public bool IsFull
        {
            get
            {
                NativeQueueSize s = Size();
                return s.MaxSize > 0 && s.Len >= s.MaxSize;
            }
        }

        /// <summary>The queue's bound, fixed at creation; 0 means unbounded (a round trip to the broker).</summary>
        public long MaxSize
        {
            get { return (long)Size().MaxSize; }
        }

        /// <summary>Releases this handle (the queue stays in the broker).</summary>
        public override void Dispose()
        {
            Handle.Dispose();
        }

        internal NativeQueueSize Size()
        {
            NativeQueueSize s;
            Check(Native.xproc_queue_size(Handle, out s), "Count");
            return s;
        }

        // ---- streaming ----
        //
        // Post, not PutAsync: in .NET an Async suffix promises a Task to await, and this
        // returns nothing to await. It is TPL Dataflow's word (ITargetBlock.Post): hand an item
        // to the next stage without waiting for it to be processed.

        /// <summary>
        /// Hands <paramref name="item"/> to the connection without waiting for the broker:
        /// items go out in batches, with a bounded window in flight; when the window is full
        /// this waits for the broker. Each item waits there for room, so a bounded queue never
        /// holds more than its MaxSize. Order is kept. Call <see cref="Flush"/> when a burst is
        /// over (Dispose flushes too).
        /// </summary>
        /// <exception cref="XProcException">An earlier Post was refused by the broker (queue
        /// deleted, memory budget spent); reported once, here or by Flush, with a message
        /// naming the position of the first item not put. This item is then not taken.</exception>
        public void Post(T item)
        {
            byte[] data = Write(serializer, item, "Post", "item");
            Check(Native.xproc_queue_put_async_raw(Handle, data, Utf8.Len(data)), "Post");
        }

        /// <summary>Waits until every item handed to <see cref="Post"/> has been accepted by
        /// the broker; throws the first refusal not yet reported.</summary>
        public void Flush()
        {
            ulong failedAt;
            Check(Native.xproc_queue_flush(Handle, out failedAt), "Flush");
        }

        /// <summary>
        /// Takes up to <paramref name="max"/> items in one round trip, oldest first, waiting
        /// up to <paramref name="timeout"/> (null: as long as it takes) for the first; it
        /// returns what is there without waiting for more. The items are gone from the queue
        /// once the broker sent them (use <see cref="GetManyLeased"/> when a crash must not
        /// lose them).
        /// </summary>
        /// <exception cref="XProcTimeoutException">Still empty when the timeout ran out.</exception>
        public List<T> GetMany(int max, TimeSpan? timeout = null)
        {
            IntPtr batch;
            long ms = WaitMs(timeout);
            Check(Native.xproc_queue_get_many(Handle, BatchMax(max), ms, out batch), "GetMany", ms);
            try
            {
                return BatchValues(batch, "GetMany");
            }
            finally
            {
                Native.xproc_batch_free(batch);
            }
        }

        /// <summary>
        /// Like <see cref="GetMany"/>, each item on its own lease (see <see cref="GetLeased(Nullable{TimeSpan}, Nullable{TimeSpan})"/>).
        /// Settle them with <see cref="AckMany"/> (one request) or one by one; those not acked
        /// when their lease runs out or this client goes away go back to the queue.
        /// </summary>
        public List<Delivery<T>> GetManyLeased(int max, TimeSpan? timeout = null, TimeSpan? lease = null)
        {
            long leaseMs = lease.HasValue ? Math.Max(1, Timeouts.ToMs(lease.Value, "lease")) : 0;
            long ms = WaitMs(timeout);
            IntPtr batch;
            Check(Native.xproc_queue_get_many_leased(Handle, BatchMax(max), ms, leaseMs, out batch), "GetManyLeased", ms);
            try
            {
                int n = (int)Native.xproc_batch_len(batch).ToUInt64();
                var ids = new ulong[n];
                var attempts = new uint[n];
                for (int i = 0; i < n; i++)
                {
                    Check(Native.xproc_batch_delivery(batch, (UIntPtr)(ulong)i, out ids[i], out attempts[i]), "GetManyLeased");
                }
                List<T> values;
                try
                {
                    values = BatchValues(batch, "GetManyLeased");
                }
                catch
                {
                    // Nobody here can process them: give them back at once rather than sit on them.
                    foreach (ulong id in ids)
                    {
                        Native.xproc_queue_nack(Handle, id, 0);
                    }
                    throw;
                }
                var out_ = new List<Delivery<T>>(n);
                for (int i = 0; i < n; i++)
                {
                    out_.Add(new Delivery<T>(this, values[i], ids[i], (int)attempts[i]));
                }
                return out_;
            }
            finally
            {
                Native.xproc_batch_free(batch);
            }
        }

        /// <summary>Acks every delivery in one request; returns how many were acked (the
        /// others were no longer held by this client and changed nothing).</summary>
        public int AckMany(IEnumerable<Delivery<T>> deliveries)
        {
            if (deliveries == null)
            {
                throw new ArgumentNullException("deliveries");
            }
            var list = new List<Delivery<T>>(deliveries);
            var ids = new ulong[list.Count];
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = list[i].Id;
                list[i].MarkSettled();
            }
            UIntPtr acked;
            Check(Native.xproc_queue_ack_many(Handle, ids, (UIntPtr)(ulong)ids.Length, out acked), "AckMany");
            return (int)acked.ToUInt64();
        }

        /// <summary>
        /// The queue's items as they come, fetched up to <paramref name="batch"/> at a time
        /// with <see cref="GetMany"/> (as BlockingCollection.GetConsumingEnumerable yields
        /// them): waits as long as it takes, or ends once nothing came for
        /// <paramref name="idle"/>. Items fetched and not yet yielded when the loop stops are
        /// lost with the enumerator.
        /// </summary>
        public IEnumerable<T> Consume(int batch = 256, TimeSpan? idle = null)
        {
            while (true)
            {
                List<T> items;
                try
                {
                    items = GetMany(batch, idle);
                }
                catch (XProcTimeoutException)
                {
                    if (idle.HasValue)
                    {
                        yield break;
                    }
                    throw;
                }
                foreach (T item in items)
                {
                    yield return item;
                }
            }
        }

        private static UIntPtr BatchMax(int max)
        {
            if (max < 1)
            {
                throw new ArgumentOutOfRangeException("max", "max must be at least 1");
            }
            return (UIntPtr)(ulong)max;
        }

        private static long WaitMs(TimeSpan? timeout)
        {
            return timeout.HasValue ? Timeouts.ToMs(timeout.Value, "timeout") : Timeouts.Forever;
        }

        private List<T> BatchValues(IntPtr batch, string op)
        {
            int n = (int)Native.xproc_batch_len(batch).ToUInt64();
            var values = new List<T>(n);
            for (int i = 0; i < n; i++)
            {
                IntPtr data;
                UIntPtr len;
                Check(Native.xproc_batch_item(batch, (UIntPtr)(ulong)i, out data, out len), op);
                var bytes = new byte[(int)len.ToUInt64()];
                System.Runtime.InteropServices.Marshal.Copy(data, bytes, 0, bytes.Length);
                values.Add(Read(serializer, bytes, op, "item"));
            }
            return values;
        }

        private XProcStatus PutCore(T item, long timeoutMs)
        {
            byte[] data = Write(serializer, item, "Put", "item");
            return Native.xproc_queue_put_raw(Handle, data, Utf8.Len(data), timeoutMs);
        }

        private XProcStatus GetLeasedCore(long timeoutMs, TimeSpan? lease, out Delivery<T> delivery)
        {
            // 0 asks libxproc for the broker's default lease.
            long leaseMs = lease.HasValue ? Math.Max(1, Timeouts.ToMs(lease.Value, "lease")) : 0;
            IntPtr data;
            UIntPtr len;
            ulong id;
            uint attempt;
            XProcStatus st = Native.xproc_queue_get_leased_raw(Handle, timeoutMs, leaseMs, out data, out len, out id, out attempt);
            delivery = null;
            if (st == XProcStatus.Ok)
            {
                T value;
                try
                {
                    value = Read(serializer, Buffers.Take(data, len), "GetLeased", "item");
                }
                catch
                {
                    // Nobody here can process it: give it back at once rather than sit on it.
                    Native.xproc_queue_nack(Handle, id, 0);
                    throw;
                }
                delivery = new Delivery<T>(this, value, id, (int)attempt);
            }
            return st;
        }

        /// <summary>
        /// Takes the oldest item without blocking a thread: the task completes when one comes.
        /// Cancelling <paramref name="cancellationToken"/> cancels the get at the broker, so it
        /// takes nothing (the task is cancelled); if the item was already on its way, the task
        /// completes with it. Disposing the client fails the task with
        /// <see cref="ObjectDisposedException"/>.
        /// </summary>
        public async Task<T> GetAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return (await GetStarted(Timeouts.Forever, "GetAsync", true, cancellationToken).ConfigureAwait(false)).Value;
        }

        /// <summary>
        /// Takes the oldest item, waiting as long as it takes or until
        /// <paramref name="cancellationToken"/> is cancelled
        /// (<see cref="OperationCanceledException"/>; the get took nothing) or the client is
        /// disposed (<see cref="ObjectDisposedException"/>).
        /// </summary>
        public T Get(CancellationToken cancellationToken)
        {
            return GetAsync(cancellationToken).GetAwaiter().GetResult();
        }

        /// <summary>
        /// Puts <paramref name="item"/> without blocking a thread; the task completes once it is
        /// in the queue (a bounded queue may make it wait for room). A put the broker already
        /// made is not undone by a late cancellation.
        /// </summary>
        public Task PutAsync(T item, CancellationToken cancellationToken = default(CancellationToken))
        {
            byte[] data = Write(serializer, item, "PutAsync", "item");
            return PutStarted(data, Timeouts.Forever, "PutAsync", true, cancellationToken);
        }

        /// <summary>
        /// Puts <paramref name="item"/>, waiting as long as it takes for room or until
        /// <paramref name="cancellationToken"/> is cancelled (<see cref="OperationCanceledException"/>:
        /// it was not put) or the client is disposed (<see cref="ObjectDisposedException"/>).
        /// </summary>
        public void Put(T item, CancellationToken cancellationToken)
        {
            PutAsync(item, cancellationToken).GetAwaiter().GetResult();
        }

        /// <summary>
        /// Takes the oldest item on a lease (see <see cref="GetLeased(Nullable{TimeSpan}, Nullable{TimeSpan})"/>) without blocking a
        /// thread. Cancelling <paramref name="cancellationToken"/> takes nothing: the get is
        /// cancelled at the broker, and an item it had been handed already is given back at
        /// once (to the head of the queue, the delivery not counted as an attempt) before the
        /// task is cancelled.
        /// </summary>
        public Task<Delivery<T>> GetLeasedAsync(TimeSpan? lease = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            return GetLeasedStarted(Timeouts.Forever, lease, "GetLeasedAsync", cancellationToken);
        }

        /// <summary>As <see cref="GetLeasedAsync"/>, blocking this thread: <see cref="OperationCanceledException"/>
        /// when <paramref name="cancellationToken"/> is cancelled (nothing was taken).</summary>
        public Delivery<T> GetLeased(TimeSpan? lease, CancellationToken cancellationToken)
        {
            return Calls.Wait(GetLeasedAsync(lease, cancellationToken));
        }

        /// <summary>A get through the pump: (true, item); (false, default) for nothing in time
        /// unless <paramref name="strict"/> (then it throws, as the blocking forms do).</summary>
        internal Task<KeyValuePair<bool, T>> GetStarted(long ms, string op, bool strict, CancellationToken token)
        {
            QueueHandle h = Handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_queue_get_start(h, ms, out t),
                (c, cancelled) =>
                {
                    XProcStatus st = Calls.Status(c, cancelled, this, op, ms);
                    if (strict)
                    {
                        Calls.Strict(st, this, op, ms);
                    }
                    if (st != XProcStatus.Ok)
                    {
                        return new KeyValuePair<bool, T>(false, default(T));
                    }
                    // An item that came is handed over, even to a call cancelled too late.
                    return new KeyValuePair<bool, T>(true, Read(serializer, AsyncPump.Value(c), op, "item"));
                },
                token);
        }

        /// <summary>A put through the pump: true once in; false for no room in time unless
        /// <paramref name="strict"/>. A put the broker made is not undone by a late cancellation.</summary>
        internal Task<bool> PutStarted(byte[] data, long ms, string op, bool strict, CancellationToken token)
        {
            QueueHandle h = Handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_queue_put_start_raw(h, data, (UIntPtr)data.Length, ms, out t),
                (c, cancelled) =>
                {
                    XProcStatus st = Calls.Status(c, cancelled, this, op, ms);
                    if (strict)
                    {
                        Calls.Strict(st, this, op, ms);
                    }
                    return st == XProcStatus.Ok;
                },
                token);
        }

        /// <summary>A leased get through the pump (strict: nothing in time throws).</summary>
        internal Task<Delivery<T>> GetLeasedStarted(long ms, TimeSpan? lease, string op, CancellationToken token)
        {
            QueueHandle h = Handle;
            long leaseMs = lease.HasValue ? Math.Max(1, Timeouts.ToMs(lease.Value, "lease")) : 0;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_queue_get_leased_start(h, ms, leaseMs, out t),
                (c, cancelled) =>
                {
                    Calls.Strict(Calls.Status(c, cancelled, this, op, ms), this, op, ms);
                    ulong id, attempt;
                    Calls.Uint(c, Calls.Delivery, out id);
                    Calls.Uint(c, Calls.Attempt, out attempt);
                    if (cancelled)
                    {
                        // The caller gave up and never sees it: back to the head, uncounted.
                        Native.xproc_queue_unlease(h, id);
                        throw new OperationCanceledException();
                    }
                    T value;
                    try
                    {
                        value = Read(serializer, AsyncPump.Value(c), op, "item");
                    }
                    catch
                    {
                        // Nobody here can process it: give it back at once rather than sit on it.
                        Native.xproc_queue_nack(h, id, 0);
                        throw;
                    }
                    return new Delivery<T>(this, value, id, (int)attempt);
                },
                token);
        }

        internal override XProcHandle WaitTarget(out int kind)
        {
            kind = 0; // XPROC_WAIT_QUEUE
            return Handle;
        }

        /// <summary>An item's bytes as a <typeparamref name="T"/> (see <see cref="XProcObject.Read{TV}"/>).</summary>
        internal T ReadItem(byte[] data, string op)
        {
            return Read(serializer, data, op, "item");
        }

        /// <summary>
        /// The blocking get: an item that is there is taken directly (one round trip, as
        /// before); only a get that has to wait goes through the pump (so that Dispose
        /// interrupts it). Taking what is ready first changes no order: waiting getters are
        /// only ever waiting on an empty queue.
        /// </summary>
        private T GetWaiting(long ms, string op)
        {
            if (ms != Timeouts.NoWait && ThroughPump)
            {
                IntPtr data;
                UIntPtr len;
                XProcStatus now = Native.xproc_queue_get_raw(Handle, Timeouts.NoWait, out data, out len);
                if (now == XProcStatus.Ok)
                {
                    return Read(serializer, Buffers.Take(data, len), op, "item");
                }
                if (now != XProcStatus.Empty)
                {
                    Check(now, op, ms);
                }
                return Calls.Wait(GetStarted(ms, op, true, CancellationToken.None)).Value;
            }
            return GetCore(ms, op);
        }

        /// <summary>The blocking put: directly when there is room (one round trip, as before, and a
        /// large value as a memfd); a put that has to wait for room goes through the pump, so
        /// Dispose interrupts it, whatever its size (a started put carries its value inline in
        /// its frame: slower for a large value, but it is waiting for room anyway).</summary>
        private bool PutWaiting(T item, long ms, string op, bool strict)
        {
            byte[] data = Write(serializer, item, op, "item");
            if (ms != Timeouts.NoWait && ThroughPump)
            {
                XProcStatus now = Native.xproc_queue_put_raw(Handle, data, (UIntPtr)data.Length, Timeouts.NoWait);
                if (now == XProcStatus.Ok)
                {
                    return true;
                }
                if (now != XProcStatus.Full)
                {
                    Check(now, op, ms);
                }
                return Calls.Wait(PutStarted(data, ms, op, strict, CancellationToken.None));
            }
            XProcStatus st = Native.xproc_queue_put_raw(Handle, data, (UIntPtr)data.Length, ms);
            if (strict)
            {
                Check(st, op, ms);
                return true;
            }
            return Try(st, op);
        }

        private T GetCore(long timeoutMs, string op)
        {
            IntPtr data;
            UIntPtr len;
            Check(Native.xproc_queue_get_raw(Handle, timeoutMs, out data, out len), op, timeoutMs);
            return Read(serializer, Buffers.Take(data, len), op, "item");
        }

        private bool TryGetCore(long timeoutMs, out T item)
        {
            IntPtr data;
            UIntPtr len;
            item = default(T);
            if (!Try(Native.xproc_queue_get_raw(Handle, timeoutMs, out data, out len), "TryGet"))
            {
                return false;
            }
            item = Read(serializer, Buffers.Take(data, len), "TryGet", "item");
            return true;
        }
    }

    /// <summary>
    /// A named FIFO queue of any values (<see cref="XProcQueue{T}"/> of object: items come back
    /// as the codec decodes them, integers as long). Open with
    /// <see cref="XProcClient.Queue(string, long?, long?)"/>.
    /// </summary>
    public sealed class XProcQueue : XProcQueue<object>
    {
        internal XProcQueue(string name, QueueHandle handle)
            : base("queue", name, handle, XProcDefaultSerializer<object>.Default)
        {
        }
    }

    /// <summary>
    /// A queue whose consumers mark items done, so a producer can wait until everything put
    /// has been processed (Python's JoinableQueue). Open with
    /// <see cref="XProcClient.JoinableQueue{T}(string, long?, long?, IXProcSerializer{T})"/>.
    /// </summary>
    /// <typeparam name="T">The items' type; object for any value.</typeparam>
    public class XProcJoinableQueue<T> : XProcQueue<T>
    {
        internal XProcJoinableQueue(string name, QueueHandle handle, IXProcSerializer<T> serializer)
            : base("joinable queue", name, handle, serializer)
        {
        }

        /// <summary>Marks one item taken from the queue as processed.</summary>
        /// <exception cref="XProcException">Status InvalidArgument: more calls than items put
        /// (Python's ValueError).</exception>
        public void TaskDone()
        {
            Check(Native.xproc_queue_task_done(Handle), "TaskDone");
        }

        /// <summary>Waits until every item put has been marked done.</summary>
        public void Join()
        {
            if (ThroughPump)
            {
                XProcStatus now = Native.xproc_queue_join(Handle, Timeouts.NoWait);
                if (now != XProcStatus.Timeout)
                {
                    Check(now, "Join"); // done already (or refused): one direct round trip
                    return;
                }
                Calls.Wait(JoinStarted(Timeouts.Forever, "Join", true, CancellationToken.None));
                return;
            }
            Check(Native.xproc_queue_join(Handle, Timeouts.Forever), "Join");
        }

        /// <summary>
        /// Waits without blocking a thread until every item put has been marked done.
        /// Cancelling <paramref name="cancellationToken"/> gives the wait up (it takes nothing);
        /// disposing the client fails it with <see cref="ObjectDisposedException"/>.
        /// </summary>
        public Task JoinAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return JoinStarted(Timeouts.Forever, "JoinAsync", true, cancellationToken);
        }

        /// <summary>As <see cref="Join()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>).</summary>
        public void Join(CancellationToken cancellationToken)
        {
            Calls.Wait(JoinStarted(Timeouts.Forever, "Join", true, cancellationToken));
        }

        private Task<bool> JoinStarted(long ms, string op, bool strict, CancellationToken token)
        {
            QueueHandle h = Handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_queue_join_start(h, ms, out t),
                (c, cancelled) =>
                {
                    XProcStatus st = Calls.Status(c, cancelled, this, op, ms);
                    if (strict)
                    {
                        Calls.Strict(st, this, op, ms);
                    }
                    return st == XProcStatus.Ok;
                },
                token);
        }

        /// <summary>
        /// Waits up to <paramref name="timeout"/> until every item put has been marked done;
        /// returns false if items were still unfinished then (as <c>Thread.Join(TimeSpan)</c>).
        /// </summary>
        public bool Join(TimeSpan timeout)
        {
            long ms = Timeouts.ToMs(timeout, "timeout");
            if (ms != Timeouts.NoWait && ThroughPump)
            {
                XProcStatus now = Native.xproc_queue_join(Handle, Timeouts.NoWait);
                if (now != XProcStatus.Timeout)
                {
                    return Try(now, "Join");
                }
                return Calls.Wait(JoinStarted(ms, "Join", false, CancellationToken.None));
            }
            return Try(Native.xproc_queue_join(Handle, ms), "Join");
        }

        /// <summary>Items put and not yet marked done (a round trip to the broker).</summary>
        public long Unfinished
        {
            get { return (long)Size().Unfinished; }
        }
    }

    /// <summary>
    /// A joinable queue of any values (<see cref="XProcJoinableQueue{T}"/> of object). Open
    /// with <see cref="XProcClient.JoinableQueue(string, long?, long?)"/>.
    /// </summary>
    public sealed class XProcJoinableQueue : XProcJoinableQueue<object>
    {
        internal XProcJoinableQueue(string name, QueueHandle handle)
            : base(name, handle, XProcDefaultSerializer<object>.Default)
        {
        }
    }

    /// <summary>
    /// An item taken with <see cref="XProcQueue{T}.GetLeased(Nullable{TimeSpan}, Nullable{TimeSpan})"/>: its value, and the delivery to settle.
    /// Call <see cref="Ack"/> once it is processed, or <see cref="Nack(TimeSpan)"/> to give it
    /// back. Disposing an unsettled delivery nacks it at once, so a <c>using</c> block that
    /// ends in an exception returns the item to the queue instead of holding it for the rest
    /// of its lease.
    /// </summary>
    /// <typeparam name="T">The item's type, the queue's.</typeparam>
    public sealed class Delivery<T> : IDisposable
    {
        private readonly XProcQueue<T> queue;

        internal Delivery(XProcQueue<T> queue, T value, ulong id, int attempt)
        {
            this.queue = queue;
            Value = value;
            Id = id;
            Attempt = attempt;
        }

        /// <summary>The item.</summary>
        public T Value { get; private set; }

        /// <summary>The delivery id (unique for the broker's lifetime, never 0).</summary>
        public ulong Id { get; private set; }

        /// <summary>Which delivery of this item this is: 1 the first time, more after expired
        /// leases, nacks or crashed consumers.</summary>
        public int Attempt { get; private set; }

        /// <summary>Whether Ack or Nack has been called.</summary>
        public bool Settled { get; private set; }

        /// <summary>Marks it settled (acked by <see cref="XProcQueue{T}.AckMany"/>).</summary>
        internal void MarkSettled()
        {
            Settled = true;
        }

        /// <summary>
        /// Done: the item leaves the queue (on a <see cref="XProcJoinableQueue"/> this counts as
        /// TaskDone; do not call both).
        /// </summary>
        /// <exception cref="UnknownDeliveryException">The lease ran out first (the item went
        /// back to the queue), or it was settled already.</exception>
        public void Ack()
        {
            Settled = true;
            queue.Check(Native.xproc_queue_ack(queue.Handle, Id), "Ack");
        }

        /// <summary>Gives the item back to the head of the queue at once.</summary>
        public void Nack()
        {
            Nack(TimeSpan.Zero);
        }

        /// <summary>
        /// Gives the item back to the head of the queue after <paramref name="delay"/> (or to
        /// NAME.dead if this was its last attempt).
        /// </summary>
        public void Nack(TimeSpan delay)
        {
            Settled = true;
            queue.Check(Native.xproc_queue_nack(queue.Handle, Id, Timeouts.ToMs(delay, "delay")), "Nack");
        }

        /// <summary>Nacks the item at once if it was neither acked nor nacked.</summary>
        public void Dispose()
        {
            if (!Settled && !queue.Handle.IsClosed)
            {
                Settled = true;
                // Best effort: the lease may have run out already.
                Native.xproc_queue_nack(queue.Handle, Id, 0);
            }
        }
    }
}
