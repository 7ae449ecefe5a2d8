// LeaseTests.cs: acknowledged delivery against the broker: GetLeased/Ack/Nack, a lease that
// runs out, a client that goes away holding a lease, Dispose nacking an unsettled delivery,
// repeated and foreign acks, JoinableQueue counting acks as done, and maxAttempts moving items
// to NAME.dead.

using System;
using System.Collections.Generic;

namespace XProc.Tests
{
    internal static class LeaseTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("lease.ack_nack_and_attempts", AckNack);
            yield return new Test("lease.expiry_redelivers", Expiry);
            yield return new Test("lease.disconnect_returns_the_item", Disconnect);
            yield return new Test("lease.dispose_nacks_unsettled", DisposeNacks);
            yield return new Test("lease.joinable_counts_acks", JoinableCountsAcks);
            yield return new Test("lease.max_attempts_dead_letters", MaxAttemptsDeadLetters);
            yield return new Test("lease.max_attempts_fixed_at_creation", MaxAttemptsFixed);
        }

        private static void AckNack()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("leases");
                using (XProcQueue q = c.Queue(name))
                using (XProcQueue q2 = other.Queue(name))
                {
                    q.Put("first");
                    q.Put("second");
                    Delivery<object> d = q.GetLeased(TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1));
                    Assert.Equal("first", d.Value, "value");
                    Assert.Equal(1, d.Attempt, "attempt");
                    Assert.True(d.Id != 0, "delivery id");
                    Assert.Equal(1, q.Count, "the leased item is not counted");
                    // Another client's handle on the queue sees it in flight, not ready.
                    Assert.Equal(1, q2.Count, "ready items");
                    d.Nack();
                    Assert.Throws<UnknownDeliveryException>(() => d.Ack(), "ack after nack");
                    Delivery<object> again = q.GetLeased();
                    Assert.Equal("first", again.Value, "back at the head");
                    Assert.Equal(2, again.Attempt, "second attempt");
                    again.Ack();
                    Assert.Throws<UnknownDeliveryException>(() => again.Ack(), "repeated ack");
                    Delivery<object> last;
                    Assert.True(q.TryGetLeased(out last), "try");
                    Assert.Equal("second", last.Value, "second item");
                    last.Ack();
                    Assert.False(q.TryGetLeased(out last), "empty");
                    Assert.Throws<XProcTimeoutException>(
                        () => q.GetLeased(TimeSpan.FromMilliseconds(10)), "timeout");
                }
            }
        }

        private static void Expiry()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("expiry")))
            {
                q.Put(7);
                Delivery<object> d = q.GetLeased(null, TimeSpan.FromMilliseconds(20));
                // Never acked: the lease runs out and a waiting get receives it again.
                Delivery<object> again = q.GetLeased(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
                Assert.Equal(7L, again.Value, "value");
                Assert.Equal(2, again.Attempt, "attempt");
                Assert.Throws<UnknownDeliveryException>(() => d.Ack(), "stale ack");
                again.Ack();
            }
        }

        private static void Disconnect()
        {
            string name = Fixture.Name("gone");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(name))
            {
                q.Put("held");
                XProcClient holder = Fixture.Connect();
                XProcQueue hq = holder.Queue(name);
                Delivery<object> d = hq.GetLeased(null, TimeSpan.FromHours(1));
                Assert.Equal("held", d.Value, "value");
                hq.Dispose();
                holder.Dispose();
                Delivery<object> back = q.GetLeased(TimeSpan.FromSeconds(10));
                Assert.Equal("held", back.Value, "returned at once");
                Assert.Equal(2, back.Attempt, "attempt");
                back.Ack();
            }
        }

        private static void DisposeNacks()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(Fixture.Name("dispose")))
            {
                q.Put(1);
                try
                {
                    using (Delivery<object> d = q.GetLeased(null, TimeSpan.FromHours(1)))
                    {
                        throw new ApplicationException("processing failed");
                    }
                }
                catch (ApplicationException)
                {
                }
                Delivery<object> back = q.GetLeased(TimeSpan.FromSeconds(5));
                Assert.Equal(2, back.Attempt, "nacked by Dispose, delivered again");
                using (back)
                {
                    back.Ack();
                }
                Assert.True(q.IsEmpty, "acked, so Dispose gave nothing back");
            }
        }

        private static void JoinableCountsAcks()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcJoinableQueue q = c.JoinableQueue(Fixture.Name("joinack")))
            {
                q.Put("job");
                Delivery<object> d = q.GetLeased();
                Assert.False(q.Join(TimeSpan.FromMilliseconds(20)), "unfinished while in flight");
                d.Ack();
                Assert.True(q.Join(TimeSpan.FromSeconds(5)), "the ack counted as done");
            }
        }

        private static void MaxAttemptsDeadLetters()
        {
            string name = Fixture.Name("twice");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(name, null, 2))
            using (XProcQueue dead = c.Queue(name + ".dead"))
            {
                Assert.Equal(2L, c.Stat(name).Info["max_attempts"], "max_attempts");
                q.Put("nacked");
                q.Put("expired");
                for (int attempt = 1; attempt <= 2; attempt++)
                {
                    Delivery<object> d = q.GetLeased(TimeSpan.FromSeconds(5));
                    Assert.Equal("nacked", d.Value, "value");
                    Assert.Equal(attempt, d.Attempt, "attempt");
                    d.Nack();
                }
                Assert.Equal("nacked", dead.Get(TimeSpan.FromSeconds(5)), "dead-lettered after 2 nacks");
                // Expired leases count too.
                q.GetLeased(TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
                Delivery<object> last = q.GetLeased(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20));
                Assert.Equal(2, last.Attempt, "second lease");
                Assert.Equal("expired", dead.Get(TimeSpan.FromSeconds(30)), "dead-lettered after 2 expiries");
                Assert.True(q.IsEmpty, "nothing left");
            }
            using (XProcClient c = Fixture.Connect())
            using (XProcJoinableQueue jq = c.JoinableQueue(Fixture.Name("never"), maxAttempts: 0))
            {
                jq.Put("again");
                for (int attempt = 1; attempt <= 7; attempt++)
                {
                    Delivery<object> d = jq.GetLeased(TimeSpan.FromSeconds(5));
                    Assert.Equal(attempt, d.Attempt, "attempt with maxAttempts 0");
                    d.Nack();
                }
                jq.GetLeased(TimeSpan.FromSeconds(5)).Ack();
                Assert.True(jq.Join(TimeSpan.FromSeconds(5)), "never dead-lettered");
            }
        }

        private static void MaxAttemptsFixed()
        {
            string name = Fixture.Name("attempts");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(name, maxAttempts: 3))
            {
                c.Queue(name).Dispose(); // not given: the existing value is accepted
                c.Queue(name, null, 3).Dispose();
                var e = Assert.Throws<ObjectMismatchException>(
                    () => c.Queue(name, null, 4), "another maxAttempts");
                Assert.Equal(XProcStatus.OptionMismatch, e.Status, "status");
                Assert.True(e.Message.Contains("max_attempts"), "the message names the option: " + e.Message);
                // Created without it: the broker's default, 5.
                string plain = Fixture.Name("attempts-default");
                c.Queue(plain).Dispose();
                Assert.Equal(5L, c.Stat(plain).Info["max_attempts"], "default max_attempts");
                Assert.Throws<ObjectMismatchException>(() => c.Queue(plain, maxAttempts: 0), "0 differs from 5");
                Assert.Throws<ObjectMismatchException>(
                    () => c.JoinableQueue(name, maxAttempts: 3), "a plain queue is not joinable");
                Assert.Throws<ArgumentOutOfRangeException>(
                    () => c.Queue(Fixture.Name("attempts-bad"), null, -1), "negative maxAttempts");
            }
        }
    }
}
