// Dict.cs: Dict, a shared dictionary living in the broker (Python's manager dict), shaped
// like IDictionary: an indexer, ContainsKey, TryGetValue, Remove, Keys, Values, Count, Clear,
// plus atomic Increment, CompareAndSet, TryAdd, GetOrAdd and batch Update / GetMany.
//
// Keys and values are any value MessagePack.cs can encode; the broker compares keys by their
// encoded bytes, so 1 and 1L are one key and "1" another. Every call is one atomic broker
// operation; Keys, Values and enumeration are snapshots.

using System;
using System.Collections;
using System.Collections.Generic;

namespace XProc
{
    /// <summary>
    /// A named dictionary in the broker, shared by every process that opens the name. Open
    /// with <see cref="XProcClient.Dict(string)"/>.
    /// </summary>
    /// <remarks>
    /// Keys are usually strings but may be any encodable value (integers, byte arrays, ...).
    /// Insertion order is kept: overwriting keeps a key's place. Thread-safe. Disposing
    /// releases this handle; the dict stays in the broker. Enumerating gives a snapshot of the
    /// entries.
    /// </remarks>
    public sealed class XProcDict : IEnumerable<KeyValuePair<object, object>>, IDisposable
    {
        private readonly DictHandle handle;

        internal XProcDict(string name, DictHandle handle)
        {
            Name = name;
            this.handle = handle;
        }

        /// <summary>The dict's name.</summary>
        public string Name { get; private set; }

        /// <summary>The value under <paramref name="key"/>; setting it inserts or overwrites.</summary>
        /// <exception cref="XProcKeyNotFoundException">Getting a key that is not there.</exception>
        public object this[object key]
        {
            get
            {
                byte[] k = MessagePack.Encode(key);
                IntPtr data;
                UIntPtr len;
                Error.Check(Native.xproc_dict_get_raw(handle, k, Utf8.Len(k), out data, out len));
                return Buffers.TakeValue(data, len);
            }
            set
            {
                byte[] k = MessagePack.Encode(key);
                byte[] v = MessagePack.Encode(value);
                Error.Check(Native.xproc_dict_set_raw(handle, k, Utf8.Len(k), v, Utf8.Len(v)));
            }
        }

        /// <summary>Whether <paramref name="key"/> is there.</summary>
        public bool ContainsKey(object key)
        {
            byte[] k = MessagePack.Encode(key);
            bool found;
            Error.Check(Native.xproc_dict_contains_raw(handle, k, Utf8.Len(k), out found));
            return found;
        }

        /// <summary>Gets the value under <paramref name="key"/>; false if the key is not there.</summary>
        public bool TryGetValue(object key, out object value)
        {
            byte[] k = MessagePack.Encode(key);
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_dict_get_raw(handle, k, Utf8.Len(k), out data, out len);
            if (st == XProcStatus.KeyNotFound)
            {
                value = null;
                return false;
            }
            Error.Check(st);
            value = Buffers.TakeValue(data, len);
            return true;
        }

        /// <summary>Adds <paramref name="key"/> if it is absent.</summary>
        /// <exception cref="ArgumentException">The key is already there (as IDictionary.Add).</exception>
        public void Add(object key, object value)
        {
            if (!TryAdd(key, value))
            {
                throw new ArgumentException("the dict " + Name + " already has this key", "key");
            }
        }

        /// <summary>Sets <paramref name="key"/> to <paramref name="value"/> only if the key is absent (atomically); returns whether it did.</summary>
        public bool TryAdd(object key, object value)
        {
            return Swap(key, null, value);
        }

        /// <summary>
        /// The value under <paramref name="key"/>, after setting it to <paramref name="value"/>
        /// if the key was absent, atomically (Python's setdefault).
        /// </summary>
        public object GetOrAdd(object key, object value)
        {
            byte[] k = MessagePack.Encode(key);
            byte[] v = MessagePack.Encode(value);
            IntPtr data;
            UIntPtr len;
            Error.Check(Native.xproc_dict_setdefault_raw(handle, k, Utf8.Len(k), v, Utf8.Len(v), out data, out len));
            return Buffers.TakeValue(data, len);
        }

