package xproc;

import static org.junit.jupiter.api.Assertions.*;

import java.io.EOFException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ObjectsTest extends BrokerTest {
    @Test
    void queueAcrossClients() throws Exception {
        XQueue a = client().queue("jobs", 10, -1);
        XQueue b = client().queue("jobs");
        List<Object> items = List.of(1L, "two", Map.of("n", 3L), List.of(4L));
        for (Object v : items) {
            a.put(v);
        }
        a.put(null);
        assertEquals(5, b.size());
        assertEquals(10, b.maxSize());
        for (Object want : items) {
            assertEquals(want, b.take());
        }
        assertNull(b.get(1, TimeUnit.SECONDS)); // a queued null is a value
        assertNull(b.poll());
        long start = System.nanoTime();
        assertNull(b.poll(200, TimeUnit.MILLISECONDS));
        assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(200));
        TimeoutException t = assertThrows(TimeoutException.class, () -> b.get(100, TimeUnit.MILLISECONDS));
        assertTrue(t.getMessage().contains("\"jobs\""), t.getMessage());
        XprocException e = assertThrows(XprocException.class, () -> client().queue("jobs", 3, -1));
        assertEquals(XprocException.Status.OPTION_MISMATCH, e.status());
        e = assertThrows(XprocException.class, () -> client().dict("jobs"));
        assertEquals(XprocException.Status.TYPE_MISMATCH, e.status());
    }

    @Test
    void boundedQueueOffer() throws Exception {
        XQueue q = client().queue("small", 1, -1);
        assertTrue(q.offer(1));
        assertFalse(q.offer(2));
        assertFalse(q.offer(2, 100, TimeUnit.MILLISECONDS));
    }

    /** An interrupted take returns InterruptedException soon and takes nothing. */
    @Test
    void interruptedTakeTakesNothing() throws Exception {
        XQueue q = client().queue("intr");
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                q.take();
            } catch (Throwable e) {
                outcome.set(e);
            }
        });
        t.start();
        Thread.sleep(150);
        t.interrupt();
        t.join(5000);
        assertFalse(t.isAlive(), "the interrupted take did not return");
        assertInstanceOf(InterruptedException.class, outcome.get());
        q.put("after");
        assertEquals("after", client().queue("intr").poll(2, TimeUnit.SECONDS));
    }

    @Test
    void joinableQueue() throws Exception {
        XJoinableQueue q = client().joinableQueue("work", -1);
        q.put(1);
        q.put(2);
        assertFalse(q.join(100, TimeUnit.MILLISECONDS));
        assertEquals(2, q.unfinishedTasks());
        CompletableFuture<Void> joined = CompletableFuture.runAsync(() -> {
            try {
                q.join();
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        q.take();
        q.taskDone();
        q.take();
        q.taskDone();
        joined.get(5, TimeUnit.SECONDS);
        XprocException e = assertThrows(XprocException.class, q::taskDone);
        assertEquals(XprocException.Status.INVALID_ARGUMENT, e.status());
    }

    @Test
    void leases() throws Exception {
        XQueue q = client().queue("leased", -1, 2);
        q.put("task");
        XQueue.Delivery d = q.getLeased(Duration.ofSeconds(10), 1, TimeUnit.SECONDS);
        assertEquals("task", d.value());
        assertEquals(1, d.attempt());
        d.nack(Duration.ZERO);
        d = q.getLeased(Duration.ofMillis(100), 1, TimeUnit.SECONDS);
        assertEquals(2, d.attempt());
        Thread.sleep(400);
        XQueue.Delivery expired = d;
        XprocException e = assertThrows(XprocException.class, expired::ack);
        assertEquals(XprocException.Status.UNKNOWN_DELIVERY, e.status());
        assertEquals("task", client().queue("leased.dead").poll(2, TimeUnit.SECONDS));
        assertNull(q.getLeased(null, 50, TimeUnit.MILLISECONDS));
    }

    @Test
    void dictIsAMap() {
        XDict d = client().dict("stats");
        XDict other = client().dict("stats");
        d.set("host", "a1");
        d.put(1, List.of("int key"));
        assertEquals(List.of("int key"), other.get(1L)); // 1 and 1L: one key
        assertNull(other.get(1.0));                       // 1.0 is another
        assertTrue(other.containsKey("host"));
        assertEquals(2, other.size());
        assertEquals(List.of("host", 1L), other.keys());
        assertEquals(Map.of("host", "a1", 1L, List.of("int key")), Map.copyOf(other));
        assertEquals("a1", d.put("host", "b2"));
        for (int i = 0; i < 5; i++) {
            other.incr("hits", 2);
        }
        assertEquals(10, d.incr("hits", 0));
        XprocException e = assertThrows(XprocException.class, () -> d.incr("host", 1));
        assertEquals(XprocException.Status.WRONG_TYPE, e.status());
        assertFalse(d.compareAndSet("host", "zz", "c3"));
        assertTrue(d.compareAndSet("host", "b2", "c3"));
        assertNull(d.putIfAbsent("new", 1));
        assertEquals(1L, d.putIfAbsent("new", 2));
        assertEquals(1L, d.setDefault("new", 5));
        assertEquals(1L, d.remove("new"));
        assertNull(d.remove("new"));
        d.set("nil", null);
        assertNull(d.get("nil"));
        assertArrayEquals(new Object[] {null}, d.lookup("nil"));
        assertNull(d.lookup("absent"));
        d.clear();
        assertTrue(other.isEmpty());
    }

    @Test
    void pipe() throws Exception {
        XPipe a = client().pipe("chan", 'a');
        XPipe b = client().pipe("chan", 'b');
        XprocException busy = assertThrows(XprocException.class, () -> client().pipe("chan", 'b'));
        assertEquals(XprocException.Status.BUSY, busy.status());
        assertFalse(b.poll(0, TimeUnit.MILLISECONDS));
        a.send(List.of(1, 2));
        b.send("back");
        assertTrue(b.poll(1, TimeUnit.SECONDS));
        assertEquals(List.of(1L, 2L), b.recv());
        assertEquals("back", a.recv(1, TimeUnit.SECONDS));
        assertThrows(TimeoutException.class, () -> b.recv(100, TimeUnit.MILLISECONDS));
        a.send("last");
        a.close();
        assertEquals("last", b.recv(1, TimeUnit.SECONDS));
        assertThrows(EOFException.class, b::recv);
        a.close(); // twice is harmless
    }

    @Test
    void lockOwnershipAndAbandon() throws Exception {
        Client holder = Client.connect(socket);
        XLock l1 = holder.lock("device");
        XLock l2 = client().lock("device");
        try (XLock.Held held = l1.acquire()) {
            assertFalse(l2.tryLock());
            assertFalse(l2.tryLock(100, TimeUnit.MILLISECONDS));
            assertThrows(IllegalMonitorStateException.class, l2::unlock);
        }
        assertTrue(l2.tryLock());
        l2.unlock();
        l1.lock();
        CompletableFuture<Boolean> next = CompletableFuture.supplyAsync(() -> {
            try {
                return l2.tryLock(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(100);
        l1.close();
        holder.close(); // the holder's connection ends while it holds the lock
        assertTrue(next.get(5, TimeUnit.SECONDS));
        assertEquals(ProcessHandle.current().pid(), l2.abandonedBy());
        l2.unlock();
    }

    @Test
    void rlockIsReentrant() throws Exception {
        XLock r = client().rlock("r");
        XLock other = client().rlock("r");
        r.lock();
        r.lock();
        r.unlock();
        assertFalse(other.tryLock());
        r.unlock();
        assertTrue(other.tryLock());
    }

    @Test
    void semaphoreAndEvent() throws Exception {
        XSemaphore s = client().boundedSemaphore("slots", 2);
        s.acquire();
        assertTrue(s.tryAcquire());
        assertFalse(s.tryAcquire(100, TimeUnit.MILLISECONDS));
        s.release(2);
        XprocException e = assertThrows(XprocException.class, s::release);
        assertEquals(XprocException.Status.INVALID_ARGUMENT, e.status());

        XEvent ev = client().event("ready");
        XEvent setter = client().event("ready");
        assertFalse(ev.await(100, TimeUnit.MILLISECONDS));
        CompletableFuture.runAsync(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException ignored) {
                return;
            }
            setter.set();
        });
        assertTrue(ev.await(5, TimeUnit.SECONDS));
        assertTrue(ev.isSet());
        ev.clear();
        assertFalse(ev.isSet());
    }

    @Test
    void conditionAwaitUntil() throws Exception {
        XDict state = client().dict("state");
        XCondition cv = client().condition("cv");
        XCondition notifier = client().condition("cv");
        CompletableFuture.runAsync(() -> {
            try {
                for (int i = 1; i <= 3; i++) {
                    Thread.sleep(50);
                    notifier.lock();
                    state.set("n", i);
                    notifier.signalAll();
                    notifier.unlock();
                }
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        cv.lock();
        assertTrue(cv.awaitUntil(() -> Long.valueOf(3).equals(state.get("n")), 5, TimeUnit.SECONDS));
        assertFalse(cv.awaitUntil(() -> false, 200, TimeUnit.MILLISECONDS));
        cv.unlock(); // the lock was taken again before each return
    }

    @Test
    void barrier() throws Exception {
        int parties = 3;
        List<Integer> indexes = Collections.synchronizedList(new ArrayList<>());
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        for (int i = 0; i < parties; i++) {
            XBarrier b = client().barrier("start", parties);
            waits.add(CompletableFuture.runAsync(() -> {
                try {
                    indexes.add(b.await(5, TimeUnit.SECONDS));
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        for (CompletableFuture<Void> w : waits) {
            w.get(10, TimeUnit.SECONDS);
        }
        Collections.sort(indexes);
        assertEquals(List.of(0, 1, 2), indexes);

        XBarrier b = client().barrier("lonely", 2);
        assertThrows(TimeoutException.class, () -> b.await(100, TimeUnit.MILLISECONDS));
        assertTrue(b.isBroken());
        assertThrows(BrokenBarrierException.class, b::await);
        b.reset();
        assertFalse(b.isBroken());
        assertEquals(2, b.getParties());
    }

    @Test
    void clientCalls() {
        Client c = client();
        c.ping();
        assertTrue(c.connId() > 0);
        c.queue("gone");
        assertTrue(c.delete("gone"));
        assertFalse(c.delete("gone"));
        XprocException e = assertThrows(XprocException.class, () -> Client.connect(socket + ".nothing"));
        assertEquals(XprocException.Status.NO_BROKER, e.status());
        XQueue q = c.queue("q");
        q.close();
        assertThrows(XprocException.class, () -> q.offer(1));
    }
}
