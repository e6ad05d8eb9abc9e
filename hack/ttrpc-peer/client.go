package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/status"
)

// A workload runs against one connection and returns the object printed as JSON. Call failures are
// part of the result (callResult); an error return means the workload itself could not run.
type workload func(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error)

func workloads() map[string]workload {
	w := map[string]workload{
		"call":       runCall,
		"concurrent": runConcurrent,
		"oversize":   runOversize,
		"rtt":        benchRoundTrip,
		"load":       benchLoad,
		"bulk":       benchBulk,
	}
	for name, s := range streamWorkloads() {
		w[name] = s
	}
	return w
}

func workloadNames() []string {
	names := make([]string, 0)
	for n := range workloads() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func runClient(o options) error {
	w, ok := workloads()[o.workload]
	if !ok {
		return fmt.Errorf("unknown workload %q (have %s)", o.workload, strings.Join(workloadNames(), ", "))
	}
	c, err := dial(o.address)
	if err != nil {
		return err
	}
	defer c.Close()
	result, err := w(context.Background(), c, o)
	if err != nil {
		return err
	}
	time.Sleep(o.linger)
	return json.NewEncoder(os.Stdout).Encode(result)
}

// callResult is the outcome of one call: code 0 with the payload, or the status the call failed
// with. Local is true when the error did not come from the peer as a status (the client's own
// deadline, a closed connection).
type callResult struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Local   bool   `json:"local,omitempty"`
	Payload string `json:"payload"`
	Length  int    `json:"length"`
}

func statusOf(err error) callResult {
	if err == nil {
		return callResult{}
	}
	if s, ok := status.FromError(err); ok {
		return callResult{Code: int(s.Code()), Message: s.Message()}
	}
	r := callResult{Code: 2, Message: err.Error(), Local: true}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		r.Code = 4
	case errors.Is(err, context.Canceled):
		r.Code = 1
	case errors.Is(err, ttrpc.ErrClosed):
		r.Code = 14
	}
	return r
}

// callContext applies -timeout (sent as timeout_nano) and -md (key=value, in flag order).
func callContext(ctx context.Context, o options) (context.Context, context.CancelFunc, error) {
	if len(o.metadata) > 0 {
		md := ttrpc.MD{}
		for _, kv := range o.metadata {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, nil, fmt.Errorf("-md wants key=value, got %q", kv)
			}
			md.Append(k, v)
		}
		ctx = ttrpc.WithMetadata(ctx, md)
	}
	if o.timeout > 0 {
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		return ctx, cancel, nil
	}
	return ctx, func() {}, nil
}

func unary(ctx context.Context, c *ttrpc.Client, service, method string, payload []byte) ([]byte, error) {
	resp := &bytesMsg{}
	if err := c.Call(ctx, service, method, reply(payload), resp); err != nil {
		return nil, err
	}
	return resp.Value, nil
}

// runCall makes one call of -service/-method with -payload, -timeout and -md.
func runCall(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	ctx, cancel, err := callContext(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cancel()
	p, err := unary(ctx, c, o.service, o.method, []byte(o.payload))
	r := statusOf(err)
	r.Payload, r.Length = string(p), len(p)
	return r, nil
}

type concurrentResult struct {
	Calls      int        `json:"calls"`
	Succeeded  int        `json:"succeeded"`
	Mismatched int        `json:"mismatched"`
	FirstError callResult `json:"firstError"`
}

// runConcurrent: -concurrency callers share the connection, each makes -count Echo calls of -size
// bytes whose content names the caller and the call, and checks that its own bytes came back.
func runConcurrent(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	var (
		mu  sync.Mutex
		res = concurrentResult{Calls: o.concurrency * o.count}
		wg  sync.WaitGroup
	)
	for g := 0; g < o.concurrency; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < o.count; i++ {
				want := tagged(o.payloadSize, fmt.Sprintf("caller %d call %d;", g, i))
				callCtx, cancel, _ := callContext(ctx, o)
				got, err := unary(callCtx, c, o.service, "Echo", want)
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					if res.FirstError.Code == 0 {
						res.FirstError = statusOf(err)
					}
				case !bytes.Equal(got, want):
					res.Mismatched++
				default:
					res.Succeeded++
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	return res, nil
}

// tagged is a payload of n bytes that starts with tag (as much of it as fits) and goes on with
// the shared pattern.
func tagged(n int, tag string) []byte {
	p := pattern(n)
	copy(p, tag)
	return p
}

type oversizeResult struct {
	Oversize callResult `json:"oversize"`
	After    callResult `json:"after"`
}

// runOversize sends one Echo of -size bytes (meant to be > 4 MiB, which neither Go version refuses
// to send before 1.2.6), then a small Echo "after" on the same connection.
func runOversize(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	var r oversizeResult
	callCtx, cancel, err := callContext(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cancel()
	p, err := unary(callCtx, c, o.service, "Echo", pattern(o.payloadSize))
	r.Oversize = statusOf(err)
	r.Oversize.Length = len(p)
	p, err = unary(callCtx, c, o.service, "Echo", []byte("after"))
	r.After = statusOf(err)
	r.After.Payload, r.After.Length = string(p), len(p)
	return r, nil
}
