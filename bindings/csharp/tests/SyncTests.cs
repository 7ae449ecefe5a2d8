// SyncTests.cs: Semaphore, BoundedSemaphore, Event, Condition and Barrier against the
// broker, each across several connections (threads with their own clients).

using System;
using System.Collections.Generic;

namespace XProc.Tests
{
    internal static class SyncTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("semaphore.permits", SemaphorePermits);
            yield return new Test("semaphore.waiter_woken_and_disconnect_returns_permits", SemaphoreWokenAndReturned);
            yield return new Test("semaphore.bounded_over_release", BoundedOverRelease);
            yield return new Test("event.set_clear_wait", EventSetClearWait);
            yield return new Test("condition.wait_notify", ConditionWaitNotify);
            yield return new Test("condition.wait_timeout_keeps_lock", ConditionWaitTimeout);
            yield return new Test("condition.wait_for", ConditionWaitFor);
            yield return new Test("condition.not_owner", ConditionNotOwner);
            yield return new Test("barrier.indices", BarrierIndices);
            yield return new Test("barrier.timeout_breaks_reset_repairs", BarrierTimeoutBreaks);
            yield return new Test("barrier.abort", BarrierAbort);
        }

        private static void SemaphorePermits()
        {
            using (XProcClient c = Fixture.Connect())
            {
                string name = Fixture.Name("sem");
                using (XProcSemaphore s = c.Semaphore(name, 2))
                {
                    Assert.True(s.TryAcquire(), "first permit");
                    Assert.True(s.TryAcquire(TimeSpan.FromMilliseconds(10)), "second permit");
                    Assert.False(s.TryAcquire(), "no third permit");
                    XProcTimeoutException e = Assert.Throws<XProcTimeoutException>(() => s.Acquire(TimeSpan.FromMilliseconds(30)));
                    Assert.Equal(XProcStatus.Timeout, e.Status, "status");
                    s.Release(2);
                    using (s.Acquire())
                    using (s.Acquire(TimeSpan.FromSeconds(1)))
                    {
                        Assert.Equal(0L, c.Stat(name).Info["value"], "both permits taken");
                    }
                    Assert.Equal(2L, c.Stat(name).Info["value"], "both returned by the releasers");
                    ObjectMismatchException m = Assert.Throws<ObjectMismatchException>(() => c.Semaphore(name, 3), "another initial value");
                    Assert.Equal(XProcStatus.OptionMismatch, m.Status, "status");
                    Assert.Throws<ArgumentOutOfRangeException>(() => s.Release(0), "releasing 0 permits");
                }
            }
        }

        private static void SemaphoreWokenAndReturned()
        {
            using (XProcClient c = Fixture.Connect())
            {
                string name = Fixture.Name("semwake");
                using (XProcSemaphore s = c.Semaphore(name, 1))
                {
                    s.Acquire();
                    XProcClient other = Fixture.Connect();
                    XProcSemaphore theirs = other.Semaphore(name, 1);
                    Worker w = Fixture.Start(() => theirs.Acquire());
                    Fixture.Eventually(() => (long)c.Stat(name).Info["waiters"] == 1, "the other acquire waits");
                    s.Release();
                    w.Finish();
                    Assert.False(s.TryAcquire(), "the waiter took the permit");
                    // The holder disconnects without releasing: its permit comes back.
                    theirs.Dispose();
                    other.Dispose();
                    Assert.True(s.TryAcquire(TimeSpan.FromSeconds(20)), "the permit came back on disconnect");
                    s.Release();
                }
            }
        }

        private static void BoundedOverRelease()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcBoundedSemaphore s = c.BoundedSemaphore(Fixture.Name("bounded"), 1))
            {
                XProcException e = Assert.Throws<XProcException>(() => s.Release(), "releasing above the initial value");
                Assert.Equal(XProcStatus.InvalidArgument, e.Status, "status");
                Assert.Throws<InvalidOperationException>(() => s.Release(), "the standard catch");
                s.Acquire();
                s.Release();
                using (XProcSemaphore plain = c.Semaphore(Fixture.Name("plain"), 1))
                {
                    plain.Release(3);
                    Assert.True(plain.TryAcquire() && plain.TryAcquire() && plain.TryAcquire() && plain.TryAcquire(), "a plain semaphore grows");
                }
            }
        }

        private static void EventSetClearWait()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("event");
                using (XProcEvent e = c.Event(name))
                using (XProcEvent theirs = other.Event(name))
                {
                    Assert.False(e.IsSet, "a new event is clear");
                    Assert.False(e.Wait(TimeSpan.FromMilliseconds(30)), "a wait times out");
                    Assert.False(e.Wait(TimeSpan.Zero), "a zero wait just looks");
                    Worker w = Fixture.Start(() => theirs.Wait());
                    Fixture.Eventually(() => (long)c.Stat(name).Info["waiters"] == 1, "the other wait is blocked");
                    e.Set();
                    w.Finish();
                    Assert.True(theirs.IsSet, "set, seen from another connection");
                    Assert.True(e.Wait(TimeSpan.Zero), "a set event's wait returns at once");
                    e.Reset();
                    Assert.False(theirs.IsSet, "cleared");
                }
            }
        }

        private static void ConditionWaitNotify()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("cond");
                using (XProcCondition cond = c.Condition(name))
                using (XProcCondition theirs = other.Condition(name))
                {
                    bool notified = false;
                    Worker w = Fixture.Start(() =>
                    {
                        using (theirs.Acquire())
                        {
                            notified = theirs.Wait(TimeSpan.FromSeconds(20));
                            // Wait reacquired the lock: releasing it (by the using) must work.
                        }
                    });
                    Fixture.Eventually(() => (long)c.Stat(name).Info["waiting"] == 1, "the other connection waits");
                    using (cond.Acquire())
                    {
                        Assert.Equal(1L, cond.Notify(), "one waiter woken");
                        Assert.Equal(0L, cond.NotifyAll(), "nobody left to wake");
                    }
                    w.Finish();
                    Assert.True(notified, "the waiter was notified");
                }
            }
        }

        private static void ConditionWaitTimeout()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcCondition cond = c.Condition(Fixture.Name("condtimeout")))
            {
                cond.Acquire();
                Assert.False(cond.Wait(TimeSpan.FromMilliseconds(30)), "no notify came");
                Assert.False(cond.Wait(TimeSpan.Zero), "a zero wait");
                cond.Release();
                Assert.Throws<NotOwnerException>(() => cond.Release(), "released exactly once: the waits reacquired it");
            }
        }

        private static void ConditionWaitFor()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("waitfor");
                using (XProcCondition cond = c.Condition(name))
                using (XProcDict state = c.Dict(name + "-state"))
                {
                    state["ready"] = 0;
                    bool result = false;
                    Worker w = Fixture.Start(() =>
                    {
                        using (cond.Acquire())
                        {
                            result = cond.WaitFor(() => (long)state["ready"] >= 3, TimeSpan.FromSeconds(20));
                        }
                    });
                    using (XProcCondition theirs = other.Condition(name))
                    using (XProcDict theirState = other.Dict(name + "-state"))
                    {
                        for (int i = 0; i < 3; i++)
                        {
                            using (theirs.Acquire())
                            {
                                theirState.Increment("ready");
                                theirs.NotifyAll();
                            }
                        }
                    }
                    w.Finish();
                    Assert.True(result, "the predicate came true");
                    using (cond.Acquire())
                    {
                        Assert.False(cond.WaitFor(() => false, TimeSpan.FromMilliseconds(50)), "a predicate that never holds times out");
                        Assert.True(cond.WaitFor(() => true, TimeSpan.Zero), "a predicate that holds returns at once");
                        cond.WaitFor(() => true);
                    }
                }
            }
        }

        private static void ConditionNotOwner()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcCondition cond = c.Condition(Fixture.Name("condowner")))
            {
                NotOwnerException e = Assert.Throws<NotOwnerException>(() => cond.Wait(TimeSpan.FromMilliseconds(10)), "waiting without the lock");
                Assert.Equal(XProcStatus.NotOwner, e.Status, "status");
                Assert.Throws<NotOwnerException>(() => cond.Notify(), "notifying without the lock");
                Assert.Throws<NotOwnerException>(() => cond.NotifyAll(), "notifying all without the lock");
                using (Releaser r = cond.Acquire())
                {
                    Assert.False(r.Abandoned, "a condition's lock reports abandonment like a lock");
                    Assert.Equal(0L, cond.Notify(3), "notify with nobody waiting");
                }
            }
        }

        private static void BarrierIndices()
        {
            string name = Fixture.Name("barrier");
            var indices = new List<long>();
            var workers = new List<Worker>();
            for (int i = 0; i < 3; i++)
            {
                workers.Add(Fixture.Start(() =>
                {
                    using (XProcClient c = Fixture.Connect())
                    using (XProcBarrier b = c.Barrier(name, 3))
                    {
                        long index = b.Wait(TimeSpan.FromSeconds(20));
                        lock (indices)
                        {
                            indices.Add(index);
                        }
                    }
                }));
            }
            foreach (Worker w in workers)
            {
                w.Finish();
            }
            indices.Sort();
            Assert.Equal(new List<long> { 0, 1, 2 }, indices, "distinct indices 0..parties-1");
            using (XProcClient c = Fixture.Connect())
            using (XProcBarrier b = c.Barrier(name, 3))
            {
                Assert.Equal(3L, b.ParticipantCount, "parties");
                Assert.Equal(0L, b.WaitingCount, "nobody waiting after release");
                Assert.False(b.IsBroken, "not broken");
                Assert.Throws<ObjectMismatchException>(() => c.Barrier(name, 4), "another party count");
            }
        }

        private static void BarrierTimeoutBreaks()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcBarrier b = c.Barrier(Fixture.Name("broken"), 2))
            {
                BrokenBarrierException e = Assert.Throws<BrokenBarrierException>(() => b.Wait(TimeSpan.FromMilliseconds(30)), "a wait that times out");
                Assert.Equal(XProcStatus.BrokenBarrier, e.Status, "status");
                Assert.True(b.IsBroken, "broken");
                Assert.Throws<BrokenBarrierException>(() => b.Wait(TimeSpan.FromSeconds(5)), "later waits fail at once");
                b.Reset();
                Assert.False(b.IsBroken, "repaired by Reset");
            }
        }

        private static void BarrierAbort()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            {
                string name = Fixture.Name("abort");
                using (XProcBarrier b = c.Barrier(name, 2))
                using (XProcBarrier theirs = other.Barrier(name, 2))
                {
                    Exception got = null;
                    Worker w = Fixture.Start(() =>
                    {
                        try
                        {
                            theirs.Wait();
                        }
                        catch (Exception e)
                        {
                            got = e;
                        }
                    });
                    Fixture.Eventually(() => b.WaitingCount == 1, "one party waits");
                    b.Abort();
                    w.Finish();
                    Assert.True(got is BrokenBarrierException, "the waiter gets BrokenBarrierException, got " + got);
                    Assert.True(b.IsBroken, "broken after Abort");
                }
            }
        }
    }
}
