package netring

// #include "helpers.h"
import "C"

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// poller waits for a capture's next block in Go's netpoller instead of
// inside a cgo call: a cgo call that blocks in poll() for a block interval
// has its P retaken by sysmon and handed off, and must get one back when
// it returns; a goroutine parked in the netpoller costs the runtime
// nothing while it waits. The library's calls are then all non-blocking
// (timeout 0), as in an epoll loop (README: event loops).
//
// The socket is dup'ed (the capture owns its fd; the dup shares the open
// file, so it is readable when the ring has a block) and made non-blocking,
// which the library's socket does not mind (it never reads from it).
// Break wakes a waiting NextBatch by setting the library's break flag,
// then a read deadline in the past on the dup: the waiter's zero-timeout
// call then returns NR_BREAK.
type poller struct {
	f      *os.File
	rc     syscall.RawConn
	g      *C.go_h
	last   C.int // status of the last go_next_nb in ready
	ready  func(uintptr) bool
	kicked atomic.Bool // Break set a past deadline: reset it before waiting
	hasDL  bool        // a deadline of ours is set
}

// newPoller: nil when the fd cannot go into the netpoller (then NextBatch
// waits in C, as before).
func newPoller(g *C.go_h) *poller {
	fd := int(C.go_capture_fd(g))
	if fd < 0 {
		return nil
	}
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil
	}
	if syscall.SetNonblock(int(nfd), true) != nil {
		syscall.Close(int(nfd))
		return nil
	}
	f := os.NewFile(nfd, "netring capture")
	// A file outside the netpoller has no deadlines: that is the test.
	if f.SetReadDeadline(time.Time{}) != nil {
		f.Close()
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	p := &poller{f: f, rc: rc, g: g}
	p.ready = func(uintptr) bool {
		p.last = nextNB(p.g)
		return p.last != C.NR_TIMEOUT
	}
	return p
}

// next takes the next batch (go_next's contract) waiting up to timeout
// (negative: no limit; not 0, which needs no wait) in the netpoller.
func (p *poller) next(timeout time.Duration) C.int {
	var dl time.Time
	if timeout > 0 {
		dl = time.Now().Add(timeout)
	}
	for {
		if timeout > 0 || p.hasDL || p.kicked.Swap(false) {
			p.f.SetReadDeadline(dl)
			p.hasDL = timeout > 0
		}
		err := p.rc.Read(p.ready)
		if err == nil {
			if p.last == C.GO_WAIT_IN_C || p.last == C.NR_IFACE_DOWN {
				return p.inC(timeout, dl)
			}
			return p.last
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return p.inC(timeout, dl)
		}
		// Our deadline, or Break's: look once more (a break, a block).
		switch r := nextNB(p.g); r {
		case C.NR_TIMEOUT:
			if timeout > 0 && !time.Now().Before(dl) {
				return r
			}
			p.hasDL = true // Break's past deadline is still set: wait again
		case C.GO_WAIT_IN_C, C.NR_IFACE_DOWN:
			return p.inC(timeout, dl)
		default:
			return r
		}
	}
}

// inC waits in the library for what remains of the timeout: the socket
// reported an error or the interface is down, which only nr_next_batch's
// own wait reports (down: it sleeps on its break fd, never spins).
func (p *poller) inC(timeout time.Duration, dl time.Time) C.int {
	ms := -1
	if timeout > 0 {
		ms = 0
		if rem := time.Until(dl); rem > 0 {
			ms = millis(rem)
		}
	}
	return C.go_next(p.g, C.int(ms))
}

// kick wakes a waiting next (after the library's break flag is set).
func (p *poller) kick() {
	p.kicked.Store(true)
	p.f.SetReadDeadline(time.Unix(1, 0))
}

func (p *poller) close() { p.f.Close() }
