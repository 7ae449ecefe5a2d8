// Interop.cs: the small helpers every wrapper uses around the native calls: taking ownership
// of buffers libxproc returns, turning TimeSpans into timeout_ms, and laying out many
// encoded values for the calls that take arrays of (pointer, length).

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace XProc
{
    /// <summary>Buffers returned by libxproc: copied into managed memory, then freed.</summary>
    internal static class Buffers
    {
        /// <summary>
        /// Copies <paramref name="len"/> bytes at <paramref name="ptr"/> and frees the buffer
        /// with xproc_bytes_free, even if the copy fails. NULL gives an empty array.
        /// </summary>
        internal static byte[] Take(IntPtr ptr, UIntPtr len)
        {
            if (ptr == IntPtr.Zero)
            {
                return new byte[0];
            }
            try
            {
                ulong n = len.ToUInt64();
                if (n > int.MaxValue)
                {
                    throw new XProcException(XProcStatus.OutOfRange,
                        "a value of " + n + " bytes is larger than a .NET array can hold");
                }
                var bytes = new byte[(int)n];
                Marshal.Copy(ptr, bytes, 0, (int)n);
                return bytes;
            }
            finally
            {
                Native.xproc_bytes_free(ptr, len);
            }
        }

        /// <summary>Takes a returned buffer and decodes the MessagePack value in it.</summary>
        internal static object TakeValue(IntPtr ptr, UIntPtr len)
        {
            return MessagePack.Decode(Take(ptr, len));
        }
    }

    /// <summary>TimeSpan to libxproc's timeout_ms.</summary>
    internal static class Timeouts
    {
        /// <summary>Wait as long as it takes (XPROC_WAIT_FOREVER).</summary>
        internal const long Forever = -1;

        /// <summary>Do not wait (XPROC_NO_WAIT).</summary>
        internal const long NoWait = 0;

        /// <summary>
        /// Milliseconds for a timeout: <see cref="Timeout.InfiniteTimeSpan"/> waits forever;
        /// other negative spans are refused, as .NET's own waits refuse them; a fraction of a
        /// millisecond rounds up, so a tiny positive timeout still waits rather than polling.
        /// </summary>
        /// <summary>A timeout in messages: "5 s", "250 ms", "1.5 s".</summary>
        internal static string Show(long ms)
        {
            if (ms < 0)
            {
                return "waiting forever";
            }
            if (ms < 1000)
            {
                return ms + " ms";
            }
            return (ms / 1000.0).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " s";
        }

        internal static long ToMs(TimeSpan timeout, string paramName)
        {
            if (timeout == Timeout.InfiniteTimeSpan)
            {
                return Forever;
            }
            if (timeout < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(paramName, timeout,
                    "a timeout must be zero or positive, or Timeout.InfiniteTimeSpan");
            }
            long ms = timeout.Ticks / TimeSpan.TicksPerMillisecond;
            if (timeout.Ticks % TimeSpan.TicksPerMillisecond != 0)
            {
                ms++;
            }
            return ms;
        }
    }

    /// <summary>
    /// Several encoded values in one pinned buffer, with the pointer and length arrays that
    /// xproc_queue_put_many_raw and the dict batch calls take. Dispose unpins it; the
    /// pointers are valid only until then.
    /// </summary>
    internal sealed class PinnedValues : IDisposable
    {
        private GCHandle pin;

        /// <summary>Pointer to each value's first byte.</summary>
        internal readonly IntPtr[] Pointers;

        /// <summary>Each value's length.</summary>
        internal readonly UIntPtr[] Lengths;

        /// <summary>Pins <paramref name="encoded"/>, values already encoded as MessagePack, in one buffer.</summary>
        internal PinnedValues(List<byte[]> encoded)
        {
            int total = 0;
            foreach (byte[] e in encoded)
            {
                total = checked(total + e.Length);
            }
            var all = new byte[total];
            var offsets = new int[encoded.Count];
            int at = 0;
            for (int i = 0; i < encoded.Count; i++)
            {
                offsets[i] = at;
                Buffer.BlockCopy(encoded[i], 0, all, at, encoded[i].Length);
                at += encoded[i].Length;
            }
            pin = GCHandle.Alloc(all, GCHandleType.Pinned);
            IntPtr start = pin.AddrOfPinnedObject();
            Pointers = new IntPtr[encoded.Count];
            Lengths = new UIntPtr[encoded.Count];
            for (int i = 0; i < encoded.Count; i++)
            {
                Pointers[i] = new IntPtr(start.ToInt64() + offsets[i]);
                Lengths[i] = new UIntPtr((uint)encoded[i].Length);
            }
        }

        /// <summary>The number of values.</summary>
        internal UIntPtr Count
        {
            get { return new UIntPtr((uint)Pointers.Length); }
        }

        /// <summary>Unpins the buffer.</summary>
        public void Dispose()
        {
            if (pin.IsAllocated)
            {
                pin.Free();
            }
        }
    }
}
