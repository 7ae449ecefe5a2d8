// The C# row of the streaming scenario (bench/run.py, docs/BENCHMARKS.md): this process Posts
// --iters 64-byte values (then Flush), a consumer process (this program again, started with
// "consume") takes them with GetMany(1024). One op = one value the consumer received; the
// clock runs from the first Post to the consumer's report. Prints one JSON line.
//
//     mono Stream.exe SOCKET ITERS SECS SIZE
using System;
using System.Diagnostics;
using System.Globalization;

static class Stream
{
    const int Batch = 1024;
    const long MaxSize = 10000;

    static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "consume")
            return Consume(args[1], args[2]);
        if (args.Length != 4)
        {
            Console.Error.WriteLine("usage: Stream.exe SOCKET ITERS SECS SIZE");
            return 2;
        }
        string socket = args[0];
        long iters = long.Parse(args[1], CultureInfo.InvariantCulture);
        double secs = double.Parse(args[2], CultureInfo.InvariantCulture);
        int size = int.Parse(args[3], CultureInfo.InvariantCulture);
        string name = "bench.csstream." + Process.GetCurrentProcess().Id;
        string exe = typeof(Stream).Assembly.Location;
        var psi = new ProcessStartInfo("mono", "\"" + exe + "\" consume \"" + socket + "\" " + name)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        using (var consumer = Process.Start(psi))
        using (var c = XProc.Client.Connect(socket))
        {
            if (consumer.StandardOutput.ReadLine() != "ready")
                throw new Exception("consumer did not start");
            var q = c.Queue(name, MaxSize);
            var value = new byte[size];
            for (int i = 0; i < size; i++) value[i] = (byte)('a' + i % 26);
            var clock = Stopwatch.StartNew();
            long sent = 0;
            while (sent < iters)
            {
                q.Post(value);
                sent++;
                if ((sent & 0xfff) == 0 && clock.Elapsed.TotalSeconds >= secs) break;
            }
            q.Post(new byte[0]);
            q.Flush();
            string said = consumer.StandardOutput.ReadLine() ?? "";
            double elapsed = clock.Elapsed.TotalSeconds;
            consumer.WaitForExit();
            long got = said.StartsWith("done ") ? long.Parse(said.Substring(5), CultureInfo.InvariantCulture) : -1;
            if (got != sent)
            {
                Console.Error.WriteLine("sent " + sent + ", consumer said " + said);
                return 1;
            }
            c.Delete(name);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "{{\"scenario\": \"csharp_stream\", \"ops\": {0}, \"secs\": {1:F6}, \"ops_per_s\": {2:F1}, " +
                "\"p50_us\": null, \"p99_us\": null, \"note\": \"C# Queue.Post -> GetMany({3}), queue maxsize {4}, 2 processes\"}}",
                got, elapsed, got / elapsed, Batch, MaxSize));
        }
        return 0;
    }

    static int Consume(string socket, string name)
    {
        using (var c = XProc.Client.Connect(socket))
        {
            var q = c.Queue(name, MaxSize);
            Console.WriteLine("ready");
            Console.Out.Flush();
            long n = 0;
            bool end = false;
            while (!end)
            {
                foreach (var item in q.GetMany(Batch, TimeSpan.FromSeconds(30)))
                {
                    if (((byte[])item).Length == 0) end = true;
                    else n++;
                }
            }
            Console.WriteLine("done " + n);
        }
        return 0;
    }
}
