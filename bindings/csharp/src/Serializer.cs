// Serializer.cs: how typed objects (client.Queue<T>, client.Dict<TKey, TValue>) turn T into
// the MessagePack bytes the broker stores and back: the pluggable IXProcSerializer<T>, and
// XProcDefaultSerializer<T>, the built-in one over MessagePack.cs that converts what the codec
// decodes (long, double, List<object>, ...) into the requested type, so a Queue<int> gives
// ints and a Dict<string, List<long>> gives lists of longs.
//
// The converter for a type is built once, the first time the type is used, and a type it
// cannot handle is refused then, before any object is opened: a Queue<Foo> without a
// serializer for Foo is a NotSupportedException from client.Queue<Foo>, not a failure on the
// first Get after items were taken.

using System;
using System.Collections;
using System.Collections.Generic;

namespace XProc
{
    /// <summary>
    /// Turns values of <typeparamref name="T"/> into the bytes of one MessagePack value and
    /// back. Pass one to <see cref="XProcClient.Queue{T}(string, long?, long?, IXProcSerializer{T})"/>
    /// or <see cref="XProcClient.Dict{TKey, TValue}(string, IXProcSerializer{TKey}, IXProcSerializer{TValue})"/>
    /// to store a type the built-in <see cref="XProcDefaultSerializer{T}"/> does not handle, or
    /// to use another MessagePack library.
    /// </summary>
    /// <remarks>
    /// <see cref="Serialize"/> must produce exactly one well-formed MessagePack value: the broker
    /// checks every value and refuses anything else (status InvalidValue). Dict keys compare by
    /// their bytes, so a key serializer must be deterministic (the same key, the same bytes,
    /// as other languages write it). Implementations must be thread-safe: one object may be
    /// used from several threads at once.
    /// </remarks>
    public interface IXProcSerializer<T>
    {
        /// <summary>The MessagePack encoding of <paramref name="value"/>.</summary>
        byte[] Serialize(T value);

        /// <summary>The value encoded in <paramref name="data"/> (one MessagePack value).</summary>
        /// <exception cref="FormatException">The bytes are not a <typeparamref name="T"/>
        /// (any exception thrown here reaches the caller wrapped in an
        /// <see cref="XProcException"/> that names the object and the operation).</exception>
        T Deserialize(byte[] data);
    }

    /// <summary>
    /// The built-in serializer: <see cref="MessagePack"/>'s encoding, and on the way back a
    /// conversion of the decoded value to <typeparamref name="T"/>.
    /// </summary>
    /// <remarks>
    /// <typeparamref name="T"/> may be: <c>object</c> (the codec's own types, as the untyped
    /// objects return them); <c>bool</c>; any integer type (a MessagePack int that does not fit
    /// is an error, never truncated); <c>float</c>, <c>double</c> (integers convert too);
    /// enums (by their integer value); <c>string</c>; <c>char</c>; <c>byte[]</c>;
    /// <see cref="Timestamp"/>, <c>DateTime</c>, <c>DateTimeOffset</c>; <see cref="Extension"/>;
    /// <c>Nullable</c> of any of these; arrays, <c>List&lt;U&gt;</c>, <c>IList&lt;U&gt;</c>,
    /// <c>IReadOnlyList&lt;U&gt;</c>, <c>ICollection&lt;U&gt;</c>, <c>IEnumerable&lt;U&gt;</c>;
    /// <c>Dictionary&lt;K, V&gt;</c>, <c>IDictionary&lt;K, V&gt;</c>,
    /// <c>IReadOnlyDictionary&lt;K, V&gt;</c> of any of these. Other types (your own classes,
    /// <c>decimal</c>) need an <see cref="IXProcSerializer{T}"/> of your own.
    /// </remarks>
    public sealed class XProcDefaultSerializer<T> : IXProcSerializer<T>
    {
        private static XProcDefaultSerializer<T> instance;

        private readonly Func<object, object> convert;

        private XProcDefaultSerializer(Func<object, object> convert)
        {
            this.convert = convert;
        }

        /// <summary>The serializer for <typeparamref name="T"/>.</summary>
        /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a type it
        /// handles (see the remarks); the message names it.</exception>
        public static XProcDefaultSerializer<T> Default
        {
            get
            {
                // A race builds the converter twice; both are equal, so either may win.
                if (instance == null)
                {
                    instance = new XProcDefaultSerializer<T>(Converters.For(typeof(T)));
                }
                return instance;
            }
        }

