// The Go worker of the master/worker example (README.md beside this directory): takes
// integers from task_queue, "works" 200 ms on each, and puts "n * n = n² (by go worker
// <pid>)" on result_queue, until the stop sentinel (nil) or 15 s without a task.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

const (
	idle = 15 * time.Second
	work = 200 * time.Millisecond
)

func main() {
	pid := os.Getpid()
	log.SetFlags(0)
	ctx := context.Background()
	c, err := xproc.Connect(ctx, "") // $XPROC_SOCKET, or the default endpoint
	if err != nil {
		log.Fatalf("go worker: %v", err)
	}
	defer c.Close()
	tasks, err := c.Queue("task_queue", xproc.QueueOptions{})
	if err != nil {
		log.Fatalf("go worker: %v", err)
	}
	results, err := c.Queue("result_queue", xproc.QueueOptions{})
	if err != nil {
		log.Fatalf("go worker: %v", err)
	}
	done := 0
	for {
		wait, cancel := context.WithTimeout(ctx, idle)
		task, err := tasks.Get(wait)
		cancel()
		if errors.Is(err, xproc.ErrTimeout) {
			fmt.Printf("go worker %d: no task for %v, stopping\n", pid, idle)
			break
		}
		if err != nil {
			log.Fatalf("go worker: %v", err)
		}
		if task == nil { // the stop sentinel
			break
		}
		n, ok := task.(int64)
		if !ok {
			log.Fatalf("go worker: task %#v is not an integer", task)
		}
		fmt.Printf("go worker %d: run task %d * %d...\n", pid, n, n)
		time.Sleep(work)
		if err := results.Put(ctx, fmt.Sprintf("%d * %d = %d (by go worker %d)", n, n, n*n, pid)); err != nil {
			log.Fatalf("go worker: %v", err)
		}
		done++
	}
	fmt.Printf("go worker %d: done, %d task(s)\n", pid, done)
}
