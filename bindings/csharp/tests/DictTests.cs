// DictTests.cs: Dict against the broker: the IDictionary-shaped members, missing keys and
// their exceptions, keys of any type compared by encoded bytes, the atomic operations
// (Incr, CompareAndSet, TryAdd, GetOrAdd), batches, snapshots, sharing between clients.

using System;
using System.Collections.Generic;

namespace XProc.Tests
{
    internal static class DictTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("dict.set_get_order_count_clear", SetGetOrder);
            yield return new Test("dict.missing_key", MissingKey);
            yield return new Test("dict.keys_of_any_type", KeysOfAnyType);
            yield return new Test("dict.every_value_type", EveryValueType);
            yield return new Test("dict.incr", Incr);
            yield return new Test("dict.compare_and_set_try_add", CompareAndSet);
            yield return new Test("dict.get_or_add_try_remove_pop_item", GetOrAddRemovePop);
            yield return new Test("dict.update_get_many_enumerate", UpdateGetManyEnumerate);
            yield return new Test("dict.shared_and_atomic_across_clients", SharedAndAtomic);
            yield return new Test("dict.scan_past_max_frame", ScanPastMaxFrame);
            yield return new Test("dict.scan_during_writes", ScanDuringWrites);
        }

        private static void ScanPastMaxFrame()
        {
            using (var broker = new PrivateBroker("--max-frame 4096"))
            using (XProcClient c = broker.Connect())
            using (XProcDict d = c.Dict("big"))
            {
                var want = new List<object>();
                for (int i = 0; i < 300; i++)
                {
                    string k = "key-" + i.ToString("D4");
                    d[k] = new string('v', 40);
                    want.Add(k);
                }
                Assert.Throws<XProcException>(() => d.Items(), "one snapshot would pass max_frame");
                var keys = new List<object>();
                foreach (KeyValuePair<object, object> kv in d.Scan(7))
                {
                    keys.Add(kv.Key);
                }
                Assert.Equal(want, keys, "every key, in order, by scan");
                int n = 0;
                foreach (KeyValuePair<object, object> kv in d)
                {
                    n++;
                }
                Assert.Equal(300, n, "enumerating the dict scans");
            }
        }

        private static void ScanDuringWrites()
        {
            string name = Fixture.Name("scan");
            using (XProcClient c = Fixture.Connect())
            using (XProcClient other = Fixture.Connect())
            using (XProcDict d = c.Dict(name))
            using (XProcDict w = other.Dict(name))
            {
                for (int i = 0; i < 400; i++)
                {
                    d["stable-" + i] = 0L;
                    d["churn-" + i] = 0L;
                }
                var seen = new Dictionary<string, int>();
                int step = 0;
                foreach (KeyValuePair<object, object> kv in d.Scan(25))
                {
                    string k = (string)kv.Key;
                    int count;
                    seen.TryGetValue(k, out count);
                    seen[k] = count + 1;
                    if (step++ % 10 == 0)
                    {
                        w["stable-" + (step % 400)] = (long)step;
                        w.Remove("churn-" + (step % 400));
                        w["churn-" + ((step + 7) % 400)] = (long)step;
                        w["new-" + step] = (long)step;
                    }
                }
                for (int i = 0; i < 400; i++)
                {
                    Assert.Equal(1, seen["stable-" + i], "stable-" + i + " comes exactly once");
                }
                foreach (KeyValuePair<string, int> kv in seen)
                {
                    Assert.True(kv.Value <= (kv.Key.StartsWith("new-") ? 1 : 2), kv.Key + " at most once or twice");
                }
            }
        }

        private static void SetGetOrder()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("basic")))
            {
                Assert.Equal(0, d.Count, "count of a new dict");
                d["b"] = 1;
                d["a"] = "two";
                d["c"] = null;
                Assert.Equal(1L, d["b"], "b");
                Assert.Equal("two", d["a"], "a");
                Assert.Equal(null, d["c"], "a nil value");
                Assert.True(d.ContainsKey("c"), "a key holding nil is there");
                Assert.False(d.ContainsKey("z"), "z");
                d["b"] = 10;
                Assert.Equal(new List<object> { "b", "a", "c" }, new List<object>(d.Keys), "overwriting keeps the key's place");
                Assert.Equal(new List<object> { 10L, "two", null }, new List<object>(d.Values), "values in order");
                Assert.Equal(3, d.Count, "count");
                Assert.True(d.Remove("b"), "removing b");
                Assert.False(d.Remove("b"), "removing b again");
                d["b"] = 11;
                Assert.Equal(new List<object> { "a", "c", "b" }, new List<object>(d.Keys), "a removed and re-set key moves to the end");
                object v;
                Assert.True(d.TryGetValue("a", out v), "TryGetValue a");
                Assert.Equal("two", v, "a");
                d.Clear();
                Assert.Equal(0, d.Count, "count after Clear");
                Assert.Equal(new List<object>(), new List<object>(d.Keys), "keys after Clear");
            }
        }

        private static void MissingKey()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("missing")))
            {
                XProcKeyNotFoundException e = Assert.Throws<XProcKeyNotFoundException>(() => { object unused = d["nope"]; });
                Assert.Equal(XProcStatus.KeyNotFound, e.Status, "status");
                Assert.Throws<KeyNotFoundException>(() => { object unused = d["nope"]; }, "the standard catch");
                object v = "untouched";
                Assert.False(d.TryGetValue("nope", out v), "TryGetValue");
                Assert.Equal(null, v, "out value");
                Assert.Throws<KeyNotFoundException>(() => d.PopItem(), "PopItem on an empty dict");
            }
        }

        private static void KeysOfAnyType()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("keys")))
            {
                d[1] = "int";
                Assert.Equal("int", d[1L], "1L finds the key set as 1");
                Assert.Equal("int", d[(byte)1], "(byte)1 too");
                Assert.Equal("int", d[1UL], "1UL too");
                Assert.False(d.ContainsKey(1.0), "1.0 is another key");
                Assert.False(d.ContainsKey("1"), "\"1\" is another key");
                d[1.0] = "float";
                d["1"] = "string";
                d[new byte[] { 1 }] = "bytes";
                d[new object[] { 1, "x" }] = "array";
                d[null] = "nil";
                d[true] = "bool";
                Assert.Equal(7, d.Count, "seven distinct keys");
                Assert.Equal("array", d[new List<object> { 1L, "x" }], "an array key found by content");
                Assert.Equal("bytes", d[new byte[] { 1 }], "a bytes key found by content");
                Assert.Equal("nil", d[null], "the nil key");
                Assert.Equal(new List<object> { 1L, 1.0, "1", new byte[] { 1 }, new List<object> { 1L, "x" }, null, true },
                    new List<object>(d.Keys), "keys as decoded values");
            }
        }

        private static void EveryValueType()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("values")))
            {
                List<KeyValuePair<object, object>> cases = QueueTests.ValueCases();
                for (int i = 0; i < cases.Count; i++)
                {
                    d[i] = cases[i].Key;
                }
                for (int i = 0; i < cases.Count; i++)
                {
                    Assert.Equal(cases[i].Value, d[i], "value sent as " + Assert.Show(cases[i].Key));
                }
            }
        }

        private static void Incr()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("incr")))
            {
                Assert.Equal(1L, d.Increment("n"), "a missing key counts from 0");
                Assert.Equal(42L, d.Increment("n", 41), "incr by 41");
                Assert.Equal(40L, d.Increment("n", -2), "a negative delta");
                Assert.Equal(40L, d["n"], "the stored value");
                d["s"] = "text";
                XProcException e = Assert.Throws<XProcException>(() => d.Increment("s"), "incr on a string");
                Assert.Equal(XProcStatus.WrongType, e.Status, "status");
                d["max"] = long.MaxValue;
                e = Assert.Throws<XProcException>(() => d.Increment("max"), "overflow");
                Assert.Equal(XProcStatus.InvalidArgument, e.Status, "status");
                Assert.Equal(long.MaxValue, d["max"], "unchanged after the overflow");
            }
        }

        private static void CompareAndSet()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("cas")))
            {
                Assert.False(d.CompareAndSet("k", 1, 2), "a missing key never matches");
                Assert.True(d.TryAdd("k", 1), "TryAdd on a missing key");
                Assert.False(d.TryAdd("k", 5), "TryAdd on a present key");
                Assert.Equal(1L, d["k"], "value after TryAdd");
                Assert.False(d.CompareAndSet("k", 1.0, 2), "1.0 does not match 1");
                Assert.True(d.CompareAndSet("k", 1L, 2), "1L matches 1");
                Assert.Equal(2L, d["k"], "swapped");
                Assert.True(d.CompareAndSet("k", 2, new object[] { "x" }), "swap to an array");
                Assert.True(d.CompareAndSet("k", new List<object> { "x" }, null), "an array compared by content");
                Assert.Equal(null, d["k"], "nil");
                Assert.Throws<ArgumentException>(() => d.Add("k", 3), "Add on a present key");
                d.Add("other", 3);
                Assert.Equal(3L, d["other"], "Add on a missing key");
            }
        }

        private static void GetOrAddRemovePop()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("pop")))
            {
                Assert.Equal("first", d.GetOrAdd("k", "first"), "GetOrAdd sets a missing key");
                Assert.Equal("first", d.GetOrAdd("k", "second"), "GetOrAdd keeps a present key");
                object v;
                Assert.True(d.TryRemove("k", out v), "TryRemove");
                Assert.Equal("first", v, "removed value");
                Assert.False(d.TryRemove("k", out v), "TryRemove again");
                d["x"] = 1;
                d["y"] = 2;
                KeyValuePair<object, object> last = d.PopItem();
                Assert.Equal("y", last.Key, "PopItem takes the most recent key");
                Assert.Equal(2L, last.Value, "its value");
                Assert.Equal(1, d.Count, "one left");
            }
        }

        private static void UpdateGetManyEnumerate()
        {
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(Fixture.Name("batch")))
            {
                d.Update(new Dictionary<string, object> { { "a", 1 }, { "b", "two" } });
                d.Update(new[] { new KeyValuePair<object, object>(3, 3.5), new KeyValuePair<object, object>("a", 10) });
                Assert.Equal(new List<object> { 10L, null, 3.5 }, d.GetMany(new object[] { "a", "zz", 3 }), "GetMany");
                var seen = new List<object>();
                foreach (KeyValuePair<object, object> kv in d)
                {
                    seen.Add(kv.Key);
                    seen.Add(kv.Value);
                }
                Assert.Equal(new List<object> { "a", 10L, "b", "two", 3L, 3.5 }, seen, "enumeration in order");
                Dictionary<object, object> copy = d.ToDictionary();
                Assert.Equal(3.5, copy[3], "ToDictionary compares keys as the broker does");
                Assert.Equal(3, d.Items().Count, "Items");
            }
        }

        private static void SharedAndAtomic()
        {
            string name = Fixture.Name("shared");
            using (XProcClient c = Fixture.Connect())
            using (XProcDict d = c.Dict(name))
            {
                var workers = new List<Worker>();
                for (int t = 0; t < 4; t++)
                {
                    workers.Add(Fixture.Start(() =>
                    {
                        using (XProcClient own = Fixture.Connect())
                        using (XProcDict theirs = own.Dict(name))
                        {
                            for (int i = 0; i < 100; i++)
                            {
                                theirs.Increment("hits");
                            }
                        }
                    }));
                }
                foreach (Worker w in workers)
                {
                    w.Finish();
                }
                Assert.Equal(400L, d["hits"], "every increment from four clients counted");
            }
        }
    }
}
