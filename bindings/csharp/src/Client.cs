// Client.cs: the connection to an xprocd broker, the factory of every object handle, and the
// admin calls (ping, list, stat, clients, delete) with the small types they return.

using System;
using System.Collections.Generic;
using System.IO;

namespace XProc
{
    /// <summary>
    /// A connection to an xproc broker. Open objects by name from it
    /// (<c>c.Queue("tasks")</c>); each is created in the broker if the name is free.
    /// </summary>
    /// <remarks>
    /// Thread-safe: any number of threads may use one client and its objects at once,
    /// blocking calls included. Locks, permits and pipe ends belong to the connection, so
    /// threads sharing a client share them; connect once per thread for per-thread ownership.
    /// Objects keep the connection open: it closes once the client and every object opened
    /// from it are disposed.
    /// </remarks>
    public sealed partial class XProcClient : IDisposable
    {
        /// <summary>How long <see cref="Connect(string, TimeSpan?, string)"/> waits for the broker's greeting by default.</summary>
        public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

        /// <summary>The language the broker shows for this client in <c>xproc clients</c>.</summary>
        private static readonly byte[] Lang = Utf8.Strict.GetBytes("csharp");

        private readonly ClientHandle handle;

        /// <summary>Guards <see cref="pump"/> and <see cref="disposed"/>.</summary>
        private readonly object pumpGate = new object();

        /// <summary>The event pump of the Task-based calls, made on first use (Async.cs).</summary>
        private AsyncPump pump;

        private bool disposed;

        /// <summary>Set when the pump cannot be made (no event-loop API on this platform).</summary>
        private bool pumpMissing;

        private XProcClient(ClientHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>The event pump (one thread per client, started on the first async call).</summary>
        internal AsyncPump Pump
        {
            get
            {
                lock (pumpGate)
                {
                    if (disposed)
                    {
                        throw new ObjectDisposedException("XProcClient");
                    }
                    return pump ?? (pump = new AsyncPump(handle));
                }
            }
        }

        /// <summary>
        /// Whether blocking calls can go through the pump (see <see cref="XProcObject.ThroughPump"/>);
        /// makes it if needed.
        /// </summary>
        internal bool PumpUsable
        {
            get
            {
                lock (pumpGate)
                {
                    if (disposed || pumpMissing)
                    {
                        return false;
                    }
                    if (pump == null)
                    {
                        try
                        {
                            pump = new AsyncPump(handle);
                        }
                        catch (XProcException)
                        {
                            // The event-loop API is Linux only so far: block as before.
                            pumpMissing = true;
                            return false;
                        }
                    }
                    return !pump.OnPumpThread;
                }
            }
        }

        /// <summary>Records this client as <paramref name="obj"/>'s owner and returns it.</summary>
        private T Own<T>(T obj) where T : XProcObject
        {
            obj.Owner = this;
            return obj;
        }

        /// <summary>
        /// Connects to the broker and says hello.
        /// </summary>
        /// <param name="path">The socket path; null for the default endpoint:
        /// <c>$XPROC_SOCKET</c>, else <c>$XDG_RUNTIME_DIR/xproc.sock</c>, else
        /// <c>/tmp/xproc-&lt;uid&gt;/xproc.sock</c>.</param>
        /// <param name="connectTimeout">How long to wait for the broker's answer (default 5 s;
        /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits forever).</param>
        /// <param name="name">The client's name as <c>xproc clients</c> shows it (default: the
        /// program's name).</param>
        /// <exception cref="NoBrokerException">Nothing listens at the path.</exception>
        /// <exception cref="XProcTimeoutException">The broker did not answer in time.</exception>
        /// <exception cref="LimitExceededException">The broker has too many clients.</exception>
        public static XProcClient Connect(string path = null, TimeSpan? connectTimeout = null, string name = null)
        {
            return Connect(path, null, connectTimeout, name);
        }

