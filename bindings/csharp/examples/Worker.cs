// Worker.cs: a worker of the multiprocessing docs' master/worker example, in C#. It speaks
// the same protocol as examples/c (and so works with its master, or with a Python one):
// it takes integers n from the queue "task_queue" and puts the string "n * n = n²" on
// "result_queue", until it takes the string "STOP" (or nothing comes for 30 s).
//
// Build: mcs -r:XProc.dll -out:Worker.exe Worker.cs   (libxproc.so beside the .exe)
// Run:   mono Worker.exe          (the broker is $XPROC_SOCKET, or the default endpoint)

using System;
using XProc;

internal static class Worker
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private static int Main()
    {
        try
        {
            using (Client client = Client.Connect())
            using (Queue tasks = client.Queue("task_queue"))
            using (Queue results = client.Queue("result_queue"))
            {
                while (true)
                {
                    object task;
                    if (!tasks.TryGet(out task, IdleTimeout))
                    {
                        Console.Error.WriteLine("worker: no task for " + IdleTimeout.TotalSeconds + " s, exiting");
                        return 1;
                    }
                    if (task is string && (string)task == "STOP")
                    {
                        return 0;
                    }
                    long n = (long)task;
                    results.Put(n + " * " + n + " = " + (n * n));
                }
            }
        }
        catch (XProcException e)
        {
            // No broker, or it went away: say why, as the C example does.
            Console.Error.WriteLine("worker: " + e.Status + ": " + e.Message);
            return 1;
        }
    }
}
