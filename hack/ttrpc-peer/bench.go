package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
)

// benchResult is what the benchmark workloads print; Cc.Bench runs the same workloads with our C#
// client and puts both side by side. Latencies are per call, in microseconds.
type benchResult struct {
	Workload    string  `json:"workload"`
	Version     string  `json:"version"`
	Concurrency int     `json:"concurrency"`
	Size        int     `json:"size"`
	Calls       int     `json:"calls"`
	Seconds     float64 `json:"seconds"`
	CallsPerSec float64 `json:"callsPerSec"`
	MiBPerSec   float64 `json:"mibPerSec"`
	P50Micros   float64 `json:"p50Micros"`
	P99Micros   float64 `json:"p99Micros"`
}

// benchRoundTrip: one caller, -size byte Echo calls back to back.
func benchRoundTrip(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	o.concurrency = 1
	return runBench(ctx, c, o, "rtt")
}

// benchLoad: -concurrency callers on the one connection.
func benchLoad(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	return runBench(ctx, c, o, "load")
}

// benchBulk: like load, reported in MiB/s of payload (each way).
func benchBulk(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	return runBench(ctx, c, o, "bulk")
}

// runBench warms up for -warmup, then every caller loops on Echo for -duration and records each
// call's latency. A wrong echo or a failed call aborts the run: a benchmark of failures is no
// benchmark.
func runBench(ctx context.Context, c *ttrpc.Client, o options, name string) (interface{}, error) {
	payload := pattern(o.payloadSize)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)
	for g := 0; g < o.concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			for {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				got, err := unary(ctx, c, serviceName, "Echo", payload)
				if err == nil && !bytes.Equal(got, payload) {
					err = fmt.Errorf("echo returned %d different bytes", len(got))
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				if t0.After(measureFrom) {
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("bench %s: %w", name, firstErr)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	seconds := o.duration.Seconds()
	r := benchResult{
		Workload: name, Version: ttrpcVersion, Concurrency: o.concurrency, Size: o.payloadSize,
		Calls: len(latencies), Seconds: seconds,
		CallsPerSec: float64(len(latencies)) / seconds,
		MiBPerSec:   float64(len(latencies)) * float64(o.payloadSize) / seconds / (1 << 20),
		P50Micros:   percentile(latencies, 0.50), P99Micros: percentile(latencies, 0.99),
	}
	return r, nil
}

// percentile of sorted durations, nearest-rank, in microseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Nanoseconds()) / 1000
}
