// Peer.cs: the C# peer of the cross-language matrix (tests/cross-language/README.md), over the
// XProc binding (bindings/csharp).
//
// Usage: mono Peer.exe <send|recv> <queue|pipe|dict> <object-name>    (broker: $XPROC_SOCKET)
//
// The sender puts every value case on the object; the receiver takes each one and checks it
// against its own copy of the case, built here natively. Both print one line per step,
// "ok <step>" or "FAIL <step>: expected ..., got ...", and exit 1 if any step failed (2 on a
// usage error).

using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace XProc.Matrix
{
    /// <summary>One named value of the matrix.</summary>
    internal sealed class Case
    {
        internal Case(string name, object value)
        {
            Name = name;
            Value = value;
        }

        /// <summary>The case's name: its step name, and its key in the dict scenario.</summary>
        internal string Name { get; private set; }

        /// <summary>The value, as the binding takes it (long, ulong, double, string, byte[], lists, dictionaries).</summary>
        internal object Value { get; private set; }
    }

    /// <summary>The peer program: cases, comparison, and the three scenarios.</summary>
    internal static class Peer
    {
        /// <summary>How long a receiver waits for each value, and the dict receiver for the
        /// done event: generous, because the sender may still be starting.</summary>
        private static readonly TimeSpan RecvTimeout = TimeSpan.FromSeconds(30);

        /// <summary>How long a sender waits for room (only a broken broker makes it wait).</summary>
        private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(30);

        private const int Mib = 1 << 20;

        /// <summary>The dict scenario's extra entry: an integer key, which every language must
        /// encode in its shortest form for the receiver's own encoding to find the entry.</summary>
        private const long DictIntKey = 42;

        private const string DictIntValue = "answer";

        private static int failures;

        /// <summary>A map with the given entries, in order (key, value, key, value, ...).</summary>
        private static Dictionary<object, object> Map(params object[] entries)
        {
            var map = new Dictionary<object, object>();
            for (int i = 0; i < entries.Length; i += 2)
            {
                map.Add(entries[i], entries[i + 1]);
            }
            return map;
        }

        private static List<object> Array(params object[] items)
        {
            return new List<object>(items);
        }

        /// <summary>The 1 MiB pattern: byte i is i % 251 (a prime, so a shifted or truncated copy shows).</summary>
        private static byte[] MibPattern()
        {
            return Pattern(Mib);
        }

        /// <summary>n bytes of the same pattern (16 MiB travels as a sealed memfd between
        /// clients on the local socket, PROTOCOL.md §4.1).</summary>
        private static byte[] Pattern(int n)
        {
            var bytes = new byte[n];
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)(i % 251);
            }
            return bytes;
        }

        /// <summary>Every case, in the order the queue and pipe scenarios carry them.</summary>
        private static List<Case> Cases()
        {
            return new List<Case>
            {
                new Case("nil", null),
                new Case("true", true),
                new Case("false", false),
                new Case("zero", 0L),
                new Case("minus_one", -1L),
                new Case("i64_min", long.MinValue),
                new Case("i64_max", long.MaxValue),
                new Case("u64_max", ulong.MaxValue),
                new Case("two_pow_53_plus_1", 9007199254740993L),
                new Case("float_1_5", 1.5),
                new Case("nan", double.NaN),
                new Case("pos_inf", double.PositiveInfinity),
                new Case("neg_inf", double.NegativeInfinity),
                new Case("neg_zero", -0.0),
                new Case("empty_string", ""),
                new Case("unicode_string", "héllo wörld ✓ 日本 \U0001F980"),
                new Case("empty_bytes", new byte[0]),
                new Case("bytes_with_zeros", new byte[] { 0, 1, 0, 0, 0xff, 0 }),
                new Case("nested_array",
                    Array(1L, Array(2L, Array(3L, Array())), Array(), Array(Array("deep")))),
                new Case("nested_map",
                    Map("name", "matrix",
                        "inner", Map("list", Array(1L, 2L, 3L),
                                     "deep", Map("x", -1L, "empty", Map())),
                        "empty_list", Array())),
                new Case("int_key_map", Map(1L, "one", -2L, "minus two")),
                new Case("mixed_array",
                    Array(1L, "two", 3.25, true, null, new byte[] { 0, 0xff }, Map("k", "v"), Array(-5L))),
                new Case("bytes_1mib", MibPattern()),
                new Case("bytes_16mib", Pattern(16 * Mib)),
            };
        }

        // ---- describing and comparing values ----

        private static string Describe(object v)
        {
            if (v == null || v is Nil)
            {
                return "nil";
            }
            if (v is bool)
            {
                return "bool " + ((bool)v ? "true" : "false");
            }
            if (v is long || v is ulong || v is int)
            {
                return "int " + Convert.ToString(v, CultureInfo.InvariantCulture);
            }
            if (v is double)
            {
                double d = (double)v;
                // "R" prints -0.0 as "0": spell the sign out, it is what neg_zero checks.
                bool negativeZero = d == 0 && BitConverter.DoubleToInt64Bits(d) < 0;
                return "double " + (negativeZero ? "-0" : d.ToString("R", CultureInfo.InvariantCulture));
            }
            var s = v as string;
            if (s != null)
            {
                return s.Length <= 40 ? "str \"" + s + "\"" : "str \"" + s.Substring(0, 40) + "\"... (" + s.Length + " chars)";
            }
            var b = v as byte[];
            if (b != null)
            {
                string head = string.Join(" ", b.Take(16).Select(x => x.ToString("x2")));
                return "bytes [" + head + "]" + (b.Length > 16 ? "... (" + b.Length + " bytes)" : "");
            }
            var map = v as IDictionary;
            if (map != null)
            {
                var parts = new List<string>();
                foreach (DictionaryEntry e in map)
                {
                    parts.Add(Describe(e.Key) + ": " + Describe(e.Value));
                }
                return "{" + string.Join(", ", parts) + "}";
            }
            var list = v as IList;
            if (list != null)
            {
                return "[" + string.Join(", ", list.Cast<object>().Select(Describe)) + "]";
            }
            return v.GetType().Name + " " + v;
        }

        /// <summary>Whether two doubles are the same number: NaN matches NaN; zeros agree on the sign bit.</summary>
        private static bool SameDouble(double a, double b)
        {
            if (double.IsNaN(a))
            {
                return double.IsNaN(b);
            }
            return a == b && BitConverter.DoubleToInt64Bits(a) < 0 == BitConverter.DoubleToInt64Bits(b) < 0;
        }

        /// <summary>Where and how <paramref name="got"/> differs from <paramref name="expected"/>,
        /// or null. Exact: same .NET type as the binding decodes (long, ulong above long.MaxValue,
        /// double, string, byte[], list, dictionary), same value; maps compare as sets of
        /// entries, keys matched exactly too.</summary>
        private static string Difference(object expected, object got, string path)
        {
            string at = path.Length > 0 ? "at " + path + ": " : "";
            string mismatch = at + "expected " + Describe(expected) + ", got " + Describe(got);
            if (expected == null)
            {
                return got == null ? null : mismatch;
            }
            if (got == null)
            {
                return mismatch;
            }
            if (expected is double)
            {
                return got is double && SameDouble((double)expected, (double)got) ? null : mismatch;
            }
            var eb = expected as byte[];
            if (eb != null)
            {
                var gb = got as byte[];
                if (gb == null)
                {
                    return mismatch;
                }
                if (eb.Length != gb.Length)
                {
                    return at + "expected " + eb.Length + " bytes, got " + gb.Length + " bytes";
                }
                for (int i = 0; i < eb.Length; i++)
                {
                    if (eb[i] != gb[i])
                    {
                        return at + "expected byte " + i + " = 0x" + eb[i].ToString("x2") + ", got 0x" + gb[i].ToString("x2");
                    }
                }
                return null;
            }
            var emap = expected as IDictionary;
            if (emap != null)
            {
                var gmap = got as IDictionary;
                if (gmap == null || gmap.Count != emap.Count)
                {
                    return mismatch;
                }
                foreach (DictionaryEntry e in emap)
                {
                    object found = null;
                    bool any = false;
                    foreach (DictionaryEntry g in gmap)
                    {
                        if (Difference(e.Key, g.Key is Nil ? null : g.Key, "") == null)
                        {
                            found = g.Value;
                            any = true;
                            break;
                        }
                    }
                    if (!any)
                    {
                        return at + "expected a key " + Describe(e.Key) + ", got " + Describe(got);
                    }
                    string why = Difference(e.Value, found, path + "[" + Describe(e.Key) + "]");
                    if (why != null)
                    {
                        return why;
                    }
                }
                return null;
            }
            var elist = expected as IList;
            if (elist != null)
            {
                var glist = got as IList;
                if (glist == null || glist is byte[] || glist.Count != elist.Count)
                {
                    return mismatch;
                }
                for (int i = 0; i < elist.Count; i++)
                {
                    string why = Difference(elist[i], glist[i], path + "[" + i + "]");
                    if (why != null)
                    {
                        return why;
                    }
                }
                return null;
            }
            // Scalars: bool, long, ulong, string. The type must match too: 1 is not true.
            return expected.GetType() == got.GetType() && expected.Equals(got) ? null : mismatch;
        }

        // ---- reporting ----

        private static void Ok(string step)
        {
            Console.WriteLine("ok " + step);
        }

        private static void Fail(string step, string why)
        {
            failures++;
            Console.WriteLine("FAIL " + step + ": " + why);
        }

        /// <summary>Receives one value and checks it; false if nothing was received (a queue or
        /// pipe receiver stops there: every later wait would fail the same way).</summary>
        private static bool Check(string step, object expected, Func<object> receive)
        {
            object got;
            try
            {
                got = receive();
            }
            catch (Exception e)
            {
                Fail(step, "expected " + Describe(expected) + ", got " + e.GetType().Name + ": " + e.Message);
                return false;
            }
            string why = Difference(expected, got, "");
            if (why == null)
            {
                Ok(step);
            }
            else
            {
                Fail(step, why);
            }
            return true;
        }

        /// <summary>Runs one sending step; false (and a FAIL line) if it threw.</summary>
        private static bool Sent(string step, Action send)
        {
            try
            {
                send();
            }
            catch (Exception e)
            {
                Fail(step, "send failed: " + e.GetType().Name + ": " + e.Message);
                return false;
            }
            Ok(step);
            return true;
        }

        // ---- the three scenarios ----

        private static void Send(XProcClient c, string scenario, string name)
        {
            var cases = Cases();
            if (scenario == "queue")
            {
                using (var q = c.Queue(name))
                {
                    foreach (var k in cases)
                    {
                        if (!Sent(k.Name, () => q.Put(k.Value, SendTimeout)))
                        {
                            return;
                        }
                    }
                }
            }
            else if (scenario == "pipe")
            {
                using (var p = c.Pipe(name, PipeEnd.A))
                {
                    foreach (var k in cases)
                    {
                        if (!Sent(k.Name, () => p.Send(k.Value, SendTimeout)))
                        {
                            return;
                        }
                    }
                    // Closing is what tells the receiver that nothing more comes (end of file).
                    Sent("end", p.Close);
                }
            }
            else
            {
                using (var d = c.Dict(name))
                {
                    foreach (var k in cases)
                    {
                        if (!Sent(k.Name, () => d[k.Name] = k.Value))
                        {
                            return;
                        }
                    }
                    if (Sent("dict_int_key", () => d[DictIntKey] = DictIntValue))
                    {
                        Sent("end", () =>
                        {
                            using (var done = c.Event(name + ".done"))
                            {
                                done.Set();
                            }
                        });
                    }
                }
            }
        }

        private static void Recv(XProcClient c, string scenario, string name)
        {
            var cases = Cases();
            if (scenario == "queue")
            {
                using (var q = c.Queue(name))
                {
                    foreach (var k in cases)
                    {
                        if (!Check(k.Name, k.Value, () => q.Get(RecvTimeout)))
                        {
                            return;
                        }
                    }
                    object extra;
                    if (q.TryGet(out extra))
                    {
                        Fail("end", "expected an empty queue, got " + Describe(extra));
                    }
                    else
                    {
                        Ok("end");
                    }
                }
            }
            else if (scenario == "pipe")
            {
                using (var p = c.Pipe(name, PipeEnd.B))
                {
                    foreach (var k in cases)
                    {
                        if (!Check(k.Name, k.Value, () => p.Receive(RecvTimeout)))
                        {
                            return;
                        }
                    }
                    try
                    {
                        object extra = p.Receive(RecvTimeout);
                        Fail("end", "expected end of file, got " + Describe(extra));
                    }
                    catch (PipeClosedException)
                    {
                        Ok("end");
                    }
                    catch (Exception e)
                    {
                        Fail("end", "expected end of file (PipeClosedException), got " + e.GetType().Name + ": " + e.Message);
                    }
                }
            }
            else
            {
                using (var done = c.Event(name + ".done"))
                {
                    if (!done.Wait(RecvTimeout))
                    {
                        Fail("done", "the sender's done event was not set in time");
                        return;
                    }
                }
                using (var d = c.Dict(name))
                {
                    foreach (var k in cases)
                    {
                        // A missing key does not block: check every key.
                        Check(k.Name, k.Value, () => d[k.Name]);
                    }
                    Check("dict_int_key", DictIntValue, () => d[DictIntKey]);
                    int want = cases.Count + 1;
                    int n = d.Count;
                    if (n == want)
                    {
                        Ok("end");
                    }
                    else
                    {
                        Fail("end", "expected " + want + " entries, got " + n);
                    }
                }
            }
        }

        private static int Main(string[] args)
        {
            // Console output in UTF-8 whatever the locale, so FAIL lines show strings as sent.
            Console.OutputEncoding = new UTF8Encoding(false);
            if (args.Length != 3 || (args[0] != "send" && args[0] != "recv")
                || (args[1] != "queue" && args[1] != "pipe" && args[1] != "dict"))
            {
                Console.Error.WriteLine("usage: Peer.exe <send|recv> <queue|pipe|dict> <object-name>");
                return 2;
            }
            XProcClient client;
            try
            {
                client = XProcClient.Connect();
            }
            catch (Exception e)
            {
                Fail("connect", e.GetType().Name + ": " + e.Message);
                return 1;
            }
            using (client)
            {
                try
                {
                    if (args[0] == "send")
                    {
                        Send(client, args[1], args[2]);
                    }
                    else
                    {
                        Recv(client, args[1], args[2]);
                    }
                }
                catch (Exception e)
                {
                    // Opening an object (or counting the dict) failed: report it, don't trace.
                    Fail("open", e.GetType().Name + ": " + e.Message);
                }
            }
            return failures == 0 ? 0 : 1;
        }
    }
}
