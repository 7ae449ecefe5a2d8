// Pipe.cs: one end of a named pipe in the broker (Python's multiprocessing Pipe, by name):
// messages sent on one end arrive at the other in order; closing an end gives the other end
// what is left, then end of file (PipeClosedException).

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

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
            long ms = Timeouts.ToMs(timeout, "timeout");
            bool ready;
            if (ms != Timeouts.NoWait && ThroughPump)
            {
                Check(Native.xproc_pipe_poll(handle, Timeouts.NoWait, out ready), "Poll");
                return ready || Calls.Wait(PollStarted(ms, "Poll", CancellationToken.None));
            }
            Check(Native.xproc_pipe_poll(handle, ms, out ready), "Poll");
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

        /// <summary>
        /// Sends <paramref name="message"/> without blocking a thread; the task completes once
        /// it is in the other end's inbox. Cancelling <paramref name="cancellationToken"/> gives
        /// the send up at the broker (a message the broker took already stays sent); disposing
        /// the client fails it with <see cref="ObjectDisposedException"/>.
        /// </summary>
        public Task SendAsync(object message, CancellationToken cancellationToken = default(CancellationToken))
        {
            return SendStarted(MessagePack.Encode(message), Timeouts.Forever, "SendAsync", true, cancellationToken);
        }

        /// <summary>As <see cref="Send(object)"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>: not sent).</summary>
        public void Send(object message, CancellationToken cancellationToken)
        {
            SendAsync(message, cancellationToken).GetAwaiter().GetResult();
        }

        /// <summary>
        /// Receives the next message without blocking a thread. Cancelling
        /// <paramref name="cancellationToken"/> takes nothing: the receive is cancelled at the
        /// broker (the task is cancelled), or, if a message was already on its way, the task
        /// completes with it (this end has no other receiver to give it to).
        /// </summary>
        /// <exception cref="PipeClosedException">End of file (as the task's exception).</exception>
        public async Task<object> ReceiveAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return (await ReceiveStarted(Timeouts.Forever, "ReceiveAsync", true, cancellationToken).ConfigureAwait(false)).Value;
        }

        /// <summary>As <see cref="Receive()"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>: nothing was taken).</summary>
        public object Receive(CancellationToken cancellationToken)
        {
            return ReceiveAsync(cancellationToken).GetAwaiter().GetResult();
        }

        /// <summary>
        /// Whether a message is waiting (or a receive would report end of file), waiting up to
        /// <paramref name="timeout"/> (<see cref="Timeout.InfiniteTimeSpan"/>: as long as it
        /// takes) without blocking a thread. Takes nothing; cancelling gives it up.
        /// </summary>
        public Task<bool> PollAsync(TimeSpan timeout, CancellationToken cancellationToken = default(CancellationToken))
        {
            return PollStarted(Timeouts.ToMs(timeout, "timeout"), "PollAsync", cancellationToken);
        }

        /// <summary>As <see cref="Poll(TimeSpan)"/>, until <paramref name="cancellationToken"/> is
        /// cancelled (<see cref="OperationCanceledException"/>).</summary>
        public bool Poll(TimeSpan timeout, CancellationToken cancellationToken)
        {
            return Calls.Wait(PollAsync(timeout, cancellationToken));
        }

        private Task<bool> SendStarted(byte[] data, long ms, string op, bool strict, CancellationToken token)
        {
            PipeHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_pipe_send_start_raw(h, data, (UIntPtr)data.Length, ms, out t),
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

        private Task<KeyValuePair<bool, object>> ReceiveStarted(long ms, string op, bool strict, CancellationToken token)
        {
            PipeHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_pipe_recv_start(h, ms, out t),
                (c, cancelled) =>
                {
                    XProcStatus st = Calls.Status(c, cancelled, this, op, ms);
                    if (strict)
                    {
                        Calls.Strict(st, this, op, ms);
                    }
                    if (st != XProcStatus.Ok)
                    {
                        return new KeyValuePair<bool, object>(false, null);
                    }
                    // A message that came is handed over, even to a call cancelled too late.
                    return new KeyValuePair<bool, object>(true, MessagePack.Decode(AsyncPump.Value(c)));
                },
                token);
        }

        private Task<bool> PollStarted(long ms, string op, CancellationToken token)
        {
            PipeHandle h = handle;
            return Calls.Start(this,
                (out ulong t) => Native.xproc_pipe_poll_start(h, ms, out t),
                (c, cancelled) =>
                {
                    Calls.Status(c, cancelled, this, op, ms);
                    bool ready = Calls.Bool(c, Calls.Ready);
                    if (cancelled && !ready)
                    {
                        throw new OperationCanceledException();
                    }
                    return ready;
                },
                token);
        }

        internal override XProcHandle WaitTarget(out int kind)
        {
            kind = 1; // XPROC_WAIT_PIPE
            return handle;
        }

        /// <summary>The blocking send: directly when the inbox has room (one round trip, and a
        /// large message as a memfd); a send that has to wait goes through the pump, so Dispose
        /// interrupts it, whatever its size (a started send carries it inline in its frame).</summary>
        private XProcStatus SendCore(object message, long timeoutMs)
        {
            byte[] data = MessagePack.Encode(message);
            if (timeoutMs != Timeouts.NoWait && ThroughPump)
            {
                XProcStatus now = Native.xproc_pipe_send_raw(handle, data, Utf8.Len(data), Timeouts.NoWait);
                if (now != XProcStatus.Full)
                {
                    return now; // sent (or refused) in one direct round trip, as before
                }
                // Through the pump, so that disposing the client interrupts it.
                return Calls.Wait(SendStarted(data, timeoutMs, "Send", false, CancellationToken.None))
                    ? XProcStatus.Ok
                    : (timeoutMs == Timeouts.NoWait ? XProcStatus.Full : XProcStatus.Timeout);
            }
            return Native.xproc_pipe_send_raw(handle, data, Utf8.Len(data), timeoutMs);
        }

        private XProcStatus ReceiveCore(long timeoutMs, out object message)
        {
            if (timeoutMs != Timeouts.NoWait && ThroughPump)
            {
                IntPtr now;
                UIntPtr nowLen;
                XProcStatus st0 = Native.xproc_pipe_recv_raw(handle, Timeouts.NoWait, out now, out nowLen);
                if (st0 != XProcStatus.Empty)
                {
                    // A message (or end of file) that is there: one direct round trip, as before.
                    message = st0 == XProcStatus.Ok ? Buffers.TakeValue(now, nowLen) : null;
                    return st0;
                }
                // Waiting: through the pump, so that disposing the client interrupts it.
                KeyValuePair<bool, object> got = Calls.Wait(ReceiveStarted(timeoutMs, "Receive", false, CancellationToken.None));
                message = got.Value;
                return got.Key ? XProcStatus.Ok : XProcStatus.Timeout;
            }
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_pipe_recv_raw(handle, timeoutMs, out data, out len);
            message = st == XProcStatus.Ok ? Buffers.TakeValue(data, len) : null;
            return st;
        }
    }
}
