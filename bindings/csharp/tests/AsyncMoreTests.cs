// AsyncMoreTests.cs: the Task-based forms of every blocking call against the broker (join,
// leased get, pipe send/receive/poll, lock/rlock/semaphore acquire, event/barrier/condition
// wait), cancellation that takes nothing (cancelled leased gets and pipe receives while items
// arrive: each counted exactly once), the CancellationToken overloads of the blocking calls,
// and Dispose interrupting threads blocked in the plain overloads (Get(), Receive(),
// Acquire(), Wait()) with ObjectDisposedException.

using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace XProc.Tests
{
    internal static class AsyncMoreTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("async.every_form_completes", EveryForm);
            yield return new Test("async.cancelled_leased_gets_take_nothing", CancelledLeasedGets);
            yield return new Test("async.cancelled_receives_take_nothing", CancelledReceives);
            yield return new Test("async.token_overloads_of_blocking_calls", TokenOverloads);
            yield return new Test("async.dispose_interrupts_plain_blocking_calls", DisposeInterruptsPlainCalls);
            yield return new Test("async.get_any_and_wait_on_many", GetAnyAndWait);
        }

        /// <summary>Waits until the object's stat field <paramref name="field"/> reaches
        /// <paramref name="n"/> (the object may not exist yet).</summary>
        private static void WaitsAt(XProcClient c, string obj, string field, long n)
        {
            Fixture.Eventually(() =>
            {
                try
                {
                    return Convert.ToInt64(c.Stat(obj).Info[field]) == n;
                }
                catch (ObjectNotFoundException)
                {
                    return false;
                }
            }, obj + " " + field + " = " + n);
        }

        private static T Done<T>(Task<T> t, string what)
        {
            Assert.True(t.Wait(10000), what + " completes");
            return t.Result;
        }

        private static void EveryForm()
        {
            string name = Fixture.Name("aform");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                // join and leased get
                XProcJoinableQueue<long> jq = c.JoinableQueue<long>(name + "-j");
                jq.Put(5);
                Task join = jq.JoinAsync();
                Assert.False(join.Wait(30), "one item unfinished");
                XProcJoinableQueue<long> ojq = other.JoinableQueue<long>(name + "-j");
                Assert.Equal(5L, ojq.Get(), "the item");
                ojq.TaskDone();
                Assert.True(join.Wait(10000), "JoinAsync completes once it is done");
                XProcQueue<string> q = c.Queue<string>(name + "-q");
                Task<Delivery<string>> leased = q.GetLeasedAsync(TimeSpan.FromSeconds(30));
                other.Queue<string>(name + "-q").Put("job");
                Delivery<string> d = Done(leased, "GetLeasedAsync");
                Assert.Equal("job", d.Value, "leased value");
                Assert.Equal(1, d.Attempt, "first attempt");
                d.Ack();

                // pipes
                XProcPipe b = c.Pipe(name + "-p", PipeEnd.B);
                XProcPipe a = other.Pipe(name + "-p", PipeEnd.A);
                Assert.False(Done(b.PollAsync(TimeSpan.Zero), "PollAsync(0)"), "nothing yet");
                Task<bool> poll = b.PollAsync(Timeout.InfiniteTimeSpan);
                a.Send("hello");
                Assert.True(Done(poll, "PollAsync"), "ready");
                Assert.Equal("hello", Done(b.ReceiveAsync(), "ReceiveAsync"), "message");
                Task<object> recv = b.ReceiveAsync();
                Assert.False(recv.Wait(30), "nothing sent yet");
                a.Send("again");
                Assert.Equal("again", Done(recv, "ReceiveAsync woken by a send"), "message");
                Assert.True(b.SendAsync(42L).Wait(10000), "SendAsync");
                Assert.Equal(42L, a.Receive(), "sent back");

                // locks, semaphore, event
                XProcRLock rl = c.RLock(name + "-rl");
                Assert.True(Done(rl.AcquireAsync(), "RLock.AcquireAsync"), "rlock");
                Assert.True(Done(rl.AcquireAsync(), "reentrant AcquireAsync"), "again");
                rl.Release();
                rl.Release();
                XProcSemaphore sem = c.Semaphore(name + "-s", 0);
                Task<bool> permit = sem.AcquireAsync();
                Assert.False(permit.Wait(30), "no permit yet");
                other.Semaphore(name + "-s", 0).Release();
                Assert.True(Done(permit, "Semaphore.AcquireAsync"), "permit");
                XProcEvent ev = c.Event(name + "-e");
                Task<bool> set = ev.WaitAsync();
                other.Event(name + "-e").Set();
                Assert.True(Done(set, "Event.WaitAsync"), "set");

                // barrier and condition
                XProcBarrier bar = c.Barrier(name + "-b", 2);
                Task<long> mine = bar.WaitAsync();
                long theirs = other.Barrier(name + "-b", 2).Wait();
                Assert.Equal(1L, Done(mine, "Barrier.WaitAsync") + theirs, "indices 0 and 1");
                XProcCondition cond = c.Condition(name + "-c");
                XProcCondition ocond = other.Condition(name + "-c");
                Assert.True(Done(cond.AcquireAsync(), "Condition.AcquireAsync"), "condition lock");
                Task<bool> notified = cond.WaitAsync();
                using (ocond.Acquire(TimeSpan.FromSeconds(10)))
                {
                    Assert.Equal(1L, ocond.Notify(), "one waiter woken");
                }
                Assert.True(Done(notified, "Condition.WaitAsync"), "notified");
                cond.Release();
            }
        }

        private static void GetAnyAndWait()
        {
            string name = Fixture.Name("amany");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                XProcQueue<long> qa = c.Queue<long>(name + "-a");
                XProcQueue<long> qb = c.Queue<long>(name + "-b");
                XProcEvent ev = c.Event(name + "-e");
                var both = new List<XProcQueue<long>> { qa, qb };
                Assert.Throws<XProcTimeoutException>(() => c.GetAny(both, TimeSpan.Zero), "nothing yet");
                Task<Tuple<int, long>> any = c.GetAnyAsync(both);
                Assert.False(any.Wait(30), "waiting");
                other.Queue<long>(name + "-b").Put(11);
                Tuple<int, long> got = Done(any, "GetAnyAsync");
                Assert.Equal(1, got.Item1, "from the second queue");
                Assert.Equal(11L, got.Item2, "the item");
                other.Queue<long>(name + "-a").Put(12);
                Assert.Equal(12L, c.GetAny(both, TimeSpan.FromSeconds(10)).Item2, "blocking GetAny");
                using (var cts = new CancellationTokenSource())
                {
                    cts.CancelAfter(50);
                    Assert.Throws<OperationCanceledException>(() => c.GetAny(both, cts.Token), "cancelled GetAny");
                }
                var objs = new List<XProcObject> { qa, qb, ev };
                Assert.Equal(0, c.Wait(objs, TimeSpan.Zero).Count, "nothing ready");
                Task<IList<int>> ready = c.WaitAsync(objs);
                other.Event(name + "-e").Set();
                IList<int> which = Done(ready, "WaitAsync");
                Assert.Equal(1, which.Count, "one ready");
                Assert.Equal(2, which[0], "the event");
                other.Queue<long>(name + "-a").Put(13);
                Assert.Equal(2, c.Wait(objs, TimeSpan.FromSeconds(10)).Count, "the queue and the event");
                Assert.Equal(13L, qa.Get(TimeSpan.FromSeconds(5)), "the cancelled GetAny took nothing");
            }
        }

        private static void CancelledLeasedGets()
        {
            const int gets = 200;
            const int items = 100;
            string name = Fixture.Name("aleased");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient producer = Fixture.Connect())
            {
                // max_attempts 1: a hand-over charged as an attempt would dead-letter the item.
                XProcQueue<long> q = c.Queue<long>(name, null, 1);
                var sources = new List<CancellationTokenSource>();
                var tasks = new List<Task<Delivery<long>>>();
                for (int i = 0; i < gets; i++)
                {
                    var cts = new CancellationTokenSource();
                    sources.Add(cts);
                    tasks.Add(q.GetLeasedAsync(TimeSpan.FromSeconds(60), cts.Token));
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
                foreach (Task<Delivery<long>> t in tasks)
                {
                    try
                    {
                        t.Wait(10000);
                        Assert.True(seen.Add(t.Result.Value), "an item delivered twice");
                        t.Result.Ack();
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
                Assert.True(cancelled > 0, "some gets were cancelled");
                Assert.Equal(0L, Convert.ToInt64(c.Stat(name).Info["dead_lettered"]), "nothing dead-lettered");
            }
        }

        private static void CancelledReceives()
        {
            const int receives = 200;
            const int messages = 100;
            string name = Fixture.Name("arecv");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient sender = Fixture.Connect())
            {
                XProcPipe b = c.Pipe(name, PipeEnd.B);
                var sources = new List<CancellationTokenSource>();
                var tasks = new List<Task<object>>();
                for (int i = 0; i < receives; i++)
                {
                    var cts = new CancellationTokenSource();
                    sources.Add(cts);
                    tasks.Add(b.ReceiveAsync(cts.Token));
                }
                XProcPipe a = sender.Pipe(name, PipeEnd.A);
                var send = new Thread(() =>
                {
                    for (long n = 0; n < messages; n++)
                    {
                        a.Send(n);
                    }
                });
                send.Start();
                foreach (CancellationTokenSource cts in sources)
                {
                    cts.Cancel();
                }
                send.Join();
                var seen = new HashSet<long>();
                int cancelled = 0;
                foreach (Task<object> t in tasks)
                {
                    try
                    {
                        t.Wait(10000);
                        Assert.True(seen.Add((long)t.Result), "a message received twice");
                    }
                    catch (AggregateException e) when (e.InnerException is OperationCanceledException)
                    {
                        cancelled++;
                    }
                }
                object left;
                while (b.TryReceive(out left))
                {
                    Assert.True(seen.Add((long)left), "a message both received and left");
                }
                Assert.Equal(messages, seen.Count, "every message exactly once");
                Assert.True(cancelled > 0, "some receives were cancelled");
            }
        }

        private static void TokenOverloads()
        {
            string name = Fixture.Name("atoken");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                // Each call waits at the broker until the token fires: it throws
                // OperationCanceledException and takes nothing.
                var cancelled = new List<Action<CancellationToken>>
                {
                    t => c.Queue<long>(name + "-q").Get(t),
                    t => c.JoinableQueue<long>(name + "-j").GetLeased(null, t),
                    t => c.Pipe(name + "-p", PipeEnd.B).Receive(t),
                    t => c.Event(name + "-e").Wait(t),
                    t => c.Semaphore(name + "-s", 0).Acquire(t),
                };
                other.JoinableQueue<long>(name + "-j2").Put(1);
                cancelled.Add(t => c.JoinableQueue<long>(name + "-j2").Join(t));
                other.Lock(name + "-l").Acquire();
                cancelled.Add(t => c.Lock(name + "-l").Acquire(t));
                foreach (Action<CancellationToken> call in cancelled)
                {
                    using (var cts = new CancellationTokenSource())
                    {
                        cts.CancelAfter(50);
                        Assert.Throws<OperationCanceledException>(() => call(cts.Token), "a cancelled blocking call");
                    }
                }
                other.Queue<long>(name + "-q").Put(7);
                Assert.Equal(7L, c.Queue<long>(name + "-q").Get(CancellationToken.None), "the cancelled get took nothing");
                Assert.Equal(1L, Convert.ToInt64(c.Stat(name + "-j2").Info["unfinished"]), "join took nothing");
                // A cancelled barrier wait breaks the barrier, as its timeout does.
                XProcBarrier bar = c.Barrier(name + "-b", 2);
                using (var cts = new CancellationTokenSource())
                {
                    cts.CancelAfter(50);
                    Assert.Throws<OperationCanceledException>(() => bar.Wait(cts.Token), "cancelled barrier wait");
                }
                Assert.True(bar.IsBroken, "the barrier broke");
                // A cancelled condition wait returns holding the lock again.
                XProcCondition cond = c.Condition(name + "-c");
                cond.Acquire();
                using (var cts = new CancellationTokenSource())
                {
                    cts.CancelAfter(50);
                    Assert.Throws<OperationCanceledException>(() => cond.Wait(cts.Token), "cancelled condition wait");
                }
                Assert.False(other.Condition(name + "-c").TryAcquire(), "the lock is held again");
                cond.Release();
                Assert.True(other.Condition(name + "-c").TryAcquire(TimeSpan.FromSeconds(5)), "then free");
            }
        }

        private static void DisposeInterruptsPlainCalls()
        {
            string name = Fixture.Name("aplain");
            XProcClient c = Fixture.Connect();
            XProcClient other = Fixture.Connect();
            other.Lock(name + "-l").Acquire();
            // A full bounded queue and a full pipe inbox, for a put and a send of values large
            // enough to travel as memfds when they do not wait (more than 160 KiB).
            byte[] big = new byte[300 * 1024];
            other.Queue<byte[]>(name + "-f", 1).Put(new byte[] { 1 });
            XProcPipe sender = c.Pipe(name + "-s", PipeEnd.A, capacity: 1);
            sender.Send(new byte[] { 2 });
            var calls = new List<Action>
            {
                () => c.Queue<long>(name + "-q").Get(),
                () => c.Queue<long>(name + "-q").Get(TimeSpan.FromMinutes(5)),
                () => c.Pipe(name + "-p", PipeEnd.B).Receive(),
                () => c.Lock(name + "-l").Acquire(),
                () => c.Event(name + "-e").Wait(),
                () => c.Barrier(name + "-b", 2).Wait(),
                () => c.JoinableQueue<long>(name + "-j").GetLeased(),
                () => c.Queue<byte[]>(name + "-f", 1).Put(big),
                () => sender.Send(big),
            };
            var failures = new Exception[calls.Count];
            var threads = new List<Thread>();
            for (int i = 0; i < calls.Count; i++)
            {
                int k = i;
                var th = new Thread(() =>
                {
                    try
                    {
                        calls[k]();
                    }
                    catch (Exception e)
                    {
                        failures[k] = e;
                    }
                });
                th.Start();
                threads.Add(th);
            }
            // Every call is waiting at the broker (its request is blocked there).
            WaitsAt(other, name + "-q", "getters", 2);
            WaitsAt(other, name + "-p", "waiters", 1);
            WaitsAt(other, name + "-l", "waiters", 1);
            WaitsAt(other, name + "-e", "waiters", 1);
            WaitsAt(other, name + "-b", "n_waiting", 1);
            WaitsAt(other, name + "-j", "getters", 1);
            WaitsAt(other, name + "-f", "putters", 1);
            WaitsAt(other, name + "-s", "waiters", 1);
            c.Dispose();
            foreach (Thread th in threads)
            {
                Assert.True(th.Join(10000), "a blocked call returned after Dispose");
            }
            for (int i = 0; i < calls.Count; i++)
            {
                Assert.True(failures[i] is ObjectDisposedException,
                    "call " + i + ": ObjectDisposedException, got " + (failures[i] == null ? "no exception" : failures[i].ToString()));
            }
            // The interrupted gets took nothing.
            XProcQueue<long> oq = other.Queue<long>(name + "-q");
            oq.Put(9);
            Assert.Equal(9L, oq.Get(TimeSpan.FromSeconds(5)), "the item stayed");
            // The interrupted put and send put nothing: the one item and the one message are
            // all there is.
            XProcQueue<byte[]> full = other.Queue<byte[]>(name + "-f", 1);
            Assert.Equal(1, full.Get(TimeSpan.FromSeconds(5)).Length, "the first item");
            Assert.False(full.TryGet(out byte[] _), "the interrupted put went in");
            XProcPipe receiver = other.Pipe(name + "-s", PipeEnd.B);
            Assert.Equal(1, ((byte[])receiver.Receive(TimeSpan.FromSeconds(5))).Length, "the first message");
            Assert.False(receiver.Poll(TimeSpan.FromMilliseconds(300)), "the interrupted send arrived");
            other.Dispose();
        }
    }
}
