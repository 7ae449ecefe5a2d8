// Queue.cs: Queue and JoinableQueue, FIFO queues living in the broker (Python's
// multiprocessing Queue / JoinableQueue). Items are any value MessagePack.cs can encode.

using System;
using System.Collections.Generic;

namespace XProc
{
    /// <summary>
    /// A named FIFO queue in the broker, shared by every process that opens the name.
    /// Open with <see cref="Client.Queue(string, long?)"/>.
    /// </summary>
    /// <remarks>
    /// Blocking calls wait as long as it takes unless given a timeout; a timeout that runs out
    /// throws <see cref="XProcTimeoutException"/> (a <see cref="TimeoutException"/>). The
    /// <c>Try</c> forms return false instead. Thread-safe. Disposing releases this handle;
    /// the queue and its items stay in the broker.
    /// </remarks>
    public class Queue : IDisposable
    {
        internal readonly QueueHandle Handle;

        internal Queue(string name, QueueHandle handle)
        {
            Name = name;
            Handle = handle;
        }

        /// <summary>The queue's name.</summary>
        public string Name { get; private set; }

        /// <summary>Puts <paramref name="item"/>, waiting as long as it takes for room.</summary>
        /// <exception cref="LimitExceededException">The value is above the broker's frame
        /// limit, or its memory budget is spent.</exception>
        /// <exception cref="ArgumentException">The item has no MessagePack form.</exception>
        public void Put(object item)
        {
            Error.Check(PutCore(item, Timeouts.Forever));
        }

        /// <summary>Puts <paramref name="item"/>, waiting up to <paramref name="timeout"/> for room.</summary>
        /// <exception cref="XProcTimeoutException">Still full when the timeout ran out
        /// (status Full for a zero timeout, Timeout otherwise).</exception>
        public void Put(object item, TimeSpan timeout)
        {
            Error.Check(PutCore(item, Timeouts.ToMs(timeout, "timeout")));
        }

        /// <summary>Puts <paramref name="item"/> if there is room now; false if the queue is full.</summary>
        public bool TryPut(object item)
        {
            return Error.Try(PutCore(item, Timeouts.NoWait));
        }

        /// <summary>Puts <paramref name="item"/>, waiting up to <paramref name="timeout"/>; false if still full then.</summary>
        public bool TryPut(object item, TimeSpan timeout)
        {
            return Error.Try(PutCore(item, Timeouts.ToMs(timeout, "timeout")));
        }

        /// <summary>
        /// Puts every item in order, pipelined (far cheaper than one Put each), each waiting as
        /// long as it takes for room. Returns how many were put.
        /// </summary>
        /// <remarks>On a failure the exception is thrown; items after the failed one may or may
        /// not have been put (they were already sent).</remarks>
        public int PutMany(IEnumerable<object> items)
        {
            if (items == null)
            {
                throw new ArgumentNullException("items");
            }
            var list = new List<object>(items);
            using (var pinned = new PinnedValues(list))
            {
                UIntPtr done;
                Error.Check(Native.xproc_queue_put_many_raw(Handle, pinned.Pointers, pinned.Lengths, pinned.Count, out done));
                return (int)done.ToUInt64();
            }
        }

        /// <summary>Takes the oldest item, waiting as long as it takes for one.</summary>
        /// <exception cref="ObjectNotFoundException">The queue was deleted.</exception>
        public object Get()
        {
            object item;
            Error.Check(GetCore(Timeouts.Forever, out item));
            return item;
        }

        /// <summary>Takes the oldest item, waiting up to <paramref name="timeout"/> for one.</summary>
        /// <exception cref="XProcTimeoutException">Still empty when the timeout ran out
        /// (status Empty for a zero timeout, Timeout otherwise). Python's queue.Empty.</exception>
        public object Get(TimeSpan timeout)
        {
            object item;
            Error.Check(GetCore(Timeouts.ToMs(timeout, "timeout"), out item));
            return item;
        }

        /// <summary>Takes the oldest item if there is one now; false if the queue is empty.</summary>
        public bool TryGet(out object item)
        {
            return Error.Try(GetCore(Timeouts.NoWait, out item));
        }

        /// <summary>Takes the oldest item, waiting up to <paramref name="timeout"/>; false if still empty then.</summary>
        public bool TryGet(out object item, TimeSpan timeout)
        {
            return Error.Try(GetCore(Timeouts.ToMs(timeout, "timeout"), out item));
        }

        /// <summary>The number of items in the queue now (exact).</summary>
        public int Count
        {
            get { return checked((int)Size().Len); }
        }

        /// <summary>Whether the queue is empty now.</summary>
        public bool IsEmpty
        {
            get { return Size().Len == 0; }
        }

        /// <summary>Whether the queue is bounded and at its bound now.</summary>
        public bool IsFull
        {
            get
            {
                NativeQueueSize s = Size();
                return s.MaxSize > 0 && s.Len >= s.MaxSize;
            }
        }

        /// <summary>The queue's bound, fixed at creation; 0 means unbounded.</summary>
        public long MaxSize
        {
            get { return (long)Size().MaxSize; }
        }

        /// <summary>Releases this handle (the queue stays in the broker).</summary>
        public void Dispose()
        {
            Handle.Dispose();
        }

        internal NativeQueueSize Size()
        {
            NativeQueueSize s;
            Error.Check(Native.xproc_queue_size(Handle, out s));
            return s;
        }

        private XProcStatus PutCore(object item, long timeoutMs)
        {
            byte[] data = MessagePack.Encode(item);
            return Native.xproc_queue_put_raw(Handle, data, Utf8.Len(data), timeoutMs);
        }

        private XProcStatus GetCore(long timeoutMs, out object item)
        {
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_queue_get_raw(Handle, timeoutMs, out data, out len);
            item = st == XProcStatus.Ok ? Buffers.TakeValue(data, len) : null;
            return st;
        }
    }

    /// <summary>
    /// A queue whose consumers mark items done, so a producer can wait until everything put
    /// has been processed (Python's JoinableQueue). Open with
    /// <see cref="Client.JoinableQueue(string, long?)"/>.
    /// </summary>
    public sealed class JoinableQueue : Queue
    {
        internal JoinableQueue(string name, QueueHandle handle) : base(name, handle)
        {
        }

        /// <summary>Marks one item taken from the queue as processed.</summary>
        /// <exception cref="XProcException">Status InvalidArgument: more calls than items put
        /// (Python's ValueError).</exception>
        public void TaskDone()
        {
            Error.Check(Native.xproc_queue_task_done(Handle));
        }

        /// <summary>Waits until every item put has been marked done.</summary>
        public void Join()
        {
            Error.Check(Native.xproc_queue_join(Handle, Timeouts.Forever));
        }

        /// <summary>
        /// Waits up to <paramref name="timeout"/> until every item put has been marked done;
        /// returns false if items were still unfinished then (as <c>Thread.Join(TimeSpan)</c>).
        /// </summary>
        public bool Join(TimeSpan timeout)
        {
            return Error.Try(Native.xproc_queue_join(Handle, Timeouts.ToMs(timeout, "timeout")));
        }

        /// <summary>Items put and not yet marked done.</summary>
        public long Unfinished
        {
            get { return (long)Size().Unfinished; }
        }
    }
}
