// Command ttrpc-peer is the Go reference peer of our interop tests and ttrpc benchmark. It is built
// twice in GOPATH mode (hack/build-ttrpc-peer.sh): against Debian bookworm's ttrpc 1.1 (containerd
// 1.6's line, unary only) and trixie's ttrpc 1.2 (containerd 1.7/2.x, adds streaming). The build
// tag ttrpc12 selects the 1.2 files.
//
// Server mode serves the test service cc.test.v1.Echo (service.go) and prints one line
// "READY <address>" once the socket accepts connections; it exits on SIGTERM/SIGINT or, with
// -exit-on-eof, when its standard input closes (so a crashed test host never leaves it behind).
// Client mode runs one workload (client.go, bench.go) and prints exactly one JSON object on stdout;
// the process exits 0 when the workload ran, whatever the calls returned, and 2 on a usage or
// connection error (the reason on stderr).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
)

// serviceName is the one service both peers (Go and C#) implement; the C# twin is
// integration/Cc.Bench/Ttrpc/EchoService.cs. Keep the method set identical.
const serviceName = "cc.test.v1.Echo"

type metadataFlag []string

func (m *metadataFlag) String() string     { return strings.Join(*m, ",") }
func (m *metadataFlag) Set(v string) error { *m = append(*m, v); return nil }

// options are the parsed flags; client workloads read only the fields they document.
type options struct {
	mode        string
	address     string
	workload    string
	service     string
	method      string
	payload     string
	payloadSize int
	timeout     time.Duration
	metadata    metadataFlag
	concurrency int
	count       int
	duration    time.Duration
	warmup      time.Duration
	exitOnEOF   bool
	linger      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "", "server | client")
	flag.StringVar(&o.address, "address", "", "unix socket: unix:///path, /path or @abstract")
	flag.StringVar(&o.workload, "workload", "call", "client workload: "+strings.Join(workloadNames(), " | "))
	flag.StringVar(&o.service, "service", serviceName, "call: service name")
	flag.StringVar(&o.method, "method", "Echo", "call: method name")
	flag.StringVar(&o.payload, "payload", "", "call: the BytesValue payload as text")
	flag.IntVar(&o.payloadSize, "size", 16, "payload size in bytes (concurrent, big, oversize, bench workloads)")
	flag.DurationVar(&o.timeout, "timeout", 0, "per-call timeout (sent as timeout_nano); 0 = none")
	flag.Var(&o.metadata, "md", "call metadata key=value (repeatable, wire order kept)")
	flag.IntVar(&o.concurrency, "concurrency", 1, "concurrent callers on the one connection")
	flag.IntVar(&o.count, "count", 1, "calls per caller, or stream messages")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "bench: measuring time")
	flag.DurationVar(&o.warmup, "warmup", 300*time.Millisecond, "bench: warm-up time before measuring")
	flag.DurationVar(&o.linger, "linger", 0, "client: keep the connection open this long after the workload (lets the server see its own deadline fire rather than the close)")
	flag.BoolVar(&o.exitOnEOF, "exit-on-eof", false, "server: exit when standard input reaches EOF")
	flag.Parse()

	var err error
	switch o.mode {
	case "server":
		err = runServer(o)
	case "client":
		err = runClient(o)
	default:
		err = fmt.Errorf("-mode must be server or client, got %q", o.mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttrpc-peer: %v\n", err)
		os.Exit(2)
	}
}

// socketPath maps our address forms to what net.Dial/Listen("unix", ...) take; Go spells a Linux
// abstract socket with a leading '@' itself.
func socketPath(address string) (string, error) {
	switch {
	case strings.HasPrefix(address, "unix://"):
		return strings.TrimPrefix(address, "unix://"), nil
	case strings.HasPrefix(address, "/"), strings.HasPrefix(address, "@"):
		return address, nil
	default:
		return "", fmt.Errorf("unsupported address %q (want unix:///path, /path or @name)", address)
	}
}

func runServer(o options) error {
	path, err := socketPath(o.address)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(path, "@") {
		_ = os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	s, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	registerEcho(s)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if o.exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	fmt.Printf("READY %s\n", o.address)

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	// Bounded graceful stop: in-flight calls get one second, then everything is closed.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Shutdown(shutdownCtx); err != nil {
		_ = s.Close()
	}
	if !strings.HasPrefix(path, "@") {
		_ = os.Remove(path)
	}
	return nil
}

func dial(address string) (*ttrpc.Client, error) {
	path, err := socketPath(address)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return ttrpc.NewClient(conn), nil
}
