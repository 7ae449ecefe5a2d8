package xproc;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Java values to MessagePack bytes and back (docs/PROTOCOL.md §4).
 *
 * <pre>
 * Java (sent)                              MessagePack           Java (received)
 * null                                     nil                   null
 * Boolean                                  bool                  Boolean
 * Byte, Short, Integer, Long, BigInteger   int (shortest form)   Long; BigInteger above Long.MAX_VALUE
 * Double / Float                           float 64 / float 32   Double / Float
 * String                                   str                   String
 * byte[], ByteBuffer                       bin                   byte[]
 * List, any Collection, Object[]           array                 List (ArrayList)
 * Map                                      map                   Map (LinkedHashMap, order kept)
 * Ext                                      extension             Ext
 * </pre>
 *
 * Integers always take their shortest form, so a Java 1 is the same dict key as Python's 1.
 */
public final class Msgpack {
    private Msgpack() {}

    /** How deeply arrays and maps may nest (the broker's limit). */
    public static final int MAX_DEPTH = 100;

    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    /** Encodes one value; unsupported types and out-of-range integers are INVALID_VALUE. */
    public static byte[] encode(Object v) {
        Out out = new Out();
        write(out, v, 0);
        return out.toByteArray();
    }

    /** Decodes exactly one value. */
    public static Object decode(byte[] data) {
        In in = new In(data);
        Object v = in.value(0);
        if (in.pos != data.length) {
            throw bad("decode", (data.length - in.pos) + " bytes after the value");
        }
        return v;
    }

    static XprocException bad(String op, String why) {
        return new XprocException(XprocException.Status.INVALID_VALUE, op, "", why);
    }

    private static final class Out extends ByteArrayOutputStream {
        Out() {
            super(64);
        }

        void head(int marker, long n, int size) {
            write(marker);
            for (int i = size - 1; i >= 0; i--) {
                write((int) (n >>> (8 * i)));
            }
        }
    }

    private static void writeLong(Out o, long n) {
        if (n >= 0) {
            writeUnsigned(o, n);
        } else if (n >= -32) {
            o.write((int) n);
        } else if (n >= Byte.MIN_VALUE) {
            o.head(0xd0, n, 1);
        } else if (n >= Short.MIN_VALUE) {
            o.head(0xd1, n, 2);
        } else if (n >= Integer.MIN_VALUE) {
            o.head(0xd2, n, 4);
        } else {
            o.head(0xd3, n, 8);
        }
    }

    /** n is taken as unsigned 64-bit. */
    private static void writeUnsigned(Out o, long n) {
        if (n >= 0 && n <= 0x7f) {
            o.write((int) n);
        } else if (n >= 0 && n <= 0xff) {
            o.head(0xcc, n, 1);
        } else if (n >= 0 && n <= 0xffff) {
            o.head(0xcd, n, 2);
        } else if (n >= 0 && n <= 0xffffffffL) {
            o.head(0xce, n, 4);
        } else {
            o.head(0xcf, n, 8);
        }
    }

    private static void length(Out o, int n, int fix, int fixMax, int m8, int m16, int m32) {
        if (fix != 0 && n <= fixMax) {
            o.write(fix | n);
        } else if (m8 != 0 && n <= 0xff) {
            o.head(m8, n, 1);
        } else if (n <= 0xffff) {
            o.head(m16, n, 2);
        } else {
            o.head(m32, n, 4);
        }
    }

    private static void bin(Out o, byte[] b) {
        length(o, b.length, 0, 0, 0xc4, 0xc5, 0xc6);
        o.write(b, 0, b.length);
    }

    private static void nested(int depth) {
        if (depth >= MAX_DEPTH) {
            throw bad("encode", "arrays and maps nested deeper than " + MAX_DEPTH);
        }
    }

