package xproc;

import static org.junit.jupiter.api.Assertions.*;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ValuesTest {
    @Test
    void integersTakeTheirShortestForm() {
        assertArrayEquals(new byte[] {1}, Msgpack.encode(1));
        assertArrayEquals(new byte[] {1}, Msgpack.encode(1L));
        assertArrayEquals(new byte[] {(byte) 0xff}, Msgpack.encode(-1));
        assertArrayEquals(new byte[] {(byte) 0xcc, (byte) 200}, Msgpack.encode((short) 200));
        assertArrayEquals(new byte[] {(byte) 0xd0, (byte) 0xdf}, Msgpack.encode(-33));
        byte[] u64 = Msgpack.encode(new BigInteger("18446744073709551615"));
        assertEquals(9, u64.length);
        assertEquals((byte) 0xcf, u64[0]);
    }

    @Test
    void roundTrips() {
        Map<Object, Object> m = new LinkedHashMap<>();
        m.put("b", 1L);
        m.put(2L, List.of("x"));
        Object[][] cases = {
            {null, null}, {true, true}, {7, 7L}, {Long.MIN_VALUE, Long.MIN_VALUE},
            {new BigInteger("18446744073709551615"), new BigInteger("18446744073709551615")},
            {1.5, 1.5}, {1.5f, 1.5f}, {"héllo ✓ 🦀", "héllo ✓ 🦀"}, {List.of(1, List.of()), List.of(1L, List.of())},
            {m, m}, {new Ext(-1, new byte[] {0, 0, 0, 1}), new Ext(-1, new byte[] {0, 0, 0, 1})},
        };
        for (Object[] c : cases) {
            assertEquals(c[1], Msgpack.decode(Msgpack.encode(c[0])), "round trip of " + c[0]);
        }
        byte[] big = new byte[70000];
        big[69999] = 9;
        assertArrayEquals(big, (byte[]) Msgpack.decode(Msgpack.encode(big)));
        assertTrue(Double.isNaN((Double) Msgpack.decode(Msgpack.encode(Double.NaN))));
        assertEquals(Double.doubleToRawLongBits(-0.0),
                Double.doubleToRawLongBits((Double) Msgpack.decode(Msgpack.encode(-0.0))));
    }

    @Test
    void badValuesAreRefused() {
        for (Object bad : new Object[] {new Object(), "\ud800", new BigInteger("-9223372036854775809"),
                BigInteger.ONE.shiftLeft(64)}) {
            XprocException e = assertThrows(XprocException.class, () -> Msgpack.encode(bad));
            assertEquals(XprocException.Status.INVALID_VALUE, e.status());
        }
        Object deep = List.of();
        for (int i = 0; i <= Msgpack.MAX_DEPTH; i++) {
            deep = List.of(deep);
        }
        Object tooDeep = deep;
        assertThrows(XprocException.class, () -> Msgpack.encode(tooDeep));
        for (byte[] bad : Arrays.asList(new byte[] {}, new byte[] {(byte) 0xc1}, new byte[] {(byte) 0x92, 1},
                new byte[] {1, 2}, new byte[] {(byte) 0xdd, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff},
                new byte[] {(byte) 0xa1, (byte) 0xff})) {
            assertThrows(XprocException.class, () -> Msgpack.decode(bad));
        }
    }
}
