// The echo and HTTP servers of benches/src/bin/net.rs, written for Go, so
// goroutines serve the same load as green threads in the same run. Built and
// started by the net bench when `go` is installed:
// `go build -o target/go-net benches/go/net.go`.
//
// Usage: go-net serve-echo|serve-http PORT; prints "listening ADDR" once
// bound, then serves until killed. One goroutine per connection, the same
// hand-rolled request counting as the Rust servers (no net/http).
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
)

const msg = 64

var response = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")
var blank = []byte("\r\n\r\n")

// completeRequests counts the requests at the front of buf (each ends with an
// empty line) and the bytes they span.
func completeRequests(buf []byte) (int, int) {
	n, used := 0, 0
	for {
		end := bytes.Index(buf[used:], blank)
		if end < 0 {
			return n, used
		}
		used += end + 4
		n++
	}
}

func serveHTTP(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 8192)
	out := make([]byte, 0, 1024)
	length := 0
	for {
		n, err := c.Read(buf[length:])
		if n == 0 || err != nil {
			return
		}
		length += n
		k, used := completeRequests(buf[:length])
		if k > 0 {
			out = out[:0]
			for i := 0; i < k; i++ {
				out = append(out, response...)
			}
			if _, err := c.Write(out); err != nil {
				return
			}
			copy(buf, buf[used:length])
			length -= used
		}
		if length == len(buf) {
			return // request too large
		}
	}
}

func serveEcho(c net.Conn) {
	defer c.Close()
	buf := make([]byte, msg)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-net serve-echo|serve-http PORT")
		os.Exit(2)
	}
	handle := serveEcho
	if os.Args[1] == "serve-http" {
		handle = serveHTTP
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go handle(c)
	}
}
