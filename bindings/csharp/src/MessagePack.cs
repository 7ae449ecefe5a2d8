// MessagePack.cs: the binding's own MessagePack codec (no NuGet here), between .NET objects
// and the bytes libxproc's _raw functions carry (docs/PROTOCOL.md §4).
//
// Encoding writes the shortest form of every integer, length and header, as every standard
// encoder does: dict keys compare by their encoded bytes, so 1 from C# must be the same bytes
// as 1 from Python or Rust. Decoding accepts every form and applies the broker's rules
// (exactly one value, no 0xc1, UTF-8 strings, timestamps of 4, 8 or 12 bytes, at most 100
// levels of nested non-empty arrays and maps).
//
// .NET -> MessagePack:  null, Nil -> nil; bool; sbyte/short/int/long (and enums) -> int;
//   byte/ushort/uint/ulong -> int (shortest form, unsigned when not negative); float -> float 32;
//   double -> float 64; string, char -> str (UTF-8); byte[] -> bin; IDictionary -> map;
//   IList and other IEnumerables -> array; Timestamp, DateTime, DateTimeOffset -> timestamp
//   extension; Extension -> ext. Anything else (decimal, arbitrary objects) is refused.
// MessagePack -> .NET:  nil -> null (Nil.Value as a map key); bool; int -> long (ulong above
//   long.MaxValue); float 32/64 -> double; str -> string; bin -> byte[]; array ->
//   List<object>; map -> Dictionary<object, object> comparing keys as the broker does
//   (ValueComparer); timestamp -> Timestamp; other ext -> Extension.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Text;

namespace XProc
{
    /// <summary>Encodes .NET values to MessagePack and decodes them back (see the file header for the mapping).</summary>
    public static class MessagePack
    {
        /// <summary>The deepest nesting of non-empty arrays and maps the broker accepts.</summary>
        public const int MaxDepth = 100;

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>Encodes one value.</summary>
        /// <exception cref="ArgumentException">A type with no MessagePack form, a string that
        /// is not valid UTF-16, or nesting deeper than <see cref="MaxDepth"/>.</exception>
        public static byte[] Encode(object value)
        {
            var w = new Writer();
            w.Write(value, 0);
            return w.ToArray();
        }

        /// <summary>Decodes exactly one value filling <paramref name="data"/>.</summary>
        /// <exception cref="FormatException">Not exactly one well-formed value.</exception>
        public static object Decode(byte[] data)
        {
            if (data == null)
            {
                throw new ArgumentNullException("data");
            }
            return Decode(data, 0, data.Length);
        }

        /// <summary>Decodes exactly one value filling <paramref name="count"/> bytes of <paramref name="data"/> from <paramref name="offset"/>.</summary>
        /// <exception cref="FormatException">Not exactly one well-formed value.</exception>
        public static object Decode(byte[] data, int offset, int count)
        {
            if (data == null)
            {
                throw new ArgumentNullException("data");
            }
            if (offset < 0 || count < 0 || offset > data.Length - count)
            {
                throw new ArgumentOutOfRangeException("count", "offset and count exceed the array");
            }
            var r = new Reader(data, offset, offset + count);
            object value = r.Read(0);
            if (r.Pos != offset + count)
            {
                throw new FormatException("trailing bytes after the MessagePack value at offset " + (r.Pos - offset));
            }
            return value;
        }

        /// <summary>The growing output of one Encode call.</summary>
        private sealed class Writer
        {
            private byte[] buf = new byte[64];
            private int len;

            internal byte[] ToArray()
            {
                var result = new byte[len];
                Buffer.BlockCopy(buf, 0, result, 0, len);
                return result;
            }

            private void Room(int n)
            {
                if (len + n > buf.Length)
                {
                    int size = Math.Max(buf.Length * 2, len + n);
                    Array.Resize(ref buf, size);
                }
            }

            private void Byte(int b)
            {
                Room(1);
                buf[len++] = (byte)b;
            }

            /// <summary>A marker followed by <paramref name="size"/> big-endian bytes of <paramref name="v"/>.</summary>
            private void BigEndian(int marker, ulong v, int size)
            {
                Room(1 + size);
                buf[len++] = (byte)marker;
                for (int shift = (size - 1) * 8; shift >= 0; shift -= 8)
                {
                    buf[len++] = (byte)(v >> shift);
                }
            }

