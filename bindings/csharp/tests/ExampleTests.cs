// ExampleTests.cs: runs the shipped example (examples/Worker.cs, built by run_tests.sh and
// named by $XPROC_CS_WORKER) as two real worker processes, with this test as their master,
// as the multiprocessing docs' master/worker example does.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;

namespace XProc.Tests
{
    internal static class ExampleTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("example.workers_serve_master", WorkersServeMaster);
        }

        private static void WorkersServeMaster()
        {
            string worker = Environment.GetEnvironmentVariable("XPROC_CS_WORKER");
            if (string.IsNullOrEmpty(worker) || !File.Exists(worker))
            {
                throw new AssertionException("$XPROC_CS_WORKER must name the example's Worker.exe (run_tests.sh sets it)");
            }
            using (Client c = Fixture.Connect())
            {
                // The example's fixed names: start from empty queues.
                c.Delete("task_queue");
                c.Delete("result_queue");
                var workers = new List<Process>();
                try
                {
                    for (int i = 0; i < 2; i++)
                    {
                        workers.Add(Process.Start(ChildProcess.StartInfo(worker, "")));
                    }
                    using (Queue tasks = c.Queue("task_queue"))
                    using (Queue results = c.Queue("result_queue"))
                    {
                        var expected = new List<string>();
                        for (long n = 1; n <= 10; n++)
                        {
                            tasks.Put(n);
                            expected.Add(n + " * " + n + " = " + (n * n));
                        }
                        var got = new List<string>();
                        for (int i = 0; i < 10; i++)
                        {
                            got.Add((string)results.Get(TimeSpan.FromSeconds(30)));
                        }
                        got.Sort(StringComparer.Ordinal);
                        expected.Sort(StringComparer.Ordinal);
                        Assert.Equal(expected, got, "the workers' answers");
                        tasks.Put("STOP");
                        tasks.Put("STOP");
                    }
                    foreach (Process p in workers)
                    {
                        Assert.True(p.WaitForExit(30000), "a worker exits after STOP");
                        Assert.Equal(0, p.ExitCode, "worker exit code");
                    }
                }
                finally
                {
                    foreach (Process p in workers)
                    {
                        if (!p.HasExited)
                        {
                            p.Kill();
                        }
                        p.Dispose();
                    }
                }
            }
        }
    }
}