    private static void write(Out o, Object v, int depth) {
        if (v == null) {
            o.write(0xc0);
        } else if (v instanceof Boolean) {
            o.write((Boolean) v ? 0xc3 : 0xc2);
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            writeLong(o, ((Number) v).longValue());
        } else if (v instanceof BigInteger) {
            BigInteger b = (BigInteger) v;
            if (b.bitLength() <= 63) {
                writeLong(o, b.longValue());
            } else if (b.signum() > 0 && b.compareTo(U64_MAX) <= 0) {
                writeUnsigned(o, b.longValue());
            } else {
                throw bad("encode", b + " is outside MessagePack's integer range (i64 and u64)");
            }
        } else if (v instanceof Double) {
            o.head(0xcb, Double.doubleToRawLongBits((Double) v), 8);
        } else if (v instanceof Float) {
            o.head(0xca, Float.floatToRawIntBits((Float) v) & 0xffffffffL, 4);
        } else if (v instanceof String) {
            String s = (String) v;
            checkUnicode(s);
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            length(o, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
            o.write(b, 0, b.length);
        } else if (v instanceof byte[]) {
            bin(o, (byte[]) v);
        } else if (v instanceof ByteBuffer) {
            ByteBuffer buf = ((ByteBuffer) v).duplicate();
            byte[] b = new byte[buf.remaining()];
            buf.get(b);
            bin(o, b);
        } else if (v instanceof Ext) {
            Ext x = (Ext) v;
            byte[] d = x.data();
            switch (d.length) {
                case 1: o.write(0xd4); break;
                case 2: o.write(0xd5); break;
                case 4: o.write(0xd6); break;
                case 8: o.write(0xd7); break;
                case 16: o.write(0xd8); break;
                default: length(o, d.length, 0, 0, 0xc7, 0xc8, 0xc9);
            }
            o.write(x.type());
            o.write(d, 0, d.length);
        } else if (v instanceof Collection) {
            nested(depth);
            Collection<?> c = (Collection<?>) v;
            length(o, c.size(), 0x90, 15, 0, 0xdc, 0xdd);
            for (Object item : c) {
                write(o, item, depth + 1);
            }
        } else if (v instanceof Object[]) {
            write(o, java.util.Arrays.asList((Object[]) v), depth);
        } else if (v instanceof Map) {
            nested(depth);
            Map<?, ?> m = (Map<?, ?>) v;
            length(o, m.size(), 0x80, 15, 0, 0xde, 0xdf);
            for (Map.Entry<?, ?> e : m.entrySet()) {
                write(o, e.getKey(), depth + 1);
                write(o, e.getValue(), depth + 1);
            }
        } else {
            throw bad("encode", "cannot encode a " + v.getClass().getName() + " as MessagePack");
        }
    }

    /** A lone surrogate has no UTF-8 form (getBytes would silently write '?'). */
    private static void checkUnicode(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw bad("encode", "string is not valid Unicode (a lone surrogate at " + i + ")");
            }
        }
    }

    private static final class In {
        final byte[] b;
        int pos;

        In(byte[] b) {
            this.b = b;
        }

        void need(long n) {
            if (n < 0 || b.length - pos < n) {
                throw bad("decode", "truncated MessagePack value");
            }
        }

        long uint(int size) {
            need(size);
            long n = 0;
            for (int i = 0; i < size; i++) {
                n = (n << 8) | (b[pos++] & 0xff);
            }
            return n;
        }

        byte[] bytes(long n) {
            need(n);
            byte[] out = java.util.Arrays.copyOfRange(b, pos, pos + (int) n);
            pos += (int) n;
            return out;
        }

        String str(long n) {
            need(n);
            try {
                String s = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b, pos, (int) n)).toString();
                pos += (int) n;
                return s;
            } catch (CharacterCodingException e) {
                throw bad("decode", "string is not valid UTF-8");
            }
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) {
                throw bad("decode", "arrays and maps nested deeper than " + MAX_DEPTH);
            }
            need(1);
            int m = b[pos++] & 0xff;
            if (m <= 0x7f) {
                return (long) m;
            }
            if (m >= 0xe0) {
                return (long) (byte) m;
            }
            if ((m & 0xf0) == 0x80) {
                return map(m & 0x0f, depth);
            }
            if ((m & 0xf0) == 0x90) {
                return array(m & 0x0f, depth);
            }
            if ((m & 0xe0) == 0xa0) {
                return str(m & 0x1f);
            }
            switch (m) {
                case 0xc0: return null;
                case 0xc2: return Boolean.FALSE;
                case 0xc3: return Boolean.TRUE;
                case 0xc4: case 0xc5: case 0xc6: return bytes(uint(1 << (m - 0xc4)));
                case 0xc7: case 0xc8: case 0xc9: return ext(uint(1 << (m - 0xc7)));
                case 0xca: return Float.intBitsToFloat((int) uint(4));
                case 0xcb: return Double.longBitsToDouble(uint(8));
                case 0xcc: case 0xcd: case 0xce: return uint(1 << (m - 0xcc));
                case 0xcf: {
                    long n = uint(8);
                    return n >= 0 ? (Object) n : new BigInteger(Long.toUnsignedString(n));
                }
                case 0xd0: return (long) (byte) uint(1);
                case 0xd1: return (long) (short) uint(2);
                case 0xd2: return (long) (int) uint(4);
                case 0xd3: return uint(8);
                case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return ext(1 << (m - 0xd4));
                case 0xd9: case 0xda: case 0xdb: return str(uint(1 << (m - 0xd9)));
                case 0xdc: case 0xdd: return array(uint(2 << (m - 0xdc)), depth);
                case 0xde: case 0xdf: return map(uint(2 << (m - 0xde)), depth);
                default: throw bad("decode", String.format("byte 0x%02x is not a MessagePack marker", m));
            }
        }

        Ext ext(long n) {
            need(1);
            int type = b[pos++];
            return new Ext(type, bytes(n));
        }

        List<Object> array(long n, int depth) {
            need(n); // each element takes at least a byte: a hostile count cannot allocate
            List<Object> out = new ArrayList<>((int) n);
            for (long i = 0; i < n; i++) {
                out.add(value(depth + 1));
            }
            return out;
        }

        Map<Object, Object> map(long n, int depth) {
            need(2 * n);
            Map<Object, Object> out = new LinkedHashMap<>();
            for (long i = 0; i < n; i++) {
                Object k = value(depth + 1);
                out.put(k, value(depth + 1));
            }
            return out;
        }
    }
}
