// Handles.cs: one SafeHandle subclass per libxproc handle type, each freeing its handle with
// the matching xproc_*_free exactly once (on Dispose, or from the finalizer if the owner
// forgot). SafeHandle also counts calls in flight, so a handle disposed while another
// thread is blocked in a call on it is freed only when that call returns.

using System;
using System.Runtime.InteropServices;

namespace XProc
{
    /// <summary>The common part: a NULL pointer is the invalid value.</summary>
    internal abstract class XProcHandle : SafeHandle
    {
        protected XProcHandle() : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }
    }

    /// <summary>An xproc_client_t.</summary>
    internal sealed class ClientHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_client_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_queue_t (plain or joinable).</summary>
    internal sealed class QueueHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_queue_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_dict_t.</summary>
    internal sealed class DictHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_dict_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_pipe_t; freeing it also closes the end if it is still open.</summary>
    internal sealed class PipeHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_pipe_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_lock_t (lock or rlock); freeing it does not release the lock.</summary>
    internal sealed class LockHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_lock_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_semaphore_t (plain or bounded); freeing it returns no permit.</summary>
    internal sealed class SemaphoreHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_semaphore_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_event_t.</summary>
    internal sealed class EventHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_event_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_condition_t; freeing it does not release its lock.</summary>
    internal sealed class ConditionHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_condition_free(handle);
            return true;
        }
    }

    /// <summary>An xproc_barrier_t.</summary>
    internal sealed class BarrierHandle : XProcHandle
    {
        protected override bool ReleaseHandle()
        {
            Native.xproc_barrier_free(handle);
            return true;
        }
    }
}