        /// <inheritdoc/>
        public byte[] Serialize(T value)
        {
            return MessagePack.Encode(value);
        }

        /// <inheritdoc/>
        public T Deserialize(byte[] data)
        {
            return Convert(MessagePack.Decode(data));
        }

        /// <summary>A value as <see cref="MessagePack.Decode(byte[])"/> returned it, converted to <typeparamref name="T"/>.</summary>
        internal T Convert(object decoded)
        {
            return (T)convert(decoded);
        }
    }

    /// <summary>Conversions from what <see cref="MessagePack.Decode(byte[])"/> returns to a requested type.</summary>
    internal static class Converters
    {
        private static readonly Dictionary<Type, Func<object, object>> Cache = new Dictionary<Type, Func<object, object>>();

        /// <summary>The conversion to <paramref name="t"/>, built once per type.</summary>
        /// <exception cref="NotSupportedException">No conversion to <paramref name="t"/>.</exception>
        internal static Func<object, object> For(Type t)
        {
            lock (Cache)
            {
                Func<object, object> f;
                if (!Cache.TryGetValue(t, out f))
                {
                    f = Build(t);
                    Cache[t] = f;
                }
                return f;
            }
        }

        private static Func<object, object> Build(Type t)
        {
            if (t == typeof(object))
            {
                return v => v;
            }
            Type underlying = Nullable.GetUnderlyingType(t);
            if (underlying != null)
            {
                Func<object, object> inner = Build(underlying);
                return v => v == null ? null : inner(v);
            }
            if (t.IsEnum)
            {
                Func<object, object> integer = Build(Enum.GetUnderlyingType(t));
                return v => Enum.ToObject(t, integer(v));
            }
            switch (Type.GetTypeCode(t))
            {
                case TypeCode.Boolean:
                    return v => Expect<bool>(v, t);
                case TypeCode.SByte:
                case TypeCode.Byte:
                case TypeCode.Int16:
                case TypeCode.UInt16:
                case TypeCode.Int32:
                case TypeCode.UInt32:
                case TypeCode.Int64:
                case TypeCode.UInt64:
                    return v => Integer(v, t);
                case TypeCode.Single:
                    return v => (float)Real(v, t);
                case TypeCode.Double:
                    return v => Real(v, t);
                case TypeCode.String:
                    return v => v == null ? null : Expect<string>(v, t);
                case TypeCode.Char:
                    return v =>
                    {
                        string s = Expect<string>(v, t);
                        if (s.Length != 1)
                        {
                            throw new FormatException("a string of " + s.Length + " characters cannot be read as a Char");
                        }
                        return s[0];
                    };
                case TypeCode.DateTime:
                    return v => Expect<Timestamp>(v, t).ToDateTime();
            }
            if (t == typeof(byte[]))
            {
                return v => v == null ? null : Expect<byte[]>(v, t);
            }
            if (t == typeof(Timestamp))
            {
                return v => Expect<Timestamp>(v, t);
            }
            if (t == typeof(DateTimeOffset))
            {
                return v => new DateTimeOffset(Expect<Timestamp>(v, t).ToDateTime());
            }
            if (t == typeof(Extension))
            {
                return v => v == null ? null : Expect<Extension>(v, t);
            }
            if (t.IsArray && t.GetArrayRank() == 1)
            {
                Type e = t.GetElementType();
                Func<object, object> element = Build(e);
                return v =>
                {
                    if (v == null)
                    {
                        return null;
                    }
                    List<object> items = Expect<List<object>>(v, t);
                    Array a = Array.CreateInstance(e, items.Count);
                    for (int i = 0; i < items.Count; i++)
                    {
                        a.SetValue(element(items[i]), i);
                    }
                    return a;
                };
            }
            if (t.IsGenericType)
            {
                Type def = t.GetGenericTypeDefinition();
                Type[] args = t.GetGenericArguments();
                if (def == typeof(List<>) || def == typeof(IList<>) || def == typeof(ICollection<>)
                    || def == typeof(IEnumerable<>) || def == typeof(IReadOnlyList<>) || def == typeof(IReadOnlyCollection<>))
                {
                    Type listType = typeof(List<>).MakeGenericType(args);
                    Func<object, object> element = Build(args[0]);
                    return v =>
                    {
                        if (v == null)
                        {
                            return null;
                        }
                        List<object> items = Expect<List<object>>(v, t);
                        var list = (IList)Activator.CreateInstance(listType, items.Count);
                        foreach (object item in items)
                        {
                            list.Add(element(item));
                        }
                        return list;
                    };
                }
                if (def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>) || def == typeof(IReadOnlyDictionary<,>))
                {
                    Type mapType = typeof(Dictionary<,>).MakeGenericType(args);
                    Func<object, object> key = Build(args[0]);
                    Func<object, object> value = Build(args[1]);
                    // Object keys compare as the broker compares them, as decoded maps do.
                    object comparer = args[0] == typeof(object) ? ValueComparer.Instance : null;
                    return v =>
                    {
                        if (v == null)
                        {
                            return null;
                        }
                        Dictionary<object, object> entries = Expect<Dictionary<object, object>>(v, t);
                        var map = (IDictionary)(comparer == null
                            ? Activator.CreateInstance(mapType) : Activator.CreateInstance(mapType, comparer));
                        foreach (KeyValuePair<object, object> kv in entries)
                        {
                            object k = key(kv.Key is Nil && args[0] != typeof(object) ? null : kv.Key);
                            if (k == null)
                            {
                                throw new FormatException("a nil map key cannot be read as " + Describe(args[0]));
                            }
                            map.Add(k, value(kv.Value));
                        }
                        return map;
                    };
                }
            }
            throw new NotSupportedException(
                "the default serializer cannot store " + Describe(t) + " (only the codec's types, numbers, "
                + "strings, enums, times, arrays, lists and dictionaries of them); pass an IXProcSerializer<"
                + Describe(t) + "> of your own");
        }

