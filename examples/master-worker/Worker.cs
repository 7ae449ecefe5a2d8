// Worker.cs: the C# worker of the four-language master/worker example (README.md beside
// this file), over the XProc binding (bindings/csharp).
//
// It takes integers n from "task_queue" and puts the string "n * n = n² (by csharp worker PID)"
// on "result_queue", until it takes null (the master's stop sentinel) or no task comes for
// 15 s. Each task takes 200 ms of pretend work, as in the multiprocessing docs' example, so
// that the other workers get a share of the tasks.
//
// Usage: mono Worker.exe   (the broker is $XPROC_SOCKET or the default one). Prints one line
// per task; exits 0, or 1 with a message on stderr if the broker fails it.

using System;
using System.Diagnostics;
using System.Threading;

namespace XProc.Examples
{
    internal static class Worker
    {
        /// <summary>How long the worker waits for a task before deciding the master is gone.</summary>
        private static readonly TimeSpan Idle = TimeSpan.FromSeconds(15);

        /// <summary>Pretend work per task.</summary>
        private static readonly TimeSpan Work = TimeSpan.FromMilliseconds(200);

        private static int Main()
        {
            int pid = Process.GetCurrentProcess().Id;
            int done = 0;
            try
            {
                using (var client = XProcClient.Connect())
                // Typed queues: tasks come back as long? (null is the stop sentinel), and a task
                // that is not an integer is an XProcException naming the queue, caught below.
                using (XProcQueue<long?> tasks = client.Queue<long?>("task_queue"))
                using (XProcQueue<string> results = client.Queue<string>("result_queue"))
                {
                    while (true)
                    {
                        long? task;
                        if (!tasks.TryGet(out task, Idle))
                        {
                            Console.WriteLine("csharp worker {0}: no task for {1} s, stopping", pid, Idle.TotalSeconds);
                            break;
                        }
                        if (task == null)
                        {
                            break; // the stop sentinel
                        }
                        long n = task.Value;
                        Console.WriteLine("csharp worker {0}: run task {1} * {1}...", pid, n);
                        Thread.Sleep(Work);
                        string square;
                        try
                        {
                            square = checked(n * n).ToString();
                        }
                        catch (OverflowException)
                        {
                            square = "overflow";
                        }
                        results.Put(string.Format("{0} * {0} = {1} (by csharp worker {2})", n, square, pid));
                        done++;
                    }
                }
            }
            catch (Exception e) when (e is IXProcException)
            {
                Console.Error.WriteLine("csharp worker {0}: {1}", pid, e.Message);
                return 1;
            }
            Console.WriteLine("csharp worker {0}: done, {1} task(s)", pid, done);
            return 0;
        }
    }
}
