// CodecTests.cs: MessagePack.cs against known byte vectors (the MessagePack spec's shortest
// forms), its decoding rules (the broker's), and against libxproc's own encoder (Rust rmp),
// called directly, so both sides of a cross-language dict key write the same bytes.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace XProc.Tests
{
    internal static class CodecTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("codec.scalars", Scalars);
            yield return new Test("codec.integers_shortest_form", Integers);
            yield return new Test("codec.floats", Floats);
            yield return new Test("codec.strings_and_bytes", StringsAndBytes);
            yield return new Test("codec.arrays_and_maps", ArraysAndMaps);
            yield return new Test("codec.timestamps_and_extensions", TimestampsAndExtensions);
            yield return new Test("codec.decodes_every_form", DecodesEveryForm);
            yield return new Test("codec.refuses_malformed_input", RefusesMalformed);
            yield return new Test("codec.refuses_unencodable_values", RefusesUnencodable);
            yield return new Test("codec.roundtrip_nested", RoundtripNested);
            yield return new Test("codec.value_comparer", Comparer);
            yield return new Test("codec.matches_libxproc_encoder", MatchesLibxproc);
        }

        private static void Enc(string hex, object value)
        {
            Assert.Bytes(hex, MessagePack.Encode(value), "encoding of " + Assert.Show(value));
        }

        private static object Dec(string hex)
        {
            return MessagePack.Decode(Fixture.Hex(hex));
        }

        private static void Scalars()
        {
            Enc("c0", null);
            Enc("c0", Nil.Value);
            Enc("c3", true);
            Enc("c2", false);
            Assert.Equal(null, Dec("c0"));
            Assert.Equal(true, Dec("c3"));
            Assert.Equal(false, Dec("c2"));
        }

        private static void Integers()
        {
            Enc("00", 0);
            Enc("7f", 127);
            Enc("cc80", 128);
            Enc("ccff", 255);
            Enc("cd0100", 256);
            Enc("cdffff", 65535);
            Enc("ce00010000", 65536);
            Enc("ceffffffff", 4294967295L);
            Enc("cf0000000100000000", 4294967296L);
            Enc("cf7fffffffffffffff", long.MaxValue);
            Enc("cfffffffffffffffff", ulong.MaxValue);
            Enc("ff", -1);
            Enc("e0", -32);
            Enc("d0df", -33);
            Enc("d080", -128);
            Enc("d1ff7f", -129);
            Enc("d18000", -32768);
            Enc("d2ffff7fff", -32769);
            Enc("d280000000", int.MinValue);
            Enc("d3ffffffff7fffffff", (long)int.MinValue - 1);
            Enc("d38000000000000000", long.MinValue);
            // Every .NET integer type writes the same bytes for the same number.
            Enc("01", (byte)1);
            Enc("01", (sbyte)1);
            Enc("01", (short)1);
            Enc("01", (ushort)1);
            Enc("01", 1u);
            Enc("01", 1UL);
            Enc("cd012c", 300u);
            Enc("ff", (sbyte)-1);
            Enc("02", DayOfWeek.Tuesday);
        }

        private static void Floats()
        {
            Enc("cb3ff8000000000000", 1.5);
            Enc("ca3fc00000", 1.5f);
            Enc("cb8000000000000000", -0.0);
            Enc("cb7ff0000000000000", double.PositiveInfinity);
            Assert.Equal(1.5, Dec("cb3ff8000000000000"));
            Assert.Equal(1.5, Dec("ca3fc00000"), "float 32 decodes to double");
            Assert.True(double.IsNaN((double)Dec("cb7ff8000000000000")), "NaN");
        }

        private static void StringsAndBytes()
        {
            Enc("a0", "");
            Enc("a161", "a");
            Enc("a161", 'a');
            Enc("a2c3a9", "é");
            Enc("a4f09fa680", "🦀");
            Enc("bf" + Repeat("61", 31), new string('a', 31));
            Enc("d920" + Repeat("61", 32), new string('a', 32));
            Enc("da0100" + Repeat("61", 256), new string('a', 256));
            Enc("db00010000" + Repeat("61", 65536), new string('a', 65536));
            Enc("c400", new byte[0]);
            Enc("c403010203", new byte[] { 1, 2, 3 });
            Enc("c50100" + Repeat("00", 256), new byte[256]);
            Enc("c600010000" + Repeat("00", 65536), new byte[65536]);
            Assert.Equal("é", Dec("a2c3a9"));
            Assert.Equal("a", Dec("d90161"), "str 8");
            Assert.Equal("a", Dec("da000161"), "str 16");
            Assert.Equal("a", Dec("db0000000161"), "str 32");
            Assert.Equal(new byte[] { 7 }, Dec("c40107"));
            Assert.Equal(new byte[] { 7 }, Dec("c5000107"), "bin 16");
            Assert.Equal(new byte[] { 7 }, Dec("c60000000107"), "bin 32");
        }

        private static void ArraysAndMaps()
        {
            Enc("90", new object[0]);
            Enc("920102", new List<object> { 1, 2 });
            Enc("920102", new[] { 1, 2 });
            Enc("dc0010" + Repeat("00", 16), new int[16]);
            Enc("80", new Dictionary<string, object>());
            Enc("81a16101", new Dictionary<string, object> { { "a", 1 } });
            // Insertion order is kept.
            Enc("82a162c3a161c2", new Dictionary<string, bool> { { "b", true }, { "a", false } });
            var big = new Dictionary<int, int>();
            for (int i = 0; i < 16; i++)
            {
                big[i] = 0;
            }
            var sb = new StringBuilder("de0010");
            for (int i = 0; i < 16; i++)
            {
                sb.Append(i.ToString("x2")).Append("00");
            }
            Enc(sb.ToString(), big);
            // Other enumerables become arrays.
            Enc("93010203", new HashSet<int> { 1, 2, 3 });
            Assert.Equal(new List<object> { 1L, "x" }, Dec("9201a178"));
            Assert.Equal(new List<object> { 1L }, Dec("dc000101"), "array 16");
            Assert.Equal(new List<object> { 1L }, Dec("dd0000000101"), "array 32");
            var m = (Dictionary<object, object>)Dec("82a162c3a161c2");
            Assert.Equal(new List<object> { "b", "a" }, new List<object>(m.Keys), "decoded map keeps order");
            Assert.Equal(1, ((Dictionary<object, object>)Dec("de0001a16101")).Count, "map 16");
            Assert.Equal(1, ((Dictionary<object, object>)Dec("df00000001a16101")).Count, "map 32");
        }

        private static void TimestampsAndExtensions()
        {
            Enc("d6ff00000001", new Timestamp(1, 0));
            Enc("d7ff0000000400000001", new Timestamp(1, 1));
            Enc("c70cff00000000ffffffffffffffff", new Timestamp(-1, 0));
            Enc("c70cff0000000100000004" + "00000000", new Timestamp(1L << 34, 1));
            Enc("d6ff00000000", new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            Enc("d7ff2faf08005e0be100", new DateTime(2020, 1, 1, 0, 0, 0, 200, DateTimeKind.Utc));
            Enc("d6ff5e0be100", new DateTimeOffset(2020, 1, 1, 1, 0, 0, TimeSpan.FromHours(1)));
            Enc("d40501", new Extension(5, new byte[] { 1 }));
            Enc("c703050102 03".Replace(" ", ""), new Extension(5, new byte[] { 1, 2, 3 }));
            Enc("d8" + "05" + Repeat("00", 16), new Extension(5, new byte[16]));
            Assert.Equal(new Timestamp(1, 0), Dec("d6ff00000001"));
            Assert.Equal(new Timestamp(1, 1), Dec("d7ff0000000400000001"));
            Assert.Equal(new Timestamp(-1, 0), Dec("c70cff00000000ffffffffffffffff"));
            Assert.Equal(new Extension(5, new byte[] { 1, 2, 3 }), Dec("c703050102 03".Replace(" ", "")));
            Assert.Equal(new DateTime(2020, 1, 1, 0, 0, 0, 200, DateTimeKind.Utc),
                ((Timestamp)Dec("d7ff2faf08005e0be100")).ToDateTime(), "timestamp as DateTime");
            Assert.Equal(new Timestamp(-1, 999999900),
                Timestamp.FromDateTime(new DateTime(1969, 12, 31, 23, 59, 59, DateTimeKind.Utc).AddTicks(9999999)),
                "before the epoch");
        }

        private static void DecodesEveryForm()
        {
            Assert.Equal(5L, Dec("05"));
            Assert.Equal(-3L, Dec("fd"));
            Assert.Equal(200L, Dec("ccc8"));
            Assert.Equal(1L, Dec("cd0001"), "uint16 in a longer form than needed");
            Assert.Equal(1L, Dec("ce00000001"));
            Assert.Equal(1L, Dec("cf0000000000000001"));
            Assert.Equal(long.MaxValue, Dec("cf7fffffffffffffff"));
            Assert.Equal(ulong.MaxValue, Dec("cfffffffffffffffff"), "above long.MaxValue is a ulong");
            Assert.Equal(-1L, Dec("d0ff"));
            Assert.Equal(-1L, Dec("d1ffff"));
            Assert.Equal(-1L, Dec("d2ffffffff"));
            Assert.Equal(long.MinValue, Dec("d38000000000000000"));
            var withNilKey = (Dictionary<object, object>)Dec("81c001");
            Assert.Equal(1L, withNilKey[Nil.Value], "a nil map key reads as Nil.Value");
            Assert.Bytes("81c001", MessagePack.Encode(withNilKey), "and encodes back to nil");
            Assert.Equal(2L, ((Dictionary<object, object>)Dec("82010101 02".Replace(" ", "")))[1L], "a repeated key keeps the last value");
            Assert.Equal(9L, MessagePack.Decode(Fixture.Hex("c00509c0"), 2, 1), "offset and count");
        }

        private static void RefusesMalformed()
        {
            string[] bad =
            {
                "",                 // nothing
                "c1",               // the never-used marker
                "0101",             // trailing bytes
                "92 01",            // truncated array
                "a3 6161",          // truncated string
                "a1 ff",            // not UTF-8
                "cd 01",            // truncated integer
                "d5 ff 0000",       // a timestamp of 2 bytes
                "dd ffffffff",      // an array claiming 4 billion elements
                "df ffffffff",      // a map claiming 4 billion entries
                "c6 ffffffff",      // bin claiming 4 GiB
            };
            foreach (string hex in bad)
            {
                Assert.Throws<FormatException>(() => Dec(hex), "decoding " + hex);
            }
            // At most 100 levels of non-empty arrays and maps (the broker's rule).
            Assert.Throws<FormatException>(() => Dec(Repeat("91", 101) + "c0"), "101 levels");
            Dec(Repeat("91", 100) + "c0");
            Dec(Repeat("91", 100) + "90");
        }

        private static void RefusesUnencodable()
        {
            Assert.Throws<ArgumentException>(() => MessagePack.Encode(1.5m), "decimal");
            Assert.Throws<ArgumentException>(() => MessagePack.Encode(new object()), "a plain object");
            Assert.Throws<ArgumentException>(() => MessagePack.Encode("\ud800"), "a lone surrogate");
            object deep = 1;
            for (int i = 0; i < 101; i++)
            {
                deep = new object[] { deep };
            }
            Assert.Throws<ArgumentException>(() => MessagePack.Encode(deep), "101 levels");
            var cycle = new List<object>();
            cycle.Add(cycle);
            Assert.Throws<ArgumentException>(() => MessagePack.Encode(cycle), "a list containing itself");
        }

        private static void RoundtripNested()
        {
            var value = new Dictionary<object, object>
            {
                { "name", "wörk" },
                { "n", 42L },
                { "big", ulong.MaxValue },
                { "neg", long.MinValue },
                { "pi", 3.141592653589793 },
                { "blob", new byte[] { 0, 255, 1 } },
                { "list", new List<object> { null, true, new List<object>(), new Dictionary<object, object>() } },
                { 7L, "int key" },
                { "when", new Timestamp(1700000000, 123456789) },
                { "ext", new Extension(42, new byte[] { 9, 8 }) },
            };
            object back = MessagePack.Decode(MessagePack.Encode(value));
            Assert.Equal(value, back, "round trip");
            Assert.Bytes(Assert.Hex(MessagePack.Encode(value)), MessagePack.Encode(back), "re-encoding");
        }

        private static void Comparer()
        {
            ValueComparer c = ValueComparer.Instance;
            Assert.True(c.Equals(1, 1L), "1 == 1L");
            Assert.True(c.Equals((byte)1, 1UL), "(byte)1 == 1UL");
            Assert.False(c.Equals(1, 1.0), "1 == 1.0");
            Assert.False(c.Equals(1, "1"), "1 == \"1\"");
            Assert.True(c.Equals(new byte[] { 1, 2 }, new byte[] { 1, 2 }), "byte arrays by content");
            Assert.True(c.Equals(new object[] { 1, "a" }, new List<object> { 1L, "a" }), "lists by content");
            Assert.True(c.GetHashCode(1) == c.GetHashCode(1L), "equal hashes for 1 and 1L");
            var m = (Dictionary<object, object>)Dec("82 01 a3616e79 c403010203 a362696e".Replace(" ", ""));
            Assert.Equal("any", m[1], "an int finds a long key");
            Assert.Equal("bin", m[new byte[] { 1, 2, 3 }], "a byte array finds a bin key");
        }

        private static void MatchesLibxproc()
        {
            long[] ints =
            {
                0, 1, 127, 128, 255, 256, 65535, 65536, uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue,
                -1, -32, -33, -128, -129, short.MinValue, short.MinValue - 1, int.MinValue, (long)int.MinValue - 1, long.MinValue,
            };
            foreach (long n in ints)
            {
                Assert.Bytes(Assert.Hex(Lib.EncodeInt(n)), MessagePack.Encode(n), "C# and libxproc encodings of " + n);
            }
            Assert.Bytes(Assert.Hex(Lib.EncodeUInt(ulong.MaxValue)), MessagePack.Encode(ulong.MaxValue), "u64 max");
            Assert.Bytes(Assert.Hex(Lib.EncodeDouble(-2.5)), MessagePack.Encode(-2.5), "a double");
            foreach (int len in new[] { 0, 31, 32, 255, 256, 65536 })
            {
                string s = new string('x', len);
                Assert.Bytes(Assert.Hex(Lib.EncodeString(s)), MessagePack.Encode(s), "a string of " + len);
            }
            // libxproc's validating decoder accepts everything the C# encoder writes.
            object[] samples =
            {
                null, true, 1.5f, "é", new byte[300], new object[20], new Dictionary<string, object> { { "k", new int[3] } },
                new Timestamp(-5, 7), new Timestamp(1, 0), new Timestamp(1, 1), new Extension(3, new byte[70000]),
            };
            foreach (object v in samples)
            {
                Assert.True(Lib.Accepts(MessagePack.Encode(v)), "libxproc accepts the encoding of " + Assert.Show(v));
            }
            Assert.False(Lib.Accepts(Fixture.Hex("c1")), "libxproc refuses 0xc1 (the check itself works)");
        }

        private static string Repeat(string s, int n)
        {
            var sb = new StringBuilder(s.Length * n);
            for (int i = 0; i < n; i++)
            {
                sb.Append(s);
            }
            return sb.ToString();
        }

        /// <summary>libxproc's value API (Rust's encoder), declared here for the comparison only.</summary>
        private static class Lib
        {
            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern IntPtr xproc_value_new_int64(long n);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern IntPtr xproc_value_new_uint64(ulong n);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern IntPtr xproc_value_new_double(double x);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern int xproc_value_new_string(byte[] s, UIntPtr len, out IntPtr value);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern int xproc_value_encode(IntPtr value, out IntPtr data, out UIntPtr len);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern int xproc_value_decode(byte[] data, UIntPtr len, out IntPtr value);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern void xproc_value_free(IntPtr value);

            [DllImport("xproc", CallingConvention = CallingConvention.Cdecl)]
            private static extern void xproc_bytes_free(IntPtr data, UIntPtr len);

            internal static byte[] EncodeInt(long n)
            {
                return EncodeAndFree(xproc_value_new_int64(n));
            }

            internal static byte[] EncodeUInt(ulong n)
            {
                return EncodeAndFree(xproc_value_new_uint64(n));
            }

            internal static byte[] EncodeDouble(double x)
            {
                return EncodeAndFree(xproc_value_new_double(x));
            }

            internal static byte[] EncodeString(string s)
            {
                byte[] utf8 = Encoding.UTF8.GetBytes(s);
                IntPtr v;
                Assert.Equal(0, xproc_value_new_string(utf8, new UIntPtr((uint)utf8.Length), out v), "xproc_value_new_string");
                return EncodeAndFree(v);
            }

            internal static bool Accepts(byte[] data)
            {
                IntPtr v;
                int st = xproc_value_decode(data, new UIntPtr((uint)data.Length), out v);
                xproc_value_free(v);
                return st == 0;
            }

            private static byte[] EncodeAndFree(IntPtr value)
            {
                try
                {
                    IntPtr data;
                    UIntPtr len;
                    Assert.Equal(0, xproc_value_encode(value, out data, out len), "xproc_value_encode");
                    var b = new byte[(int)len.ToUInt64()];
                    Marshal.Copy(data, b, 0, b.Length);
                    xproc_bytes_free(data, len);
                    return b;
                }
                finally
                {
                    xproc_value_free(value);
                }
            }
        }
    }
}
