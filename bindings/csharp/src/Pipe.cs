// Pipe.cs: one end of a named pipe in the broker (Python's multiprocessing Pipe, by name):
// messages sent on one end arrive at the other in order; closing an end gives the other end
// what is left, then end of file (PipeClosedException).

using System;

namespace XProc
{
    /// <summary>The two ends of a pipe. In a one-way pipe, A sends and B receives.</summary>
    public enum PipeEnd
    {
        /// <summary>End "a".</summary>
        A,
        /// <summary>End "b".</summary>
        B,
    }

    /// <summary>
    /// One end of a named pipe, held by this connection (each end by one connection at a
    /// time). Open with <see cref="XProcClient.Pipe(string, PipeEnd, bool?, long?)"/>.
    /// </summary>
    /// <remarks>
    /// Messages sent before the other end was first opened are kept for it. A receive after
    /// the other end closed gets what is left, then <see cref="PipeClosedException"/>.
    /// Thread-safe. <see cref="Close"/> closes this end for both sides; Dispose closes it too
    /// if it is still open, and releases the handle.
    /// </remarks>
    public sealed class XProcPipe : XProcObject
    {
        private readonly PipeHandle handle;

        internal XProcPipe(string name, PipeEnd end, PipeHandle handle) : base("pipe", name)
        {
            End = end;
            this.handle = handle;
        }

        /// <summary>Messages name the end too: <c>pipe "chan" (end A)</c>.</summary>
        internal override string Describe()
        {
            return base.Describe() + " (end " + End + ")";
        }

        /// <summary>The end this handle holds.</summary>
        public PipeEnd End { get; private set; }

        /// <summary>Sends <paramref name="message"/>, waiting as long as it takes for room in the other end's inbox.</summary>
        /// <exception cref="PipeClosedException">The other end (or this one) is closed.</exception>
        /// <exception cref="XProcException">Status InvalidArgument: B of a one-way pipe cannot send.</exception>
        public void Send(object message)
        {
            Check(SendCore(message, Timeouts.Forever), "Send");
        }

        /// <summary>Sends <paramref name="message"/>, waiting up to <paramref name="timeout"/> for room.</summary>
        /// <exception cref="XProcTimeoutException">Still no room when the timeout ran out.</exception>
        public void Send(object message, TimeSpan timeout)
        {
            long ms = Timeouts.ToMs(timeout, "timeout");
            Check(SendCore(message, ms), "Send", ms);
        }

        /// <summary>Sends <paramref name="message"/> if there is room now; false if the inbox is full.</summary>
        public bool TrySend(object message)
        {
            return Try(SendCore(message, Timeouts.NoWait), "TrySend");
        }

        /// <summary>Sends <paramref name="message"/>, waiting up to <paramref name="timeout"/>; false if still no room then.</summary>
        public bool TrySend(object message, TimeSpan timeout)
        {
            return Try(SendCore(message, Timeouts.ToMs(timeout, "timeout")), "TrySend");
        }

        /// <summary>Receives the next message, waiting as long as it takes.</summary>
        /// <exception cref="PipeClosedException">End of file: the other end is closed and
        /// everything was received.</exception>
        public object Receive()
        {
            object message;
            Check(ReceiveCore(Timeouts.Forever, out message), "Receive");
            return message;
        }

        /// <summary>Receives the next message, waiting up to <paramref name="timeout"/>.</summary>
        /// <exception cref="XProcTimeoutException">Nothing came in time.</exception>
        /// <exception cref="PipeClosedException">End of file.</exception>
        public object Receive(TimeSpan timeout)
        {
            object message;
            long ms = Timeouts.ToMs(timeout, "timeout");
            Check(ReceiveCore(ms, out message), "Receive", ms);
            return message;
        }

        /// <summary>Receives a message if one is waiting; false if none is.</summary>
        /// <exception cref="PipeClosedException">End of file.</exception>
        public bool TryReceive(out object message)
        {
            return Try(ReceiveCore(Timeouts.NoWait, out message), "TryReceive");
        }

        /// <summary>Receives a message, waiting up to <paramref name="timeout"/>; false if none came.</summary>
        /// <exception cref="PipeClosedException">End of file.</exception>
        public bool TryReceive(out object message, TimeSpan timeout)
        {
            return Try(ReceiveCore(Timeouts.ToMs(timeout, "timeout"), out message), "TryReceive");
        }

        /// <summary>Whether a message is waiting (or a receive would report end of file), without waiting.</summary>
        public bool Poll()
        {
            return Poll(TimeSpan.Zero);
        }

        /// <summary>Whether a message is waiting (or a receive would report end of file), waiting up to <paramref name="timeout"/> for one.</summary>
        public bool Poll(TimeSpan timeout)
        {
            bool ready;
            Check(Native.xproc_pipe_poll(handle, Timeouts.ToMs(timeout, "timeout"), out ready), "Poll");
            return ready;
        }

        /// <summary>
        /// Closes this end: the other end receives what is left, then end of file. Later calls
        /// on this end throw <see cref="PipeClosedException"/>; closing again does nothing.
        /// </summary>
        public void Close()
        {
            Check(Native.xproc_pipe_close(handle), "Close");
        }

        /// <summary>Closes this end if it is still open and releases the handle.</summary>
        public override void Dispose()
        {
            handle.Dispose();
        }

        private XProcStatus SendCore(object message, long timeoutMs)
        {
            byte[] data = MessagePack.Encode(message);
            return Native.xproc_pipe_send_raw(handle, data, Utf8.Len(data), timeoutMs);
        }

        private XProcStatus ReceiveCore(long timeoutMs, out object message)
        {
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_pipe_recv_raw(handle, timeoutMs, out data, out len);
            message = st == XProcStatus.Ok ? Buffers.TakeValue(data, len) : null;
            return st;
        }
    }
}