            private void Raw(byte[] bytes)
            {
                Room(bytes.Length);
                Buffer.BlockCopy(bytes, 0, buf, len, bytes.Length);
                len += bytes.Length;
            }

            internal void Write(object value, int depth)
            {
                if (value == null || value is Nil)
                {
                    Byte(0xc0);
                    return;
                }
                if (value is bool)
                {
                    Byte((bool)value ? 0xc3 : 0xc2);
                    return;
                }
                string s = value as string;
                if (s != null)
                {
                    WriteString(s);
                    return;
                }
                byte[] bin = value as byte[];
                if (bin != null)
                {
                    WriteHeader(bin.Length, 0xc4, 0xc4, 0xc5, 0xc6, -1);
                    Raw(bin);
                    return;
                }
                if (value is Enum)
                {
                    value = Convert.ChangeType(value, Enum.GetUnderlyingType(value.GetType()));
                }
                switch (Type.GetTypeCode(value.GetType()))
                {
                    case TypeCode.SByte:
                    case TypeCode.Int16:
                    case TypeCode.Int32:
                    case TypeCode.Int64:
                        WriteInt(Convert.ToInt64(value));
                        return;
                    case TypeCode.Byte:
                    case TypeCode.UInt16:
                    case TypeCode.UInt32:
                    case TypeCode.UInt64:
                        WriteUInt(Convert.ToUInt64(value));
                        return;
                    case TypeCode.Single:
                        BigEndian(0xca, (uint)BitConverter.ToInt32(BitConverter.GetBytes((float)value), 0), 4);
                        return;
                    case TypeCode.Double:
                        BigEndian(0xcb, (ulong)BitConverter.DoubleToInt64Bits((double)value), 8);
                        return;
                    case TypeCode.Char:
                        WriteString(value.ToString());
                        return;
                    case TypeCode.DateTime:
                        WriteExt(-1, Timestamp.FromDateTime((DateTime)value).ToBytes());
                        return;
                }
                if (value is DateTimeOffset)
                {
                    WriteExt(-1, Timestamp.FromDateTimeOffset((DateTimeOffset)value).ToBytes());
                    return;
                }
                if (value is Timestamp)
                {
                    WriteExt(-1, ((Timestamp)value).ToBytes());
                    return;
                }
                var ext = value as Extension;
                if (ext != null)
                {
                    WriteExt(ext.Type, ext.Data);
                    return;
                }
                var map = value as IDictionary;
                if (map != null)
                {
                    Nest(map.Count, depth);
                    WriteHeader(map.Count, 0x80, -1, 0xde, 0xdf, 15);
                    foreach (DictionaryEntry e in map)
                    {
                        Write(e.Key, depth + 1);
                        Write(e.Value, depth + 1);
                    }
                    return;
                }
                var list = value as IList;
                if (list == null && value is IEnumerable)
                {
                    var items = new List<object>();
                    foreach (object item in (IEnumerable)value)
                    {
                        items.Add(item);
                    }
                    list = items;
                }
                if (list != null)
                {
                    Nest(list.Count, depth);
                    WriteHeader(list.Count, 0x90, -1, 0xdc, 0xdd, 15);
                    foreach (object item in list)
                    {
                        Write(item, depth + 1);
                    }
                    return;
                }
                throw new ArgumentException("values of type " + value.GetType().FullName + " have no MessagePack form");
            }

            /// <summary>Refuses a non-empty container that would nest deeper than the broker accepts (also stops cycles).</summary>
            private static void Nest(int count, int depth)
            {
                if (count > 0 && depth >= MaxDepth)
                {
                    throw new ArgumentException("the value nests deeper than " + MaxDepth + " levels of arrays and maps");
                }
            }

            /// <summary>
            /// A length header: the fix form (<paramref name="fix"/> | n) when n fits
            /// <paramref name="fixMax"/>, else the 8-, 16- or 32-bit form (a marker of -1 means the
            /// type has no such form).
            /// </summary>
            private void WriteHeader(int n, int fix, int m8, int m16, int m32, int fixMax)
            {
                if (n <= fixMax)
                {
                    Byte(fix | n);
                }
                else if (n <= 0xff && m8 >= 0)
                {
                    BigEndian(m8, (ulong)n, 1);
                }
                else if (n <= 0xffff)
                {
                    BigEndian(m16, (ulong)n, 2);
                }
                else
                {
                    BigEndian(m32, (ulong)n, 4);
                }
            }

