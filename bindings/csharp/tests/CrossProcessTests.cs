// CrossProcessTests.cs: real processes killed with SIGKILL while holding things (this test
// program run as a --child helper): the broker must release the dead process's lock
// (reporting its pid), permits and pipe end, and break the barrier it waited on.

using System;
using System.Collections.Generic;

namespace XProc.Tests
{
    internal static class CrossProcessTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("process.killed_lock_holder_abandons_lock", KilledLockHolder);
            yield return new Test("process.killed_permit_holder_returns_permit", KilledPermitHolder);
            yield return new Test("process.killed_waiter_breaks_barrier", KilledBarrierWaiter);
            yield return new Test("process.killed_pipe_holder_gives_end_of_file", KilledPipeHolder);
        }

        private static void KilledLockHolder()
        {
            string name = Fixture.Name("xlock");
            using (XProcClient c = Fixture.Connect())
            using (XProcLock lk = c.Lock(name))
            using (var child = new ChildProcess("hold-lock", name))
            {
                Assert.False(lk.TryAcquire(), "the child holds the lock");
                Assert.Equal((long)child.Pid, c.Stat(name).Info["holder_pid"], "holder pid");
                int pid = child.Pid;
                child.Kill();
                using (Releaser held = lk.Acquire(TimeSpan.FromSeconds(20)))
                {
                    Assert.True(held.Abandoned, "abandoned");
                    Assert.Equal(pid, held.AbandonedBy, "abandoned by the killed child's pid");
                }
            }
        }

        private static void KilledPermitHolder()
        {
            string name = Fixture.Name("xsem");
            using (XProcClient c = Fixture.Connect())
            using (XProcSemaphore s = c.Semaphore(name, 1))
            using (var child = new ChildProcess("hold-permit", name, "1"))
            {
                Assert.False(s.TryAcquire(), "the child holds the only permit");
                child.Kill();
                Assert.True(s.TryAcquire(TimeSpan.FromSeconds(20)), "the permit came back");
                s.Release();
            }
        }

        private static void KilledBarrierWaiter()
        {
            string name = Fixture.Name("xbarrier");
            using (XProcClient c = Fixture.Connect())
            using (XProcBarrier b = c.Barrier(name, 3))
            using (var child = new ChildProcess("barrier-wait", name, "3"))
            {
                Fixture.Eventually(() => b.WaitingCount == 1, "the child waits on the barrier");
                Exception got = null;
                Worker w = Fixture.Start(() =>
                {
                    try
                    {
                        b.Wait();
                    }
                    catch (Exception e)
                    {
                        got = e;
                    }
                });
                Fixture.Eventually(() => b.WaitingCount == 2, "this process waits too");
                child.Kill();
                w.Finish();
                Assert.True(got is BrokenBarrierException, "the killed waiter broke the barrier, got " + got);
                Assert.True(b.IsBroken, "broken");
            }
        }

        private static void KilledPipeHolder()
        {
            string name = Fixture.Name("xpipe");
            using (XProcClient c = Fixture.Connect())
            using (var child = new ChildProcess("hold-pipe", name))
            using (XProcPipe b = c.Pipe(name, PipeEnd.B))
            {
                Assert.Equal("from child", b.Receive(TimeSpan.FromSeconds(20)), "the child's message");
                child.Kill();
                Assert.Throws<PipeClosedException>(() => b.Receive(TimeSpan.FromSeconds(20)), "end of file once the holder died");
            }
        }
    }
}
