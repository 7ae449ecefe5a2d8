// QueueTests.cs: Queue and JoinableQueue against the broker: FIFO order, every value type,
// timeouts and their exceptions, bounded queues, blocking calls woken by other clients,
// pipelined puts, task_done/join.

using System;
using System.Collections.Generic;
using System.Threading;

namespace XProc.Tests
{
    internal static class QueueTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("queue.fifo_every_value_type", FifoEveryValueType);
            yield return new Test("queue.get_timeout_and_try_get", GetTimeout);
            yield return new Test("queue.bounded_put_full", BoundedPutFull);
            yield return new Test("queue.blocked_get_woken_by_other_client", BlockedGetWoken);
            yield return new Test("queue.blocked_put_woken_by_get", BlockedPutWoken);
            yield return new Test("queue.put_many_pipelined", PutMany);
            yield return new Test("queue.large_value", LargeValue);
            yield return new Test("queue.joinable_task_done_join", Joinable);
            yield return new Test("queue.joinable_join_woken", JoinWoken);
        }

        /// <summary>Values as put, and as they come back (the decoded .NET types).</summary>
        internal static List<KeyValuePair<object, object>> ValueCases()
        {
            var cases = new List<KeyValuePair<object, object>>();
            Action<object, object> add = (sent, back) => cases.Add(new KeyValuePair<object, object>(sent, back));
            add(null, null);
            add(true, true);
            add(false, false);
            add(0, 0L);
            add(-1, -1L);
            add(long.MinValue, long.MinValue);
            add(long.MaxValue, long.MaxValue);
            add(ulong.MaxValue, ulong.MaxValue);
            add((byte)200, 200L);
            add(1.5, 1.5);
            add(0.25f, 0.25);
            add(double.NaN, double.NaN);
            add(double.NegativeInfinity, double.NegativeInfinity);
            add("", "");
            add("héllo wörld ✓ 日本 🦀", "héllo wörld ✓ 日本 🦀");
            add(new byte[0], new byte[0]);
            add(new byte[] { 0, 1, 255 }, new byte[] { 0, 1, 255 });
            add(new object[0], new List<object>());
            add(new object[] { 1, "two", null, new[] { 3 } }, new List<object> { 1L, "two", null, new List<object> { 3L } });
            add(new Dictionary<string, object>(), new Dictionary<object, object>());
            add(new Dictionary<object, object> { { "k", 1 }, { 2, new byte[] { 9 } } },
                new Dictionary<object, object> { { "k", 1L }, { 2L, new byte[] { 9 } } });
            add(new Timestamp(1700000000, 5), new Timestamp(1700000000, 5));
            add(new Extension(7, new byte[] { 1, 2 }), new Extension(7, new byte[] { 1, 2 }));
            return cases;
        }

        private static void FifoEveryValueType()
        {
            using (XProcClient producer = Fixture.Connect())
            using (XProcClient consumer = Fixture.Connect())
            {
                string name = Fixture.Name("values");
                List<KeyValuePair<object, object>> cases = ValueCases();
                using (XProcQueue q = producer.Queue(name))
                {
                    foreach (KeyValuePair<object, object> c in cases)
                    {
                        q.Put(c.Key);
                    }
                    Assert.Equal(cases.Count, q.Count, "count");
                }
                using (XProcQueue q = consumer.Queue(name))
                {
                    foreach (KeyValuePair<object, object> c in cases)
                    {
                        Assert.Equal(c.Value, q.Get(TimeSpan.FromSeconds(5)), "item sent as " + Assert.Show(c.Key));
                    }
                    Assert.True(q.IsEmpty, "empty after getting everything");
                }
            }
        }

        private static void GetTimeout()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("timeout")))
            {
                XProcTimeoutException e = Assert.Throws<XProcTimeoutException>(() => q.Get(TimeSpan.FromMilliseconds(30)));
                Assert.Equal(XProcStatus.Timeout, e.Status, "status after a timeout");
                e = Assert.Throws<XProcTimeoutException>(() => q.Get(TimeSpan.Zero));
                Assert.Equal(XProcStatus.Empty, e.Status, "status with a zero timeout");
                // The standard catch works, and so does the interface.
                Assert.Throws<TimeoutException>(() => q.Get(TimeSpan.FromMilliseconds(1)));
                try
                {
                    q.Get(TimeSpan.Zero);
                }
                catch (Exception ex) when (ex is IXProcException)
                {
                    Assert.Equal(XProcStatus.Empty, ((IXProcException)ex).Status, "status through IXProcException");
                }
                object item;
                Assert.False(q.TryGet(out item), "TryGet on an empty queue");
                Assert.Equal(null, item, "out value after a failed TryGet");
                Assert.False(q.TryGet(out item, TimeSpan.FromMilliseconds(20)), "TryGet with a timeout");
                q.Put("x");
                Assert.True(q.TryGet(out item), "TryGet with an item");
                Assert.Equal("x", item, "item");
            }
        }

        private static void BoundedPutFull()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("bounded"), 2))
            {
                Assert.Equal(2L, q.MaxSize, "maxsize");
                Assert.False(q.IsFull, "full when empty");
                Assert.True(q.TryPut(1), "first put");
                Assert.True(q.TryPut(2, TimeSpan.FromMilliseconds(10)), "second put");
                Assert.False(q.TryPut(3), "a third put on a full queue");
                Assert.False(q.TryPut(3, TimeSpan.FromMilliseconds(20)), "a third put with a timeout");
                Assert.True(q.IsFull, "full");
                Assert.Equal(2, q.Count, "count");
                XProcTimeoutException e = Assert.Throws<XProcTimeoutException>(() => q.Put(3, TimeSpan.Zero));
                Assert.Equal(XProcStatus.Full, e.Status, "status with a zero timeout");
                e = Assert.Throws<XProcTimeoutException>(() => q.Put(3, TimeSpan.FromMilliseconds(30)));
                Assert.Equal(XProcStatus.Timeout, e.Status, "status after a timeout");
                Assert.Equal(1L, q.Get(), "first out");
                Assert.Equal(2L, q.Get(), "second out");
                using (XProcQueue unbounded = c.Queue(Fixture.Name("unbounded")))
                {
                    Assert.Equal(0L, unbounded.MaxSize, "unbounded maxsize");
                    unbounded.Put(1);
                    Assert.False(unbounded.IsFull, "an unbounded queue is never full");
                }
            }
        }

        private static void BlockedGetWoken()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("wake");
                object got = null;
                XProcQueue theirs = other.Queue(name);
                Worker w = Fixture.Start(() => got = theirs.Get());
                Fixture.Eventually(() => (long)c.Stat(name).Info["getters"] == 1, "the get is blocked");
                using (XProcQueue q = c.Queue(name))
                {
                    q.Put(new Dictionary<string, object> { { "task", 7 } });
                }
                w.Finish();
                Assert.Equal(new Dictionary<object, object> { { "task", 7L } }, got, "item the blocked get took");
                theirs.Dispose();
            }
        }

        private static void BlockedPutWoken()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("wakeput");
                using (XProcQueue q = c.Queue(name, 1))
                {
                    q.Put("first");
                    XProcQueue theirs = other.Queue(name);
                    Worker w = Fixture.Start(() => theirs.Put("second"));
                    Fixture.Eventually(() => (long)c.Stat(name).Info["putters"] == 1, "the put is blocked");
                    Assert.Equal("first", q.Get(), "first");
                    w.Finish();
                    Assert.Equal("second", q.Get(TimeSpan.FromSeconds(5)), "the blocked put's item");
                    theirs.Dispose();
                }
            }
        }

        private static void PutMany()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("many")))
            {
                var items = new List<object>();
                for (int i = 0; i < 1000; i++)
                {
                    items.Add(i % 3 == 0 ? (object)("s" + i) : i);
                }
                Assert.Equal(1000, q.PutMany(items), "put count");
                Assert.Equal(0, q.PutMany(new object[0]), "an empty batch");
                Assert.Equal(1000, q.Count, "count");
                for (int i = 0; i < 1000; i++)
                {
                    object expected = i % 3 == 0 ? (object)("s" + i) : (long)i;
                    Assert.Equal(expected, q.Get(), "item " + i);
                }
            }
        }

        private static void LargeValue()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("large")))
            {
                var big = new byte[1 << 20];
                for (int i = 0; i < big.Length; i++)
                {
                    big[i] = (byte)(i % 251);
                }
                q.Put(big);
                q.Put(new string('x', 100000));
                Assert.Equal(big, q.Get(), "1 MiB of bytes");
                Assert.Equal(new string('x', 100000), q.Get(), "a 100 kB string");
            }
        }

        private static void Joinable()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcJoinableQueue q = c.JoinableQueue(Fixture.Name("join")))
            {
                Assert.True(q.Join(TimeSpan.Zero), "join on a fresh queue");
                q.Put("a");
                q.Put("b");
                Assert.Equal(2L, q.Unfinished, "unfinished after two puts");
                Assert.False(q.Join(TimeSpan.FromMilliseconds(30)), "join with unfinished items");
                q.Get();
                q.TaskDone();
                q.Get();
                q.TaskDone();
                Assert.Equal(0L, q.Unfinished, "unfinished after two task_done");
                Assert.True(q.Join(TimeSpan.FromSeconds(1)), "join once everything is done");
                q.Join();
                XProcException e = Assert.Throws<XProcException>(() => q.TaskDone(), "task_done more times than items");
                Assert.Equal(XProcStatus.InvalidArgument, e.Status, "status");
                Assert.Throws<InvalidOperationException>(() => q.TaskDone(), "the standard catch");
            }
        }

        private static void JoinWoken()
        {
            using (XProcClient producer = Fixture.Connect())
            using (XProcClient consumer = Fixture.Connect())
            {
                string name = Fixture.Name("joinwake");
                using (XProcJoinableQueue q = producer.JoinableQueue(name))
                {
                    for (int i = 0; i < 3; i++)
                    {
                        q.Put(i);
                    }
                    Worker w = Fixture.Start(() => q.Join());
                    Fixture.Eventually(() => (long)producer.Stat(name).Info["joiners"] == 1, "the join is blocked");
                    using (XProcJoinableQueue theirs = consumer.JoinableQueue(name))
                    {
                        for (int i = 0; i < 3; i++)
                        {
                            Assert.Equal((long)i, theirs.Get(), "item");
                            theirs.TaskDone();
                        }
                    }
                    w.Finish();
                }
            }
        }
    }
}
