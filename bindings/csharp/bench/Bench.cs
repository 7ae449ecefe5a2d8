// Bench.cs: the C# binding's figures for bench/run.py (--only bindings), one JSON line per
// scenario, the contract of bindings/python/bench_python.py:
//
//   csharp_queue_put_get  put then take of a --size byte payload on one queue, unpipelined
//                         (ops: puts + gets)
//   csharp_prodcons       a producer process (this program with --produce) puts --iters items,
//                         this process takes them (ops: items delivered)
//
// Both use a typed XProcQueue<byte[]>, what a C# program moving blobs writes.
//
// Usage: mono Bench.exe --socket PATH [--iters N] [--secs S] [--size B]
// Build: mcs -langversion:7.2 -optimize+ -out:Bench.exe bench/Bench.cs src/*.cs (libxproc.so
// beside Bench.exe or on LD_LIBRARY_PATH; bench/run.py does this).

using System;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using XProc;

internal static class Bench
{
    private static int Main(string[] args)
    {
        string socket = Environment.GetEnvironmentVariable("XPROC_SOCKET");
        int iters = 100000;
        double secs = 3;
        int size = 64;
        string produce = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--socket": socket = args[i + 1]; break;
                case "--iters": iters = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--secs": secs = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--size": size = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--produce": produce = args[i + 1]; break;
                default:
                    Console.Error.WriteLine("unknown flag " + args[i]);
                    return 2;
            }
        }
        var data = new byte[size];
        for (int i = 0; i < size; i++)
        {
            data[i] = (byte)(i % 251);
        }

        using (XProcClient c = XProcClient.Connect(socket))
        {
            if (produce != null)
            {
                using (XProcQueue<byte[]> q = c.Queue<byte[]>(produce, 1000))
                {
                    for (int i = 0; i < iters; i++)
                    {
                        q.Put(data);
                    }
                }
                return 0;
            }

            int pid = Process.GetCurrentProcess().Id;
            using (XProcQueue<byte[]> q = c.Queue<byte[]>("bench-csharp-" + pid))
            {
                for (int i = 0; i < 2000; i++) // JIT warm-up, not timed
                {
                    q.Put(data);
                    q.Get();
                }
                long limit = (long)(secs * Stopwatch.Frequency);
                var clock = Stopwatch.StartNew();
                int ops = 0;
                while (ops < iters && clock.ElapsedTicks < limit)
                {
                    q.Put(data);
                    q.Get();
                    ops += 2;
                }
                Emit("csharp_queue_put_get", ops, clock.Elapsed.TotalSeconds,
                    "C# binding (Mono, XProcQueue<byte[]>), " + size + " B bytes, unpipelined");
                c.Delete(q.Name);
            }

            string name = "bench-csharp-pc-" + pid;
            using (XProcQueue<byte[]> cq = c.Queue<byte[]>(name, 1000))
            {
                // The producer is this program again, under the same runtime.
                string runtime = Process.GetCurrentProcess().MainModule.FileName;
                string exe = Assembly.GetEntryAssembly().Location;
                var start = new ProcessStartInfo(runtime, string.Format(CultureInfo.InvariantCulture,
                    "\"{0}\" --socket \"{1}\" --iters {2} --size {3} --produce {4}", exe, socket, iters, size, name))
                {
                    UseShellExecute = false,
                };
                using (Process producer = Process.Start(start))
                {
                    cq.Get(); // the first item: the producer is running
                    var clock = Stopwatch.StartNew();
                    for (int i = 1; i < iters; i++)
                    {
                        cq.Get();
                    }
                    double elapsed = clock.Elapsed.TotalSeconds;
                    producer.WaitForExit();
                    if (producer.ExitCode != 0)
                    {
                        Console.Error.WriteLine("the producer failed: exit " + producer.ExitCode);
                        return 1;
                    }
                    Emit("csharp_prodcons", iters - 1, elapsed,
                        "C# binding, producer process -> consumer process, " + size + " B, maxsize 1000");
                }
                c.Delete(name);
            }
        }
        return 0;
    }

    private static void Emit(string scenario, int ops, double secs, string note)
    {
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "{{\"scenario\": \"{0}\", \"ops\": {1}, \"secs\": {2:F6}, \"ops_per_s\": {3:F1}, \"note\": \"{4}\"}}",
            scenario, ops, secs, ops / secs, note));
    }
}
