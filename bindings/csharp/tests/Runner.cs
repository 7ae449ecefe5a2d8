// Runner.cs: the test program's entry point and its small runner: a list of named test
// methods (no attributes, no framework), each run on its own thread under a watchdog, one
// line per test, then "N passed, N failed"; the exit code is 1 on any failure.
//
// Usage: mono Tests.exe [FILTER]           runs the tests whose name contains FILTER
//        mono Tests.exe --child MODE ARGS  a helper process for the cross-process tests
//
// The broker is the one at $XPROC_SOCKET (run_tests.sh starts it); $XPROCD names the xprocd
// binary for the tests that start and stop brokers of their own.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace XProc.Tests
{
    /// <summary>One named test.</summary>
    internal sealed class Test
    {
        internal Test(string name, Action body)
        {
            Name = name;
            Body = body;
        }

        internal string Name { get; private set; }

        internal Action Body { get; private set; }
    }

    internal static class Runner
    {
        /// <summary>How long one test may run before the watchdog calls it hung.</summary>
        private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(60);

        private static int Main(string[] args)
        {
            if (args.Length > 0 && args[0] == "--child")
            {
                return Child.Run(args);
            }
            string filter = args.Length > 0 ? args[0] : null;

            var tests = new List<Test>();
            tests.AddRange(CodecTests.All());
            tests.AddRange(ClientTests.All());
            tests.AddRange(QueueTests.All());
            tests.AddRange(LeaseTests.All());
            tests.AddRange(StreamTests.All());
            tests.AddRange(DictTests.All());
            tests.AddRange(TypedTests.All());
            tests.AddRange(PipeTests.All());
            tests.AddRange(LockTests.All());
            tests.AddRange(SyncTests.All());
            tests.AddRange(CrossProcessTests.All());
            tests.AddRange(TcpTests.All());
            tests.AddRange(AsyncTests.All());
            tests.AddRange(AsyncMoreTests.All());

            int passed = 0;
            int failed = 0;
            var failures = new List<string>();
            foreach (Test t in tests)
            {
                if (filter != null && t.Name.IndexOf(filter, StringComparison.Ordinal) < 0)
                {
                    continue;
                }
                Exception error = null;
                var clock = Stopwatch.StartNew();
                var thread = new Thread(() =>
                {
                    try
                    {
                        t.Body();
                    }
                    catch (Exception e)
                    {
                        error = e;
                    }
                });
                thread.IsBackground = true;
                thread.Start();
                if (!thread.Join(Watchdog))
                {
                    // A thread blocked in native code cannot be stopped; report and leave.
                    Console.WriteLine("FAIL " + t.Name + ": still running after " + Watchdog.TotalSeconds + " s (hung)");
                    failed++;
                    Console.WriteLine(passed + " passed, " + failed + " failed");
                    Console.Out.Flush();
                    Environment.Exit(1);
                }
                if (error == null)
                {
                    passed++;
                    Console.WriteLine("ok   " + t.Name + " (" + clock.ElapsedMilliseconds + " ms)");
                }
                else
                {
                    failed++;
                    failures.Add(t.Name);
                    Console.WriteLine("FAIL " + t.Name + ": " + error.GetType().Name + ": " + error.Message);
                    Console.WriteLine(Indent(error.StackTrace));
                }
            }
            Console.WriteLine();
            if (failures.Count > 0)
            {
                Console.WriteLine("failed: " + string.Join(", ", failures.ToArray()));
            }
            if (passed + failed == 0)
            {
                Console.WriteLine("no test matched " + filter);
                return 2;
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }

        private static string Indent(string text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return "    (no stack trace)";
            }
            return "    " + text.Replace("\n", "\n    ");
        }
    }
}
