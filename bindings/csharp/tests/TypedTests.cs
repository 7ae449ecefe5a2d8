// TypedTests.cs: typed objects against the broker — client.Queue<T> and client.Dict<TKey,
// TValue> with the default serializer (integers back as the requested type, collections,
// enums, times), a serializer of our own, items a serializer cannot read, types refused
// before anything reaches the broker, the dict used through IDictionary<TKey, TValue>; and
// exception messages that name the operation and the object.

using System;
using System.Collections.Generic;
using System.Threading;

namespace XProc.Tests
{
    internal static class TypedTests
    {
        internal static IEnumerable<Test> All()
        {
            yield return new Test("typed.queue_of_int_gives_ints", QueueOfInt);
            yield return new Test("typed.queue_of_collections_enums_times", QueueOfCollections);
            yield return new Test("typed.unreadable_item_names_queue_and_type", UnreadableItem);
            yield return new Test("typed.leased_unreadable_item_goes_back", LeasedUnreadable);
            yield return new Test("typed.unsupported_type_refused_before_open", UnsupportedType);
            yield return new Test("typed.custom_serializer", CustomSerializer);
            yield return new Test("typed.serializer_output_checked_by_broker", BadSerializerOutput);
            yield return new Test("typed.dict_as_idictionary", DictAsIDictionary);
            yield return new Test("typed.dict_remove_pair_not_supported", DictRemovePair);
            yield return new Test("errors.name_operation_and_object", ErrorMessages);
        }

        private enum Color
        {
            Red = 1,
            Green = 2,
        }

        private static void QueueOfInt()
        {
            string name = Fixture.Name("ints");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue<int> q = c.Queue<int>(name))
            using (XProcQueue any = c.Queue(name))
            {
                q.Put(7);
                q.PutMany(new[] { -1, int.MaxValue });
                int seven = q.Get(TimeSpan.FromSeconds(5));
                Assert.Equal(7, seven, "an int back");
                Assert.Equal(-1L, any.Get(TimeSpan.FromSeconds(5)), "the untyped queue still gives a long");
                int got;
                Assert.True(q.TryGet(out got), "TryGet found the third");
                Assert.Equal(int.MaxValue, got, "int.MaxValue");

                // Items from another writer (here the untyped queue: Python's or Go's ints look
                // the same) come back as the queue's type too.
                any.Put((byte)200);
                Assert.Equal(200, q.Get(TimeSpan.FromSeconds(5)), "a byte-sized int as an int");

                using (XProcQueue<ulong> big = c.Queue<ulong>(name))
                {
                    big.Put(ulong.MaxValue);
                    Assert.Equal(ulong.MaxValue, big.Get(TimeSpan.FromSeconds(5)), "ulong.MaxValue");
                }

                q.Post(1);
                q.Post(2);
                q.Flush();
                List<int> batch = q.GetMany(10, TimeSpan.FromSeconds(5));
                Assert.Equal(2, batch.Count, "GetMany count");
                Assert.Equal(1, batch[0], "GetMany gives ints");
                Assert.Equal(0, q.Count, "drained");
            }
        }