        /// <summary>
        /// Connects to a broker listening on TCP (<c>"tcp://HOST:PORT"</c>, docs/PROTOCOL.md §1.2),
        /// proving <paramref name="authkey"/>, and says hello. <paramref name="path"/> may also be
        /// a socket path (the key is then unused).
        /// </summary>
        /// <param name="path">The endpoint; null for the default (<c>$XPROC_SOCKET</c>, ...).</param>
        /// <param name="authkey">The shared key; null reads it from the file
        /// <c>$XPROC_AUTHKEY_FILE</c> names (mode 0600).</param>
        /// <param name="connectTimeout">As for <see cref="Connect(string, TimeSpan?, string)"/>.</param>
        /// <param name="name">As for <see cref="Connect(string, TimeSpan?, string)"/>.</param>
        /// <exception cref="AccessDeniedException">A wrong or missing key, or a broker that could not
        /// prove the key.</exception>
        public static XProcClient Connect(string path, byte[] authkey, TimeSpan? connectTimeout = null, string name = null)
        {
            byte[] p = path == null ? null : Utf8.Name(path, "path");
            byte[] n = Utf8.Name(name ?? ProgramName(), "name");
            long ms = Timeouts.ToMs(connectTimeout ?? DefaultConnectTimeout, "connectTimeout");
            ClientHandle h;
            UIntPtr keyLen = new UIntPtr(authkey == null ? 0u : (uint)authkey.Length);
            XProcStatus st = Native.xproc_client_connect_with(
                p, Utf8.Len(p), n, Utf8.Len(n), Lang, Utf8.Len(Lang), authkey, keyLen, ms, out h);
            if (st != XProcStatus.Ok)
            {
                Exception e = Error.From(st, Error.LastMessage(st));
                h.Dispose();
                throw e;
            }
            return new XProcClient(h);
        }

        /// <summary>
        /// Connects to a broker listening on TCP with TLS (<c>"tls://HOST:PORT"</c>,
        /// docs/SECURITY.md §7), checking its certificate, then proving
        /// <paramref name="authkey"/> as on <c>tcp://</c>.
        /// </summary>
        /// <param name="path">The endpoint (<c>tls://</c>, <c>tcp://</c> or a socket path).</param>
        /// <param name="authkey">The shared key; null reads <c>$XPROC_AUTHKEY_FILE</c>.</param>
        /// <param name="tlsCa">PEM file of the CA certificates the broker's certificate must chain
        /// to; null reads <c>$XPROC_TLS_CA</c> (one or the other is required for <c>tls://</c>).</param>
        /// <param name="tlsServerName">The name the certificate must carry; null:
        /// <c>$XPROC_TLS_SERVER_NAME</c>, else the endpoint's host.</param>
        /// <param name="connectTimeout">As for <see cref="Connect(string, TimeSpan?, string)"/>.</param>
        /// <param name="name">As for <see cref="Connect(string, TimeSpan?, string)"/>.</param>
        /// <exception cref="AccessDeniedException">A certificate that does not chain to the CA or
        /// carry the name, or a wrong or missing key.</exception>
        public static XProcClient ConnectTls(string path, byte[] authkey, string tlsCa, string tlsServerName = null,
            TimeSpan? connectTimeout = null, string name = null)
        {
            byte[] p = path == null ? null : Utf8.Name(path, "path");
            byte[] n = Utf8.Name(name ?? ProgramName(), "name");
            byte[] ca = tlsCa == null ? null : Utf8.Name(tlsCa, "tlsCa");
            byte[] sn = tlsServerName == null ? null : Utf8.Name(tlsServerName, "tlsServerName");
            long ms = Timeouts.ToMs(connectTimeout ?? DefaultConnectTimeout, "connectTimeout");
            ClientHandle h;
            UIntPtr keyLen = new UIntPtr(authkey == null ? 0u : (uint)authkey.Length);
            XProcStatus st = Native.xproc_client_connect_tls(
                p, Utf8.Len(p), n, Utf8.Len(n), Lang, Utf8.Len(Lang), authkey, keyLen,
                ca, Utf8.Len(ca), sn, Utf8.Len(sn), ms, out h);
            if (st != XProcStatus.Ok)
            {
                Exception e = Error.From(st, Error.LastMessage(st));
                h.Dispose();
                throw e;
            }
            return new XProcClient(h);
        }

        /// <summary>The program's file name without its directory (under Mono, the .exe's, not "mono").</summary>
        private static string ProgramName()
        {
            string exe = AppDomain.CurrentDomain.FriendlyName;
            return string.IsNullOrEmpty(exe) ? "csharp" : Path.GetFileName(exe);
        }

        /// <summary>The version of libxproc in use, e.g. "0.1.0".</summary>
        public static string LibraryVersion
        {
            get { return Utf8.FromNative(Native.xproc_version()); }
        }

