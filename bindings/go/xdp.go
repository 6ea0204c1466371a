package netring

// #include "helpers.h"
import "C"

import (
	"time"
	"unsafe"
)

// XDPConfig: zero values take the library's defaults.
type XDPConfig struct {
	FrameSize  uint32 // 2048 or 4096
	FrameCount uint32
	Direction  int // 1 RX (default), 2 TX, 3 RX+TX
	BindMode   int // 0 auto, 1 copy, 2 zero-copy
	AttachMode int // 0 auto, 1 native, 2 generic
	BatchSize  uint32
}

// XDP is an AF_XDP handle: the same batches as a capture, from the UMEM.
type XDP struct{ handle }

// XDPStats: the kernel's XDP_STATISTICS and the library's counters.
type XDPStats struct {
	RxPackets, RxDropped, RxRingFull, TxQueued, TxCompleted uint64
}

// OpenXDP binds queue `queue` of iface (queue < 0: every queue).
func OpenXDP(iface string, queue int, cfg *XDPConfig) (*XDP, error) {
	var c C.nr_xdp_config
	C.nr_xdp_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	if cfg != nil {
		setNonZero(&c.frame_size, cfg.FrameSize)
		setNonZero(&c.frame_count, cfg.FrameCount)
		setNonZero(&c.direction, cfg.Direction)
		c.bind_mode = C.uint32_t(cfg.BindMode)
		c.attach_mode = C.uint32_t(cfg.AttachMode)
		setNonZero(&c.batch_size, cfg.BatchSize)
	}
	var cs cstrs
	defer cs.free()
	n := cs.str(iface)
	all := C.int(0)
	if queue < 0 {
		all, queue = 1, 0
	}
	var g *C.go_h
	var e errbuf
	if rc := C.go_xdp_open(n, all, C.uint32_t(queue), &c, &g, e.ptr()); rc != C.NR_OK {
		return nil, mkerr("open xdp "+iface, rc, e.String())
	}
	x := &XDP{}
	x.g = g
	return x, nil
}

// NextBatch: as Capture.NextBatch.
func (x *XDP) NextBatch(timeout time.Duration) (*Batch, error) {
	return x.nextBatch(timeout, "next batch")
}

// Send copies frames into the UMEM and queues them; returns how many were
// queued (fewer when every TX frame is in flight).
func (x *XDP) Send(frames [][]byte) (int, error) {
	if x.closed {
		return 0, ErrClosed
	}
	var buf []byte
	lens := make([]C.uint32_t, 0, len(frames))
	for _, f := range frames {
		buf = append(buf, f...)
		lens = append(lens, C.uint32_t(len(f)))
	}
	if len(buf) == 0 {
		return 0, nil
	}
	var sent C.size_t
	if rc := C.go_xdp_send(x.g, (*C.uint8_t)(unsafe.Pointer(&buf[0])), &lens[0], C.size_t(len(frames)), &sent); rc != C.NR_OK {
		return int(sent), mkerr("send", rc, C.GoString(&x.g.err[0]))
	}
	return int(sent), nil
}

// Flush kicks the kernel until queued frames are sent (ErrTimeout if not).
func (x *XDP) Flush(timeout time.Duration) error {
	if x.closed {
		return ErrClosed
	}
	return check("flush", C.go_xdp_flush(x.g, C.int(millis(timeout))), &x.g.err[0])
}

// Stats returns lifetime totals.
func (x *XDP) Stats() (XDPStats, error) {
	var s C.nr_xdp_stats
	if err := query(x.closed, x.g, "stats", func() C.int { return C.go_xdp_stats(x.g, &s) }); err != nil {
		return XDPStats{}, err
	}
	return XDPStats{uint64(s.rx_packets), uint64(s.rx_dropped), uint64(s.rx_ring_full),
		uint64(s.tx_queued), uint64(s.tx_completed)}, nil
}

// ZeroCopy reports whether the sockets run in zero-copy mode.
func (x *XDP) ZeroCopy() bool {
	if x.closed {
		return false
	}
	var i C.nr_xdp_info
	return C.go_xdp_info(x.g, &i) == C.NR_OK && bool(i.zero_copy)
}

// Break: as Capture.Break.
func (x *XDP) Break() { x.breakloop() }

// Close closes the sockets and detaches the program.
func (x *XDP) Close() { x.close() }
