// StreamTests.cs: streaming queues against the broker: Post + Flush, GetMany in batches,
// Consume, GetManyLeased + AckMany, and a refused batch reported by Flush.

using System;
using System.Collections.Generic;

namespace XProc.Tests
{
    internal static class StreamTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("stream.post_flush_get_many", PostFlushGetMany);
            yield return new Test("stream.consume_ends_on_idle", ConsumeEndsOnIdle);
            yield return new Test("stream.leased_batch_ack_many", LeasedBatch);
            yield return new Test("stream.refused_batch_reported_by_flush", Refused);
        }

        private static void PostFlushGetMany()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("stream")))
            {
                for (long i = 0; i < 3000; i++)
                {
                    q.Post(i);
                }
                q.Flush();
                Assert.Equal(3000, q.Count, "count after flush");
                var got = new List<object>();
                while (got.Count < 3000)
                {
                    List<object> batch = q.GetMany(500, TimeSpan.Zero);
                    Assert.True(batch.Count >= 1 && batch.Count <= 500, "batch size");
                    got.AddRange(batch);
                }
                for (int i = 0; i < 3000; i++)
                {
                    Assert.Equal((long)i, Convert.ToInt64(got[i]), "item " + i);
                }
                bool threw = false;
                try
                {
                    q.GetMany(10, TimeSpan.FromMilliseconds(50));
                }
                catch (XProcTimeoutException)
                {
                    threw = true;
                }
                Assert.True(threw, "GetMany on an empty queue times out");
            }
        }

        private static void ConsumeEndsOnIdle()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("consume")))
            {
                for (long i = 0; i < 100; i++)
                {
                    q.Post(i);
                }
                q.Flush();
                long n = 0;
                foreach (object item in q.Consume(7, TimeSpan.FromMilliseconds(100)))
                {
                    Assert.Equal(n, Convert.ToInt64(item), "item");
                    n++;
                }
                Assert.Equal(100L, n, "items consumed");
            }
        }

        private static void LeasedBatch()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("leased")))
            {
                for (long i = 0; i < 5; i++)
                {
                    q.Post(i);
                }
                q.Flush();
                List<Delivery<object>> ds = q.GetManyLeased(10, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1));
                Assert.Equal(5, ds.Count, "leased");
                Assert.Equal(1, ds[0].Attempt, "attempt");
                Assert.Equal(5, q.AckMany(ds), "acked");
                Assert.True(ds[4].Settled, "settled");
                Assert.Equal(0, q.AckMany(ds), "acked twice");
                Assert.Equal(0, q.Count, "empty");
            }
        }

        private static void Refused()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("gone");
                using (XProcQueue q = c.Queue(name))
                {
                    q.Post("kept");
                    q.Flush();
                    other.Delete(name);
                    q.Post("lost");
                    bool threw = false;
                    try
                    {
                        q.Flush();
                    }
                    catch (XProcException e)
                    {
                        threw = e.Message.Contains("put_async item 1");
                    }
                    Assert.True(threw, "Flush reports the refused item with its position");
                    q.Flush();
                }
            }
        }
    }
}