        /// <summary>This connection's id at the broker, as <c>xproc clients</c> shows it.</summary>
        public ulong ConnectionId
        {
            get
            {
                ulong id;
                Error.Check(Native.xproc_client_conn_id(handle, out id));
                return id;
            }
        }

        /// <summary>The broker's limits, as it announced them when this client connected.</summary>
        public BrokerLimits Limits
        {
            get
            {
                NativeLimits l;
                Error.Check(Native.xproc_client_limits(handle, out l));
                return new BrokerLimits(l.MaxFrame, l.MaxClients, l.MaxObjects, l.MemoryLimit);
            }
        }

        /// <summary>Checks that the broker answers.</summary>
        /// <exception cref="DisconnectedException">The connection is gone.</exception>
        public void Ping()
        {
            Error.Check(Native.xproc_client_ping(handle));
        }

        /// <summary>Opens (creating if new) the FIFO queue <paramref name="name"/>.</summary>
        /// <param name="name">The object's name: 1–255 bytes of UTF-8.</param>
        /// <param name="maxSize">The most items it holds, fixed at creation (0: unbounded).
        /// Null accepts an existing queue's bound and creates an unbounded one.</param>
        /// <param name="maxAttempts">Leased deliveries (<see cref="XProcQueue{T}.GetLeased(Nullable{TimeSpan}, Nullable{TimeSpan})"/>) of
        /// one item before the broker moves it to the queue NAME.dead instead of handing it out
        /// again, fixed at creation (0: never). Null accepts an existing queue's value and
        /// creates one with 5.</param>
        /// <exception cref="ObjectMismatchException">The name holds another kind of object,
        /// or a queue with a different <paramref name="maxSize"/> or
        /// <paramref name="maxAttempts"/>.</exception>
        public XProcQueue Queue(string name, long? maxSize = null, long? maxAttempts = null)
        {
            return Own(new XProcQueue(name, OpenQueue(name, maxSize, maxAttempts, false)));
        }

        /// <summary>
        /// Opens (creating if new) the FIFO queue <paramref name="name"/> as a queue of
        /// <typeparamref name="T"/>: items are written and read by
        /// <paramref name="serializer"/>, so a <c>Queue&lt;int&gt;</c> gives back ints.
        /// Arguments as <see cref="XProcClient.Queue(string, long?, long?)"/>.
        /// </summary>
        /// <param name="name">The object's name: 1–255 bytes of UTF-8.</param>
        /// <param name="maxSize">As for <see cref="XProcClient.Queue(string, long?, long?)"/>.</param>
        /// <param name="maxAttempts">As for <see cref="XProcClient.Queue(string, long?, long?)"/>.</param>
        /// <param name="serializer">Turns items into MessagePack and back; null:
        /// <see cref="XProcDefaultSerializer{T}.Default"/>.</param>
        /// <exception cref="NotSupportedException">No serializer was given and the default one
        /// cannot handle <typeparamref name="T"/> (checked before anything is sent).</exception>
        public XProcQueue<T> Queue<T>(string name, long? maxSize = null, long? maxAttempts = null, IXProcSerializer<T> serializer = null)
        {
            serializer = serializer ?? XProcDefaultSerializer<T>.Default;
            return Own(new XProcQueue<T>("queue", name, OpenQueue(name, maxSize, maxAttempts, false), serializer));
        }

        /// <summary>
        /// Opens (creating if new) the joinable queue <paramref name="name"/>: a queue with
        /// TaskDone and Join. Arguments as <see cref="XProcClient.Queue(string, long?, long?)"/>.
        /// </summary>
        public XProcJoinableQueue JoinableQueue(string name, long? maxSize = null, long? maxAttempts = null)
        {
            return Own(new XProcJoinableQueue(name, OpenQueue(name, maxSize, maxAttempts, true)));
        }

        /// <summary>
        /// Opens (creating if new) the joinable queue <paramref name="name"/> as a queue of
        /// <typeparamref name="T"/>. Arguments as
        /// <see cref="XProcClient.Queue{T}(string, long?, long?, IXProcSerializer{T})"/>.
        /// </summary>
        public XProcJoinableQueue<T> JoinableQueue<T>(string name, long? maxSize = null, long? maxAttempts = null, IXProcSerializer<T> serializer = null)
        {
            serializer = serializer ?? XProcDefaultSerializer<T>.Default;
            return Own(new XProcJoinableQueue<T>(name, OpenQueue(name, maxSize, maxAttempts, true), serializer));
        }

