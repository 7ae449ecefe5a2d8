// XProcObject.cs: what every named object handle shares: its name, how it describes itself
// in messages (`queue "jobs"`), and the checks that turn a libxproc status into an exception
// saying which operation on which object failed (`Get on queue "jobs" timed out after 5 s`).

using System;
using System.Collections.Generic;

namespace XProc
{
    /// <summary>
    /// A handle on a named object in the broker (a queue, dict, pipe end, lock, ...), opened
    /// from an <see cref="XProcClient"/>. Disposing it releases the handle; the object stays
    /// in the broker.
    /// </summary>
    public abstract class XProcObject : IDisposable
    {
        private readonly string kind;

        internal XProcObject(string kind, string name)
        {
            this.kind = kind;
            Name = name;
        }

        /// <summary>The object's name.</summary>
        public string Name { get; private set; }

        /// <summary>The client it was opened from (for the Task-based calls, Async.cs).</summary>
        internal XProcClient Owner { get; set; }

        /// <summary>The event pump of the client this object was opened from.</summary>
        internal AsyncPump Pump()
        {
            if (Owner == null)
            {
                throw new InvalidOperationException(Describe() + " was not opened from a client");
            }
            return Owner.Pump;
        }

        /// <summary>
        /// Whether a blocking call goes through the client's pump (AsyncCalls.cs): so that
        /// disposing the client interrupts it. Not when the client is disposed already (the
        /// handle keeps the connection: the call runs as before), when the event-loop API is
        /// missing (not Linux), or on the pump's own thread (it would wait for itself).
        /// </summary>
        internal bool ThroughPump
        {
            get { return Owner != null && Owner.PumpUsable; }
        }

        /// <summary>The native handle and <c>xproc_wait_object_kind_e</c> of an object
        /// <see cref="XProcClient.Wait(IList{XProcObject}, TimeSpan?)"/> can watch; null for the others.</summary>
        internal virtual XProcHandle WaitTarget(out int kind)
        {
            kind = -1;
            return null;
        }

        /// <summary>Releases this handle (the object stays in the broker).</summary>
        public abstract void Dispose();

        /// <summary>How messages name this object, e.g. <c>queue "jobs"</c>.</summary>
        internal virtual string Describe()
        {
            return kind + " \"" + Name + "\"";
        }

        /// <summary>
        /// Throws the exception for <paramref name="status"/> unless it is OK, its message
        /// naming <paramref name="op"/>, this object and, for a timeout,
        /// <paramref name="timeoutMs"/>. Call it right after the native call, on the same
        /// thread: libxproc's message is thread-local.
        /// </summary>
        internal void Check(XProcStatus status, string op, long timeoutMs = Timeouts.Forever)
        {
            if (status != XProcStatus.Ok)
            {
                throw Error.From(status, Error.LastMessage(status), op + " on " + Describe(), timeoutMs);
            }
        }

        /// <summary>OK is true; a would-block or timeout answer is false; anything else throws as <see cref="Check"/>.</summary>
        internal bool Try(XProcStatus status, string op)
        {
            switch (status)
            {
                case XProcStatus.Ok:
                    return true;
                case XProcStatus.Empty:
                case XProcStatus.Full:
                case XProcStatus.Timeout:
                    return false;
                default:
                    Check(status, op);
                    return false;
            }
        }

        /// <summary>
        /// <paramref name="deserialize"/>'s result, or an <see cref="XProcException"/> (status
        /// InvalidValue) naming the operation and this object when the serializer refuses the
        /// bytes. The value was taken from the broker already.
        /// </summary>
        internal TV Read<TV>(IXProcSerializer<TV> serializer, byte[] data, string op, string what)
        {
            try
            {
                return serializer.Deserialize(data);
            }
            catch (Exception e)
            {
                throw new XProcException(XProcStatus.InvalidValue,
                    op + " on " + Describe() + ": the " + what + " cannot be read as " + Converters.Describe(typeof(TV))
                    + ": " + e.Message, e);
            }
        }

        /// <summary>
        /// Like <see cref="Read{TV}"/> for a value already decoded (an element of a decoded array):
        /// the default serializer converts it directly; another one gets it encoded again.
        /// </summary>
        internal TV ReadDecoded<TV>(IXProcSerializer<TV> serializer, object decoded, string op, string what)
        {
            var builtIn = serializer as XProcDefaultSerializer<TV>;
            if (builtIn == null)
            {
                return Read(serializer, MessagePack.Encode(decoded), op, what);
            }
            try
            {
                return builtIn.Convert(decoded);
            }
            catch (Exception e)
            {
                throw new XProcException(XProcStatus.InvalidValue,
                    op + " on " + Describe() + ": the " + what + " cannot be read as " + Converters.Describe(typeof(TV))
                    + ": " + e.Message, e);
            }
        }

        /// <summary>
        /// <paramref name="value"/> serialized, or an ArgumentException naming the operation
        /// and this object when the serializer refuses it (nothing was sent).
        /// </summary>
        internal byte[] Write<TV>(IXProcSerializer<TV> serializer, TV value, string op, string what)
        {
            try
            {
                return serializer.Serialize(value);
            }
            catch (Exception e)
            {
                throw new ArgumentException(op + " on " + Describe() + ": the " + what + " cannot be serialized: " + e.Message, what, e);
            }
        }
    }
}
