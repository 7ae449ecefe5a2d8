// The Java peer of the cross-language matrix (tests/cross-language/README.md).
//
//   java Peer <send|recv> <queue|pipe|dict> <object-name>     (broker: $XPROC_SOCKET)
//
// The sender puts every value case on the object through the Java binding (bindings/java);
// the receiver takes each and checks it against its own copy, built here natively: same Java
// type (Long is never Double, Boolean never Long, String never byte[]; floats must be Double,
// not Float), same value, NaN matches NaN, zeros agree on the sign bit, maps as sets of
// entries. Each step prints `ok <step>` or `FAIL <step>: ...`; exit status 1 if any failed.

import java.io.EOFException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import xproc.Client;
import xproc.XDict;
import xproc.XPipe;
import xproc.XQueue;

public final class Peer {
    static final long RECV_TIMEOUT_S = 30;
    static final long SEND_TIMEOUT_S = 30;
    static final long DICT_INT_KEY = 42;
    static final String DICT_INT_VALUE = "answer";

    static int failures;

    interface Receive {
        Object get() throws Exception;
    }

    interface Send {
        void run() throws Exception;
    }

    @SafeVarargs
    static <T> List<T> list(T... items) {
        return new ArrayList<>(Arrays.asList(items));
    }

    static Map<Object, Object> map(Object... kv) {
        Map<Object, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    static Object[][] cases() {
        byte[] mib = new byte[1 << 20];
        for (int i = 0; i < mib.length; i++) {
            mib[i] = (byte) (i % 251);
        }
        // 16 MiB: a sealed memfd between clients on the local socket (PROTOCOL.md §4.1).
        byte[] mib16 = new byte[16 << 20];
        for (int i = 0; i < mib16.length; i++) {
            mib16[i] = (byte) (i % 251);
        }
        return new Object[][] {
            {"nil", null},
            {"true", true},
            {"false", false},
            {"zero", 0L},
            {"minus_one", -1L},
            {"i64_min", Long.MIN_VALUE},
            {"i64_max", Long.MAX_VALUE},
            {"u64_max", new BigInteger("18446744073709551615")},
            {"two_pow_53_plus_1", 9007199254740993L},
            {"float_1_5", 1.5},
            {"nan", Double.NaN},
            {"pos_inf", Double.POSITIVE_INFINITY},
            {"neg_inf", Double.NEGATIVE_INFINITY},
            {"neg_zero", -0.0},
            {"empty_string", ""},
            {"unicode_string", "héllo wörld ✓ 日本 🦀"},
            {"empty_bytes", new byte[0]},
            {"bytes_with_zeros", new byte[] {0, 1, 0, 0, (byte) 0xff, 0}},
            {"nested_array", list(1L, list(2L, list(3L, list())), list(), list(list("deep")))},
            {"nested_map", map("name", "matrix", "inner",
                    map("list", list(1L, 2L, 3L), "deep", map("x", -1L, "empty", map())), "empty_list", list())},
            {"int_key_map", map(1L, "one", -2L, "minus two")},
            {"mixed_array", list(1L, "two", 3.25, true, null, new byte[] {0, (byte) 0xff}, map("k", "v"), list(-5L))},
            {"bytes_1mib", mib},
            {"bytes_16mib", mib16},
        };
    }

    static String describe(Object v) {
        if (v == null) {
            return "nil";
        }
        if (v instanceof byte[]) {
            byte[] b = (byte[]) v;
            StringBuilder s = new StringBuilder("bytes [");
            for (int i = 0; i < Math.min(16, b.length); i++) {
                s.append(i > 0 ? " " : "").append(String.format("%02x", b[i]));
            }
            s.append("]");
            if (b.length > 16) {
                s.append("... (").append(b.length).append(" bytes)");
            }
            return s.toString();
        }
        if (v instanceof List) {
            StringBuilder s = new StringBuilder("[");
            for (Object item : (List<?>) v) {
                s.append(s.length() > 1 ? ", " : "").append(describe(item));
            }
            return s.append("]").toString();
        }
        if (v instanceof Map) {
            StringBuilder s = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                s.append(s.length() > 1 ? ", " : "").append(describe(e.getKey())).append(": ").append(describe(e.getValue()));
            }
            return s.append("}").toString();
        }
        String text = v.toString();
        return v.getClass().getSimpleName() + " " + (text.length() > 40 ? text.substring(0, 40) + "..." : text);
    }

    /** Where and how got differs from expected, or null. */
    static String difference(Object expected, Object got, String path) {
        String at = path.isEmpty() ? "" : "at " + path + ": ";
        String mismatch = at + "expected " + describe(expected) + ", got " + describe(got);
        if (expected == null || got == null) {
            return expected == got ? null : mismatch;
        }
        boolean sameFamily = expected.getClass() == got.getClass()
                || (expected instanceof List && got instanceof List) || (expected instanceof Map && got instanceof Map);
        if (!sameFamily) {
            return mismatch;
        }
        if (expected instanceof Double) {
            double e = (Double) expected;
            double g = (Double) got;
            if (Double.isNaN(e)) {
                return Double.isNaN(g) ? null : mismatch;
            }
            return Double.doubleToRawLongBits(e) == Double.doubleToRawLongBits(g) ? null : mismatch;
        }
        if (expected instanceof byte[]) {
            byte[] e = (byte[]) expected;
            byte[] g = (byte[]) got;
            if (e.length != g.length) {
                return at + "expected " + e.length + " bytes, got " + g.length + " bytes";
            }
            for (int i = 0; i < e.length; i++) {
                if (e[i] != g[i]) {
                    return String.format("%sexpected byte %d = 0x%02x, got 0x%02x", at, i, e[i], g[i]);
                }
            }
            return null;
        }
        if (expected instanceof List) {
            List<?> e = (List<?>) expected;
            List<?> g = (List<?>) got;
            if (e.size() != g.size()) {
                return mismatch;
            }
            for (int i = 0; i < e.size(); i++) {
                String why = difference(e.get(i), g.get(i), path + "[" + i + "]");
                if (why != null) {
                    return why;
                }
            }
            return null;
        }
        if (expected instanceof Map) {
            Map<?, ?> e = (Map<?, ?>) expected;
            Map<?, ?> g = (Map<?, ?>) got;
            if (e.size() != g.size()) {
                return mismatch;
            }
            for (Map.Entry<?, ?> ee : e.entrySet()) {
                Map.Entry<?, ?> match = null;
                for (Map.Entry<?, ?> ge : g.entrySet()) {
                    if (difference(ee.getKey(), ge.getKey(), "") == null) {
                        match = ge;
                        break;
                    }
                }
                if (match == null) {
                    return at + "expected a key " + describe(ee.getKey()) + ", got " + describe(got);
                }
                String why = difference(ee.getValue(), match.getValue(), path + "[" + describe(ee.getKey()) + "]");
                if (why != null) {
                    return why;
                }
            }
            return null;
        }
        return expected.equals(got) ? null : mismatch;
    }