            private void WriteString(string s)
            {
                byte[] utf8;
                try
                {
                    utf8 = StrictUtf8.GetBytes(s);
                }
                catch (EncoderFallbackException e)
                {
                    throw new ArgumentException("a string that is not valid UTF-16 (a lone surrogate) has no UTF-8 form", e);
                }
                WriteHeader(utf8.Length, 0xa0, 0xd9, 0xda, 0xdb, 31);
                Raw(utf8);
            }

            private void WriteInt(long n)
            {
                if (n >= 0)
                {
                    WriteUInt((ulong)n);
                }
                else if (n >= -32)
                {
                    Byte((int)(n & 0xff));
                }
                else if (n >= sbyte.MinValue)
                {
                    BigEndian(0xd0, (ulong)n, 1);
                }
                else if (n >= short.MinValue)
                {
                    BigEndian(0xd1, (ulong)n, 2);
                }
                else if (n >= int.MinValue)
                {
                    BigEndian(0xd2, (ulong)n, 4);
                }
                else
                {
                    BigEndian(0xd3, (ulong)n, 8);
                }
            }

            private void WriteUInt(ulong n)
            {
                if (n <= 0x7f)
                {
                    Byte((int)n);
                }
                else if (n <= byte.MaxValue)
                {
                    BigEndian(0xcc, n, 1);
                }
                else if (n <= ushort.MaxValue)
                {
                    BigEndian(0xcd, n, 2);
                }
                else if (n <= uint.MaxValue)
                {
                    BigEndian(0xce, n, 4);
                }
                else
                {
                    BigEndian(0xcf, n, 8);
                }
            }

            private void WriteExt(sbyte type, byte[] data)
            {
                if (data == null)
                {
                    throw new ArgumentException("an Extension needs data");
                }
                switch (data.Length)
                {
                    case 1: Byte(0xd4); break;
                    case 2: Byte(0xd5); break;
                    case 4: Byte(0xd6); break;
                    case 8: Byte(0xd7); break;
                    case 16: Byte(0xd8); break;
                    default:
                        if (data.Length <= 0xff)
                        {
                            BigEndian(0xc7, (ulong)data.Length, 1);
                        }
                        else if (data.Length <= 0xffff)
                        {
                            BigEndian(0xc8, (ulong)data.Length, 2);
                        }
                        else
                        {
                            BigEndian(0xc9, (ulong)data.Length, 4);
                        }
                        break;
                }
                Byte((byte)type);
                Raw(data);
            }
        }

        /// <summary>The cursor of one Decode call.</summary>
        private sealed class Reader
        {
            private readonly byte[] data;
            private readonly int end;
            internal int Pos;

            internal Reader(byte[] data, int start, int end)
            {
                this.data = data;
                Pos = start;
                this.end = end;
            }

            private FormatException Truncated()
            {
                return new FormatException("the MessagePack value is truncated");
            }

            private int Byte()
            {
                if (Pos >= end)
                {
                    throw Truncated();
                }
                return data[Pos++];
            }

            private ulong BigEndian(int size)
            {
                if (end - Pos < size)
                {
                    throw Truncated();
                }
                ulong v = 0;
                for (int i = 0; i < size; i++)
                {
                    v = (v << 8) | data[Pos++];
                }
                return v;
            }

            /// <summary>A length that must still fit in the input (so a huge claimed count costs nothing).</summary>
            private int Length(ulong n, int minBytesEach)
            {
                if (n > (ulong)(end - Pos) / (ulong)Math.Max(minBytesEach, 1))
                {
                    throw Truncated();
                }
                return (int)n;
            }

            private byte[] Bytes(int n)
            {
                var b = new byte[n];
                Buffer.BlockCopy(data, Pos, b, 0, n);
                Pos += n;
                return b;
            }