        private QueueHandle OpenQueue(string name, long? maxSize, long? maxAttempts, bool joinable)
        {
            if (maxSize.HasValue && maxSize.Value < 0)
            {
                throw new ArgumentOutOfRangeException("maxSize", maxSize.Value, "maxSize is 0 (unbounded) or more");
            }
            if (maxAttempts.HasValue && maxAttempts.Value < 0)
            {
                throw new ArgumentOutOfRangeException(
                    "maxAttempts", maxAttempts.Value, "maxAttempts is 0 (never dead-letter) or more");
            }
            byte[] n = Utf8.Name(name, "name");
            long m = maxSize ?? -1;
            long a = maxAttempts ?? -1;
            QueueHandle h;
            XProcStatus st = joinable
                ? Native.xproc_joinable_queue_open_with(handle, n, Utf8.Len(n), m, a, out h)
                : Native.xproc_queue_open_with(handle, n, Utf8.Len(n), m, a, out h);
            return Opened(st, h, joinable ? "joinable queue" : "queue", name);
        }

        /// <summary>Opens (creating if new) the shared dict <paramref name="name"/>, keys and values of any value.</summary>
        public XProcDict Dict(string name)
        {
            return new XProcDict(name, OpenDict(name));
        }

        /// <summary>
        /// Opens (creating if new) the shared dict <paramref name="name"/> with keys of
        /// <typeparamref name="TKey"/> and values of <typeparamref name="TValue"/>, an
        /// <see cref="IDictionary{TKey, TValue}"/>.
        /// </summary>
        /// <param name="name">The object's name.</param>
        /// <param name="keySerializer">Writes and reads keys (deterministically: keys compare
        /// by their bytes); null: <see cref="XProcDefaultSerializer{T}.Default"/>.</param>
        /// <param name="valueSerializer">Writes and reads values; null: the default.</param>
        /// <exception cref="NotSupportedException">The default serializer cannot handle a
        /// type and no serializer was given for it (checked before anything is sent).</exception>
        public XProcDict<TKey, TValue> Dict<TKey, TValue>(
            string name, IXProcSerializer<TKey> keySerializer = null, IXProcSerializer<TValue> valueSerializer = null)
        {
            keySerializer = keySerializer ?? XProcDefaultSerializer<TKey>.Default;
            valueSerializer = valueSerializer ?? XProcDefaultSerializer<TValue>.Default;
            return new XProcDict<TKey, TValue>(name, OpenDict(name), keySerializer, valueSerializer);
        }

        private DictHandle OpenDict(string name)
        {
            byte[] n = Utf8.Name(name, "name");
            DictHandle h;
            XProcStatus st = Native.xproc_dict_open(handle, n, Utf8.Len(n), out h);
            return Opened(st, h, "dict", name);
        }

        /// <summary>
        /// Opens (creating if new) the pipe <paramref name="name"/> and claims its end
        /// <paramref name="end"/> for this connection.
        /// </summary>
        /// <param name="name">The pipe's name.</param>
        /// <param name="end">Which end to hold; each end is held by one connection at a time.</param>
        /// <param name="duplex">True: both ends send and receive; false: A sends, B receives.
        /// Null accepts an existing pipe's setting and creates a duplex one.</param>
        /// <param name="capacity">Messages each end's inbox holds before a send waits; null
        /// accepts an existing pipe's and creates one of 1024.</param>
        /// <exception cref="XProcException">Status Busy: another connection holds that end.</exception>
        public XProcPipe Pipe(string name, PipeEnd end, bool? duplex = null, long? capacity = null)
        {
            if (end != PipeEnd.A && end != PipeEnd.B)
            {
                throw new ArgumentOutOfRangeException("end", end, "a pipe end is PipeEnd.A or PipeEnd.B");
            }
            if (capacity.HasValue && capacity.Value < 1)
            {
                throw new ArgumentOutOfRangeException("capacity", capacity.Value, "a pipe's capacity is 1 or more");
            }
            byte[] n = Utf8.Name(name, "name");
            byte e = end == PipeEnd.A ? (byte)'a' : (byte)'b';
            int d = duplex.HasValue ? (duplex.Value ? 1 : 0) : -1;
            PipeHandle h;
            XProcStatus st = Native.xproc_pipe_open(handle, n, Utf8.Len(n), e, d, capacity ?? -1, out h);
            return Own(new XProcPipe(name, end, Opened(st, h, "pipe", name)));
        }

