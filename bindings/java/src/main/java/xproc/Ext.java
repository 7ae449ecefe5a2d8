package xproc;

import java.util.Arrays;

/** A MessagePack extension value: a type code and its bytes (type -1 is a timestamp). */
public final class Ext {
    private final byte type;
    private final byte[] data;

    public Ext(int type, byte[] data) {
        if (type < -128 || type > 127) {
            throw new IllegalArgumentException("an extension type is in -128..127");
        }
        this.type = (byte) type;
        this.data = data.clone();
    }

    public int type() {
        return type;
    }

    public byte[] data() {
        return data.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Ext && ((Ext) o).type == type && Arrays.equals(((Ext) o).data, data);
    }

    @Override
    public int hashCode() {
        return 31 * type + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "Ext(" + type + ", " + data.length + " bytes)";
    }
}