            internal object Read(int depth)
            {
                int at = Pos;
                int m = Byte();
                if (m <= 0x7f)
                {
                    return (long)m;
                }
                if (m >= 0xe0)
                {
                    return (long)(sbyte)m;
                }
                if (m <= 0x8f)
                {
                    return ReadMap(m & 0x0f, depth);
                }
                if (m <= 0x9f)
                {
                    return ReadArray(m & 0x0f, depth);
                }
                if (m <= 0xbf)
                {
                    return ReadString(m & 0x1f);
                }
                switch (m)
                {
                    case 0xc0: return null;
                    case 0xc2: return false;
                    case 0xc3: return true;
                    case 0xc4: return Bytes(Length(BigEndian(1), 1));
                    case 0xc5: return Bytes(Length(BigEndian(2), 1));
                    case 0xc6: return Bytes(Length(BigEndian(4), 1));
                    case 0xc7: return ReadExt(Length(BigEndian(1), 1), at);
                    case 0xc8: return ReadExt(Length(BigEndian(2), 1), at);
                    case 0xc9: return ReadExt(Length(BigEndian(4), 1), at);
                    case 0xca: return (double)BitConverter.ToSingle(BitConverter.GetBytes((uint)BigEndian(4)), 0);
                    case 0xcb: return BitConverter.Int64BitsToDouble((long)BigEndian(8));
                    case 0xcc: return (long)BigEndian(1);
                    case 0xcd: return (long)BigEndian(2);
                    case 0xce: return (long)BigEndian(4);
                    case 0xcf:
                        {
                            ulong u = BigEndian(8);
                            return u <= long.MaxValue ? (object)(long)u : u;
                        }
                    case 0xd0: return (long)(sbyte)BigEndian(1);
                    case 0xd1: return (long)(short)BigEndian(2);
                    case 0xd2: return (long)(int)BigEndian(4);
                    case 0xd3: return (long)BigEndian(8);
                    case 0xd4: return ReadExt(1, at);
                    case 0xd5: return ReadExt(2, at);
                    case 0xd6: return ReadExt(4, at);
                    case 0xd7: return ReadExt(8, at);
                    case 0xd8: return ReadExt(16, at);
                    case 0xd9: return ReadString(Length(BigEndian(1), 1));
                    case 0xda: return ReadString(Length(BigEndian(2), 1));
                    case 0xdb: return ReadString(Length(BigEndian(4), 1));
                    case 0xdc: return ReadArray(Length(BigEndian(2), 1), depth);
                    case 0xdd: return ReadArray(Length(BigEndian(4), 1), depth);
                    case 0xde: return ReadMap(Length(BigEndian(2), 2), depth);
                    case 0xdf: return ReadMap(Length(BigEndian(4), 2), depth);
                    default:
                        throw new FormatException("0x" + m.ToString("x2") + " is not a MessagePack marker (offset " + at + ")");
                }
            }

            private string ReadString(int n)
            {
                if (end - Pos < n)
                {
                    throw Truncated();
                }
                try
                {
                    string s = StrictUtf8.GetString(data, Pos, n);
                    Pos += n;
                    return s;
                }
                catch (DecoderFallbackException e)
                {
                    throw new FormatException("a MessagePack string that is not UTF-8 (offset " + Pos + ")", e);
                }
            }

            private void Enter(int count, int depth)
            {
                if (count > 0 && depth >= MaxDepth)
                {
                    throw new FormatException("the MessagePack value nests deeper than " + MaxDepth + " levels");
                }
            }

            private List<object> ReadArray(int n, int depth)
            {
                Enter(n, depth);
                var list = new List<object>(n);
                for (int i = 0; i < n; i++)
                {
                    list.Add(Read(depth + 1));
                }
                return list;
            }

            private Dictionary<object, object> ReadMap(int n, int depth)
            {
                Enter(n, depth);
                var map = new Dictionary<object, object>(n, ValueComparer.Instance);
                for (int i = 0; i < n; i++)
                {
                    object key = Read(depth + 1) ?? Nil.Value;
                    // A repeated key keeps its last value, as other decoders do.
                    map[key] = Read(depth + 1);
                }
                return map;
            }

            private object ReadExt(int n, int at)
            {
                sbyte type = (sbyte)Byte();
                if (end - Pos < n)
                {
                    throw Truncated();
                }
                byte[] payload = Bytes(n);
                if (type == Timestamp.ExtensionType)
                {
                    if (n != 4 && n != 8 && n != 12)
                    {
                        throw new FormatException("a timestamp extension of " + n + " bytes (offset " + at + ")");
                    }
                    return Timestamp.FromBytes(payload);
                }
                return new Extension(type, payload);
            }
        }
    }

