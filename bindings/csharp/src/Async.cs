// Async.cs: the Task-based calls (GetAsync, PutAsync, AcquireAsync) and the CancellationToken
// overloads, on libxproc's event-loop API (docs/ASYNC.md): each call starts its request
// without blocking a thread; one pump thread per client (not one per call) waits on the
// client's event descriptor with poll(2), collects the completions and completes the tasks.
//
// Cancellation: a token that fires cancels the request at the broker (xproc_client_cancel).
// If the request took nothing (its answer is the timeout outcome), the task is cancelled; if
// the broker had already answered (the item was on its way), the task completes with that
// answer (an acquired lock is released again first), so nothing is lost. Disposing the client
// cancels every pending request at the broker and fails its task with
// ObjectDisposedException.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace XProc
{
    /// <summary>One client's pump: its started requests and the thread that completes them.</summary>
    internal sealed class AsyncPump : IDisposable
    {
        private readonly ClientHandle client;
        private readonly int fd;
        private readonly object gate = new object();
        private readonly Dictionary<ulong, Action<IntPtr, bool>> pending = new Dictionary<ulong, Action<IntPtr, bool>>();

        /// <summary>
        /// The pump thread while it runs (guarded by <see cref="gate"/>). It runs while calls
        /// wait and exits after <see cref="IdleRounds"/> idle polls: a running thread keeps
        /// the client reachable, and a client dropped without Dispose must still be finalized
        /// (its connection closed) once nothing waits on it.
        /// </summary>
        private Thread thread;

        /// <summary>Polls (of 100 ms) with nothing pending before the pump thread exits; a
        /// program making one blocking call after another keeps one thread.</summary>
        private const int IdleRounds = 10;

        private volatile bool disposed;

        internal AsyncPump(ClientHandle client)
        {
            this.client = client;
            int f;
            Error.Check(Native.xproc_client_event_fd(client, out f));
            fd = f;
        }

        /// <summary>Whether the calling thread is the pump's (a blocking call there would wait for itself).</summary>
        internal bool OnPumpThread
        {
            get { return Thread.CurrentThread == Volatile.Read(ref thread); }
        }

        /// <summary>
        /// Starts a request with <paramref name="start"/> (which returns its status and ticket)
        /// and returns a task completed by <paramref name="finish"/>(completion, cancelled) on
        /// the pump thread; the completion is freed after it.
        /// </summary>
        internal Task<TR> Start<TR>(Func<Tuple<XProcStatus, ulong>> start, Func<IntPtr, bool, TR> finish,
            CancellationToken token)
        {
            token.ThrowIfCancellationRequested();
            var tcs = new TaskCompletionSource<TR>(TaskCreationOptions.RunContinuationsAsynchronously);
            ulong ticket;
            CancellationTokenRegistration reg = default(CancellationTokenRegistration);
            lock (gate)
            {
                if (disposed)
                {
                    throw new ObjectDisposedException("XProcClient");
                }
                Tuple<XProcStatus, ulong> started = start();
                Error.Check(started.Item1);
                ticket = started.Item2;
                if (thread == null)
                {
                    thread = new Thread(Run) { IsBackground = true, Name = "xproc event pump" };
                    thread.Start();
                }
                pending[ticket] = (completion, isDisposed) =>
                {
                    reg.Dispose();
                    if (isDisposed && completion == IntPtr.Zero)
                    {
                        tcs.TrySetException(Disposed());
                        return;
                    }
                    try
                    {
                        // Disposing cancelled it: what it got anyway is handed over or undone
                        // as for a cancelled token (finish decides), never dropped.
                        tcs.TrySetResult(finish(completion, isDisposed || token.IsCancellationRequested));
                    }
                    catch (OperationCanceledException)
                    {
                        if (isDisposed)
                        {
                            tcs.TrySetException(Disposed());
                        }
                        else
                        {
                            tcs.TrySetCanceled(token);
                        }
                    }
                    catch (Exception e)
                    {
                        tcs.TrySetException(e);
                    }
                };
            }
            if (token.CanBeCanceled)
            {
                reg = token.Register(() => Native.xproc_client_cancel(client, ticket));
            }
            return tcs.Task;
        }

        private void Run()
        {
            var fds = new[] { new PollFd { Fd = fd, Events = 1 /* POLLIN */ } };
            int idle = 0;
            while (!disposed)
            {
                lock (gate)
                {
                    idle = pending.Count == 0 ? idle + 1 : 0;
                    if (idle > IdleRounds)
                    {
                        thread = null; // the next call starts another
                        return;
                    }
                }
                Native.poll(fds, (UIntPtr)1, 100);
                UIntPtr ready;
                if (Native.xproc_client_process(client, out ready) != XProcStatus.Ok)
                {
                    continue;
                }
                ulong ticket;
                IntPtr completion;
                while (Native.xproc_client_next_completion(client, out ticket, out completion) == XProcStatus.Ok)
                {
                    Action<IntPtr, bool> done;
                    lock (gate)
                    {
                        if (pending.TryGetValue(ticket, out done))
                        {
                            pending.Remove(ticket);
                        }
                    }
                    try
                    {
                        if (done != null)
                        {
                            done(completion, false);
                        }
                    }
                    finally
                    {
                        Native.xproc_completion_free(completion);
                    }
                }
            }
        }

        /// <summary>How long <see cref="Dispose"/> collects the completions of the requests it
        /// cancelled. Each comes at once (a cancel is answered before its reply), except a
        /// condition wait still waiting to reacquire its lock, which may take as long as the
        /// holder keeps it: Dispose does not wait for that.</summary>
        private const int DisposeDrainMs = 1000;

        private static ObjectDisposedException Disposed()
        {
            return new ObjectDisposedException("XProcClient",
                "the client was disposed while the call waited (it was cancelled at the broker)");
        }

        /// <summary>Stops the pump: every pending request is cancelled at the broker and its task
        /// fails with ObjectDisposedException — unless the broker had answered it already, in
        /// which case the answer is handed over (an item) or undone (a lock), as for a
        /// cancelled token, so that nothing is lost.</summary>
        public void Dispose()
        {
            Thread running;
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }
                disposed = true;
                running = thread;
            }
            // The pump thread stops first, so that no completion is collected by it and then
            // dropped for want of a waiter.
            if (running != null && running != Thread.CurrentThread)
            {
                running.Join();
            }
            Dictionary<ulong, Action<IntPtr, bool>> left;
            lock (gate)
            {
                left = new Dictionary<ulong, Action<IntPtr, bool>>(pending);
                pending.Clear();
            }
            foreach (ulong ticket in left.Keys)
            {
                Native.xproc_client_cancel(client, ticket);
            }
            var fds = new[] { new PollFd { Fd = fd, Events = 1 /* POLLIN */ } };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (left.Count > 0 && clock.ElapsedMilliseconds < DisposeDrainMs)
            {
                Native.poll(fds, (UIntPtr)1, 10);
                UIntPtr ready;
                if (Native.xproc_client_process(client, out ready) != XProcStatus.Ok)
                {
                    break; // disconnected: nothing more will come
                }
                ulong ticket;
                IntPtr completion;
                while (Native.xproc_client_next_completion(client, out ticket, out completion) == XProcStatus.Ok)
                {
                    Action<IntPtr, bool> done;
                    try
                    {
                        if (left.TryGetValue(ticket, out done))
                        {
                            left.Remove(ticket);
                            done(completion, true);
                        }
                    }
                    finally
                    {
                        Native.xproc_completion_free(completion);
                    }
                }
            }
            foreach (Action<IntPtr, bool> done in left.Values)
            {
                done(IntPtr.Zero, true);
            }
        }

        /// <summary>A completion's status; a timeout or would-block answer to a cancelled call
        /// throws OperationCanceledException (the call took nothing).</summary>
        internal static void Check(IntPtr completion, bool cancelled, XProcObject obj, string op, long timeoutMs)
        {
            XProcStatus st = Native.xproc_completion_status(completion);
            if (st == XProcStatus.Ok)
            {
                return;
            }
            if (cancelled && (st == XProcStatus.Timeout || st == XProcStatus.Empty || st == XProcStatus.Full))
            {
                throw new OperationCanceledException();
            }
            obj.Check(st, op, timeoutMs);
        }

        /// <summary>The value bytes of a successful completion (copied).</summary>
        internal static byte[] Value(IntPtr completion)
        {
            IntPtr data;
            UIntPtr len;
            Error.Check(Native.xproc_completion_value_raw(completion, out data, out len));
            var bytes = new byte[(int)len.ToUInt64()];
            System.Runtime.InteropServices.Marshal.Copy(data, bytes, 0, bytes.Length);
            return bytes;
        }

        private static readonly byte[] AcquiredField = Utf8.Strict.GetBytes("acquired");

        /// <summary>The `acquired` field of a successful completion.</summary>
        internal static bool Acquired(IntPtr completion)
        {
            bool v;
            Error.Check(Native.xproc_completion_bool(completion, AcquiredField, (UIntPtr)AcquiredField.Length, out v));
            return v;
        }
    }
}