        /// <summary>Opens (creating if new) the lock <paramref name="name"/> (not reentrant).</summary>
        public XProcLock Lock(string name)
        {
            return Own(new XProcLock(name, OpenLock(name, false)));
        }

        /// <summary>Opens (creating if new) the reentrant lock <paramref name="name"/>.</summary>
        public XProcRLock RLock(string name)
        {
            return Own(new XProcRLock(name, OpenLock(name, true)));
        }

        private LockHandle OpenLock(string name, bool reentrant)
        {
            byte[] n = Utf8.Name(name, "name");
            LockHandle h;
            XProcStatus st = reentrant
                ? Native.xproc_rlock_open(handle, n, Utf8.Len(n), out h)
                : Native.xproc_lock_open(handle, n, Utf8.Len(n), out h);
            return Opened(st, h, reentrant ? "rlock" : "lock", name);
        }

        /// <summary>
        /// Opens (creating if new) the semaphore <paramref name="name"/> with
        /// <paramref name="initial"/> permits (an existing one must have the same).
        /// </summary>
        public XProcSemaphore Semaphore(string name, long initial = 1)
        {
            return Own(new XProcSemaphore("semaphore", name, OpenSemaphore(name, initial, false)));
        }

        /// <summary>
        /// Opens (creating if new) the bounded semaphore <paramref name="name"/>: releasing
        /// above <paramref name="initial"/> permits is refused.
        /// </summary>
        public XProcBoundedSemaphore BoundedSemaphore(string name, long initial = 1)
        {
            return Own(new XProcBoundedSemaphore(name, OpenSemaphore(name, initial, true)));
        }

        private SemaphoreHandle OpenSemaphore(string name, long initial, bool bounded)
        {
            if (initial < 0)
            {
                throw new ArgumentOutOfRangeException("initial", initial, "a semaphore starts with 0 or more permits");
            }
            byte[] n = Utf8.Name(name, "name");
            SemaphoreHandle h;
            XProcStatus st = bounded
                ? Native.xproc_bounded_semaphore_open(handle, n, Utf8.Len(n), (ulong)initial, out h)
                : Native.xproc_semaphore_open(handle, n, Utf8.Len(n), (ulong)initial, out h);
            return Opened(st, h, bounded ? "bounded semaphore" : "semaphore", name);
        }

        /// <summary>Opens (creating it clear if new) the event <paramref name="name"/>.</summary>
        public XProcEvent Event(string name)
        {
            byte[] n = Utf8.Name(name, "name");
            EventHandle h;
            XProcStatus st = Native.xproc_event_open(handle, n, Utf8.Len(n), out h);
            return Own(new XProcEvent(name, Opened(st, h, "event", name)));
        }

        /// <summary>Opens (creating if new) the condition <paramref name="name"/> and its lock.</summary>
        public XProcCondition Condition(string name)
        {
            byte[] n = Utf8.Name(name, "name");
            ConditionHandle h;
            XProcStatus st = Native.xproc_condition_open(handle, n, Utf8.Len(n), out h);
            return Own(new XProcCondition(name, Opened(st, h, "condition", name)));
        }

        /// <summary>
        /// Opens (creating if new) the barrier <paramref name="name"/> for
        /// <paramref name="parties"/> parties (an existing one must have the same count).
        /// </summary>
        public XProcBarrier Barrier(string name, long parties)
        {
            if (parties < 1)
            {
                throw new ArgumentOutOfRangeException("parties", parties, "a barrier needs at least 1 party");
            }
            byte[] n = Utf8.Name(name, "name");
            BarrierHandle h;
            XProcStatus st = Native.xproc_barrier_open(handle, n, Utf8.Len(n), (ulong)parties, out h);
            return Own(new XProcBarrier(name, Opened(st, h, "barrier", name)));
        }

        /// <summary>
        /// Deletes the object <paramref name="name"/> from the broker (calls blocked on it fail
        /// with <see cref="ObjectNotFoundException"/>). Returns whether there was one.
        /// </summary>
        public bool Delete(string name)
        {
            byte[] n = Utf8.Name(name, "name");
            bool deleted;
            Error.Check(Native.xproc_client_delete(handle, n, Utf8.Len(n), out deleted));
            return deleted;
        }

