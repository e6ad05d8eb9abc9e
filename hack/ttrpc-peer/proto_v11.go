//go:build !ttrpc12

package main

import (
	"context"
	"errors"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
)

// ttrpc 1.1 marshals with gogo/protobuf; its BytesValue has the same wire form as
// google.protobuf.BytesValue (field 1, bytes).
type bytesMsg = types.BytesValue

const ttrpcVersion = "1.1"

func registerEcho(s *ttrpc.Server) { s.Register(serviceName, unaryMethods) }

var errNoStreaming = errors.New("streaming needs ttrpc 1.2; this peer is built against ttrpc 1.1")

// streamWorkloads names the 1.2 workloads so that asking a 1.1 peer for one fails with the reason.
func streamWorkloads() map[string]workload {
	unsupported := func(context.Context, *ttrpc.Client, options) (interface{}, error) { return nil, errNoStreaming }
	return map[string]workload{"server-stream": unsupported, "client-stream": unsupported, "bidi": unsupported}
}
