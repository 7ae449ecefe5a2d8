// Errors.cs: the exceptions the binding throws, and the one place (Error.Check, and
// Error.Try for the Try* forms) that turns a libxproc status and its thread-local message
// into one of them.
//
// The mapping (docs/CSHARP.md has the table):
// - XProcException derives from InvalidOperationException, as System.Threading.Channels'
//   ChannelClosedException does: every broker-side failure is "this operation cannot be done
//   now", so both `catch (XProcException)` and `catch (InvalidOperationException)` catch
//   them. Its subclasses name the failures callers handle (NoBrokerException,
//   DisconnectedException, PipeClosedException, BrokenBarrierException, ...).
// - A timeout (or a would-block answer to a zero timeout) is an XProcTimeoutException, a
//   System.TimeoutException; a missing dict key is an XProcKeyNotFoundException, a
//   KeyNotFoundException. .NET allows one base class, so these two cannot also be
//   XProcExceptions; they, and XProcException, implement IXProcException, which gives the
//   status, and `catch (Exception e) when (e is IXProcException)` catches all three kinds.
// - Mistakes the binding can see before calling (a null name, a negative timeout) are the
//   usual ArgumentNullException / ArgumentOutOfRangeException; a disposed object is
//   ObjectDisposedException.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace XProc
{
    /// <summary>
    /// libxproc's status codes (xproc_status_e); numbers are stable and only ever added.
    /// Every exception of the binding carries one through <see cref="IXProcException"/>.
    /// </summary>
    public enum XProcStatus
    {
        /// <summary>Success (never carried by an exception).</summary>
        Ok = 0,
        /// <summary>Nothing accepts connections at the socket path.</summary>
        NoBroker = 1,
        /// <summary>A blocking call's timeout passed.</summary>
        Timeout = 2,
        /// <summary>A non-blocking get or receive found nothing.</summary>
        Empty = 3,
        /// <summary>A non-blocking put or send found no room.</summary>
        Full = 4,
        /// <summary>The name holds an object of another kind.</summary>
        TypeMismatch = 5,
        /// <summary>The pipe's other end is closed (end of file), or this end was closed.</summary>
        Closed = 6,
        /// <summary>The connection to the broker is gone; connect again.</summary>
        Disconnected = 7,
        /// <summary>A broker limit refused the request (the message names it).</summary>
        Limit = 8,
        /// <summary>The dict has no such key.</summary>
        KeyNotFound = 9,
        /// <summary>This connection does not hold the lock or pipe end the call needs.</summary>
        NotOwner = 10,
        /// <summary>The pipe end is held by another connection.</summary>
        Busy = 11,
        /// <summary>The barrier is broken.</summary>
        BrokenBarrier = 12,
        /// <summary>An argument out of range or not allowed in the object's state.</summary>
        InvalidArgument = 13,
        /// <summary>A required pointer was NULL (a bug in the binding if it ever shows).</summary>
        NullArgument = 14,
        /// <summary>The broker is stopping.</summary>
        ShuttingDown = 15,
        /// <summary>No object has this name (it was deleted).</summary>
        NotFound = 16,
        /// <summary>An existing object was opened with a different creation option.</summary>
        OptionMismatch = 17,
        /// <summary>An object name that is empty, longer than 255 bytes, or not UTF-8.</summary>
        InvalidName = 18,
        /// <summary>Bytes that are not exactly one well-formed MessagePack value.</summary>
        InvalidValue = 19,
        /// <summary>A value of the wrong type for the operation (Incr on a string).</summary>
        WrongType = 20,
        /// <summary>A number that does not fit, or an index past the end.</summary>
        OutOfRange = 21,
        /// <summary>Any other error the broker reported; the message starts with its code.</summary>
        BrokerError = 22,
        /// <summary>The broker sent something that does not follow the protocol.</summary>
        ProtocolError = 23,
        /// <summary>A bug inside libxproc was caught at its boundary.</summary>
        Panic = 24,
        /// <summary>An ack or nack of a delivery this connection does not hold (already
        /// settled, its lease ran out, or another client's).</summary>
        UnknownDelivery = 25,
        /// <summary>The broker's allow-lists refused this user.</summary>
        Denied = 26,
        /// <summary>A signal ended a blocking call on a thread made interruptible with
        /// xproc_set_interruptible (which this binding never does; listed for
        /// completeness).</summary>
        Interrupted = 27,
    }

    /// <summary>
    /// What every exception raised by xproc has: the libxproc status behind it. Catch all
    /// of them with <c>catch (Exception e) when (e is IXProcException)</c>.
    /// </summary>
    public interface IXProcException
    {
        /// <summary>The libxproc status that caused the exception.</summary>
        XProcStatus Status { get; }
    }

    /// <summary>
    /// A failure reported by the broker or libxproc. It is an
    /// <see cref="InvalidOperationException"/>, so either catch works; timeouts and missing
    /// keys are the standard <see cref="XProcTimeoutException"/> and
    /// <see cref="XProcKeyNotFoundException"/> instead.
    /// </summary>
    public class XProcException : InvalidOperationException, IXProcException
    {
        /// <summary>Creates an exception for <paramref name="status"/> with a message.</summary>
        public XProcException(XProcStatus status, string message) : base(message)
        {
            Status = status;
        }

        /// <summary>Creates an exception for <paramref name="status"/> with a message and the exception behind it.</summary>
        public XProcException(XProcStatus status, string message, Exception inner) : base(message, inner)
        {
            Status = status;
        }

        /// <inheritdoc/>
        public XProcStatus Status { get; private set; }
    }

    /// <summary>Nothing accepts connections at the socket path (no broker running there).</summary>
    public class NoBrokerException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public NoBrokerException(string message) : base(XProcStatus.NoBroker, message)
        {
        }
    }

    /// <summary>
    /// The connection is gone (<see cref="XProcStatus.Disconnected"/>) or the broker is
    /// stopping (<see cref="XProcStatus.ShuttingDown"/>); every later call on the client fails
    /// the same way. Connect again.
    /// </summary>
    public class DisconnectedException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public DisconnectedException(XProcStatus status, string message) : base(status, message)
        {
        }
    }

    /// <summary>
    /// End of file on a pipe: the other end is closed and every message was received (or
    /// this end was closed). Python's EOFError.
    /// </summary>
    public class PipeClosedException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public PipeClosedException(string message) : base(XProcStatus.Closed, message)
        {
        }
    }

    /// <summary>
    /// The barrier is broken: aborted, a wait timed out, or a waiting party disconnected.
    /// Python's threading.BrokenBarrierError.
    /// </summary>
    public class BrokenBarrierException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public BrokenBarrierException(string message) : base(XProcStatus.BrokenBarrier, message)
        {
        }
    }

    /// <summary>
    /// This connection does not hold the lock (or pipe end) it tried to use: a release by a
    /// non-owner, a condition wait or notify without the lock.
    /// </summary>
    public class NotOwnerException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public NotOwnerException(string message) : base(XProcStatus.NotOwner, message)
        {
        }
    }

    /// <summary>No object has this name any more: it was deleted.</summary>
    public class ObjectNotFoundException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public ObjectNotFoundException(string message) : base(XProcStatus.NotFound, message)
        {
        }
    }

    /// <summary>
    /// The name holds an object of another kind (<see cref="XProcStatus.TypeMismatch"/>), or
    /// an existing object has a different creation option
    /// (<see cref="XProcStatus.OptionMismatch"/>; the message names the option).
    /// </summary>
    public class ObjectMismatchException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public ObjectMismatchException(XProcStatus status, string message) : base(status, message)
        {
        }
    }

    /// <summary>
    /// An ack or nack of a <see cref="Delivery{T}"/> this connection no longer holds: it was
    /// settled already, its lease ran out (the item went back to the queue, and may be
    /// processed again by someone else), or it belongs to another client.
    /// </summary>
    public class UnknownDeliveryException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public UnknownDeliveryException(string message) : base(XProcStatus.UnknownDelivery, message)
        {
        }
    }

    /// <summary>
    /// The broker refused the connection: its allow-lists (allow_uids, allow_gids) do not
    /// include this process's user or groups. The message names the uid and gids.
    /// </summary>
    public class AccessDeniedException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public AccessDeniedException(string message) : base(XProcStatus.Denied, message)
        {
        }
    }

    /// <summary>A broker limit (frame size, clients, objects, memory) refused the request.</summary>
    public class LimitExceededException : XProcException
    {
        /// <summary>Creates the exception.</summary>
        public LimitExceededException(string message) : base(XProcStatus.Limit, message)
        {
        }
    }

    /// <summary>
    /// A blocking call's timeout passed (<see cref="XProcStatus.Timeout"/>), or a call with a
    /// zero timeout would have had to wait (<see cref="XProcStatus.Empty"/>,
    /// <see cref="XProcStatus.Full"/>). Python's queue.Empty and queue.Full.
    /// </summary>
    public class XProcTimeoutException : TimeoutException, IXProcException
    {
        /// <summary>Creates the exception.</summary>
        public XProcTimeoutException(XProcStatus status, string message) : base(message)
        {
            Status = status;
        }

        /// <inheritdoc/>
        public XProcStatus Status { get; private set; }
    }

    /// <summary>The dict has no such key (or is empty, for PopItem). Python's KeyError.</summary>
    public class XProcKeyNotFoundException : KeyNotFoundException, IXProcException
    {
        /// <summary>Creates the exception.</summary>
        public XProcKeyNotFoundException(string message) : base(message)
        {
        }

        /// <inheritdoc/>
        public XProcStatus Status
        {
            get { return XProcStatus.KeyNotFound; }
        }
    }

    /// <summary>Turns libxproc statuses into exceptions.</summary>
    internal static class Error
    {
        /// <summary>
        /// Throws the exception for <paramref name="status"/> unless it is OK. Call it right
        /// after the native call, on the same thread: the message is thread-local and the
        /// next libxproc call replaces it.
        /// </summary>
        internal static void Check(XProcStatus status)
        {
            if (status != XProcStatus.Ok)
            {
                throw From(status, LastMessage(status));
            }
        }

        /// <summary>OK is true; a would-block or timeout answer is false; anything else throws.</summary>
        internal static bool Try(XProcStatus st)
        {
            switch (st)
            {
                case XProcStatus.Ok:
                    return true;
                case XProcStatus.Empty:
                case XProcStatus.Full:
                case XProcStatus.Timeout:
                    return false;
                default:
                    Check(st);
                    return false;
            }
        }

        /// <summary>
        /// The exception for a failed status of <paramref name="context"/> (an operation on an
        /// object, e.g. <c>Get on queue "jobs"</c>): a timeout says after how long
        /// (<paramref name="timeoutMs"/>), a would-block answer says the object was empty or
        /// full, anything else adds libxproc's <paramref name="message"/>.
        /// </summary>
        internal static Exception From(XProcStatus status, string message, string context, long timeoutMs)
        {
            switch (status)
            {
                case XProcStatus.Timeout:
                    message = context + " timed out after " + Timeouts.Show(timeoutMs);
                    break;
                case XProcStatus.Empty:
                    message = context + " found it empty";
                    break;
                case XProcStatus.Full:
                    message = context + " found it full";
                    break;
                default:
                    message = context + ": " + message;
                    break;
            }
            return From(status, message);
        }

        /// <summary>The exception for a failed status, with its message.</summary>
        internal static Exception From(XProcStatus status, string message)
        {
            switch (status)
            {
                case XProcStatus.Timeout:
                case XProcStatus.Empty:
                case XProcStatus.Full:
                    return new XProcTimeoutException(status, message);
                case XProcStatus.KeyNotFound:
                    return new XProcKeyNotFoundException(message);
                case XProcStatus.NoBroker:
                    return new NoBrokerException(message);
                case XProcStatus.Disconnected:
                case XProcStatus.ShuttingDown:
                    return new DisconnectedException(status, message);
                case XProcStatus.Closed:
                    return new PipeClosedException(message);
                case XProcStatus.BrokenBarrier:
                    return new BrokenBarrierException(message);
                case XProcStatus.NotOwner:
                    return new NotOwnerException(message);
                case XProcStatus.NotFound:
                    return new ObjectNotFoundException(message);
                case XProcStatus.TypeMismatch:
                case XProcStatus.OptionMismatch:
                    return new ObjectMismatchException(status, message);
                case XProcStatus.Limit:
                    return new LimitExceededException(message);
                case XProcStatus.UnknownDelivery:
                    return new UnknownDeliveryException(message);
                case XProcStatus.Denied:
                    return new AccessDeniedException(message);
                default:
                    return new XProcException(status, message);
            }
        }

        /// <summary>
        /// This thread's last libxproc error message, or the status's name when the message is
        /// empty.
        /// </summary>
        internal static string LastMessage(XProcStatus status)
        {
            string message = Utf8.FromNative(Native.xproc_last_error());
            return message.Length > 0 ? message : StatusName(status);
        }

        /// <summary>The C name of a status, e.g. "XPROC_TIMEOUT".</summary>
        internal static string StatusName(XProcStatus status)
        {
            return Utf8.FromNative(Native.xproc_status_str((int)status));
        }
    }

    /// <summary>UTF-8 conversions for names and for the NUL-terminated strings libxproc returns.</summary>
    internal static class Utf8
    {
        /// <summary>Strict: a string with a lone surrogate is refused rather than altered.</summary>
        internal static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>
        /// An object name as UTF-8 bytes (the broker checks length and emptiness and answers
        /// InvalidName; a null name is the caller's mistake).
        /// </summary>
        internal static byte[] Name(string name, string paramName)
        {
            if (name == null)
            {
                throw new ArgumentNullException(paramName);
            }
            try
            {
                return Strict.GetBytes(name);
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("the name is not valid UTF-16 text", paramName, e);
            }
        }

        /// <summary>The length of a byte array as a size_t.</summary>
        internal static UIntPtr Len(byte[] bytes)
        {
            return bytes == null ? UIntPtr.Zero : new UIntPtr((uint)bytes.Length);
        }

        /// <summary>
        /// Reads a NUL-terminated UTF-8 string owned by libxproc (never freed here). Marshal's
        /// ANSI reader is not UTF-8 everywhere, so the bytes are decoded explicitly.
        /// </summary>
        internal static string FromNative(IntPtr p)
        {
            if (p == IntPtr.Zero)
            {
                return string.Empty;
            }
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0)
            {
                n++;
            }
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return Encoding.UTF8.GetString(bytes);
        }
    }
}