    /// <summary>
    /// MessagePack nil where .NET cannot hold null: a nil key of a decoded map (a
    /// <see cref="Dictionary{TKey,TValue}"/> refuses null keys). Encodes as nil.
    /// </summary>
    public sealed class Nil
    {
        /// <summary>The one instance.</summary>
        public static readonly Nil Value = new Nil();

        private Nil()
        {
        }

        /// <summary>"nil".</summary>
        public override string ToString()
        {
            return "nil";
        }
    }

    /// <summary>A MessagePack extension value of a type other than the timestamp: its type code and bytes, kept opaque.</summary>
    public sealed class Extension : IEquatable<Extension>
    {
        /// <summary>Creates an extension value.</summary>
        public Extension(sbyte type, byte[] data)
        {
            if (data == null)
            {
                throw new ArgumentNullException("data");
            }
            Type = type;
            Data = data;
        }

        /// <summary>The extension type code (application types are 0..127).</summary>
        public sbyte Type { get; private set; }

        /// <summary>The extension's bytes.</summary>
        public byte[] Data { get; private set; }

        /// <summary>Same type and same bytes.</summary>
        public bool Equals(Extension other)
        {
            if (other == null || other.Type != Type || other.Data.Length != Data.Length)
            {
                return false;
            }
            for (int i = 0; i < Data.Length; i++)
            {
                if (Data[i] != other.Data[i])
                {
                    return false;
                }
            }
            return true;
        }

        /// <inheritdoc/>
        public override bool Equals(object obj)
        {
            return Equals(obj as Extension);
        }

        /// <inheritdoc/>
        public override int GetHashCode()
        {
            int h = Type;
            foreach (byte b in Data)
            {
                h = h * 31 + b;
            }
            return h;
        }
    }

    /// <summary>
    /// A MessagePack timestamp (extension type -1): seconds since the Unix epoch and
    /// nanoseconds, exact to the nanosecond (a <see cref="DateTime"/> keeps only 100 ns ticks).
    /// </summary>
    public struct Timestamp : IEquatable<Timestamp>
    {
        /// <summary>The MessagePack extension type of timestamps.</summary>
        public const sbyte ExtensionType = -1;

        private static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>Creates a timestamp.</summary>
        /// <param name="seconds">Seconds since 1970-01-01T00:00:00Z (negative before it).</param>
        /// <param name="nanoseconds">Nanoseconds added to them, 0..999,999,999.</param>
        public Timestamp(long seconds, uint nanoseconds) : this()
        {
            Seconds = seconds;
            Nanoseconds = nanoseconds;
        }

        /// <summary>Seconds since 1970-01-01T00:00:00Z.</summary>
        public long Seconds { get; private set; }

        /// <summary>Nanoseconds added to <see cref="Seconds"/>.</summary>
        public uint Nanoseconds { get; private set; }

        /// <summary>The timestamp of a DateTime; a Kind of Unspecified is taken as local time, as <see cref="DateTime.ToUniversalTime"/> does.</summary>
        public static Timestamp FromDateTime(DateTime time)
        {
            long ticks = time.ToUniversalTime().Ticks - Epoch.Ticks;
            long seconds = FloorDiv(ticks, TimeSpan.TicksPerSecond);
            long rest = ticks - seconds * TimeSpan.TicksPerSecond;
            return new Timestamp(seconds, (uint)(rest * 100));
        }

        /// <summary>The timestamp of a DateTimeOffset.</summary>
        public static Timestamp FromDateTimeOffset(DateTimeOffset time)
        {
            return FromDateTime(time.UtcDateTime);
        }

        /// <summary>As a UTC DateTime (nanoseconds below 100 are dropped).</summary>
        public DateTime ToDateTime()
        {
            return Epoch.AddTicks(Seconds * TimeSpan.TicksPerSecond + Nanoseconds / 100);
        }

        private static long FloorDiv(long a, long b)
        {
            long q = a / b;
            return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
        }

