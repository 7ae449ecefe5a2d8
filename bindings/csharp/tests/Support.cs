// Support.cs: what every test uses: assertions that say what differed, unique object names,
// threads that must finish, and the helper child processes of the cross-process tests.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Reflection;
using System.Text;
using System.Threading;

namespace XProc.Tests
{
    /// <summary>A failed check.</summary>
    internal sealed class AssertionException : Exception
    {
        internal AssertionException(string message) : base(message)
        {
        }
    }

    /// <summary>Assertions. Values compare as the broker compares them (encoded bytes) when both encode.</summary>
    internal static class Assert
    {
        internal static void True(bool condition, string what)
        {
            if (!condition)
            {
                throw new AssertionException("expected " + what);
            }
        }

        internal static void False(bool condition, string what)
        {
            if (condition)
            {
                throw new AssertionException("expected not " + what);
            }
        }

        /// <summary>Equal values: same type and, for containers and arrays, the same elements.</summary>
        internal static void Equal(object expected, object actual, string what = "value")
        {
            if (!Same(expected, actual))
            {
                throw new AssertionException(what + ": expected " + Show(expected) + ", got " + Show(actual));
            }
        }

        internal static void Bytes(string expectedHex, byte[] actual, string what = "bytes")
        {
            string got = Hex(actual);
            if (got != expectedHex.Replace(" ", ""))
            {
                throw new AssertionException(what + ": expected " + expectedHex.Replace(" ", "") + ", got " + got);
            }
        }

        /// <summary>Runs <paramref name="body"/>, which must throw exactly <typeparamref name="T"/> (or a subclass); returns it.</summary>
        internal static T Throws<T>(Action body, string what = null) where T : Exception
        {
            try
            {
                body();
            }
            catch (T e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new AssertionException((what ?? "call") + ": expected " + typeof(T).Name + ", got " +
                    e.GetType().Name + ": " + e.Message);
            }
            throw new AssertionException((what ?? "call") + ": expected " + typeof(T).Name + ", nothing was thrown");
        }

        /// <summary>Type and value equality; lists element-wise; maps entry-wise in order; byte arrays by content; NaN equals NaN.</summary>
        internal static bool Same(object a, object b)
        {
            if (a == null || b == null)
            {
                return a == null && b == null;
            }
            if (a.GetType() != b.GetType())
            {
                return false;
            }
            if (a is double)
            {
                return BitConverter.DoubleToInt64Bits((double)a) == BitConverter.DoubleToInt64Bits((double)b);
            }
            var ba = a as byte[];
            if (ba != null)
            {
                return Hex(ba) == Hex((byte[])b);
            }
            var da = a as IDictionary;
            if (da != null)
            {
                var db = (IDictionary)b;
                if (da.Count != db.Count)
                {
                    return false;
                }
                var ea = da.GetEnumerator();
                var eb = db.GetEnumerator();
                while (ea.MoveNext() && eb.MoveNext())
                {
                    if (!Same(ea.Key, eb.Key) || !Same(ea.Value, eb.Value))
                    {
                        return false;
                    }
                }
                return true;
            }
            var la = a as IList;
            if (la != null)
            {
                var lb = (IList)b;
                if (la.Count != lb.Count)
                {
                    return false;
                }
                for (int i = 0; i < la.Count; i++)
                {
                    if (!Same(la[i], lb[i]))
                    {
                        return false;
                    }
                }
                return true;
            }
            return a.Equals(b);
        }

        internal static string Show(object v)
        {
            if (v == null)
            {
                return "null";
            }
            var bytes = v as byte[];
            if (bytes != null)
            {
                return "byte[" + bytes.Length + "] " + (bytes.Length <= 32 ? Hex(bytes) : Hex(Prefix(bytes, 32)) + "...");
            }
            var s = v as string;
            if (s != null)
            {
                return "\"" + (s.Length <= 60 ? s : s.Substring(0, 60) + "...") + "\"";
            }
            var map = v as IDictionary;
            if (map != null)
            {
                var parts = new List<string>();
                foreach (DictionaryEntry e in map)
                {
                    parts.Add(Show(e.Key) + ": " + Show(e.Value));
                }
                return "{" + string.Join(", ", parts.ToArray()) + "}";
            }
            var list = v as IList;
            if (list != null)
            {
                var parts = new List<string>();
                foreach (object o in list)
                {
                    parts.Add(Show(o));
                }
                return "[" + string.Join(", ", parts.ToArray()) + "]";
            }
            return v + " (" + v.GetType().Name + ")";
        }

        internal static string Hex(byte[] b)
        {
            var sb = new StringBuilder(b.Length * 2);
            foreach (byte x in b)
            {
                sb.Append(x.ToString("x2"));
            }
            return sb.ToString();
        }

        private static byte[] Prefix(byte[] b, int n)
        {
            var p = new byte[n];
            Array.Copy(b, p, n);
            return p;
        }
    }

    /// <summary>Fixtures.</summary>
    internal static class Fixture
    {
        private static int counter;

        /// <summary>A name no other test (or earlier run on the same broker) uses.</summary>
        internal static string Name(string what)
        {
            return "cs-" + what + "-" + Process.GetCurrentProcess().Id + "-" + Interlocked.Increment(ref counter);
        }

        /// <summary>A client of the test broker ($XPROC_SOCKET).</summary>
        internal static XProcClient Connect()
        {
            return XProcClient.Connect();
        }

        /// <summary>Starts <paramref name="body"/> on a thread; the returned thread's Finish rethrows what it threw.</summary>
        internal static Worker Start(Action body)
        {
            return new Worker(body);
        }

