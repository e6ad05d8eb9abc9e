//go:build ttrpc12

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The streaming methods of cc.test.v1.Echo (ttrpc 1.2 only), BytesValue messages as for unary:
//
//	ServerStream  server-streaming: request "N" -> N messages "0" … "N-1", then a clean close
//	ClientStream  client-streaming: messages until the client closes -> their values joined by ","
//	Bidi          duplex: every message is sent straight back; ends when the client closes
var streamMethods = map[string]ttrpc.Stream{
	"ServerStream": {Handler: serverStream, StreamingServer: true},
	"ClientStream": {Handler: clientStream, StreamingClient: true},
	"Bidi":         {Handler: bidi, StreamingClient: true, StreamingServer: true},
}

// A streaming handler returns an untyped nil when its last message has already been sent: the
// server then closes the stream with an empty remote-closed Data frame.
func serverStream(_ context.Context, ss ttrpc.StreamServer) (interface{}, error) {
	req := &bytesMsg{}
	if err := ss.RecvMsg(req); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(req.Value))
	if err != nil || n < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "ServerStream wants a message count, got %q", req.Value)
	}
	for i := 0; i < n; i++ {
		if err := ss.SendMsg(reply([]byte(strconv.Itoa(i)))); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func clientStream(_ context.Context, ss ttrpc.StreamServer) (interface{}, error) {
	var values []string
	for {
		m := &bytesMsg{}
		err := ss.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return reply([]byte(strings.Join(values, ","))), nil
		}
		if err != nil {
			return nil, err
		}
		values = append(values, string(m.Value))
	}
}

func bidi(_ context.Context, ss ttrpc.StreamServer) (interface{}, error) {
	for {
		m := &bytesMsg{}
		err := ss.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := ss.SendMsg(m); err != nil {
			return nil, err
		}
	}
}

// streamResult is what the streaming client workloads print.
type streamResult struct {
	callResult
	Messages []string `json:"messages"`
}

func streamWorkloads() map[string]workload {
	return map[string]workload{
		"server-stream": runServerStream,
		"client-stream": runClientStream,
		"bidi":          runBidi,
	}
}

// runServerStream asks ServerStream for -count messages and collects them until the clean close.
func runServerStream(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	s, err := c.NewStream(ctx, &ttrpc.StreamDesc{StreamingServer: true}, o.service, "ServerStream",
		reply([]byte(strconv.Itoa(o.count))))
	if err != nil {
		return streamResult{callResult: statusOf(err)}, nil
	}
	r := streamResult{Messages: []string{}}
	for {
		m := &bytesMsg{}
		err := s.RecvMsg(m)
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			r.callResult = statusOf(err)
			return r, nil
		}
		r.Messages = append(r.Messages, string(m.Value))
	}
}

// runClientStream sends -count messages "m0" … and prints the one response.
func runClientStream(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	s, err := c.NewStream(ctx, &ttrpc.StreamDesc{StreamingClient: true}, o.service, "ClientStream", nil)
	if err != nil {
		return streamResult{callResult: statusOf(err)}, nil
	}
	for i := 0; i < o.count; i++ {
		if err := s.SendMsg(reply([]byte(fmt.Sprintf("m%d", i)))); err != nil {
			return streamResult{callResult: statusOf(err)}, nil
		}
	}
	if err := s.CloseSend(); err != nil {
		return streamResult{callResult: statusOf(err)}, nil
	}
	resp := &bytesMsg{}
	if err := s.RecvMsg(resp); err != nil {
		return streamResult{callResult: statusOf(err)}, nil
	}
	r := streamResult{Messages: []string{}}
	r.Payload = string(resp.Value)
	return r, nil
}

// runBidi sends -count messages "b0" … one at a time, waiting for each echo, then half-closes and
// expects the clean end of the stream.
func runBidi(ctx context.Context, c *ttrpc.Client, o options) (interface{}, error) {
	s, err := c.NewStream(ctx, &ttrpc.StreamDesc{StreamingClient: true, StreamingServer: true}, o.service, "Bidi", nil)
	if err != nil {
		return streamResult{callResult: statusOf(err)}, nil
	}
	r := streamResult{Messages: []string{}}
	for i := 0; i < o.count; i++ {
		if err := s.SendMsg(reply([]byte(fmt.Sprintf("b%d", i)))); err != nil {
			r.callResult = statusOf(err)
			return r, nil
		}
		m := &bytesMsg{}
		if err := s.RecvMsg(m); err != nil {
			r.callResult = statusOf(err)
			return r, nil
		}
		r.Messages = append(r.Messages, string(m.Value))
	}
	if err := s.CloseSend(); err != nil {
		r.callResult = statusOf(err)
		return r, nil
	}
	if err := s.RecvMsg(&bytesMsg{}); !errors.Is(err, io.EOF) {
		r.callResult = statusOf(fmt.Errorf("stream did not end cleanly after the half-close: %v", err))
	}
	return r, nil
}
