// xproc-bench (Java): the binding's figures for bench/run.py (--only bindings), one JSON line
// per scenario, the contract of bindings/python/bench_python.py:
//
//   queue_put_get  put then take of a --size byte payload on one queue, unpipelined (ops: puts + gets)
//   prodcons       a producer process puts --iters items, this process takes them (ops: items delivered)
//
// Usage: java -cp ... Bench --socket PATH [--iters N] [--secs S] [--size B]

import java.util.ArrayList;
import java.util.List;
import xproc.Client;
import xproc.XQueue;

public final class Bench {
    public static void main(String[] args) throws Exception {
        String socket = System.getenv("XPROC_SOCKET");
        int iters = 100000;
        double secs = 3;
        int size = 64;
        String produce = null;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--socket": socket = args[i + 1]; break;
                case "--iters": iters = Integer.parseInt(args[i + 1]); break;
                case "--secs": secs = Double.parseDouble(args[i + 1]); break;
                case "--size": size = Integer.parseInt(args[i + 1]); break;
                case "--produce": produce = args[i + 1]; break;
                default: throw new IllegalArgumentException("unknown flag " + args[i]);
            }
        }
        byte[] data = new byte[size];
        for (int i = 0; i < size; i++) {
            data[i] = (byte) (i % 251);
        }
        try (Client c = Client.connect(socket)) {
            if (produce != null) {
                XQueue q = c.queue(produce, 1000, -1);
                for (int i = 0; i < iters; i++) {
                    q.put(data);
                }
                return;
            }
            long pid = ProcessHandle.current().pid();
            XQueue q = c.queue("bench-java-" + pid);
            for (int i = 0; i < 2000; i++) { // JIT warm-up, not timed
                q.put(data);
                q.take();
            }
            long limit = (long) (secs * 1e9);
            long start = System.nanoTime();
            int ops = 0;
            while (ops < iters && System.nanoTime() - start < limit) {
                q.put(data);
                q.take();
                ops += 2;
            }
            emit("java_queue_put_get", ops, (System.nanoTime() - start) / 1e9,
                    "Java binding (JNA), " + size + " B bytes, unpipelined");

            String name = "bench-java-pc-" + pid;
            XQueue cq = c.queue(name, 1000, -1);
            List<String> cmd = new ArrayList<>(List.of(
                    ProcessHandle.current().info().command().orElse("java"),
                    "-Dxproc.library.path=" + System.getProperty("xproc.library.path", ""),
                    "-cp", System.getProperty("java.class.path"), "Bench", "--socket", socket,
                    "--iters", String.valueOf(iters), "--size", String.valueOf(size), "--produce", name));
            Process producer = new ProcessBuilder(cmd).inheritIO().start();
            cq.take();
            start = System.nanoTime();
            for (int i = 1; i < iters; i++) {
                cq.take();
            }
            double elapsed = (System.nanoTime() - start) / 1e9;
            if (producer.waitFor() != 0) {
                throw new IllegalStateException("the producer failed");
            }
            emit("java_prodcons", iters - 1, elapsed,
                    "Java binding, producer process -> consumer process, " + size + " B, maxsize 1000");
        }
    }

    static void emit(String scenario, int ops, double secs, String note) {
        System.out.printf("{\"scenario\": \"%s\", \"ops\": %d, \"secs\": %.6f, \"ops_per_s\": %.1f, \"note\": \"%s\"}%n",
                scenario, ops, secs, ops / secs, note);
    }
}