        /// <summary>Bytes from hex text (spaces allowed).</summary>
        internal static byte[] Hex(string hex)
        {
            hex = hex.Replace(" ", "");
            var b = new byte[hex.Length / 2];
            for (int i = 0; i < b.Length; i++)
            {
                b[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            }
            return b;
        }

        /// <summary>Waits (bounded) until <paramref name="condition"/> holds; polling is only for observing another process's progress.</summary>
        internal static void Eventually(Func<bool> condition, string what)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(20))
                {
                    throw new AssertionException("timed out waiting until " + what);
                }
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>A thread running part of a test, whose exception surfaces in Finish.</summary>
    internal sealed class Worker
    {
        private readonly Thread thread;
        private Exception error;

        internal Worker(Action body)
        {
            thread = new Thread(() =>
            {
                try
                {
                    body();
                }
                catch (Exception e)
                {
                    error = e;
                }
            });
            thread.IsBackground = true;
            thread.Start();
        }

        /// <summary>Waits for the thread (at most 30 s) and rethrows its failure.</summary>
        internal void Finish()
        {
            if (!thread.Join(TimeSpan.FromSeconds(30)))
            {
                throw new AssertionException("a worker thread did not finish within 30 s");
            }
            if (error != null)
            {
                throw new AssertionException("worker thread failed: " + error.GetType().Name + ": " + error.Message);
            }
        }
    }

    /// <summary>A helper process: this program run with --child MODE ARGS.</summary>
    internal sealed class ChildProcess : IDisposable
    {
        private readonly Process process;

        /// <summary>Starts the child and waits for its "ready" line (it prints it once it holds what it should).</summary>
        internal ChildProcess(params string[] args)
        {
            var argv = new StringBuilder("--child");
            foreach (string a in args)
            {
                argv.Append(' ').Append(Quote(a));
            }
            ProcessStartInfo info = StartInfo(Assembly.GetEntryAssembly().Location, argv.ToString());
            info.RedirectStandardOutput = true;
            process = Process.Start(info);
            string line = ReadLineWithin(TimeSpan.FromSeconds(30));
            if (line != "ready")
            {
                Kill();
                throw new AssertionException("child " + string.Join(" ", args) + " said " + (line ?? "nothing") + " instead of ready");
            }
        }

        /// <summary>The child's pid.</summary>
        internal int Pid
        {
            get { return process.Id; }
        }

        /// <summary>Kills the child (SIGKILL: no cleanup of its own runs) and waits for it to be gone.</summary>
        internal void Kill()
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            process.WaitForExit(30000);
        }

        /// <summary>Kills the child if it still runs.</summary>
        public void Dispose()
        {
            Kill();
            process.Dispose();
        }

        private string ReadLineWithin(TimeSpan limit)
        {
            string line = null;
            var reader = new Thread(() => line = process.StandardOutput.ReadLine());
            reader.IsBackground = true;
            reader.Start();
            reader.Join(limit);
            return line;
        }

        /// <summary>
        /// How to start the .NET program <paramref name="assembly"/>: with the runtime host
        /// running this one (mono, dotnet) when there is one, else directly (an apphost).
        /// </summary>
        internal static ProcessStartInfo StartInfo(string assembly, string args)
        {
            string host = Process.GetCurrentProcess().MainModule.FileName;
            string hostName = Path.GetFileNameWithoutExtension(host).ToLowerInvariant();
            var info = new ProcessStartInfo();
            if (hostName.StartsWith("mono") || hostName == "dotnet")
            {
                info.FileName = host;
                info.Arguments = Quote(assembly) + " " + args;
            }
            else
            {
                info.FileName = Path.ChangeExtension(assembly, null);
                info.Arguments = args;
            }
            info.UseShellExecute = false;
            return info;
        }

        internal static string Quote(string s)
        {
            return "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        }
    }

    /// <summary>The modes of a helper child process (see ChildProcess).</summary>
    internal static class Child
    {
        /// <summary>
        /// --child hold-lock NAME: acquires the lock, says ready, waits to be killed.
        /// --child hold-permit NAME INITIAL: takes a permit of the semaphore, says ready, waits.
        /// --child barrier-wait NAME PARTIES: says ready, then waits on the barrier.
        /// --child hold-pipe NAME: claims end "a" of the pipe, sends "from child", says ready, waits.
        /// </summary>
        internal static int Run(string[] args)
        {
            if (args.Length < 3)
            {
                Console.Error.WriteLine("usage: --child MODE NAME [N]");
                return 2;
            }
            XProcClient c = XProcClient.Connect();
            switch (args[1])
            {
                case "hold-lock":
                    c.Lock(args[2]).Acquire();
                    break;
                case "hold-permit":
                    c.Semaphore(args[2], long.Parse(args[3])).Acquire();
                    break;
                case "hold-pipe":
                    c.Pipe(args[2], PipeEnd.A).Send("from child");
                    break;
                case "barrier-wait":
                    {
                        XProcBarrier b = c.Barrier(args[2], long.Parse(args[3]));
                        Console.WriteLine("ready");
                        Console.Out.Flush();
                        b.Wait();
                        return 0;
                    }
                default:
                    Console.Error.WriteLine("unknown child mode " + args[1]);
                    return 2;
            }
            Console.WriteLine("ready");
            Console.Out.Flush();
            // The parent kills it; the bound only keeps an orphan from lingering if the
            // parent itself died.
            Thread.Sleep(TimeSpan.FromMinutes(2));
            return 0;
        }
    }
}
