// Native.cs: every P/Invoke declaration of the binding, and nothing else.
//
// The binding calls libxproc's `_raw` functions (values travel as MessagePack bytes encoded
// and decoded by MessagePack.cs), plus the functions that carry no values (open, free,
// acquire, ...). client-c/include/xproc.h documents each one; the C types map as:
//   size_t -> UIntPtr, int64_t -> long, uint64_t -> ulong, uint32_t -> uint,
//   C bool -> byte-sized bool (MarshalAs I1), char -> byte, handles -> SafeHandle subclasses
//   (the marshaller holds a reference across the call, so a handle disposed on another
//   thread is freed only after the call returns).
// Owned buffers come back as (IntPtr, UIntPtr) pairs and are copied and freed by
// Buffers.Take.

using System;
using System.Runtime.InteropServices;

namespace XProc
{
    /// <summary>The P/Invoke declarations of libxproc (xproc.h), in header order.</summary>
    internal static class Native
    {
        /// <summary>
        /// The library name: Mono and .NET look for libxproc.so beside the assembly, then on
        /// LD_LIBRARY_PATH and the system's library path; on Windows for xproc.dll beside the
        /// assembly, then on the DLL search path (PATH). The Windows path is written but not
        /// tested: CI has no Windows .NET (docs/CSHARP.md).
        /// </summary>
        internal const string Lib = "xproc";

        private const CallingConvention Cdecl = CallingConvention.Cdecl;

        // ---- errors, version, buffers ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern IntPtr xproc_status_str(int status);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern IntPtr xproc_last_error();

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern IntPtr xproc_version();

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_bytes_free(IntPtr ptr, UIntPtr len);

