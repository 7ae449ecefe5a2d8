package xproc;

import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.File;
import java.nio.charset.StandardCharsets;

/**
 * Every libxproc function the binding calls (client-c/include/xproc.h), bound with JNA's
 * direct mapping. Handles are passed as {@code long} pointer values; out-parameters are
 * one-element arrays; strings are (UTF-8 bytes, length).
 *
 * <p>The library is found, in order: at the path in the system property {@code
 * xproc.library.path} or the environment variable {@code XPROC_LIB}; as {@code
 * libxproc.so} in a directory of {@code java.library.path}; by the dynamic loader
 * ({@code LD_LIBRARY_PATH}, ldconfig). Otherwise the first use fails with an error that
 * names all three.
 */
final class Native {
    private Native() {}

    static final String PATH_PROPERTY = "xproc.library.path";

    static {
        com.sun.jna.Native.register(Native.class, load());
    }

    private static NativeLibrary load() {
        String explicit = System.getProperty(PATH_PROPERTY);
        if (explicit == null || explicit.isEmpty()) {
            explicit = System.getenv("XPROC_LIB");
        }
        if (explicit != null && !explicit.isEmpty()) {
            if (!new File(explicit).isFile()) {
                throw new UnsatisfiedLinkError("libxproc not found at " + explicit
                        + " (given by -D" + PATH_PROPERTY + " or XPROC_LIB)");
            }
            return NativeLibrary.getInstance(explicit);
        }
        String javaPath = System.getProperty("java.library.path", "");
        for (String dir : javaPath.split(File.pathSeparator)) {
            File f = new File(dir, "libxproc.so");
            if (!dir.isEmpty() && f.isFile()) {
                return NativeLibrary.getInstance(f.getAbsolutePath());
            }
        }
        try {
            return NativeLibrary.getInstance("xproc");
        } catch (UnsatisfiedLinkError e) {
            throw new UnsatisfiedLinkError("libxproc not found: give its path with -D"
                    + PATH_PROPERTY + "=/path/libxproc.so (or XPROC_LIB), or put libxproc.so in a"
                    + " directory of java.library.path (now: " + javaPath + ") or on the loader's"
                    + " path (LD_LIBRARY_PATH, ldconfig); build it with cargo build --release -p"
                    + " xproc-c (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** The last error's message on this thread (Java platform threads stay on theirs). */
    static String lastError() {
        return xproc_last_error();
    }

    /** Copies a buffer libxproc returned, then frees it. */
    static byte[] take(long ptr, long len) {
        Pointer p = new Pointer(ptr);
        byte[] out = p.getByteArray(0, (int) len);
        xproc_bytes_free(p, len);
        return out;
    }

    static native String xproc_last_error();
    static native String xproc_version();
    static native void xproc_bytes_free(Pointer p, long len);

    static native int xproc_client_connect_as(byte[] path, long pathLen, byte[] name, long nameLen,
            byte[] lang, long langLen, long timeoutMs, long[] out);
    static native void xproc_client_free(long c);
    static native int xproc_client_ping(long c);
    static native int xproc_client_conn_id(long c, long[] out);
    static native int xproc_client_delete(long c, byte[] name, long len, byte[] deleted);

    static native int xproc_queue_open_with(long c, byte[] name, long len, long maxsize, long attempts, long[] out);
    static native int xproc_joinable_queue_open_with(long c, byte[] name, long len, long maxsize, long attempts, long[] out);
    static native void xproc_queue_free(long q);
    static native int xproc_queue_put_raw(long q, byte[] data, long len, long timeoutMs);
    static native int xproc_queue_get_raw(long q, long timeoutMs, long[] out, long[] outLen);
    static native int xproc_queue_size(long q, long[] out3);
    static native int xproc_queue_task_done(long q);
    static native int xproc_queue_join(long q, long timeoutMs);
    static native int xproc_queue_get_leased_raw(long q, long timeoutMs, long leaseMs, long[] out, long[] outLen,
            long[] delivery, int[] attempt);
    static native int xproc_queue_ack(long q, long delivery);
    static native int xproc_queue_nack(long q, long delivery, long delayMs);

    static native int xproc_dict_open(long c, byte[] name, long len, long[] out);
    static native void xproc_dict_free(long d);
    static native int xproc_dict_get_raw(long d, byte[] k, long kl, long[] out, long[] outLen);
    static native int xproc_dict_set_raw(long d, byte[] k, long kl, byte[] v, long vl);
    static native int xproc_dict_delete_raw(long d, byte[] k, long kl);
    static native int xproc_dict_contains_raw(long d, byte[] k, long kl, byte[] out);
    static native int xproc_dict_len(long d, long[] out);
    static native int xproc_dict_keys_raw(long d, long[] out, long[] outLen);
    static native int xproc_dict_values_raw(long d, long[] out, long[] outLen);
    static native int xproc_dict_items_raw(long d, long[] out, long[] outLen);
    static native int xproc_dict_pop_raw(long d, byte[] k, long kl, long[] out, long[] outLen);
    static native int xproc_dict_setdefault_raw(long d, byte[] k, long kl, byte[] v, long vl, long[] out, long[] outLen);
    static native int xproc_dict_clear(long d);
    static native int xproc_dict_incr_raw(long d, byte[] k, long kl, long delta, long[] out);
    static native int xproc_dict_compare_and_set_raw(long d, byte[] k, long kl, byte[] e, long el, byte[] v, long vl,
            byte[] swapped);

    static native int xproc_pipe_open(long c, byte[] name, long len, byte end, int duplex, long capacity, long[] out);
    static native int xproc_pipe_close(long p);
    static native void xproc_pipe_free(long p);
    static native int xproc_pipe_send_raw(long p, byte[] data, long len, long timeoutMs);
    static native int xproc_pipe_recv_raw(long p, long timeoutMs, long[] out, long[] outLen);
    static native int xproc_pipe_poll(long p, long timeoutMs, byte[] ready);

    static native int xproc_lock_open(long c, byte[] name, long len, long[] out);
    static native int xproc_rlock_open(long c, byte[] name, long len, long[] out);
    static native void xproc_lock_free(long l);
    static native int xproc_lock_acquire(long l, long timeoutMs, byte[] acquired, int[] abandonedBy);
    static native int xproc_lock_release(long l);

    static native int xproc_semaphore_open(long c, byte[] name, long len, long initial, long[] out);
    static native int xproc_bounded_semaphore_open(long c, byte[] name, long len, long initial, long[] out);
    static native void xproc_semaphore_free(long s);
    static native int xproc_semaphore_acquire(long s, long timeoutMs, byte[] acquired);
    static native int xproc_semaphore_release(long s, long n);

    static native int xproc_event_open(long c, byte[] name, long len, long[] out);
    static native void xproc_event_free(long e);
    static native int xproc_event_set(long e);
    static native int xproc_event_clear(long e);
    static native int xproc_event_is_set(long e, byte[] out);
    static native int xproc_event_wait(long e, long timeoutMs, byte[] set);

    static native int xproc_condition_open(long c, byte[] name, long len, long[] out);
    static native void xproc_condition_free(long c);
    static native int xproc_condition_acquire(long c, long timeoutMs, byte[] acquired, int[] abandonedBy);
    static native int xproc_condition_release(long c);
    static native int xproc_condition_wait(long c, long timeoutMs, byte[] notified);
    static native int xproc_condition_notify(long c, long n, long[] woken);
    static native int xproc_condition_notify_all(long c, long[] woken);

    static native int xproc_barrier_open(long c, byte[] name, long len, long parties, long[] out);
    static native void xproc_barrier_free(long b);
    static native int xproc_barrier_wait(long b, long timeoutMs, long[] index);
    static native int xproc_barrier_abort(long b);
    static native int xproc_barrier_reset(long b);
    static native int xproc_barrier_state(long b, long[] out3);
}