    static void ok(String step) {
        System.out.println("ok " + step);
    }

    static void fail(String step, String why) {
        failures++;
        System.out.println("FAIL " + step + ": " + why);
    }

    static boolean check(String step, Object expected, Receive receive) {
        Object got;
        try {
            got = receive.get();
        } catch (Exception e) {
            fail(step, "expected " + describe(expected) + ", got " + e.getClass().getSimpleName() + ": " + e.getMessage());
            return false;
        }
        String why = difference(expected, got, "");
        if (why != null) {
            fail(step, why);
        } else {
            ok(step);
        }
        return true;
    }

    static boolean sent(String step, Send send) {
        try {
            send.run();
        } catch (Exception e) {
            fail(step, "send failed: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            return false;
        }
        ok(step);
        return true;
    }

    static void send(Client c, String scenario, String name) {
        if (scenario.equals("queue")) {
            XQueue q = c.queue(name);
            for (Object[] vc : cases()) {
                if (!sent((String) vc[0], () -> {
                    if (!q.offer(vc[1], SEND_TIMEOUT_S, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("no room within the timeout");
                    }
                })) {
                    return;
                }
            }
        } else if (scenario.equals("pipe")) {
            XPipe p = c.pipe(name, 'a');
            for (Object[] vc : cases()) {
                if (!sent((String) vc[0], () -> {
                    if (!p.send(vc[1], SEND_TIMEOUT_S, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("no room within the timeout");
                    }
                })) {
                    return;
                }
            }
            sent("end", p::close);
        } else {
            XDict d = c.dict(name);
            for (Object[] vc : cases()) {
                if (!sent((String) vc[0], () -> d.set(vc[0], vc[1]))) {
                    return;
                }
            }
            if (sent("dict_int_key", () -> d.set(DICT_INT_KEY, DICT_INT_VALUE))) {
                sent("end", () -> c.event(name + ".done").set());
            }
        }
    }

    static void recv(Client c, String scenario, String name) throws Exception {
        if (scenario.equals("queue")) {
            XQueue q = c.queue(name);
            for (Object[] vc : cases()) {
                if (!check((String) vc[0], vc[1], () -> q.get(RECV_TIMEOUT_S, TimeUnit.SECONDS))) {
                    return;
                }
            }
            if (q.isEmpty()) {
                ok("end");
            } else {
                fail("end", "expected an empty queue, got " + describe(q.poll()));
            }
        } else if (scenario.equals("pipe")) {
            XPipe p = c.pipe(name, 'b');
            for (Object[] vc : cases()) {
                if (!check((String) vc[0], vc[1], () -> p.recv(RECV_TIMEOUT_S, TimeUnit.SECONDS))) {
                    return;
                }
            }
            try {
                Object extra = p.recv(RECV_TIMEOUT_S, TimeUnit.SECONDS);
                fail("end", "expected end of file, got " + describe(extra));
            } catch (EOFException e) {
                ok("end");
            } catch (Exception e) {
                fail("end", "expected end of file (EOFException), got " + e);
            }
        } else {
            if (!c.event(name + ".done").await(RECV_TIMEOUT_S, TimeUnit.SECONDS)) {
                fail("done", "the sender's done event was not set in time");
                return;
            }
            XDict d = c.dict(name);
            for (Object[] vc : cases()) {
                check((String) vc[0], vc[1], () -> {
                    Object[] v = d.lookup(vc[0]);
                    if (v == null) {
                        throw new IllegalStateException("no such key");
                    }
                    return v[0];
                });
            }
            check("dict_int_key", DICT_INT_VALUE, () -> d.get(DICT_INT_KEY));
            int want = cases().length + 1;
            int n = d.size();
            if (n == want) {
                ok("end");
            } else {
                fail("end", "expected " + want + " entries, got " + n);
            }
        }
    }

    public static void main(String[] args) {
        if (args.length != 3 || !List.of("send", "recv").contains(args[0])
                || !List.of("queue", "pipe", "dict").contains(args[1])) {
            System.err.println("usage: Peer <send|recv> <queue|pipe|dict> <object-name>");
            System.exit(2);
        }
        Client c;
        try {
            c = Client.connect();
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            fail("connect", e.toString());
            System.exit(1);
            return;
        }
        try (c) {
            if (args[0].equals("send")) {
                send(c, args[1], args[2]);
            } else {
                recv(c, args[1], args[2]);
            }
        } catch (Exception e) {
            fail("open", e.toString());
        }
        System.out.flush();
        System.exit(failures > 0 ? 1 : 0);
    }
}