        /// <summary>Removes <paramref name="key"/>; false if it was not there.</summary>
        public bool Remove(object key)
        {
            byte[] k = MessagePack.Encode(key);
            XProcStatus st = Native.xproc_dict_delete_raw(handle, k, Utf8.Len(k));
            if (st == XProcStatus.KeyNotFound)
            {
                return false;
            }
            Error.Check(st);
            return true;
        }

        /// <summary>Removes <paramref name="key"/> and gets its value (Python's pop); false if it was not there.</summary>
        public bool TryRemove(object key, out object value)
        {
            byte[] k = MessagePack.Encode(key);
            IntPtr data;
            UIntPtr len;
            XProcStatus st = Native.xproc_dict_pop_raw(handle, k, Utf8.Len(k), out data, out len);
            if (st == XProcStatus.KeyNotFound)
            {
                value = null;
                return false;
            }
            Error.Check(st);
            value = Buffers.TakeValue(data, len);
            return true;
        }

        /// <summary>Removes and returns the most recently inserted entry (Python's popitem).</summary>
        /// <exception cref="XProcKeyNotFoundException">The dict is empty.</exception>
        public KeyValuePair<object, object> PopItem()
        {
            IntPtr k, v;
            UIntPtr klen, vlen;
            XProcStatus st = Native.xproc_dict_popitem_raw(handle, out k, out klen, out v, out vlen);
            Error.Check(st);
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
            return new KeyValuePair<object, object>(MessagePack.Decode(kb), MessagePack.Decode(vb));
        }

        /// <summary>
        /// Atomically adds <paramref name="delta"/> to the integer under <paramref name="key"/>
        /// (a missing key counts from 0) and returns the new value.
        /// </summary>
        /// <exception cref="XProcException">Status WrongType: the value is not an integer;
        /// status InvalidArgument: the result overflows a long.</exception>
        public long Increment(object key, long delta = 1)
        {
            byte[] k = MessagePack.Encode(key);
            long result;
            Error.Check(Native.xproc_dict_incr_raw(handle, k, Utf8.Len(k), delta, out result));
            return result;
        }

        /// <summary>
        /// Atomically sets <paramref name="key"/> to <paramref name="value"/> if its current
        /// value is <paramref name="expected"/> (compared by encoded bytes, so 1 matches 1L but
        /// not 1.0); returns whether it did. A missing key never matches; use
        /// <see cref="TryAdd"/> for "only if absent".
        /// </summary>
        public bool CompareAndSet(object key, object expected, object value)
        {
            return Swap(key, MessagePack.Encode(expected), value);
        }

        private bool Swap(object key, byte[] expected, object value)
        {
            byte[] k = MessagePack.Encode(key);
            byte[] v = MessagePack.Encode(value);
            bool swapped;
            Error.Check(Native.xproc_dict_compare_and_set_raw(
                handle, k, Utf8.Len(k), expected, Utf8.Len(expected), v, Utf8.Len(v), out swapped));
            return swapped;
        }

        /// <summary>The number of entries now. Each read is a round trip to the broker.</summary>
        public int Count
        {
            get
            {
                ulong n;
                Error.Check(Native.xproc_dict_len(handle, out n));
                return checked((int)n);
            }
        }

        /// <summary>Every key, in insertion order (a snapshot).</summary>
        public IList<object> Keys
        {
            get
            {
                IntPtr data;
                UIntPtr len;
                Error.Check(Native.xproc_dict_keys_raw(handle, out data, out len));
                return XProcClient.AsList(Buffers.TakeValue(data, len));
            }
        }

        /// <summary>Every value, in insertion order (a snapshot).</summary>
        public IList<object> Values
        {
            get
            {
                IntPtr data;
                UIntPtr len;
                Error.Check(Native.xproc_dict_values_raw(handle, out data, out len));
                return XProcClient.AsList(Buffers.TakeValue(data, len));
            }
        }

