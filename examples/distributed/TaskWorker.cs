// TaskWorker.cs: a C# worker for the notes' task_master.py (README.md beside this file), on
// another machine: it connects to the broker over TCP with the authkey, takes integers n from
// task_queue and puts "n * n = n² (by csharp worker PID)" on result_queue.
//
// Usage: mono TaskWorker.exe tcp://HOST:PORT   (the key is read from $XPROC_AUTHKEY_FILE).
// Stops when no task comes for 3 s or the master's broker goes away; exits 0, or 1 on any
// other failure. Its last line is "csharp worker PID: done N task(s)".

using System;
using System.Diagnostics;
using System.Threading;

namespace XProc.Examples
{
    internal static class TaskWorker
    {
        private static int Main(string[] args)
        {
            int pid = Process.GetCurrentProcess().Id;
            int done = 0;
            try
            {
                // A null key reads the file $XPROC_AUTHKEY_FILE names (mode 0600).
                using (var client = XProcClient.Connect(args[0], null))
                using (var task = client.Queue("get_task_queue"))
                using (var result = client.Queue("get_result_queue"))
                {
                    object n;
                    while (task.TryGet(out n, TimeSpan.FromSeconds(3)))
                    {
                        long v = (long)n;
                        Console.WriteLine("run task {0} * {0}...", v);
                        Thread.Sleep(300); // pretend work, so the other workers get a share
                        result.Put(string.Format("{0} * {0} = {1} (by csharp worker {2})", v, v * v, pid));
                        done++;
                    }
                    Console.WriteLine("task queue is empty.");
                }
            }
            catch (DisconnectedException e)
            {
                // The master got its 10 results and shut its broker down.
                Console.WriteLine("server gone: {0}", e.Message);
            }
            catch (Exception e) when (e is IXProcException)
            {
                Console.Error.WriteLine("csharp worker {0}: {1}", pid, e.Message);
                return 1;
            }
            Console.WriteLine("csharp worker {0}: done {1} task(s)", pid, done);
            return 0;
        }
    }
}
