// AsyncCalls.cs: the helpers every Task-based call shares (Async.cs has the pump): starting a
// request on the client's pump, reading a completion's status and fields, and running a
// blocking call through the pump so that a CancellationToken can cancel it and disposing the
// client interrupts it (the blocking overloads without a token go through here too).
//
// A request cancelled (token, or Dispose) at the broker takes nothing: it completes with its
// timeout outcome and the call throws OperationCanceledException. If the broker had already
// answered, the answer is kept when it can be handed over (a get's item, a pipe message, a
// barrier index) and undone when it cannot (an acquired lock or permit is released, a leased
// item is given back with xproc_queue_unlease), then the call is cancelled.

using System;
using System.Threading;
using System.Threading.Tasks;

namespace XProc
{
    /// <summary>Starts one request (a libxproc <c>*_start</c> call): its status, and its ticket.</summary>
    internal delegate XProcStatus StartFn(out ulong ticket);

    /// <summary>The shared steps of the Task-based calls.</summary>
    internal static class Calls
    {
        internal static readonly byte[] Delivery = Utf8.Strict.GetBytes("delivery");
        internal static readonly byte[] Attempt = Utf8.Strict.GetBytes("attempt");
        internal static readonly byte[] Index = Utf8.Strict.GetBytes("index");
        internal static readonly byte[] AbandonedBy = Utf8.Strict.GetBytes("abandoned_by");
        internal static readonly byte[] Notified = Utf8.Strict.GetBytes("notified");
        internal static readonly byte[] Ready = Utf8.Strict.GetBytes("ready");
        internal static readonly byte[] Set = Utf8.Strict.GetBytes("set");
        internal static readonly byte[] Acquired = Utf8.Strict.GetBytes("acquired");

        /// <summary>
        /// Starts a request for <paramref name="obj"/> on its client's pump; the task completes
        /// with <paramref name="finish"/>(completion, cancelled), run on the pump thread.
        /// </summary>
        internal static Task<TR> Start<TR>(XProcObject obj, StartFn start, Func<IntPtr, bool, TR> finish,
            CancellationToken token)
        {
            return obj.Pump().Start(
                () =>
                {
                    ulong t;
                    XProcStatus st = start(out t);
                    return Tuple.Create(st, t);
                },
                finish,
                token);
        }

        /// <summary>Waits for a call's task on this thread; its exception is thrown as is (not
        /// wrapped in an AggregateException), as the blocking calls throw.</summary>
        internal static TR Wait<TR>(Task<TR> task)
        {
            return task.GetAwaiter().GetResult();
        }

        /// <summary>
        /// A completion's status for the forms that report "nothing in time" (Try, timeouts):
        /// OK, or Empty / Full / Timeout; a cancelled call's such answer (it took nothing)
        /// throws OperationCanceledException; any other failure throws as
        /// <see cref="XProcObject.Check"/>, naming <paramref name="op"/>.
        /// </summary>
        internal static XProcStatus Status(IntPtr completion, bool cancelled, XProcObject obj, string op, long timeoutMs)
        {
            XProcStatus st = Native.xproc_completion_status(completion);
            switch (st)
            {
                case XProcStatus.Ok:
                    return st;
                case XProcStatus.Empty:
                case XProcStatus.Full:
                case XProcStatus.Timeout:
                    if (cancelled)
                    {
                        throw new OperationCanceledException();
                    }
                    return st;
                default:
                    obj.Check(st, op, timeoutMs);
                    return st;
            }
        }

        /// <summary>Throws the exception of a would-block or timeout status (the strict forms).</summary>
        internal static void Strict(XProcStatus st, XProcObject obj, string op, long timeoutMs)
        {
            if (st != XProcStatus.Ok)
            {
                throw Error.From(st, null, op + " on " + obj.Describe(), timeoutMs);
            }
        }

        /// <summary>A uint field of a successful completion; false when it is absent.</summary>
        internal static bool Uint(IntPtr completion, byte[] field, out ulong value)
        {
            return Native.xproc_completion_uint(completion, field, (UIntPtr)field.Length, out value) == XProcStatus.Ok;
        }

        /// <summary>A bool field of a successful completion.</summary>
        internal static bool Bool(IntPtr completion, byte[] field)
        {
            bool v;
            Error.Check(Native.xproc_completion_bool(completion, field, (UIntPtr)field.Length, out v));
            return v;
        }
    }
}
