// AsyncTests.cs: the Task-based calls against the broker: GetAsync woken by another client,
// a hundred-odd cancelled gets while items arrive (every item exactly once), Dispose failing
// pending calls with ObjectDisposedException (they took nothing), Get(CancellationToken), and
// AcquireAsync cancelled then granted.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace XProc.Tests
{
    internal static class AsyncTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("async.get_async_woken_by_another_client", GetAsyncWoken);
            yield return new Test("async.cancelled_gets_take_nothing", CancelledGetsTakeNothing);
            yield return new Test("async.dispose_interrupts_pending_calls", DisposeInterrupts);
            yield return new Test("async.sync_get_with_a_token", SyncGetWithToken);
            yield return new Test("async.acquire_async_cancelled_then_granted", AcquireAsync);
        }

        private static void GetAsyncWoken()
        {
            string name = Fixture.Name("aget");
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                XProcQueue<long> q = c1.Queue<long>(name);
                Task<long> t = q.GetAsync();
                Assert.False(t.Wait(50), "nothing yet");
                c2.Queue<long>(name).Put(42);
                Assert.True(t.Wait(5000), "the put wakes it");
                Assert.Equal(42L, t.Result);
                q.PutAsync(7).Wait(5000);
                Assert.Equal(7L, q.GetAsync().Result, "PutAsync then GetAsync");
            }
        }

        private static void CancelledGetsTakeNothing()
        {
            const int gets = 300;
            const int items = 150;
            string name = Fixture.Name("acancel");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient producer = Fixture.Connect())
            {
                XProcQueue<long> q = c.Queue<long>(name);
                var sources = new List<CancellationTokenSource>();
                var tasks = new List<Task<long>>();
                for (int i = 0; i < gets; i++)
                {
                    var cts = new CancellationTokenSource();
                    sources.Add(cts);
                    tasks.Add(q.GetAsync(cts.Token));
                }
                var put = new Thread(() =>
                {
                    XProcQueue<long> pq = producer.Queue<long>(name);
                    for (long n = 0; n < items; n++)
                    {
                        pq.Put(n);
                    }
                });
                put.Start();
                foreach (CancellationTokenSource cts in sources)
                {
                    cts.Cancel();
                }
                put.Join();
                var seen = new HashSet<long>();
                int cancelled = 0;
                int delivered = 0;
                foreach (Task<long> t in tasks)
                {
                    try
                    {
                        t.Wait(10000);
                        Assert.True(seen.Add(t.Result), "an item delivered twice");
                        delivered++;
                    }
                    catch (AggregateException e) when (e.InnerException is OperationCanceledException)
                    {
                        cancelled++;
                    }
                }
                long left;
                while (q.TryGet(out left))
                {
                    Assert.True(seen.Add(left), "an item both delivered and left");
                }
                Assert.Equal(items, seen.Count, "every item exactly once");
                Assert.Equal(gets, cancelled + delivered, "every get completed or was cancelled");
            }
        }

        private static void DisposeInterrupts()
        {
            string name = Fixture.Name("adispose");
            Task<long> t;
            using (XProcClient other = Fixture.Connect())
            {
                XProcClient c = Fixture.Connect();
                XProcQueue<long> q = c.Queue<long>(name);
                t = q.GetAsync();
                Assert.False(t.Wait(30), "nothing yet");
                q.Dispose();
                c.Dispose();
                try
                {
                    t.Wait(5000);
                    Assert.True(false, "the pending get should have failed");
                }
                catch (AggregateException e)
                {
                    Assert.True(e.InnerException is ObjectDisposedException, "ObjectDisposedException, got " + e.InnerException);
                }
                XProcQueue<long> oq = other.Queue<long>(name);
                oq.Put(1);
                Thread.Sleep(50);
                Assert.Equal(1, oq.Count, "the interrupted get took nothing");
            }
        }

        private static void SyncGetWithToken()
        {
            string name = Fixture.Name("atoken");
            using (XProcClient c = Fixture.Connect())
            {
                XProcQueue<long> q = c.Queue<long>(name);
                var cts = new CancellationTokenSource(50);
                try
                {
                    q.Get(cts.Token);
                    Assert.True(false, "Get(token) should have been cancelled");
                }
                catch (OperationCanceledException)
                {
                }
                q.Put(5);
                Assert.Equal(1, q.Count, "the cancelled get took nothing");
                Assert.Equal(5L, q.Get(CancellationToken.None));
            }
        }

        private static void AcquireAsync()
        {
            string name = Fixture.Name("alock");
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                XProcLock mine = c1.Lock(name);
                XProcLock theirs = c2.Lock(name);
                Assert.True(theirs.TryAcquire(), "c2 takes it");
                var cts = new CancellationTokenSource();
                Task<bool> t = mine.AcquireAsync(cts.Token);
                Assert.False(t.Wait(30), "held by c2");
                cts.Cancel();
                try
                {
                    t.Wait(5000);
                    Assert.True(false, "the acquire should have been cancelled");
                }
                catch (AggregateException e) when (e.InnerException is OperationCanceledException)
                {
                }
                theirs.Release();
                Assert.True(theirs.TryAcquire(), "the cancelled acquire left the lock free");
                theirs.Release();
                Assert.True(mine.AcquireAsync().Wait(5000), "granted");
                mine.Release();
            }
        }
    }
}
