package xproc;

import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A shared dict (a multiprocessing manager's dict) as a java.util.Map. Each method is one
 * atomic broker operation, except where said; keys compare by their MessagePack encoding
 * (so 1 and 1L are one key, 1 and 1.0 two). Views ({@link #entrySet}, {@link #keys}) are
 * snapshots taken in one round trip. {@link #get} returns null for a missing key, as a Map
 * does; {@link #lookup} tells a stored null apart.
 */
public final class XDict extends AbstractMap<Object, Object> implements AutoCloseable {
    private final Handle h;

    XDict(long ptr, String name) {
        this.h = new Handle(ptr, "dict", name) {
            @Override
            void free(long p) {
                Native.xproc_dict_free(p);
            }
        };
    }

    public String name() {
        return h.name;
    }

    @Override
    public void close() {
        h.close();
    }

    private static final int KEY_NOT_FOUND = XprocException.Status.KEY_NOT_FOUND.ordinal();

    /** The value under key, or null if there is none. */
    @Override
    public Object get(Object key) {
        Object[] v = lookup(key);
        return v == null ? null : v[0];
    }

    /** {value} if key is present, else null. */
    public Object[] lookup(Object key) {
        byte[] k = Msgpack.encode(key);
        return h.with("get", d -> {
            long[] out = new long[1];
            long[] len = new long[1];
            int st = Native.xproc_dict_get_raw(d, k, k.length, out, len);
            if (st == KEY_NOT_FOUND) {
                return null;
            }
            h.check(st, "get");
            return new Object[] {Msgpack.decode(Native.take(out[0], len[0]))};
        });
    }

    /** Stores value under key (one round trip; returns nothing, unlike put). */
    public void set(Object key, Object value) {
        byte[] k = Msgpack.encode(key);
        byte[] v = Msgpack.encode(value);
        h.with("set", d -> {
            h.check(Native.xproc_dict_set_raw(d, k, k.length, v, v.length), "set");
            return null;
        });
    }

    /** Stores value under key and returns the previous value: two round trips, not atomic. */
    @Override
    public Object put(Object key, Object value) {
        Object old = get(key);
        set(key, value);
        return old;
    }

    /** Removes key and returns its value (null if absent); atomic. */
    @Override
    public Object remove(Object key) {
        byte[] k = Msgpack.encode(key);
        return h.with("pop", d -> {
            long[] out = new long[1];
            long[] len = new long[1];
            int st = Native.xproc_dict_pop_raw(d, k, k.length, out, len);
            if (st == KEY_NOT_FOUND) {
                return null;
            }
            h.check(st, "pop");
            return Msgpack.decode(Native.take(out[0], len[0]));
        });
    }

    @Override
    public boolean containsKey(Object key) {
        byte[] k = Msgpack.encode(key);
        return h.with("contains", d -> {
            byte[] in = Handle.flag();
            h.check(Native.xproc_dict_contains_raw(d, k, k.length, in), "contains");
            return in[0] != 0;
        });
    }

    @Override
    public int size() {
        return h.with("len", d -> {
            long[] out = new long[1];
            h.check(Native.xproc_dict_len(d, out), "len");
            return (int) Math.min(Integer.MAX_VALUE, out[0]);
        });
    }

    @Override
    public void clear() {
        h.with("clear", d -> {
            h.check(Native.xproc_dict_clear(d), "clear");
            return null;
        });
    }

    interface Snapshot {
        int run(long dict, long[] out, long[] len);
    }

    private List<?> snapshot(String op, Snapshot call) {
        return h.with(op, d -> {
            long[] out = new long[1];
            long[] len = new long[1];
            h.check(call.run(d, out, len), op);
            return (List<?>) Msgpack.decode(Native.take(out[0], len[0]));
        });
    }

    /** A snapshot of the keys, in insertion order. */
    @SuppressWarnings("unchecked")
    public List<Object> keys() {
        return (List<Object>) snapshot("keys", Native::xproc_dict_keys_raw);
    }

    /** A snapshot of the values, in insertion order. */
    @SuppressWarnings("unchecked")
    public List<Object> valueList() {
        return (List<Object>) snapshot("values", Native::xproc_dict_values_raw);
    }

    /** A snapshot of the entries, in insertion order (one round trip). */
    @Override
    public Set<Map.Entry<Object, Object>> entrySet() {
        List<?> items = snapshot("items", Native::xproc_dict_items_raw);
        return new AbstractSet<>() {
            @Override
            public Iterator<Map.Entry<Object, Object>> iterator() {
                Iterator<?> it = items.iterator();
                return new Iterator<>() {
                    @Override
                    public boolean hasNext() {
                        return it.hasNext();
                    }

                    @Override
                    public Map.Entry<Object, Object> next() {
                        List<?> kv = (List<?>) it.next();
                        return new SimpleImmutableEntry<>(kv.get(0), kv.get(1));
                    }
                };
            }

            @Override
            public int size() {
                return items.size();
            }
        };
    }

    /** Atomically adds delta to the integer under key (absent: 0) and returns the result. */
    public long incr(Object key, long delta) {
        byte[] k = Msgpack.encode(key);
        return h.with("incr", d -> {
            long[] out = new long[1];
            h.check(Native.xproc_dict_incr_raw(d, k, k.length, delta, out), "incr");
            return out[0];
        });
    }

    /** Atomically sets key to value if it holds expected; whether it did. */
    public boolean compareAndSet(Object key, Object expected, Object value) {
        return cas(key, Msgpack.encode(expected), value);
    }

    private boolean cas(Object key, byte[] expected, Object value) {
        byte[] k = Msgpack.encode(key);
        byte[] v = Msgpack.encode(value);
        return h.with("compare_and_set", d -> {
            byte[] swapped = Handle.flag();
            h.check(Native.xproc_dict_compare_and_set_raw(d, k, k.length, expected,
                    expected == null ? 0 : expected.length, v, v.length, swapped), "compare_and_set");
            return swapped[0] != 0;
        });
    }

    /** Sets key to value only if absent (atomic); returns null if it did, else the current value. */
    @Override
    public Object putIfAbsent(Object key, Object value) {
        return cas(key, null, value) ? null : get(key);
    }

    /** Python's setdefault: the value under key, first set to def if absent (atomic). */
    public Object setDefault(Object key, Object def) {
        byte[] k = Msgpack.encode(key);
        byte[] v = Msgpack.encode(def);
        return h.with("setdefault", d -> {
            long[] out = new long[1];
            long[] len = new long[1];
            h.check(Native.xproc_dict_setdefault_raw(d, k, k.length, v, v.length, out, len), "setdefault");
            return Msgpack.decode(Native.take(out[0], len[0]));
        });
    }
}