        /// <summary>Every object the broker holds (<c>xproc ls</c>).</summary>
        public IList<ObjectInfo> Objects()
        {
            IntPtr data;
            UIntPtr len;
            Error.Check(Native.xproc_client_list_raw(handle, out data, out len));
            var result = new List<ObjectInfo>();
            foreach (object o in AsList(Buffers.TakeValue(data, len)))
            {
                result.Add(new ObjectInfo(AsMap(o)));
            }
            return result;
        }

        /// <summary>One object's kind and state (<c>xproc stat NAME</c>).</summary>
        /// <exception cref="ObjectNotFoundException">No object has this name.</exception>
        public ObjectStat Stat(string name)
        {
            byte[] n = Utf8.Name(name, "name");
            IntPtr data;
            UIntPtr len;
            Error.Check(Native.xproc_client_stat_raw(handle, n, Utf8.Len(n), out data, out len));
            return new ObjectStat(AsMap(Buffers.TakeValue(data, len)));
        }

        /// <summary>Every connected client, with what it holds and waits for (<c>xproc clients</c>).</summary>
        public IList<ClientInfo> Clients()
        {
            IntPtr data;
            UIntPtr len;
            Error.Check(Native.xproc_client_clients_raw(handle, out data, out len));
            var result = new List<ClientInfo>();
            foreach (object o in AsList(Buffers.TakeValue(data, len)))
            {
                result.Add(new ClientInfo(AsMap(o)));
            }
            return result;
        }

        /// <summary>
        /// Releases this client's handle. The connection closes once every object opened from
        /// it is disposed too; the broker then releases its locks, permits and pipe ends.
        /// </summary>
        /// <remarks>Calls waiting on this client — the Task-based ones (<c>GetAsync</c>, ...),
        /// those taking a <c>CancellationToken</c>, and the plain blocking ones (<c>Get()</c>,
        /// <c>Acquire()</c>, <c>Receive()</c>, ..., which wait through the same pump) — are
        /// cancelled at the broker (they take nothing) and fail with
        /// <see cref="ObjectDisposedException"/>.</remarks>
        public void Dispose()
        {
            AsyncPump p;
            lock (pumpGate)
            {
                disposed = true;
                p = pump;
                pump = null;
            }
            if (p != null)
            {
                p.Dispose();
            }
            handle.Dispose();
        }

        /// <summary>
        /// Checks an open call's status; on failure frees nothing (the handle is NULL) and
        /// throws an exception whose message names the object (<c>Open queue "jobs": ...</c>).
        /// </summary>
        private static T Opened<T>(XProcStatus st, T h, string kind, string name) where T : XProcHandle
        {
            if (st != XProcStatus.Ok)
            {
                Exception e = Error.From(st, Error.LastMessage(st), "Open " + kind + " \"" + name + "\"", Timeouts.Forever);
                h.Dispose();
                throw e;
            }
            return h;
        }

        internal static List<object> AsList(object o)
        {
            var list = o as List<object>;
            if (list == null)
            {
                throw new XProcException(XProcStatus.ProtocolError, "the broker's answer is not an array");
            }
            return list;
        }

        internal static Dictionary<object, object> AsMap(object o)
        {
            var map = o as Dictionary<object, object>;
            if (map == null)
            {
                throw new XProcException(XProcStatus.ProtocolError, "the broker's answer is not a map");
            }
            return map;
        }
    }

    /// <summary>The broker's limits, from <see cref="XProcClient.Limits"/>.</summary>
    public sealed class BrokerLimits
    {
        internal BrokerLimits(ulong maxFrame, ulong maxClients, ulong maxObjects, ulong memoryLimit)
        {
            MaxFrame = maxFrame;
            MaxClients = maxClients;
            MaxObjects = maxObjects;
            MemoryLimit = memoryLimit;
        }

        /// <summary>Largest request or reply in bytes; larger values are refused before they are sent.</summary>
        public ulong MaxFrame { get; private set; }

        /// <summary>Most connections at once.</summary>
        public ulong MaxClients { get; private set; }

        /// <summary>Most objects at once.</summary>
        public ulong MaxObjects { get; private set; }

        /// <summary>Bytes of values held across all objects.</summary>
        public ulong MemoryLimit { get; private set; }
    }

