// PipeTests.cs: Pipe ends against the broker: both directions, messages kept for an end not
// yet opened, end of file after a close, poll, timeouts, one-way pipes, busy ends, a full
// inbox, option mismatches.

using System;
using System.Collections.Generic;

namespace XProc.Tests
{
    internal static class PipeTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("pipe.duplex_both_ways", DuplexBothWays);
            yield return new Test("pipe.kept_until_other_end_opens", KeptUntilOpened);
            yield return new Test("pipe.close_gives_end_of_file", CloseGivesEof);
            yield return new Test("pipe.dispose_closes", DisposeCloses);
            yield return new Test("pipe.poll_try_receive_timeouts", PollAndTimeouts);
            yield return new Test("pipe.one_way", OneWay);
            yield return new Test("pipe.busy_end", BusyEnd);
            yield return new Test("pipe.full_inbox_and_options", FullInbox);
        }

        private static void DuplexBothWays()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("duplex");
                using (XProcPipe a = ca.Pipe(name, PipeEnd.A))
                using (XProcPipe b = cb.Pipe(name, PipeEnd.B))
                {
                    Assert.Equal(PipeEnd.A, a.End, "end");
                    Assert.Equal(name, b.Name, "name");
                    a.Send("ping");
                    a.Send(new object[] { 1, 2 });
                    Assert.Equal("ping", b.Receive(), "a to b");
                    Assert.Equal(new List<object> { 1L, 2L }, b.Receive(TimeSpan.FromSeconds(5)), "a to b, second");
                    b.Send(new Dictionary<string, object> { { "pong", true } });
                    Assert.Equal(new Dictionary<object, object> { { "pong", true } }, a.Receive(), "b to a");
                    foreach (KeyValuePair<object, object> c in QueueTests.ValueCases())
                    {
                        a.Send(c.Key, TimeSpan.FromSeconds(5));
                        Assert.Equal(c.Value, b.Receive(TimeSpan.FromSeconds(5)), "message sent as " + Assert.Show(c.Key));
                    }
                }
            }
        }

        private static void KeptUntilOpened()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("early");
                using (XProcPipe a = ca.Pipe(name, PipeEnd.A))
                {
                    for (int i = 0; i < 3; i++)
                    {
                        a.Send(i);
                    }
                    using (XProcPipe b = cb.Pipe(name, PipeEnd.B))
                    {
                        for (int i = 0; i < 3; i++)
                        {
                            Assert.Equal((long)i, b.Receive(TimeSpan.FromSeconds(5)), "message " + i);
                        }
                    }
                }
            }
        }

        private static void CloseGivesEof()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("eof");
                using (XProcPipe a = ca.Pipe(name, PipeEnd.A))
                using (XProcPipe b = cb.Pipe(name, PipeEnd.B))
                {
                    a.Send("last words");
                    a.Send("really last");
                    a.Close();
                    a.Close();
                    Assert.Equal("last words", b.Receive(), "what is left, first");
                    Assert.Equal("really last", b.Receive(), "what is left, second");
                    Assert.True(b.Poll(), "poll reports the end of file as ready");
                    PipeClosedException e = Assert.Throws<PipeClosedException>(() => b.Receive(), "end of file");
                    Assert.Equal(XProcStatus.Closed, e.Status, "status");
                    Assert.Throws<XProcException>(() => b.Receive(TimeSpan.FromSeconds(1)), "end of file as XProcException");
                    Assert.Throws<PipeClosedException>(() => b.Send("anyone?"), "a send to a closed end");
                    object m;
                    Assert.Throws<PipeClosedException>(() => b.TryReceive(out m), "TryReceive at end of file throws");
                    Assert.Throws<PipeClosedException>(() => a.Send("again"), "a send on the closed end");
                }
            }
        }

        private static void DisposeCloses()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("dispose");
                XProcPipe a = ca.Pipe(name, PipeEnd.A);
                using (XProcPipe b = cb.Pipe(name, PipeEnd.B))
                {
                    a.Send(1);
                    a.Dispose();
                    Assert.Equal(1L, b.Receive(TimeSpan.FromSeconds(5)), "what was sent before Dispose");
                    Assert.Throws<PipeClosedException>(() => b.Receive(TimeSpan.FromSeconds(5)), "end of file after Dispose");
                }
            }
        }

        private static void PollAndTimeouts()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("poll");
                using (XProcPipe a = ca.Pipe(name, PipeEnd.A))
                using (XProcPipe b = cb.Pipe(name, PipeEnd.B))
                {
                    Assert.False(b.Poll(), "nothing waiting");
                    Assert.False(b.Poll(TimeSpan.FromMilliseconds(20)), "nothing came");
                    object m;
                    Assert.False(b.TryReceive(out m), "TryReceive with nothing waiting");
                    Assert.False(b.TryReceive(out m, TimeSpan.FromMilliseconds(20)), "TryReceive with a timeout");
                    XProcTimeoutException e = Assert.Throws<XProcTimeoutException>(() => b.Receive(TimeSpan.FromMilliseconds(20)));
                    Assert.Equal(XProcStatus.Timeout, e.Status, "status");
                    e = Assert.Throws<XProcTimeoutException>(() => b.Receive(TimeSpan.Zero));
                    Assert.Equal(XProcStatus.Empty, e.Status, "status with a zero timeout");
                    Worker w = Fixture.Start(() => a.Send("late"));
                    Assert.True(b.Poll(TimeSpan.FromSeconds(10)), "poll sees the message");
                    w.Finish();
                    Assert.True(b.TryReceive(out m), "TryReceive with a message");
                    Assert.Equal("late", m, "message");
                }
            }
        }

        private static void OneWay()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("oneway");
                using (XProcPipe a = ca.Pipe(name, PipeEnd.A, false))
                using (XProcPipe b = cb.Pipe(name, PipeEnd.B))
                {
                    a.Send("down");
                    Assert.Equal("down", b.Receive(), "a sends, b receives");
                    XProcException e = Assert.Throws<XProcException>(() => b.Send("up"), "b sending on a one-way pipe");
                    Assert.Equal(XProcStatus.InvalidArgument, e.Status, "status");
                    e = Assert.Throws<XProcException>(() => a.Receive(TimeSpan.Zero), "a receiving on a one-way pipe");
                    Assert.Equal(XProcStatus.InvalidArgument, e.Status, "status");
                    Assert.Equal(false, ca.Stat(name).Info["duplex"], "stat duplex");
                }
            }
        }

        private static void BusyEnd()
        {
            using (XProcClient c1 = Fixture.Connect())
            using (XProcClient c2 = Fixture.Connect())
            {
                string name = Fixture.Name("busy");
                using (XProcPipe a = c1.Pipe(name, PipeEnd.A))
                {
                    XProcException e = Assert.Throws<XProcException>(() => c2.Pipe(name, PipeEnd.A), "claiming a held end");
                    Assert.Equal(XProcStatus.Busy, e.Status, "status");
                    Assert.True(e.Message.Contains("pid"), "the message names the holder's pid: " + e.Message);
                }
            }
        }

        private static void FullInbox()
        {
            using (XProcClient ca = Fixture.Connect())
            using (XProcClient cb = Fixture.Connect())
            {
                string name = Fixture.Name("full");
                using (XProcPipe a = ca.Pipe(name, PipeEnd.A, true, 2))
                {
                    Assert.True(a.TrySend(1), "first");
                    Assert.True(a.TrySend(2, TimeSpan.FromMilliseconds(10)), "second");
                    Assert.False(a.TrySend(3), "a third on a full inbox");
                    Assert.False(a.TrySend(3, TimeSpan.FromMilliseconds(20)), "a third with a timeout");
                    XProcTimeoutException e = Assert.Throws<XProcTimeoutException>(() => a.Send(3, TimeSpan.Zero));
                    Assert.Equal(XProcStatus.Full, e.Status, "status");
                    ObjectMismatchException m = Assert.Throws<ObjectMismatchException>(() => cb.Pipe(name, PipeEnd.B, true, 5), "another capacity");
                    Assert.Equal(XProcStatus.OptionMismatch, m.Status, "status");
                    using (XProcPipe b = cb.Pipe(name, PipeEnd.B, null, 2))
                    {
                        Worker w = Fixture.Start(() => a.Send(3));
                        Assert.Equal(1L, b.Receive(), "first out");
                        w.Finish();
                        Assert.Equal(2L, b.Receive(), "second out");
                        Assert.Equal(3L, b.Receive(), "the blocked send's message");
                    }
                }
            }
        }
    }
}
