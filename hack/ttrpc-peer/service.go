package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The unary methods of cc.test.v1.Echo. Every request and response is a BytesValue (no generated
// code on either side); the payload text is the method's argument:
//
//	Echo         any bytes          -> the same bytes
//	Fail         "<code>:<message>" -> that gRPC status
//	Sleep        a Go duration      -> "slept" after it, or the context's error when the deadline
//	                                   (timeout_nano) or the connection ends first
//	SleepResult  ignored            -> how the last Sleep ended: "completed", "deadline-exceeded
//	                                   after <ms>ms" or "cancelled after <ms>ms"
//	Deadline     ignored            -> the nanoseconds left until the handler's deadline, or "none"
//	Metadata     ignored            -> the request metadata, one "key=value" line each, keys sorted,
//	                                   values of one key in wire order
//	Big          a decimal N        -> N bytes (N > 4 MiB makes an oversize response frame)
var unaryMethods = map[string]ttrpc.Method{
	"Echo":        echo,
	"Fail":        fail,
	"Sleep":       sleep,
	"SleepResult": sleepResult,
	"Deadline":    deadline,
	"Metadata":    metadata,
	"Big":         big,
}

// lastSleep records how the latest Sleep ended, so a client can check that the server (not only
// the client's own timer) honoured the deadline it sent.
var lastSleep struct {
	sync.Mutex
	outcome string
}

func readBytes(unmarshal func(interface{}) error) ([]byte, error) {
	req := &bytesMsg{}
	if err := unmarshal(req); err != nil {
		return nil, err
	}
	return req.Value, nil
}

func reply(b []byte) *bytesMsg { return &bytesMsg{Value: b} }

func echo(_ context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	b, err := readBytes(unmarshal)
	if err != nil {
		return nil, err
	}
	return reply(b), nil
}

func fail(_ context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	b, err := readBytes(unmarshal)
	if err != nil {
		return nil, err
	}
	codeText, message, found := strings.Cut(string(b), ":")
	code, err := strconv.Atoi(codeText)
	if !found || err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Fail wants <code>:<message>, got %q", b)
	}
	return nil, status.Error(codes.Code(code), message)
}

func sleep(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	b, err := readBytes(unmarshal)
	if err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(string(b))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Sleep wants a duration: %v", err)
	}
	start := time.Now()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		setLastSleep("completed")
		return reply([]byte("slept")), nil
	case <-ctx.Done():
		ms := time.Since(start).Milliseconds()
		if ctx.Err() == context.DeadlineExceeded {
			setLastSleep(fmt.Sprintf("deadline-exceeded after %dms", ms))
		} else {
			setLastSleep(fmt.Sprintf("cancelled after %dms", ms))
		}
		return nil, ctx.Err()
	}
}

func setLastSleep(outcome string) {
	lastSleep.Lock()
	lastSleep.outcome = outcome
	lastSleep.Unlock()
}

func sleepResult(_ context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	if _, err := readBytes(unmarshal); err != nil {
		return nil, err
	}
	lastSleep.Lock()
	defer lastSleep.Unlock()
	return reply([]byte(lastSleep.outcome)), nil
}

func deadline(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	if _, err := readBytes(unmarshal); err != nil {
		return nil, err
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return reply([]byte("none")), nil
	}
	return reply([]byte(strconv.FormatInt(int64(time.Until(dl)), 10))), nil
}

func metadata(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	if _, err := readBytes(unmarshal); err != nil {
		return nil, err
	}
	md, _ := ttrpc.GetMetadata(ctx)
	return reply([]byte(formatMetadata(md))), nil
}

func formatMetadata(md ttrpc.MD) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		for _, v := range md[k] {
			sb.WriteString(k + "=" + v + "\n")
		}
	}
	return sb.String()
}

func big(_ context.Context, unmarshal func(interface{}) error) (interface{}, error) {
	b, err := readBytes(unmarshal)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Big wants a byte count, got %q", b)
	}
	return reply(pattern(n)), nil
}

// pattern is the deterministic content of generated payloads: byte i is i mod 251 (a prime, so a
// shifted or truncated copy does not match by accident).
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i % 251)
	}
	return p
}
