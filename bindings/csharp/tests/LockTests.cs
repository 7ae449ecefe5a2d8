// LockTests.cs: Lock and RLock against the broker: `using (lk.Acquire())`, ownership by
// connection, timeouts, release by a non-owner, reentrancy, waiters woken in turn, and the
// abandoned-lock report after the owner's connection goes away.

using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace XProc.Tests
{
    internal static class LockTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("lock.using_acquire_excludes_others", UsingAcquire);
            yield return new Test("lock.acquire_timeout", AcquireTimeout);
            yield return new Test("lock.release_by_non_owner", ReleaseByNonOwner);
            yield return new Test("lock.plain_lock_is_not_reentrant", NotReentrant);
            yield return new Test("lock.rlock_reentrant", RLockReentrant);
            yield return new Test("lock.waiter_woken_by_release", WaiterWoken);
            yield return new Test("lock.abandoned_when_owner_disconnects", AbandonedOnDisconnect);
        }

        private static void UsingAcquire()
        {
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                string name = Fixture.Name("lock");
                using (XProcLock mine = c1.Lock(name))
                using (XProcLock theirs = c2.Lock(name))
                {
                    using (Releaser held = mine.Acquire())
                    {
                        Assert.False(held.Abandoned, "a fresh lock is not abandoned");
                        Assert.Equal(0, held.AbandonedBy, "abandoned by");
                        Assert.False(theirs.TryAcquire(), "another connection cannot take it");
                        Assert.Equal((long)Process.GetCurrentProcess().Id, c1.Stat(name).Info["holder_pid"], "holder pid");
                    }
                    Assert.True(theirs.TryAcquire(), "free after the using block");
                    theirs.Release();
                    Releaser r = mine.Acquire(TimeSpan.FromSeconds(5));
                    r.Dispose();
                    r.Dispose();
                    Assert.True(theirs.TryAcquire(TimeSpan.FromSeconds(5)), "a second Dispose released nothing more");
                    theirs.Release();
                }
            }
        }

        private static void AcquireTimeout()
        {
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                string name = Fixture.Name("timeout");
                using (XProcLock mine = c1.Lock(name))
                using (XProcLock theirs = c2.Lock(name))
                using (mine.Acquire())
                {
                    XProcTimeoutException e = Assert.Throws<XProcTimeoutException>(() => theirs.Acquire(TimeSpan.FromMilliseconds(30)));
                    Assert.Equal(XProcStatus.Timeout, e.Status, "status");
                    Assert.Throws<TimeoutException>(() => theirs.Acquire(TimeSpan.Zero), "the standard catch");
                    Assert.False(theirs.TryAcquire(TimeSpan.FromMilliseconds(30)), "TryAcquire with a timeout");
                }
            }
        }

        private static void ReleaseByNonOwner()
        {
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                string name = Fixture.Name("notowner");
                using (XProcLock mine = c1.Lock(name))
                using (XProcLock theirs = c2.Lock(name))
                {
                    NotOwnerException e = Assert.Throws<NotOwnerException>(() => mine.Release(), "releasing a free lock");
                    Assert.Equal(XProcStatus.NotOwner, e.Status, "status");
                    using (mine.Acquire())
                    {
                        Assert.Throws<NotOwnerException>(() => theirs.Release(), "releasing another connection's lock");
                        Assert.Throws<InvalidOperationException>(() => theirs.Release(), "the standard catch");
                        Assert.Throws<XProcException>(() => theirs.Release(), "the XProcException catch");
                    }
                }
            }
        }

        private static void NotReentrant()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcLock lk = c.Lock(Fixture.Name("plain")))
            {
                using (lk.Acquire())
                {
                    Assert.False(lk.TryAcquire(), "a plain lock acquired again by its owner waits (here: fails at once)");
                }
            }
        }

        private static void RLockReentrant()
        {
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                string name = Fixture.Name("rlock");
                using (XProcRLock mine = c1.RLock(name))
                using (XProcRLock theirs = c2.RLock(name))
                {
                    Releaser outer = mine.Acquire();
                    Releaser inner = mine.Acquire(TimeSpan.Zero);
                    Assert.Equal(2L, c1.Stat(name).Info["depth"], "depth 2");
                    inner.Dispose();
                    Assert.False(theirs.TryAcquire(), "still held after one release");
                    outer.Dispose();
                    Assert.True(theirs.TryAcquire(), "free after as many releases");
                    theirs.Release();
                    Assert.Throws<ObjectMismatchException>(() => c1.Lock(name), "a plain lock on an rlock's name");
                }
            }
        }

        private static void WaiterWoken()
        {
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                string name = Fixture.Name("wake");
                using (XProcLock mine = c1.Lock(name))
                using (XProcLock theirs = c2.Lock(name))
                {
                    Releaser held = mine.Acquire();
                    bool gotIt = false;
                    Worker w = Fixture.Start(() =>
                    {
                        using (theirs.Acquire())
                        {
                            gotIt = true;
                        }
                    });
                    Fixture.Eventually(() => (long)c1.Stat(name).Info["waiters"] == 1, "the other acquire waits");
                    Assert.False(gotIt, "the waiter has not got the lock yet");
                    held.Dispose();
                    w.Finish();
                    Assert.True(gotIt, "the waiter got the lock after the release");
                }
            }
        }

        private static void AbandonedOnDisconnect()
        {
            using (XProcClient c1 = Fixture.Connect())
            {
                string name = Fixture.Name("abandoned");
                XProcClient dying = Fixture.Connect();
                XProcLock theirs = dying.Lock(name);
                theirs.Acquire();
                // Closing every handle closes the connection, as a crash would.
                theirs.Dispose();
                dying.Dispose();
                using (XProcLock mine = c1.Lock(name))
                {
                    Releaser held = mine.Acquire(TimeSpan.FromSeconds(20));
                    int pid = Process.GetCurrentProcess().Id;
                    Assert.True(held.Abandoned, "the acquire reports the lock as abandoned");
                    Assert.Equal(pid, held.AbandonedBy, "by the dead owner's pid");
                    Assert.True(mine.Abandoned, "the handle says so too");
                    Assert.Equal(pid, mine.AbandonedBy, "handle's abandoned by");
                    held.Dispose();
                    using (Releaser again = mine.Acquire())
                    {
                        Assert.False(again.Abandoned, "reported once only");
                        Assert.False(mine.Abandoned, "the handle's report is the latest acquire's");
                    }
                }
            }
        }
    }
}