        private static void QueueOfCollections()
        {
            using (XProcClient c = Fixture.Connect())
            {
                string lists = Fixture.Name("lists");
                using (XProcQueue<List<int>> q = c.Queue<List<int>>(lists))
                {
                    q.Put(new List<int> { 1, 2, 3 });
                    List<int> back = q.Get(TimeSpan.FromSeconds(5));
                    Assert.Equal(3, back.Count, "three ints");
                    Assert.Equal(3, back[2], "typed elements");
                }
                using (XProcQueue<long[]> q = c.Queue<long[]>(lists))
                {
                    q.Put(new long[] { 5, 6 });
                    long[] back = q.Get(TimeSpan.FromSeconds(5));
                    Assert.Equal(6L, back[1], "an array of longs");
                }

                string maps = Fixture.Name("maps");
                using (XProcQueue<Dictionary<string, double>> q = c.Queue<Dictionary<string, double>>(maps))
                using (XProcQueue any = c.Queue(maps))
                {
                    any.Put(new Dictionary<string, object> { { "x", 1.5 }, { "n", 2 } });
                    Dictionary<string, double> back = q.Get(TimeSpan.FromSeconds(5));
                    Assert.Equal(1.5, back["x"], "a double");
                    Assert.Equal(2.0, back["n"], "an integer read as a double");
                }

                string misc = Fixture.Name("misc");
                using (XProcQueue<Color> colors = c.Queue<Color>(misc))
                using (XProcQueue<int?> maybe = c.Queue<int?>(misc))
                using (XProcQueue<DateTime> times = c.Queue<DateTime>(misc))
                using (XProcQueue<string> strings = c.Queue<string>(misc))
                {
                    colors.Put(Color.Green);
                    Assert.Equal(Color.Green, colors.Get(TimeSpan.FromSeconds(5)), "an enum by value");
                    maybe.Put(null);
                    maybe.Put(4);
                    Assert.Equal(null, maybe.Get(TimeSpan.FromSeconds(5)), "nil as a null int?");
                    Assert.Equal(4, maybe.Get(TimeSpan.FromSeconds(5)), "an int?");
                    var when = new DateTime(2026, 12, 7, 16, 30, 0, DateTimeKind.Utc);
                    times.Put(when);
                    Assert.Equal(when, times.Get(TimeSpan.FromSeconds(5)), "a DateTime");
                    strings.Put("héllo");
                    Assert.Equal("héllo", strings.Get(TimeSpan.FromSeconds(5)), "a string");
                }
            }
        }