    /// <summary>One object of <see cref="XProcClient.Objects"/>.</summary>
    public sealed class ObjectInfo
    {
        internal ObjectInfo(Dictionary<object, object> m)
        {
            Name = Fields.String(m, "name");
            Kind = Fields.String(m, "kind");
            Length = Fields.Long(m, "len");
            Waiters = Fields.Long(m, "waiters");
        }

        /// <summary>The object's name.</summary>
        public string Name { get; private set; }

        /// <summary>Its kind: "queue", "joinable_queue", "dict", "pipe", "lock", "rlock", "semaphore", "bounded_semaphore", "event", "condition", "barrier".</summary>
        public string Kind { get; private set; }

        /// <summary>Queue items, dict entries or pipe messages; 0 for sync objects.</summary>
        public long Length { get; private set; }

        /// <summary>Requests blocked on it.</summary>
        public long Waiters { get; private set; }
    }

    /// <summary>One object's state, from <see cref="XProcClient.Stat"/>.</summary>
    public sealed class ObjectStat
    {
        internal ObjectStat(Dictionary<object, object> m)
        {
            Kind = Fields.String(m, "kind");
            var info = new Dictionary<string, object>();
            object raw;
            var map = m.TryGetValue("info", out raw) ? raw as Dictionary<object, object> : null;
            if (map != null)
            {
                foreach (KeyValuePair<object, object> kv in map)
                {
                    var key = kv.Key as string;
                    if (key != null)
                    {
                        info[key] = kv.Value;
                    }
                }
            }
            Info = info;
        }

        /// <summary>The object's kind (as <see cref="ObjectInfo.Kind"/>).</summary>
        public string Kind { get; private set; }

        /// <summary>Fields by kind (docs/PROTOCOL.md §6.8), e.g. "len", "maxsize", "holder_pid"; values are null, bool, long, string or lists of those.</summary>
        public IDictionary<string, object> Info { get; private set; }
    }

    /// <summary>One connected client, from <see cref="XProcClient.Clients"/>.</summary>
    public sealed class ClientInfo
    {
        internal ClientInfo(Dictionary<object, object> m)
        {
            ConnectionId = Fields.Long(m, "conn_id");
            Pid = Fields.Long(m, "pid");
            Uid = Fields.Long(m, "uid");
            Gid = Fields.Long(m, "gid");
            Name = Fields.String(m, "name");
            Language = Fields.String(m, "lang");
            Holds = Fields.Strings(m, "holds");
            Waits = Fields.Strings(m, "waits");
        }

        /// <summary>The connection's id.</summary>
        public long ConnectionId { get; private set; }

        /// <summary>The peer's process id.</summary>
        public long Pid { get; private set; }

        /// <summary>The peer's user id.</summary>
        public long Uid { get; private set; }

        /// <summary>The peer's group id.</summary>
        public long Gid { get; private set; }

        /// <summary>The name it gave when connecting.</summary>
        public string Name { get; private set; }

        /// <summary>Its language, e.g. "csharp", "python", "c", "rust".</summary>
        public string Language { get; private set; }

        /// <summary>What it holds, e.g. "lock dev", "semaphore s x2", "pipe chan/a".</summary>
        public IList<string> Holds { get; private set; }

        /// <summary>What it waits for, e.g. "queue.get tasks".</summary>
        public IList<string> Waits { get; private set; }
    }

    /// <summary>Reading named fields of the broker's admin answers; a missing field reads as empty.</summary>
    internal static class Fields
    {
        internal static string String(Dictionary<object, object> m, string key)
        {
            object v;
            return m.TryGetValue(key, out v) ? v as string ?? string.Empty : string.Empty;
        }

        internal static long Long(Dictionary<object, object> m, string key)
        {
            object v;
            if (!m.TryGetValue(key, out v) || v == null)
            {
                return 0;
            }
            if (v is long)
            {
                return (long)v;
            }
            return v is ulong ? long.MaxValue : 0;
        }

        internal static IList<string> Strings(Dictionary<object, object> m, string key)
        {
            var result = new List<string>();
            object v;
            var list = m.TryGetValue(key, out v) ? v as List<object> : null;
            if (list != null)
            {
                foreach (object o in list)
                {
                    var s = o as string;
                    if (s != null)
                    {
                        result.Add(s);
                    }
                }
            }
            return result;
        }
    }
}
