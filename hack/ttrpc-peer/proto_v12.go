//go:build ttrpc12

package main

import (
	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ttrpc 1.2 marshals with google.golang.org/protobuf.
type bytesMsg = wrapperspb.BytesValue

const ttrpcVersion = "1.2"

func registerEcho(s *ttrpc.Server) {
	s.RegisterService(serviceName, &ttrpc.ServiceDesc{Methods: unaryMethods, Streams: streamMethods})
}
