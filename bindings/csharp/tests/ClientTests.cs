// ClientTests.cs: connecting, identity, admin calls (objects, stat, clients, delete), the
// errors every object shares (no broker, type and option mismatch, bad names, bad
// arguments, disposed handles), and broker-side limits and shutdown, against private
// brokers this file starts from $XPROCD.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace XProc.Tests
{
    /// <summary>An xprocd of a test's own (limits, shutdown), on a temporary socket.</summary>
    internal sealed class PrivateBroker : IDisposable
    {
        private readonly Process process;
        private readonly string dir;

        internal PrivateBroker(string extraArgs = "")
        {
            string xprocd = Environment.GetEnvironmentVariable("XPROCD");
            if (string.IsNullOrEmpty(xprocd) || !File.Exists(xprocd))
            {
                throw new AssertionException("$XPROCD must name the xprocd binary (run_tests.sh sets it)");
            }
            dir = Path.Combine(Path.GetTempPath(), Fixture.Name("broker"));
            Directory.CreateDirectory(dir);
            Socket = Path.Combine(dir, "x.sock");
            var info = new ProcessStartInfo(xprocd, "--socket \"" + Socket + "\" --log-level error " + extraArgs);
            info.UseShellExecute = false;
            process = Process.Start(info);
            Fixture.Eventually(() => File.Exists(Socket) || process.HasExited, "the private broker listens");
            if (process.HasExited)
            {
                throw new AssertionException("the private broker exited with " + process.ExitCode);
            }
        }

        /// <summary>Its socket path.</summary>
        internal string Socket { get; private set; }

        internal XProcClient Connect()
        {
            return XProcClient.Connect(Socket);
        }

        /// <summary>Stops it as a service manager would (SIGTERM) and waits for it to exit.</summary>
        internal void Stop()
        {
            if (!process.HasExited)
            {
                using (Process kill = Process.Start(new ProcessStartInfo("kill", "-TERM " + process.Id) { UseShellExecute = false }))
                {
                    kill.WaitForExit();
                }
                if (!process.WaitForExit(20000))
                {
                    process.Kill();
                    throw new AssertionException("the private broker did not stop on SIGTERM");
                }
            }
        }

        public void Dispose()
        {
            try
            {
                Stop();
            }
            finally
            {
                process.Dispose();
                try
                {
                    Directory.Delete(dir, true);
                }
                catch (IOException)
                {
                    // Best effort: a leftover temp directory is harmless.
                }
            }
        }
    }

    internal static class ClientTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("client.connect_ping_identity", ConnectPingIdentity);
            yield return new Test("client.connect_explicit_path", ConnectExplicitPath);
            yield return new Test("client.no_broker", NoBroker);
            yield return new Test("client.objects_stat_delete", ObjectsStatDelete);
            yield return new Test("client.delete_wakes_blocked_call", DeleteWakesBlockedCall);
            yield return new Test("client.type_and_option_mismatch", TypeAndOptionMismatch);
            yield return new Test("client.invalid_names", InvalidNames);
            yield return new Test("client.argument_checks", ArgumentChecks);
            yield return new Test("client.disposed_handles", DisposedHandles);
            yield return new Test("client.dispose_during_blocking_call", DisposeDuringBlockingCall);
            yield return new Test("client.finalizer_closes_forgotten_connection", FinalizerClosesConnection);
            yield return new Test("client.limits_refuse_with_named_limit", LimitsRefuse);
            yield return new Test("client.broker_shutdown_disconnects", BrokerShutdown);
        }

        private static void ConnectPingIdentity()
        {
            using (XProcClient c = Fixture.Connect())
            {
                c.Ping();
                Assert.True(c.ConnectionId > 0, "a connection id");
                Assert.True(c.Limits.MaxFrame > 0 && c.Limits.MaxClients > 0 && c.Limits.MaxObjects > 0 && c.Limits.MemoryLimit > 0, "limits");
                Assert.True(XProcClient.LibraryVersion.Length > 0, "a library version");
                ClientInfo me = null;
                foreach (ClientInfo info in c.Clients())
                {
                    if ((ulong)info.ConnectionId == c.ConnectionId)
                    {
                        me = info;
                    }
                }
                Assert.True(me != null, "this connection in Clients()");
                Assert.Equal("csharp", me.Language, "language");
                // The program's file name: Tests.exe under Mono, Tests under .NET.
                Assert.Equal(Path.GetFileName(AppDomain.CurrentDomain.FriendlyName), me.Name, "name");
                Assert.True(me.Name.StartsWith("Tests"), "the program's name, not the runtime's: " + me.Name);
                Assert.Equal((long)Process.GetCurrentProcess().Id, me.Pid, "pid");
            }
            using (XProcClient named = XProcClient.Connect(null, TimeSpan.FromSeconds(10), "worker-7"))
            {
                bool found = false;
                foreach (ClientInfo info in named.Clients())
                {
                    found |= info.Name == "worker-7" && (ulong)info.ConnectionId == named.ConnectionId;
                }
                Assert.True(found, "the chosen client name");
            }
        }

        private static void ConnectExplicitPath()
        {
            string path = Environment.GetEnvironmentVariable("XPROC_SOCKET");
            Assert.True(!string.IsNullOrEmpty(path), "$XPROC_SOCKET is set");
            using (XProcClient c = XProcClient.Connect(path))
            {
                c.Ping();
            }
        }

        private static void NoBroker()
        {
            string path = Path.Combine(Path.GetTempPath(), Fixture.Name("absent") + ".sock");
            NoBrokerException e = Assert.Throws<NoBrokerException>(() => XProcClient.Connect(path));
            Assert.Equal(XProcStatus.NoBroker, e.Status, "status");
            Assert.True(e.Message.Contains(path), "the message names the path: " + e.Message);
            // The family catches work too.
            Assert.Throws<XProcException>(() => XProcClient.Connect(path));
            Assert.Throws<InvalidOperationException>(() => XProcClient.Connect(path));
        }

        private static void ObjectsStatDelete()
        {
            using (XProcClient c = Fixture.Connect())
            {
                string name = Fixture.Name("stat");
                using (XProcQueue q = c.Queue(name, 10))
                {
                    q.Put(1);
                    q.Put(2);
                    ObjectInfo listed = null;
                    foreach (ObjectInfo o in c.Objects())
                    {
                        if (o.Name == name)
                        {
                            listed = o;
                        }
                    }
                    Assert.True(listed != null, "the queue in Objects()");
                    Assert.Equal("queue", listed.Kind, "kind");
                    Assert.Equal(2L, listed.Length, "length");
                    ObjectStat st = c.Stat(name);
                    Assert.Equal("queue", st.Kind, "stat kind");
                    Assert.Equal(2L, st.Info["len"], "stat len");
                    Assert.Equal(10L, st.Info["maxsize"], "stat maxsize");
                    Assert.True(c.Delete(name), "deleting an existing object");
                    Assert.False(c.Delete(name), "deleting it again");
                    ObjectNotFoundException e = Assert.Throws<ObjectNotFoundException>(() => c.Stat(name));
                    Assert.Equal(XProcStatus.NotFound, e.Status, "status");
                    Assert.Throws<ObjectNotFoundException>(() => q.Put(3), "a put on the deleted queue");
                }
            }
        }

        private static void DeleteWakesBlockedCall()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient waiter = Fixture.Connect())
            {
                string name = Fixture.Name("deleted");
                XProcQueue q = waiter.Queue(name);
                Exception got = null;
                Worker w = Fixture.Start(() =>
                {
                    try
                    {
                        q.Get();
                    }
                    catch (Exception e)
                    {
                        got = e;
                    }
                });
                Fixture.Eventually(() => (long)c.Stat(name).Info["getters"] == 1, "the get is blocked");
                Assert.True(c.Delete(name), "delete");
                w.Finish();
                Assert.True(got is ObjectNotFoundException, "the blocked get fails with ObjectNotFoundException, got " + got);
                q.Dispose();
            }
        }

        private static void TypeAndOptionMismatch()
        {
            using (XProcClient c = Fixture.Connect())
            {
                string name = Fixture.Name("kind");
                c.Queue(name).Dispose();
                ObjectMismatchException e = Assert.Throws<ObjectMismatchException>(() => c.Dict(name), "a dict on a queue's name");
                Assert.Equal(XProcStatus.TypeMismatch, e.Status, "status");
                Assert.Throws<ObjectMismatchException>(() => c.JoinableQueue(name), "a joinable queue on a queue's name");
                Assert.Throws<ObjectMismatchException>(() => c.Lock(name), "a lock on a queue's name");

                string bounded = Fixture.Name("bound");
                c.Queue(bounded, 5).Dispose();
                e = Assert.Throws<ObjectMismatchException>(() => c.Queue(bounded, 6), "another maxsize");
                Assert.Equal(XProcStatus.OptionMismatch, e.Status, "status");
                Assert.True(e.Message.Contains("maxsize"), "the message names the option: " + e.Message);
                using (XProcQueue q = c.Queue(bounded))
                {
                    Assert.Equal(5L, q.MaxSize, "no maxsize accepts the existing bound");
                }
            }
        }

        private static void InvalidNames()
        {
            using (XProcClient c = Fixture.Connect())
            {
                XProcException e = Assert.Throws<XProcException>(() => c.Queue(""), "an empty name");
                Assert.Equal(XProcStatus.InvalidName, e.Status, "status");
                e = Assert.Throws<XProcException>(() => c.Dict(new string('n', 256)), "256 bytes");
                Assert.Equal(XProcStatus.InvalidName, e.Status, "status");
                e = Assert.Throws<XProcException>(() => c.Event(new string('é', 128)), "256 bytes of UTF-8 in 128 chars");
                Assert.Equal(XProcStatus.InvalidName, e.Status, "status");
                string longest = Fixture.Name("long");
                longest += new string('n', 255 - longest.Length);
                c.Event(longest).Dispose();
                c.Delete(longest);
                Assert.Throws<ArgumentNullException>(() => c.Queue(null), "a null name");
                Assert.Throws<ArgumentException>(() => c.Queue("\ud800"), "a name that is not valid UTF-16");
            }
        }

        private static void ArgumentChecks()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("args")))
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => q.Get(TimeSpan.FromMilliseconds(-5)), "a negative timeout");
                Assert.Throws<ArgumentOutOfRangeException>(() => c.Queue(Fixture.Name("q"), -1), "a negative maxSize");
                Assert.Throws<ArgumentOutOfRangeException>(() => c.Barrier(Fixture.Name("b"), 0), "0 parties");
                Assert.Throws<ArgumentOutOfRangeException>(() => c.Semaphore(Fixture.Name("s"), -1), "negative permits");
                Assert.Throws<ArgumentOutOfRangeException>(() => c.Pipe(Fixture.Name("p"), (PipeEnd)7), "a bad end");
                Assert.Throws<ArgumentOutOfRangeException>(() => c.Pipe(Fixture.Name("p"), PipeEnd.A, null, 0), "capacity 0");
                Assert.Throws<ArgumentException>(() => q.Put(new object()), "an unencodable item");
                q.Put("x");
                // Timeout.InfiniteTimeSpan is "wait as long as it takes", not a negative timeout.
                Assert.Equal("x", q.Get(Timeout.InfiniteTimeSpan), "a get with an infinite timeout");
                // A sub-millisecond timeout still waits (rounded up), and then times out.
                Assert.Throws<XProcTimeoutException>(() => q.Get(TimeSpan.FromTicks(1)), "a 100 ns timeout");
            }
        }

        private static void DisposedHandles()
        {
            XProcClient c = Fixture.Connect();
            XProcQueue q = c.Queue(Fixture.Name("disposed"));
            // Objects keep the connection: the client may be disposed first.
            c.Dispose();
            q.Put(1);
            Assert.Equal(1L, q.Get(), "a queue outliving its client");
            Assert.Throws<ObjectDisposedException>(() => c.Ping(), "a disposed client");
            q.Dispose();
            q.Dispose();
            Assert.Throws<ObjectDisposedException>(() => q.Put(2), "a disposed queue");
        }

        private static void DisposeDuringBlockingCall()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("inflight");
                XProcQueue q = c.Queue(name);
                object got = null;
                Worker w = Fixture.Start(() => got = q.Get());
                Fixture.Eventually(() => (long)other.Stat(name).Info["getters"] == 1, "the get is blocked");
                // The handle is in use: SafeHandle frees it only when the call returns.
                q.Dispose();
                using (XProcQueue theirs = other.Queue(name))
                {
                    theirs.Put("still delivered");
                }
                w.Finish();
                Assert.Equal("still delivered", got, "the blocked get completed after Dispose");
                Assert.Throws<ObjectDisposedException>(() => q.Put(1), "the handle is freed once the call returned");
            }
        }

        private static void FinalizerClosesConnection()
        {
            string name = Fixture.Name("forgotten");
            AcquireAndForget(name);
            using (XProcClient c = Fixture.Connect())
            using (XProcLock lk = c.Lock(name))
            {
                // The forgotten client and lock handle are garbage; their SafeHandles' finalizers
                // free them, which closes the connection, which releases the lock.
                bool acquired = false;
                for (int i = 0; i < 200 && !acquired; i++)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    acquired = lk.TryAcquire(TimeSpan.FromMilliseconds(100));
                }
                Assert.True(acquired, "the lock came back once the forgotten handles were finalized");
                Assert.True(lk.Abandoned, "reported as abandoned");
                lk.Release();
            }
        }

        /// <summary>Acquires a lock on a client that is then dropped without Dispose (a separate method, so no local keeps it alive).</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static void AcquireAndForget(string name)
        {
            XProcClient c = Fixture.Connect();
            c.Lock(name).Acquire();
        }

        private static void LimitsRefuse()
        {
            using (var broker = new PrivateBroker("--max-frame 64K --memory-limit 100K --max-clients 2 --max-objects 3"))
            {
                XProcClient c = broker.Connect();
                Assert.Equal(64UL * 1024, c.Limits.MaxFrame, "max frame");
                XProcQueue q = c.Queue("q");
                LimitExceededException e = Assert.Throws<LimitExceededException>(() => q.Put(new byte[65 * 1024]), "a value above max_frame");
                Assert.Equal(XProcStatus.Limit, e.Status, "status");
                q.Put(new byte[60 * 1024]);
                e = Assert.Throws<LimitExceededException>(() => q.Put(new byte[60 * 1024]), "past the memory budget");
                Assert.True(e.Message.Contains("memory"), "the message names the limit: " + e.Message);
                c.Dict("d").Dispose();
                c.Event("e").Dispose();
                e = Assert.Throws<LimitExceededException>(() => c.Lock("l"), "past max_objects");
                Assert.True(e.Message.Contains("object"), "the message names the limit: " + e.Message);
                XProcClient second = broker.Connect();
                e = Assert.Throws<LimitExceededException>(() => broker.Connect(), "past max_clients");
                Assert.True(e.Message.Contains("client"), "the message names the limit: " + e.Message);
                second.Dispose();
                q.Dispose();
                c.Dispose();
            }
        }

        private static void BrokerShutdown()
        {
            using (var broker = new PrivateBroker())
            {
                XProcClient c = broker.Connect();
                XProcQueue q = c.Queue("q");
                XProcLock lk = c.Lock("l");
                Releaser held = lk.Acquire();
                Exception got = null;
                Worker w = Fixture.Start(() =>
                {
                    try
                    {
                        q.Get();
                    }
                    catch (Exception e)
                    {
                        got = e;
                    }
                });
                using (XProcClient observer = broker.Connect())
                {
                    Fixture.Eventually(() => (long)observer.Stat("q").Info["getters"] == 1, "the get is blocked");
                }
                broker.Stop();
                w.Finish();
                var d = got as DisconnectedException;
                Assert.True(d != null, "a blocked call ends with DisconnectedException, got " + got);
                Assert.True(d.Status == XProcStatus.ShuttingDown || d.Status == XProcStatus.Disconnected, "status " + d.Status);
                DisconnectedException after = Assert.Throws<DisconnectedException>(() => q.Put(1), "a call after the broker stopped");
                Assert.Equal(XProcStatus.Disconnected, after.Status, "status");
                Assert.Throws<XProcException>(() => c.Ping(), "ping after the broker stopped");
                Assert.Throws<DisconnectedException>(() => lk.Release(), "an explicit release");
                // The end of a using block does not throw: a gone connection holds nothing.
                held.Dispose();
                lk.Dispose();
                q.Dispose();
                c.Dispose();
            }
        }
    }
}
