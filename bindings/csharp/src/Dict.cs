// Dict.cs: XProcDict<TKey, TValue>, a shared dictionary living in the broker (Python's manager
// dict) that is an IDictionary<TKey, TValue>: an indexer, ContainsKey, TryGetValue, Remove,
// Keys, Values, Count, Clear, plus atomic Increment, CompareAndSet, TryAdd, GetOrAdd and batch
// Update / GetMany; and XProcDict, its untyped form (keys and values of any value).
//
// Keys and values go through the dict's serializers (MessagePack.cs by default); the broker
// compares keys by their encoded bytes, so 1 and 1L are one key and "1" another. Every call
// is one atomic broker operation; Keys, Values and Items are snapshots.

using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace XProc
{
    /// <summary>
    /// A named dictionary in the broker, shared by every process that opens the name, with
    /// keys of <typeparamref name="TKey"/> and values of <typeparamref name="TValue"/>. Open
    /// with <see cref="XProcClient.Dict{TKey, TValue}(string, IXProcSerializer{TKey}, IXProcSerializer{TValue})"/>.
    /// </summary>
    /// <remarks>
    /// Insertion order is kept: overwriting keeps a key's place. Thread-safe. Disposing
    /// releases this handle; the dict stays in the broker. Enumerating is a cursor scan
    /// (<see cref="Scan"/>), so it reads a dict of any size. <see cref="Count"/>,
    /// <see cref="Keys"/> and <see cref="Values"/> are each a round trip, and what they answer
    /// may have changed by the time it is used: another process may write meanwhile.
    /// </remarks>
    /// <typeparam name="TKey">The keys' type; object for any value.</typeparam>
    /// <typeparam name="TValue">The values' type; object for any value.</typeparam>
    public class XProcDict<TKey, TValue> : XProcObject, IDictionary<TKey, TValue>
    {
        private readonly DictHandle handle;

        private readonly IXProcSerializer<TKey> keys;

        private readonly IXProcSerializer<TValue> values;

        internal XProcDict(string name, DictHandle handle, IXProcSerializer<TKey> keys, IXProcSerializer<TValue> values)
            : base("dict", name)
        {
            this.handle = handle;
            this.keys = keys;
            this.values = values;
        }

        /// <summary>The value under <paramref name="key"/>; setting it inserts or overwrites.</summary>
        /// <exception cref="XProcKeyNotFoundException">Getting a key that is not there.</exception>
        public TValue this[TKey key]
        {
            get
            {
                byte[] k = Key(key, "Get");
                IntPtr data;
                UIntPtr len;
                Check(Native.xproc_dict_get_raw(handle, k, Utf8.Len(k), out data, out len), "Get");
                return Value(Buffers.Take(data, len), "Get");
            }
            set
            {
                byte[] k = Key(key, "Set");
                byte[] v = Write(values, value, "Set", "value");
                Check(Native.xproc_dict_set_raw(handle, k, Utf8.Len(k), v, Utf8.Len(v)), "Set");
            }
        }

        /// <summary>Whether <paramref name="key"/> is there.</summary>
        public bool ContainsKey(TKey key)
        {
            byte[] k = Key(key, "ContainsKey");
            bool found;
            Check(Native.xproc_dict_contains_raw(handle, k, Utf8.Len(k), out found), "ContainsKey");
            return found;
        }

        /// <summary>Gets the value under <paramref name="key"/>; false if the key is not there.</summary>
        public bool TryGetValue(TKey key, out TValue value)
        {
            byte[] k = Key(key, "TryGetValue");
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_dict_get_raw(handle, k, Utf8.Len(k), out data, out len);
            value = default(TValue);
            if (st == XProcStatus.KeyNotFound)
            {
                return false;
            }
            Check(st, "TryGetValue");
            value = Value(Buffers.Take(data, len), "TryGetValue");
            return true;
        }

        /// <summary>Adds <paramref name="key"/> if it is absent (atomically).</summary>
        /// <exception cref="ArgumentException">The key is already there (as IDictionary.Add).</exception>
        public void Add(TKey key, TValue value)
        {
            if (!TryAdd(key, value))
            {
                throw new ArgumentException("Add on " + Describe() + ": the key is already there", "key");
            }
        }

        /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> only if the key is absent (atomically); returns whether it did.</summary>
        public bool TryAdd(TKey key, TValue value)
        {
            return Swap(key, null, value, "TryAdd");
        }

        /// <summary>
        /// The value under <paramref name="key"/>, after setting it to <paramref name="value"/>
        /// if the key was absent, atomically (Python's setdefault).
        /// </summary>
        public TValue GetOrAdd(TKey key, TValue value)
        {
            byte[] k = Key(key, "GetOrAdd");
            byte[] v = Write(values, value, "GetOrAdd", "value");
            IntPtr data;
            UIntPtr len;
            Check(Native.xproc_dict_setdefault_raw(handle, k, Utf8.Len(k), v, Utf8.Len(v), out data, out len), "GetOrAdd");
            return Value(Buffers.Take(data, len), "GetOrAdd");
        }

        /// <summary>Removes <paramref name="key"/>; false if it was not there.</summary>
        public bool Remove(TKey key)
        {
            byte[] k = Key(key, "Remove");
            XProcStatus st = Native.xproc_dict_delete_raw(handle, k, Utf8.Len(k));
            if (st == XProcStatus.KeyNotFound)
            {
                return false;
            }
            Check(st, "Remove");
            return true;
        }

        /// <summary>Removes <paramref name="key"/> and gets its value (Python's pop); false if it was not there.</summary>
        public bool TryRemove(TKey key, out TValue value)
        {
            byte[] k = Key(key, "TryRemove");
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_dict_pop_raw(handle, k, Utf8.Len(k), out data, out len);
            value = default(TValue);
            if (st == XProcStatus.KeyNotFound)
            {
                return false;
            }
            Check(st, "TryRemove");
            value = Value(Buffers.Take(data, len), "TryRemove");
            return true;
        }

        /// <summary>Removes and returns the most recently inserted entry (Python's popitem).</summary>
        /// <exception cref="XProcKeyNotFoundException">The dict is empty.</exception>
        public KeyValuePair<TKey, TValue> PopItem()
        {
            IntPtr k, v;
            UIntPtr klen, vlen;
            Check(Native.xproc_dict_popitem_raw(handle, out k, out klen, out v, out vlen), "PopItem");
            byte[] kb;
            byte[] vb;
            try
            {
                kb = Buffers.Take(k, klen);
            }
            finally
            {
                // Both buffers are ours: free the value's even if taking the key's failed.
                vb = Buffers.Take(v, vlen);
            }
            return new KeyValuePair<TKey, TValue>(Read(keys, kb, "PopItem", "key"), Value(vb, "PopItem"));
        }

        /// <summary>
        /// Atomically adds <paramref name="delta"/> to the integer under <paramref name="key"/>
        /// (a missing key counts from 0) and returns the new value (Python's incr).
        /// </summary>
        /// <exception cref="XProcException">Status WrongType: the value is not an integer;
        /// status InvalidArgument: the result overflows a long.</exception>
        public long Increment(TKey key, long delta = 1)
        {
            byte[] k = Key(key, "Increment");
            long result;
            Check(Native.xproc_dict_incr_raw(handle, k, Utf8.Len(k), delta, out result), "Increment");
            return result;
        }

        /// <summary>
        /// Atomically sets <paramref name="key"/> to <paramref name="value"/> if its current
        /// value is <paramref name="expected"/> (compared by encoded bytes, so 1 matches 1L but
        /// not 1.0); returns whether it did. A missing key never matches; use
        /// <see cref="TryAdd"/> for "only if absent".
        /// </summary>
        public bool CompareAndSet(TKey key, TValue expected, TValue value)
        {
            return Swap(key, Write(values, expected, "CompareAndSet", "expected value"), value, "CompareAndSet");
        }

        private bool Swap(TKey key, byte[] expected, TValue value, string op)
        {
            byte[] k = Key(key, op);
            byte[] v = Write(values, value, op, "value");
            bool swapped;
            Check(Native.xproc_dict_compare_and_set_raw(
                handle, k, Utf8.Len(k), expected, Utf8.Len(expected), v, Utf8.Len(v), out swapped), op);
            return swapped;
        }

        /// <summary>The number of entries now. Each read is a round trip to the broker.</summary>
        public int Count
        {
            get
            {
                ulong n;
                Check(Native.xproc_dict_len(handle, out n), "Count");
                return checked((int)n);
            }
        }

        /// <summary>Every key, in insertion order: a read-only snapshot, one round trip.</summary>
        public IList<TKey> Keys
        {
            get
            {
                IntPtr data;
                UIntPtr len;
                Check(Native.xproc_dict_keys_raw(handle, out data, out len), "Keys");
                return Elements(keys, Buffers.Take(data, len), "Keys", "key");
            }
        }

        /// <summary>Every value, in insertion order: a read-only snapshot, one round trip.</summary>
        public IList<TValue> Values
        {
            get
            {
                IntPtr data;
                UIntPtr len;
                Check(Native.xproc_dict_values_raw(handle, out data, out len), "Values");
                return Elements(values, Buffers.Take(data, len), "Values", "value");
            }
        }

        /// <summary>Every entry, in insertion order (a snapshot taken in one atomic call).</summary>
        public IList<KeyValuePair<TKey, TValue>> Items()
        {
            IntPtr data;
            UIntPtr len;
            Check(Native.xproc_dict_items_raw(handle, out data, out len), "Items");
            return Pairs(Buffers.Take(data, len), "Items");
        }

        /// <summary>
        /// Every entry by cursor scan, a page of <paramref name="count"/> entries per request
        /// (0: the broker's default, 100; at most 1000), so it reads a dict of any size, where
        /// <see cref="Items"/> is one snapshot that must fit in the broker's max_frame. Not a
        /// snapshot: every key present for the whole enumeration comes exactly once, with its
        /// value when its page was read; keys set or deleted meanwhile may or may not come.
        /// Stopping early costs nothing.
        /// </summary>
        public IEnumerable<KeyValuePair<TKey, TValue>> Scan(int count = 0)
        {
            if (count < 0)
            {
                throw new ArgumentOutOfRangeException("count", "count must not be negative");
            }
            return ScanPages(count);
        }

        private IEnumerable<KeyValuePair<TKey, TValue>> ScanPages(int count)
        {
            ulong cursor = 0;
            do
            {
                IntPtr data;
                UIntPtr len;
                ulong next;
                Check(Native.xproc_dict_scan_raw(handle, cursor, (UIntPtr)count, out next, out data, out len), "Scan");
                foreach (KeyValuePair<TKey, TValue> kv in Pairs(Buffers.Take(data, len), "Scan"))
                {
                    yield return kv;
                }
                cursor = next;
            } while (cursor != 0);
        }

        /// <summary>
        /// A snapshot of the entries as a Dictionary (for object keys, one comparing keys as
        /// the broker does, <see cref="ValueComparer"/>; a nil key reads as
        /// <see cref="Nil.Value"/>).
        /// </summary>
        public Dictionary<TKey, TValue> ToDictionary()
        {
            IEqualityComparer<TKey> comparer = typeof(TKey) == typeof(object)
                ? (IEqualityComparer<TKey>)(object)ValueComparer.Instance : EqualityComparer<TKey>.Default;
            var d = new Dictionary<TKey, TValue>(comparer);
            foreach (KeyValuePair<TKey, TValue> kv in Items())
            {
                TKey key = kv.Key;
                if (key == null && typeof(TKey) == typeof(object))
                {
                    key = (TKey)(object)Nil.Value;
                }
                d[key] = kv.Value;
            }
            return d;
        }

        /// <summary>Sets every entry in one atomic request (Python's update); with a limit error nothing is set.</summary>
        public void Update(IEnumerable<KeyValuePair<TKey, TValue>> entries)
        {
            if (entries == null)
            {
                throw new ArgumentNullException("entries");
            }
            var ks = new List<byte[]>();
            var vs = new List<byte[]>();
            foreach (KeyValuePair<TKey, TValue> kv in entries)
            {
                ks.Add(Key(kv.Key, "Update"));
                vs.Add(Write(values, kv.Value, "Update", "value"));
            }
            using (var k = new PinnedValues(ks))
            using (var v = new PinnedValues(vs))
            {
                Check(Native.xproc_dict_update_raw(handle, k.Pointers, k.Lengths, v.Pointers, v.Lengths, k.Count), "Update");
            }
        }

        /// <summary>
        /// The values under <paramref name="keys"/>, in the same order, in one atomic call;
        /// a missing key gives <c>default(TValue)</c> (null for object).
        /// </summary>
        public IList<TValue> GetMany(IEnumerable<TKey> keys)
        {
            if (keys == null)
            {
                throw new ArgumentNullException("keys");
            }
            var ks = new List<byte[]>();
            foreach (TKey key in keys)
            {
                ks.Add(Key(key, "GetMany"));
            }
            using (var k = new PinnedValues(ks))
            {
                IntPtr data;
                UIntPtr len;
                Check(Native.xproc_dict_get_many_raw(handle, k.Pointers, k.Lengths, k.Count, out data, out len), "GetMany");
                // The reply is an array with nil for each missing key: read each element on its own.
                var result = new List<TValue>();
                foreach (object element in XProcClient.AsList(MessagePack.Decode(Buffers.Take(data, len))))
                {
                    result.Add(element == null ? default(TValue) : ReadDecoded(values, element, "GetMany", "value"));
                }
                return result;
            }
        }

        /// <summary>Removes every entry.</summary>
        public void Clear()
        {
            Check(Native.xproc_dict_clear(handle), "Clear");
        }

        /// <summary>Enumerates the entries by cursor scan (<see cref="Scan"/>): any size of dict.</summary>
        public IEnumerator<KeyValuePair<TKey, TValue>> GetEnumerator()
        {
            return Scan().GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }

        /// <summary>Releases this handle (the dict stays in the broker).</summary>
        public override void Dispose()
        {
            handle.Dispose();
        }

        // ---- the rest of IDictionary<TKey, TValue> ----

        ICollection<TKey> IDictionary<TKey, TValue>.Keys
        {
            get { return Keys; }
        }

        ICollection<TValue> IDictionary<TKey, TValue>.Values
        {
            get { return Values; }
        }

        /// <summary>False: the dict is written through (the snapshots it hands out are read-only).</summary>
        bool ICollection<KeyValuePair<TKey, TValue>>.IsReadOnly
        {
            get { return false; }
        }

        void ICollection<KeyValuePair<TKey, TValue>>.Add(KeyValuePair<TKey, TValue> item)
        {
            Add(item.Key, item.Value);
        }

        /// <summary>Whether the key holds this value now (values compared by their encoded bytes).</summary>
        bool ICollection<KeyValuePair<TKey, TValue>>.Contains(KeyValuePair<TKey, TValue> item)
        {
            byte[] k = Key(item.Key, "Contains");
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_dict_get_raw(handle, k, Utf8.Len(k), out data, out len);
            if (st == XProcStatus.KeyNotFound)
            {
                return false;
            }
            Check(st, "Contains");
            byte[] have = Buffers.Take(data, len);
            byte[] want = Write(values, item.Value, "Contains", "value");
            return ValueComparer.Instance.Equals(have, want);
        }

        void ICollection<KeyValuePair<TKey, TValue>>.CopyTo(KeyValuePair<TKey, TValue>[] array, int arrayIndex)
        {
            Items().CopyTo(array, arrayIndex);
        }

        /// <summary>
        /// Not supported: the broker has no atomic "remove if the value is", and a read
        /// followed by a remove could remove a value another process had just written. Use
        /// <see cref="Remove(TKey)"/> or <see cref="CompareAndSet"/>.
        /// </summary>
        bool ICollection<KeyValuePair<TKey, TValue>>.Remove(KeyValuePair<TKey, TValue> item)
        {
            throw new NotSupportedException("Remove(KeyValuePair) on " + Describe()
                + ": the broker has no atomic remove-if-equal; use Remove(key) or CompareAndSet");
        }

        // ---- helpers ----

        private byte[] Key(TKey key, string op)
        {
            return Write(keys, key, op, "key");
        }

        private TValue Value(byte[] data, string op)
        {
            return Read(values, data, op, "value");
        }

        /// <summary>The elements of an encoded array, each read by <paramref name="serializer"/>, as a read-only list.</summary>
        private ReadOnlyCollection<TV> Elements<TV>(IXProcSerializer<TV> serializer, byte[] array, string op, string what)
        {
            var result = new List<TV>();
            foreach (object element in XProcClient.AsList(MessagePack.Decode(array)))
            {
                result.Add(ReadDecoded(serializer, element, op, what));
            }
            return result.AsReadOnly();
        }

        /// <summary>The [key, value] pairs of an encoded array of pairs.</summary>
        private List<KeyValuePair<TKey, TValue>> Pairs(byte[] array, string op)
        {
            var result = new List<KeyValuePair<TKey, TValue>>();
            foreach (object o in XProcClient.AsList(MessagePack.Decode(array)))
            {
                var pair = o as List<object>;
                if (pair == null || pair.Count != 2)
                {
                    throw new XProcException(XProcStatus.ProtocolError, op + " on " + Describe() + ": a dict item is not a [key, value] pair");
                }
                result.Add(new KeyValuePair<TKey, TValue>(
                    ReadDecoded(keys, pair[0], op, "key"), ReadDecoded(values, pair[1], op, "value")));
            }
            return result;
        }
    }

    /// <summary>
    /// A named dictionary of any keys and values (<see cref="XProcDict{TKey, TValue}"/> of
    /// object, object: what comes back is what the codec decodes, integers as long). Open with
    /// <see cref="XProcClient.Dict(string)"/>.
    /// </summary>
    /// <remarks>
    /// Keys are usually strings but may be any encodable value (integers, byte arrays, ...).
    /// </remarks>
    public sealed class XProcDict : XProcDict<object, object>
    {
        internal XProcDict(string name, DictHandle handle)
            : base(name, handle, XProcDefaultSerializer<object>.Default, XProcDefaultSerializer<object>.Default)
        {
        }

        /// <summary>Sets every entry of <paramref name="entries"/> in one atomic request.</summary>
        public void Update(IDictionary entries)
        {
            if (entries == null)
            {
                throw new ArgumentNullException("entries");
            }
            var pairs = new List<KeyValuePair<object, object>>();
            foreach (DictionaryEntry e in entries)
            {
                pairs.Add(new KeyValuePair<object, object>(e.Key, e.Value));
            }
            Update(pairs);
        }
    }
}