        /// <summary>Every entry, in insertion order (a snapshot taken in one atomic call).</summary>
        public IList<KeyValuePair<object, object>> Items()
        {
            IntPtr data;
            UIntPtr len;
            Error.Check(Native.xproc_dict_items_raw(handle, out data, out len));
            return Pairs(Buffers.TakeValue(data, len));
        }

        static List<KeyValuePair<object, object>> Pairs(object array)
        {
            var result = new List<KeyValuePair<object, object>>();
            foreach (object o in XProcClient.AsList(array))
            {
                var pair = o as List<object>;
                if (pair == null || pair.Count != 2)
                {
                    throw new XProcException(XProcStatus.ProtocolError, "a dict item is not a [key, value] pair");
                }
                result.Add(new KeyValuePair<object, object>(pair[0], pair[1]));
            }
            return result;
        }

        /// <summary>
        /// Every entry by cursor scan, a page of <paramref name="count"/> entries per request
        /// (0: the broker's default, 100; at most 1000), so it reads a dict of any size, where
        /// <see cref="Items"/> is one snapshot that must fit in the broker's max_frame. Not a
        /// snapshot: every key present for the whole enumeration comes exactly once, with its
        /// value when its page was read; keys set or deleted meanwhile may or may not come.
        /// Stopping early costs nothing.
        /// </summary>
        public IEnumerable<KeyValuePair<object, object>> Scan(int count = 0)
        {
            if (count < 0)
            {
                throw new ArgumentOutOfRangeException("count", "count must not be negative");
            }
            ulong cursor = 0;
            do
            {
                IntPtr data;
                UIntPtr len;
                ulong next;
                Error.Check(Native.xproc_dict_scan_raw(handle, cursor, (UIntPtr)count, out next, out data, out len));
                foreach (KeyValuePair<object, object> kv in Pairs(Buffers.TakeValue(data, len)))
                {
                    yield return kv;
                }
                cursor = next;
            } while (cursor != 0);
        }

        /// <summary>A snapshot of the entries as a Dictionary comparing keys as the broker does (<see cref="ValueComparer"/>).</summary>
        public Dictionary<object, object> ToDictionary()
        {
            var d = new Dictionary<object, object>(ValueComparer.Instance);
            foreach (KeyValuePair<object, object> kv in Items())
            {
                d[kv.Key ?? Nil.Value] = kv.Value;
            }
            return d;
        }

        /// <summary>Sets every entry in one atomic request (Python's update); with a limit error nothing is set.</summary>
        public void Update(IEnumerable<KeyValuePair<object, object>> entries)
        {
            if (entries == null)
            {
                throw new ArgumentNullException("entries");
            }
            var keys = new List<object>();
            var values = new List<object>();
            foreach (KeyValuePair<object, object> kv in entries)
            {
                keys.Add(kv.Key);
                values.Add(kv.Value);
            }
            using (var k = new PinnedValues(keys))
            using (var v = new PinnedValues(values))
            {
                Error.Check(Native.xproc_dict_update_raw(handle, k.Pointers, k.Lengths, v.Pointers, v.Lengths, k.Count));
            }
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

        /// <summary>The values under <paramref name="keys"/>, in the same order, null for each missing key (one atomic call).</summary>
        public IList<object> GetMany(IEnumerable<object> keys)
        {
            if (keys == null)
            {
                throw new ArgumentNullException("keys");
            }
            using (var k = new PinnedValues(new List<object>(keys)))
            {
                IntPtr data;
                UIntPtr len;
                Error.Check(Native.xproc_dict_get_many_raw(handle, k.Pointers, k.Lengths, k.Count, out data, out len));
                return XProcClient.AsList(Buffers.TakeValue(data, len));
            }
        }

        /// <summary>Removes every entry.</summary>
        public void Clear()
        {
            Error.Check(Native.xproc_dict_clear(handle));
        }

        /// <summary>Enumerates the entries by cursor scan (<see cref="Scan"/>): any size of dict.</summary>
        public IEnumerator<KeyValuePair<object, object>> GetEnumerator()
        {
            return Scan().GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return GetEnumerator();
        }

        /// <summary>Releases this handle (the dict stays in the broker).</summary>
        public void Dispose()
        {
            handle.Dispose();
        }
    }
}