        /// <summary><paramref name="v"/> as a <typeparamref name="TV"/>, or a FormatException naming both types.</summary>
        private static TV Expect<TV>(object v, Type wanted)
        {
            if (v is TV)
            {
                return (TV)v;
            }
            throw new FormatException(Kind(v) + " cannot be read as " + Describe(wanted));
        }

        /// <summary>A MessagePack int converted to an integer type, refusing one that does not fit.</summary>
        private static object Integer(object v, Type t)
        {
            if (!(v is long) && !(v is ulong))
            {
                throw new FormatException(Kind(v) + " cannot be read as " + Describe(t));
            }
            try
            {
                return Convert.ChangeType(v, t);
            }
            catch (OverflowException)
            {
                throw new FormatException("the integer " + v + " does not fit in " + Describe(t));
            }
        }

        private static double Real(object v, Type t)
        {
            if (v is double)
            {
                return (double)v;
            }
            if (v is long)
            {
                return (long)v;
            }
            if (v is ulong)
            {
                return (ulong)v;
            }
            throw new FormatException(Kind(v) + " cannot be read as " + Describe(t));
        }

        /// <summary>What a decoded value is, in MessagePack's words, for messages.</summary>
        private static string Kind(object v)
        {
            if (v == null)
            {
                return "nil";
            }
            if (v is bool)
            {
                return "a MessagePack bool";
            }
            if (v is long || v is ulong)
            {
                return "the integer " + v;
            }
            if (v is double)
            {
                return "a MessagePack float";
            }
            if (v is string)
            {
                return "a MessagePack string";
            }
            if (v is byte[])
            {
                return "MessagePack bin";
            }
            if (v is List<object>)
            {
                return "a MessagePack array";
            }
            if (v is Dictionary<object, object>)
            {
                return "a MessagePack map";
            }
            return "a MessagePack " + v.GetType().Name;
        }

        /// <summary>A type as C# writes it: List&lt;Int32&gt; and Int64?, not List`1 and Nullable`1.</summary>
        internal static string Describe(Type t)
        {
            Type underlying = Nullable.GetUnderlyingType(t);
            if (underlying != null)
            {
                return Describe(underlying) + "?";
            }
            if (!t.IsGenericType)
            {
                return t.Name;
            }
            string name = t.Name.Substring(0, t.Name.IndexOf('`'));
            var args = new List<string>();
            foreach (Type a in t.GetGenericArguments())
            {
                args.Add(Describe(a));
            }
            return name + "<" + string.Join(", ", args.ToArray()) + ">";
        }
    }
}