        private static void UnreadableItem()
        {
            string name = Fixture.Name("unreadable");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue<int> q = c.Queue<int>(name))
            using (XProcQueue any = c.Queue(name))
            {
                any.Put(1L << 40);
                XProcException e = Assert.Throws<XProcException>(() => q.Get(TimeSpan.FromSeconds(5)), "2^40 as an int");
                Assert.Equal(XProcStatus.InvalidValue, e.Status, "status");
                Assert.Equal("Get on queue \"" + name + "\": the item cannot be read as Int32: the integer 1099511627776 does not fit in Int32",
                    e.Message, "message");
                Assert.True(e.InnerException is FormatException, "the serializer's exception inside");

                any.Put("seven");
                e = Assert.Throws<XProcException>(() => q.Get(TimeSpan.FromSeconds(5)), "a string as an int");
                Assert.Equal("Get on queue \"" + name + "\": the item cannot be read as Int32: a MessagePack string cannot be read as Int32",
                    e.Message, "message");
                Assert.Equal(0, any.Count, "a plain get took the items");
            }
        }

        private static void LeasedUnreadable()
        {
            string name = Fixture.Name("leased-unreadable");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue<int> q = c.Queue<int>(name))
            using (XProcQueue any = c.Queue(name))
            {
                any.Put("not an int");
                Assert.Throws<XProcException>(() => q.GetLeased(TimeSpan.FromSeconds(5)), "a leased string as an int");
                Assert.Equal("not an int", any.Get(TimeSpan.FromSeconds(5)), "given back at once, for a reader that can");
            }
        }

        private sealed class Job
        {
            internal int N;
            internal string Tag;
        }

        /// <summary>A serializer of our own: a Job as the map {"n": N, "tag": Tag} other languages read.</summary>
        private sealed class JobSerializer : IXProcSerializer<Job>
        {
            internal int Calls;

            public byte[] Serialize(Job value)
            {
                Interlocked.Increment(ref Calls);
                return MessagePack.Encode(new Dictionary<string, object> { { "n", value.N }, { "tag", value.Tag } });
            }

            public Job Deserialize(byte[] data)
            {
                Interlocked.Increment(ref Calls);
                var map = (Dictionary<object, object>)MessagePack.Decode(data);
                return new Job { N = checked((int)(long)map["n"]), Tag = (string)map["tag"] };
            }
        }

        private sealed class Opaque
        {
        }

        private static void UnsupportedType()
        {
            string name = Fixture.Name("unsupported");
            using (XProcClient c = Fixture.Connect())
            {
                NotSupportedException e = Assert.Throws<NotSupportedException>(() => c.Queue<Opaque>(name), "a class without a serializer");
                Assert.True(e.Message.Contains("Opaque") && e.Message.Contains("IXProcSerializer<Opaque>"),
                    "the message names the type and the way out: " + e.Message);
                Assert.Throws<NotSupportedException>(() => c.Dict<string, decimal>(name), "decimal values");
                Assert.Throws<ObjectNotFoundException>(() => c.Stat(name), "nothing was created in the broker");
            }
        }

        private static void CustomSerializer()
        {
            string name = Fixture.Name("jobs");
            var serializer = new JobSerializer();
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue<Job> q = c.Queue<Job>(name, serializer: serializer))
            using (XProcQueue any = c.Queue(name))
            {
                q.Put(new Job { N = 7, Tag = "a" });
                var seen = (Dictionary<object, object>)any.Get(TimeSpan.FromSeconds(5));
                Assert.Equal(7L, seen["n"], "other readers see the map");
                any.Put(new Dictionary<string, object> { { "n", 8 }, { "tag", "b" } });
                using (Delivery<Job> d = q.GetLeased(TimeSpan.FromSeconds(5)))
                {
                    Assert.Equal(8, d.Value.N, "a Job back");
                    Assert.Equal("b", d.Value.Tag, "its tag");
                    d.Ack();
                }
                Assert.Equal(2, serializer.Calls, "the serializer wrote the first item and read the second");
            }
        }

        /// <summary>Writes bytes that are not MessagePack (0xc1 is never used).</summary>
        private sealed class BrokenSerializer : IXProcSerializer<string>
        {
            public byte[] Serialize(string value)
            {
                return new byte[] { 0xc1 };
            }

            public string Deserialize(byte[] data)
            {
                return "";
            }
        }

        private static void BadSerializerOutput()
        {
            string name = Fixture.Name("broken-serializer");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue<string> q = c.Queue<string>(name, serializer: new BrokenSerializer()))
            {
                XProcException e = Assert.Throws<XProcException>(() => q.Put("x"), "bytes that are not MessagePack");
                Assert.Equal(XProcStatus.InvalidValue, e.Status, "status");
                Assert.True(e.Message.StartsWith("Put on queue \"" + name + "\": ", StringComparison.Ordinal), "message: " + e.Message);
                Assert.Equal(0, q.Count, "nothing was stored");
            }
        }

        /// <summary>Sums the values through the interface only, as library code would.</summary>
        private static int Sum(IDictionary<string, int> d)
        {
            int total = 0;
            foreach (KeyValuePair<string, int> kv in d)
            {
                total += kv.Value;
            }
            return total;
        }

        private static void DictAsIDictionary()
        {
            string name = Fixture.Name("typed-dict");
            using (XProcClient c = Fixture.Connect())
            using (XProcDict<string, int> typed = c.Dict<string, int>(name))
            using (XProcDict any = c.Dict(name))
            {
                IDictionary<string, int> d = typed;
                d["a"] = 1;
                d.Add("b", 2);
                d.Add(new KeyValuePair<string, int>("c", 3));
                Assert.Throws<ArgumentException>(() => d.Add("a", 9), "Add of a present key");
                Assert.Equal(3, d.Count, "Count");
                Assert.Equal(6, Sum(d), "enumerated through the interface");
                Assert.True(d.ContainsKey("b"), "ContainsKey");
                int v;
                Assert.True(d.TryGetValue("c", out v) && v == 3, "TryGetValue");
                Assert.False(d.TryGetValue("zz", out v), "TryGetValue of a missing key");
                Assert.Throws<KeyNotFoundException>(() => { int x = d["zz"]; }, "a missing key");
                Assert.True(d.Contains(new KeyValuePair<string, int>("a", 1)), "Contains of a present pair");
                Assert.False(d.Contains(new KeyValuePair<string, int>("a", 2)), "Contains of another value");
                Assert.Equal(new List<object> { "a", "b", "c" }, new List<object>(ToObjects(d.Keys)), "Keys in insertion order");
                Assert.True(d.Keys.IsReadOnly, "Keys is a read-only snapshot");
                var pairs = new KeyValuePair<string, int>[4];
                d.CopyTo(pairs, 1);
                Assert.Equal("c", pairs[3].Key, "CopyTo");
                Assert.False(d.IsReadOnly, "the dict itself is writable");

                // Another process's ints (the untyped dict writes longs) read as ints, and
                // Increment is atomic in the broker.
                any["d"] = 40L;
                Assert.Equal(42L, typed.Increment("d", 2), "Increment");
                Assert.Equal(42, d["d"], "an int back");
                Assert.True(d.Remove("d"), "Remove");
                Assert.False(d.Remove("d"), "Remove of a missing key");

                Dictionary<string, int> copy = typed.ToDictionary();
                Assert.Equal(3, copy.Count, "ToDictionary");
                d.Clear();
                Assert.Equal(0, d.Count, "Clear");
            }
        }

        private static IEnumerable<object> ToObjects(IEnumerable<string> items)
        {
            foreach (string s in items)
            {
                yield return s;
            }
        }

        private static void DictRemovePair()
        {
            string name = Fixture.Name("typed-dict-remove");
            using (XProcClient c = Fixture.Connect())
            using (XProcDict<string, int> typed = c.Dict<string, int>(name))
            {
                IDictionary<string, int> d = typed;
                d["a"] = 1;
                NotSupportedException e = Assert.Throws<NotSupportedException>(
                    () => d.Remove(new KeyValuePair<string, int>("a", 1)), "no atomic remove-if-equal");
                Assert.True(e.Message.Contains("dict \"" + name + "\""), "the message names the dict: " + e.Message);
                Assert.Equal(1, d["a"], "nothing was removed");
            }
        }

        private static void ErrorMessages()
        {
            string name = Fixture.Name("jobs");
            using (XProcClient c = Fixture.Connect())
            using (XProcQueue q = c.Queue(name, 1))
            using (XProcLock lk = c.Lock(name + "-lock"))
            using (XProcClient other = Fixture.Connect())
            using (XProcLock theirs = other.Lock(name + "-lock"))
            using (XProcDict d = c.Dict(name + "-dict"))
            using (XProcPipe p = c.Pipe(name + "-pipe", PipeEnd.B))
            {
                XProcTimeoutException t = Assert.Throws<XProcTimeoutException>(() => q.Get(TimeSpan.FromMilliseconds(50)), "Get");
                Assert.Equal("Get on queue \"" + name + "\" timed out after 50 ms", t.Message, "a timed out Get");
                t = Assert.Throws<XProcTimeoutException>(() => q.Get(TimeSpan.Zero), "Get without waiting");
                Assert.Equal("Get on queue \"" + name + "\" found it empty", t.Message, "an empty queue");
                q.Put(1);
                t = Assert.Throws<XProcTimeoutException>(() => q.Put(2, TimeSpan.Zero), "Put on a full queue");
                Assert.Equal("Put on queue \"" + name + "\" found it full", t.Message, "a full queue");

                using (theirs.Acquire())
                {
                    t = Assert.Throws<XProcTimeoutException>(() => lk.Acquire(TimeSpan.FromMilliseconds(30)), "Acquire");
                    Assert.Equal("Acquire on lock \"" + name + "-lock\" timed out after 30 ms", t.Message, "a timed out Acquire");
                }
                t = Assert.Throws<XProcTimeoutException>(() => p.Receive(TimeSpan.FromMilliseconds(20.5)), "Receive");
                Assert.Equal("Receive on pipe \"" + name + "-pipe\" (end B) timed out after 21 ms", t.Message, "a timed out Receive (rounded up)");

                XProcKeyNotFoundException k = Assert.Throws<XProcKeyNotFoundException>(() => { object x = d["nope"]; }, "a missing key");
                Assert.True(k.Message.StartsWith("Get on dict \"" + name + "-dict\": ", StringComparison.Ordinal), "message: " + k.Message);

                ObjectMismatchException m = Assert.Throws<ObjectMismatchException>(() => c.Dict(name), "a queue opened as a dict");
                Assert.True(m.Message.StartsWith("Open dict \"" + name + "\": ", StringComparison.Ordinal), "message: " + m.Message);
                NotOwnerException n = Assert.Throws<NotOwnerException>(() => lk.Release(), "release of a lock not held");
                Assert.True(n.Message.StartsWith("Release on lock \"" + name + "-lock\": ", StringComparison.Ordinal), "message: " + n.Message);
            }
        }
    }
}
