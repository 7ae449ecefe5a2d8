// The Java worker of the master/worker example (README.md beside this file): takes integers
// from task_queue, "works" 200 ms on each, and puts "n * n = n² (by java worker <pid>)" on
// result_queue, until the stop sentinel (null) or 15 s without a task.

import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import xproc.Client;
import xproc.XQueue;

public final class Worker {
    public static void main(String[] args) throws Exception {
        long pid = ProcessHandle.current().pid();
        int done = 0;
        try (Client c = Client.connect()) { // $XPROC_SOCKET, or the default endpoint
            XQueue tasks = c.queue("task_queue");
            XQueue results = c.queue("result_queue");
            while (true) {
                Object task;
                try {
                    task = tasks.get(15, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    System.out.println("java worker " + pid + ": no task for 15 s, stopping");
                    break;
                }
                if (task == null) { // the stop sentinel
                    break;
                }
                long n = (Long) task;
                System.out.println("java worker " + pid + ": run task " + n + " * " + n + "...");
                Thread.sleep(200);
                results.put(n + " * " + n + " = " + (n * n) + " (by java worker " + pid + ")");
                done++;
            }
        }
        System.out.println("java worker " + pid + ": done, " + done + " task(s)");
    }
}
