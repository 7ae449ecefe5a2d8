package xproc;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Starts one real xprocd per test on a socket of its own; stops it with SIGTERM after. */
abstract class BrokerTest {
    Path dir;
    String socket;
    private Process broker;
    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeEach
    void startBroker() throws Exception {
        String xprocd = System.getProperty("xprocd", "../../target/release/xprocd");
        if (!new File(xprocd).canExecute()) {
            throw new IllegalStateException("no xprocd at " + xprocd + " (cargo build --release -p xproc-broker)");
        }
        dir = Files.createTempDirectory("xproc-java-test.");
        socket = dir.resolve("x.sock").toString();
        broker = new ProcessBuilder(xprocd, "--socket", socket, "--log-level", "warn")
                .redirectErrorStream(true).redirectOutput(dir.resolve("xprocd.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!new File(socket).exists()) {
            if (System.nanoTime() > deadline || !broker.isAlive()) {
                throw new IllegalStateException("xprocd did not start: " + Files.readString(dir.resolve("xprocd.log")));
            }
            Thread.sleep(20);
        }
    }

    @AfterEach
    void stopBroker() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
        broker.destroy(); // SIGTERM
        if (!broker.waitFor(10, TimeUnit.SECONDS)) {
            broker.destroyForcibly();
            throw new IllegalStateException("xprocd did not stop within 10 s of SIGTERM");
        }
        for (File f : dir.toFile().listFiles()) {
            f.delete();
        }
        dir.toFile().delete();
    }

    /** A client to this test's broker, closed after the test. */
    Client client() {
        Client c = Client.connect(socket);
        opened.add(c);
        return c;
    }
}