        // ---- client ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_connect_as(
            byte[] path, UIntPtr pathLen, byte[] name, UIntPtr nameLen, byte[] lang, UIntPtr langLen,
            long connectTimeoutMs, out ClientHandle client);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_connect_with(
            byte[] path, UIntPtr pathLen, byte[] name, UIntPtr nameLen, byte[] lang, UIntPtr langLen,
            byte[] authkey, UIntPtr authkeyLen, long connectTimeoutMs, out ClientHandle client);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_connect_tls(
            byte[] path, UIntPtr pathLen, byte[] name, UIntPtr nameLen, byte[] lang, UIntPtr langLen,
            byte[] authkey, UIntPtr authkeyLen, byte[] tlsCa, UIntPtr tlsCaLen,
            byte[] tlsServerName, UIntPtr tlsServerNameLen, long connectTimeoutMs,
            out ClientHandle client);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_client_free(IntPtr client);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_ping(ClientHandle client);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_conn_id(ClientHandle client, out ulong id);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_limits(ClientHandle client, out NativeLimits limits);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_list_raw(ClientHandle client, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_stat_raw(
            ClientHandle client, byte[] name, UIntPtr nameLen, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_clients_raw(ClientHandle client, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_delete(
            ClientHandle client, byte[] name, UIntPtr nameLen, [MarshalAs(UnmanagedType.I1)] out bool deleted);

        // ---- queues ----

        // The _with forms: maxsize and max_attempts (each negative = not given).
        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_open_with(
            ClientHandle client, byte[] name, UIntPtr nameLen, long maxsize, long maxAttempts,
            out QueueHandle queue);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_joinable_queue_open_with(
            ClientHandle client, byte[] name, UIntPtr nameLen, long maxsize, long maxAttempts,
            out QueueHandle queue);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_queue_free(IntPtr queue);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_put_raw(QueueHandle queue, byte[] data, UIntPtr len, long timeoutMs);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_raw(QueueHandle queue, long timeoutMs, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_put_many_raw(
            QueueHandle queue, IntPtr[] values, UIntPtr[] lens, UIntPtr count, out UIntPtr done);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_size(QueueHandle queue, out NativeQueueSize size);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_task_done(QueueHandle queue);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_join(QueueHandle queue, long timeoutMs);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_leased_raw(
            QueueHandle queue, long timeoutMs, long leaseMs, out IntPtr data, out UIntPtr len,
            out ulong delivery, out uint attempt);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_ack(QueueHandle queue, ulong delivery);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_nack(QueueHandle queue, ulong delivery, long delayMs);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_put_async_raw(QueueHandle queue, byte[] data, UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_flush(QueueHandle queue, out ulong failedAt);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_many(
            QueueHandle queue, UIntPtr max, long timeoutMs, out IntPtr batch);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_many_leased(
            QueueHandle queue, UIntPtr max, long timeoutMs, long leaseMs, out IntPtr batch);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_ack_many(
            QueueHandle queue, ulong[] ids, UIntPtr count, out UIntPtr acked);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern UIntPtr xproc_batch_len(IntPtr batch);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_batch_item(
            IntPtr batch, UIntPtr index, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_batch_delivery(
            IntPtr batch, UIntPtr index, out ulong delivery, out uint attempt);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_batch_free(IntPtr batch);

        // ---- dicts ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_open(ClientHandle client, byte[] name, UIntPtr nameLen, out DictHandle dict);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_dict_free(IntPtr dict);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_get_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_set_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, byte[] value, UIntPtr valueLen);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_delete_raw(DictHandle dict, byte[] key, UIntPtr keyLen);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_contains_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, [MarshalAs(UnmanagedType.I1)] out bool found);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_len(DictHandle dict, out ulong len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_keys_raw(DictHandle dict, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_values_raw(DictHandle dict, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_items_raw(DictHandle dict, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_scan_raw(DictHandle dict, ulong cursor, UIntPtr count, out ulong nextCursor, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_update_raw(
            DictHandle dict, IntPtr[] keys, UIntPtr[] keyLens, IntPtr[] values, UIntPtr[] valueLens, UIntPtr count);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_get_many_raw(
            DictHandle dict, IntPtr[] keys, UIntPtr[] keyLens, UIntPtr count, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_pop_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_popitem_raw(
            DictHandle dict, out IntPtr key, out UIntPtr keyLen, out IntPtr value, out UIntPtr valueLen);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_setdefault_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, byte[] defaultValue, UIntPtr defaultLen,
            out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_clear(DictHandle dict);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_incr_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, long delta, out long result);

        /// <remarks>A null <paramref name="expected"/> marshals as NULL: "only if absent".</remarks>
        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_dict_compare_and_set_raw(
            DictHandle dict, byte[] key, UIntPtr keyLen, byte[] expected, UIntPtr expectedLen,
            byte[] value, UIntPtr valueLen, [MarshalAs(UnmanagedType.I1)] out bool swapped);

        // ---- pipes ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_open(
            ClientHandle client, byte[] name, UIntPtr nameLen, byte end, int duplex, long capacity, out PipeHandle pipe);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_close(PipeHandle pipe);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_pipe_free(IntPtr pipe);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_send_raw(PipeHandle pipe, byte[] data, UIntPtr len, long timeoutMs);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_recv_raw(PipeHandle pipe, long timeoutMs, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_poll(
            PipeHandle pipe, long timeoutMs, [MarshalAs(UnmanagedType.I1)] out bool ready);

        // ---- locks and rlocks ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_lock_open(ClientHandle client, byte[] name, UIntPtr nameLen, out LockHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_rlock_open(ClientHandle client, byte[] name, UIntPtr nameLen, out LockHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_lock_free(IntPtr handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_lock_acquire(
            LockHandle handle, long timeoutMs, [MarshalAs(UnmanagedType.I1)] out bool acquired, out uint abandonedBy);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_lock_release(LockHandle handle);

        // ---- semaphores ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_semaphore_open(
            ClientHandle client, byte[] name, UIntPtr nameLen, ulong initial, out SemaphoreHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_bounded_semaphore_open(
            ClientHandle client, byte[] name, UIntPtr nameLen, ulong initial, out SemaphoreHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_semaphore_free(IntPtr handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_semaphore_acquire(
            SemaphoreHandle handle, long timeoutMs, [MarshalAs(UnmanagedType.I1)] out bool acquired);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_semaphore_release(SemaphoreHandle handle, ulong n);

        // ---- events ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_event_open(ClientHandle client, byte[] name, UIntPtr nameLen, out EventHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_event_free(IntPtr handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_event_set(EventHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_event_clear(EventHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_event_is_set(EventHandle handle, [MarshalAs(UnmanagedType.I1)] out bool set);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_event_wait(
            EventHandle handle, long timeoutMs, [MarshalAs(UnmanagedType.I1)] out bool set);

        // ---- conditions ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_open(
            ClientHandle client, byte[] name, UIntPtr nameLen, out ConditionHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_condition_free(IntPtr handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_acquire(
            ConditionHandle handle, long timeoutMs, [MarshalAs(UnmanagedType.I1)] out bool acquired, out uint abandonedBy);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_release(ConditionHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_wait(
            ConditionHandle handle, long timeoutMs, [MarshalAs(UnmanagedType.I1)] out bool notified);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_notify(ConditionHandle handle, ulong n, out ulong woken);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_notify_all(ConditionHandle handle, out ulong woken);

        // ---- barriers ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_barrier_open(
            ClientHandle client, byte[] name, UIntPtr nameLen, ulong parties, out BarrierHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_barrier_free(IntPtr handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_barrier_wait(BarrierHandle handle, long timeoutMs, out ulong index);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_barrier_abort(BarrierHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_barrier_reset(BarrierHandle handle);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_barrier_state(BarrierHandle handle, out NativeBarrierState state);

        // ---- the event-loop API (Async.cs) ----

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_event_fd(ClientHandle client, out int fd);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_process(ClientHandle client, out UIntPtr ready);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_next_completion(ClientHandle client, out ulong ticket, out IntPtr completion);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_client_cancel(ClientHandle client, ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_start(QueueHandle queue, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_put_start_raw(QueueHandle queue, byte[] data, UIntPtr len, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_lock_acquire_start(LockHandle handle, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_any_start(ClientHandle client, IntPtr[] queues, UIntPtr count, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_wait_start(ClientHandle client, NativeWaitObject[] objects, UIntPtr count, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_completion_indices(IntPtr completion, byte[] ready, UIntPtr count, out UIntPtr nReady);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_any_raw(ClientHandle client, IntPtr[] queues, UIntPtr count, long timeoutMs,
            out UIntPtr index, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_wait(ClientHandle client, NativeWaitObject[] objects, UIntPtr count, long timeoutMs,
            byte[] ready, out UIntPtr nReady);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_join_start(QueueHandle queue, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_get_leased_start(QueueHandle queue, long timeoutMs, long leaseMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_queue_unlease(QueueHandle queue, ulong delivery);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_send_start_raw(PipeHandle pipe, byte[] data, UIntPtr len, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_recv_start(PipeHandle pipe, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_pipe_poll_start(PipeHandle pipe, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_semaphore_acquire_start(SemaphoreHandle handle, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_event_wait_start(EventHandle handle, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_barrier_wait_start(BarrierHandle handle, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_wait_start(ConditionHandle handle, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_condition_acquire_start(ConditionHandle handle, long timeoutMs, out ulong ticket);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_completion_uint(IntPtr completion, byte[] field, UIntPtr fieldLen, out ulong value);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_completion_status(IntPtr completion);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_completion_value_raw(IntPtr completion, out IntPtr data, out UIntPtr len);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern XProcStatus xproc_completion_bool(
            IntPtr completion, byte[] field, UIntPtr fieldLen, [MarshalAs(UnmanagedType.I1)] out bool value);

        [DllImport(Lib, CallingConvention = Cdecl, ExactSpelling = true)]
        internal static extern void xproc_completion_free(IntPtr completion);

        /// <summary>poll(2) from libc, for the event pump's one descriptor.</summary>
        [DllImport("libc", EntryPoint = "poll", CallingConvention = Cdecl, SetLastError = true)]
        internal static extern int poll([In, Out] PollFd[] fds, UIntPtr nfds, int timeoutMs);
    }

    /// <summary>xproc_limits_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeLimits
    {
        internal ulong MaxFrame;
        internal ulong MaxClients;
        internal ulong MaxObjects;
        internal ulong MemoryLimit;
    }

    /// <summary>xproc_wait_object_t: a kind (xproc_wait_kind_e, a C enum: an int) and a handle.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeWaitObject
    {
        internal int Kind;
        internal IntPtr Object;
    }

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        internal int Fd;
        internal short Events;
        internal short Revents;
    }

    /// <summary>xproc_queue_size_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeQueueSize
    {
        internal ulong Len;
        internal ulong MaxSize;
        internal ulong Unfinished;
    }

    /// <summary>xproc_barrier_state_t (a C bool is one byte; a byte keeps the struct blittable).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeBarrierState
    {
        internal ulong Parties;
        internal ulong NWaiting;
        internal byte Broken;
    }
}