        /// <summary>The extension payload in its shortest form (4, 8 or 12 bytes).</summary>
        internal byte[] ToBytes()
        {
            if ((Seconds >> 34) == 0)
            {
                ulong v = ((ulong)Nanoseconds << 34) | (ulong)Seconds;
                if ((v >> 32) == 0)
                {
                    return BigEndian(v, 4);
                }
                return BigEndian(v, 8);
            }
            var b = new byte[12];
            Buffer.BlockCopy(BigEndian(Nanoseconds, 4), 0, b, 0, 4);
            Buffer.BlockCopy(BigEndian((ulong)Seconds, 8), 0, b, 4, 8);
            return b;
        }

        /// <summary>Reads a 4-, 8- or 12-byte timestamp payload.</summary>
        internal static Timestamp FromBytes(byte[] b)
        {
            switch (b.Length)
            {
                case 4:
                    return new Timestamp((long)ReadBigEndian(b, 0, 4), 0);
                case 8:
                    {
                        ulong v = ReadBigEndian(b, 0, 8);
                        return new Timestamp((long)(v & 0x3ffffffffUL), (uint)(v >> 34));
                    }
                default:
                    return new Timestamp((long)ReadBigEndian(b, 4, 8), (uint)ReadBigEndian(b, 0, 4));
            }
        }

        private static byte[] BigEndian(ulong v, int size)
        {
            var b = new byte[size];
            for (int i = 0; i < size; i++)
            {
                b[i] = (byte)(v >> (8 * (size - 1 - i)));
            }
            return b;
        }

        private static ulong ReadBigEndian(byte[] b, int at, int size)
        {
            ulong v = 0;
            for (int i = 0; i < size; i++)
            {
                v = (v << 8) | b[at + i];
            }
            return v;
        }

        /// <summary>Same seconds and nanoseconds.</summary>
        public bool Equals(Timestamp other)
        {
            return Seconds == other.Seconds && Nanoseconds == other.Nanoseconds;
        }

        /// <inheritdoc/>
        public override bool Equals(object obj)
        {
            return obj is Timestamp && Equals((Timestamp)obj);
        }

        /// <inheritdoc/>
        public override int GetHashCode()
        {
            return Seconds.GetHashCode() * 31 + Nanoseconds.GetHashCode();
        }

        /// <summary>ISO 8601 in UTC, with nanoseconds.</summary>
        public override string ToString()
        {
            return ToDateTime().ToString("yyyy-MM-ddTHH:mm:ss") + "." + Nanoseconds.ToString("D9") + "Z";
        }
    }

    /// <summary>
    /// Compares values as the broker compares dict keys: by their MessagePack encoding. So
    /// <c>1</c>, <c>1L</c> and <c>(byte)1</c> are one key, <c>1.0</c> is another, and byte
    /// arrays and lists compare by content. Decoded maps use it; pass it to your own
    /// dictionaries to get the same behaviour.
    /// </summary>
    public sealed class ValueComparer : IEqualityComparer<object>
    {
        /// <summary>The one instance.</summary>
        public static readonly ValueComparer Instance = new ValueComparer();

        private ValueComparer()
        {
        }

        /// <summary>Whether both encode to the same bytes (objects with no encoding: Equals).</summary>
        public new bool Equals(object x, object y)
        {
            if (ReferenceEquals(x, y))
            {
                return true;
            }
            string sx = x as string;
            string sy = y as string;
            if (sx != null && sy != null)
            {
                // Equal strings encode equally, and strict UTF-8 makes the converse true too.
                return string.Equals(sx, sy, StringComparison.Ordinal);
            }
            byte[] ex = TryEncode(x);
            byte[] ey = TryEncode(y);
            if (ex == null || ey == null)
            {
                return object.Equals(x, y);
            }
            if (ex.Length != ey.Length)
            {
                return false;
            }
            for (int i = 0; i < ex.Length; i++)
            {
                if (ex[i] != ey[i])
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>A hash of the encoded bytes (FNV-1a).</summary>
        public int GetHashCode(object obj)
        {
            byte[] e = TryEncode(obj);
            if (e == null)
            {
                return obj == null ? 0 : obj.GetHashCode();
            }
            uint h = 2166136261;
            foreach (byte b in e)
            {
                h = (h ^ b) * 16777619;
            }
            return (int)h;
        }

        private static byte[] TryEncode(object value)
        {
            try
            {
                return MessagePack.Encode(value);
            }
            catch (ArgumentException)
            {
                return null;
            }
        }
    }
}
