// xproc-bench (Go): the binding's figures for bench/run.py (--only bindings), one JSON line
// per scenario, the contract of bindings/python/bench_python.py:
//
//	queue_put_get  put then get of a --size byte payload on one queue, unpipelined (ops: puts + gets)
//	prodcons       a producer process puts --iters items, this process gets them (ops: items delivered)
//
// Usage: xproc-bench --socket PATH [--iters N] [--secs S] [--size B]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func emit(scenario string, ops int, secs float64, note string) {
	line, _ := json.Marshal(map[string]any{"scenario": scenario, "ops": ops, "secs": secs,
		"ops_per_s": float64(ops) / secs, "note": note})
	fmt.Println(string(line))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "xproc-bench (go):", err)
	os.Exit(1)
}

func main() {
	socket := flag.String("socket", os.Getenv("XPROC_SOCKET"), "broker socket")
	iters := flag.Int("iters", 100000, "most ops per scenario")
	secs := flag.Float64("secs", 3, "most seconds per scenario")
	size := flag.Int("size", 64, "payload bytes")
	produce := flag.String("produce", "", "(internal) put --iters items on this queue and exit")
	flag.Parse()
	ctx := context.Background()
	c, err := xproc.Connect(ctx, *socket)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	data := payload(*size)

	if *produce != "" {
		q, err := c.Queue(*produce, xproc.QueueOptions{})
		if err != nil {
			fail(err)
		}
		for i := 0; i < *iters; i++ {
			if err := q.Put(ctx, data); err != nil {
				fail(err)
			}
		}
		return
	}

	q, err := c.Queue(fmt.Sprintf("bench-go-%d", os.Getpid()), xproc.QueueOptions{})
	if err != nil {
		fail(err)
	}
	limit := time.Duration(*secs * float64(time.Second))
	start := time.Now()
	ops := 0
	for ops < *iters && time.Since(start) < limit {
		if err := q.Put(ctx, data); err != nil {
			fail(err)
		}
		if _, err := q.Get(ctx); err != nil {
			fail(err)
		}
		ops += 2
	}
	emit("go_queue_put_get", ops, time.Since(start).Seconds(), fmt.Sprintf("Go binding, %d B bytes, unpipelined", *size))

	// Producer process -> this process; timed from the first item to the last.
	name := fmt.Sprintf("bench-go-pc-%d", os.Getpid())
	cq, err := c.Queue(name, xproc.QueueOptions{MaxSize: 1000})
	if err != nil {
		fail(err)
	}
	n := *iters
	self, _ := os.Executable()
	producer := exec.Command(self, "--socket", *socket, "--iters", fmt.Sprint(n), "--size", fmt.Sprint(*size), "--produce", name)
	producer.Stderr = os.Stderr
	if err := producer.Start(); err != nil {
		fail(err)
	}
	if _, err := cq.Get(ctx); err != nil {
		fail(err)
	}
	start = time.Now()
	for i := 1; i < n; i++ {
		if _, err := cq.Get(ctx); err != nil {
			fail(err)
		}
	}
	elapsed := time.Since(start).Seconds()
	if err := producer.Wait(); err != nil {
		fail(err)
	}
	emit("go_prodcons", n-1, elapsed, fmt.Sprintf("Go binding, producer process -> consumer process, %d B, maxsize 1000", *size))
}
