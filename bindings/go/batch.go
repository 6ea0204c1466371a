package netring

// #include "helpers.h"
import "C"

import (
	"io"
	"sync"
	"time"
	"unsafe"
)

// CaptureInfo has the field names of gopacket.CaptureInfo, so converting
// is a field-by-field copy (the gopacket adapter does it).
type CaptureInfo struct {
	Timestamp      time.Time
	CaptureLength  int
	Length         int
	InterfaceIndex int
	AncillaryData  []interface{}
}

// Packet flags (nr_packet.flags).
const (
	FlagVLANValid  = C.NR_PKT_VLAN_VALID
	FlagTruncated  = C.NR_PKT_TRUNCATED
	FlagLosing     = C.NR_PKT_LOSING
	FlagTSSoftware = C.NR_PKT_TS_SOFTWARE
)

// Packet is one packet of a batch. Data is a zero-copy view of ring (or
// UMEM, or file buffer) memory: valid until the batch is released, never
// to be written. Copy it (append([]byte(nil), p.Data...)) to keep it.
type Packet struct {
	Data []byte
	CaptureInfo
	TimestampNs uint64
	Flags       uint32
	Protocol    uint16 // EtherType, host order
	PktType     uint8  // NR_PACKET_* (0 host, 3 other host, 4 outgoing, ...)
	VLANTCI     uint16
	RxHash      uint32
}

// handle is what Capture, Reader and XDP share: a C go_h holding the
// library handle, its held batch and the batch's descriptors.
type handle struct {
	mu     sync.RWMutex // Break (read) against Close (write)
	g      *C.go_h
	batch  Batch
	next   int // ZeroCopyReadPacketData's position in batch
	closed bool
	poll   *poller // capture: waits in Go's netpoller (nil: in C)
}

// Batch is the batch a handle holds: one ring block (capture), a run of
// file records (reader) or RX descriptors (AF_XDP). It is reused: the
// handle's next NextBatch (or Release, or Close) invalidates it and every
// Data slice from it.
//
// At(i) and Data(i) cost no cgo call: NextBatch's one cgo call takes the
// batch and copies all of its descriptors (nr_batch_fill) into a C-owned
// array that the handle reuses, so the walk is plain Go, in any order.
type Batch struct {
	h    *handle
	pkts []C.nr_packet // every descriptor of the batch (C memory)
	seq  uint64
	err  error
}

// Len is the number of packets in the batch. If the batch ended early
// (a ring block that fails validation, an AF_XDP descriptor refused by the
// bounds check), Len counts the packets before the fault and Err says why.
func (b *Batch) Len() int { return len(b.pkts) }

// Err is the error that ended the batch early, or nil.
func (b *Batch) Err() error { return b.err }

// At returns packet i (0 <= i < Len(); it panics like a slice otherwise).
func (b *Batch) At(i int) Packet {
	p := &b.pkts[i]
	ts := uint64(p.ts_ns)
	return Packet{
		Data: unsafe.Slice((*byte)(unsafe.Pointer(p.data)), int(p.caplen)),
		CaptureInfo: CaptureInfo{
			Timestamp:      time.Unix(0, int64(ts)),
			CaptureLength:  int(p.caplen),
			Length:         int(p.len),
			InterfaceIndex: int(p.ifindex),
		},
		TimestampNs: ts,
		Flags:       uint32(p.flags),
		Protocol:    uint16(p.protocol),
		PktType:     uint8(p.pkt_type),
		VLANTCI:     uint16(p.vlan_tci),
		RxHash:      uint32(p.rxhash),
	}
}

// Data returns packet i's bytes alone (zero copy), the cheapest accessor:
// it is inlined, and costs a slice index and the slice header.
func (b *Batch) Data(i int) []byte {
	p := &b.pkts[i]
	return unsafe.Slice((*byte)(p.data), p.caplen)
}

// Seq is the batch's sequence number (nr_batch_seq).
func (b *Batch) Seq() uint64 { return b.seq }

// Release gives the batch's memory back now (NextBatch does it anyway).
func (b *Batch) Release() {
	if b.h == nil || b.h.g == nil {
		return
	}
	C.go_release(b.h.g)
	b.pkts = nil
}

// nextBatch: release the held batch, take the next one and copy all of
// its descriptors, in one cgo call.
func (h *handle) nextBatch(timeout time.Duration, op string) (*Batch, error) {
	if h.closed {
		return nil, ErrClosed
	}
	b := &h.batch
	b.pkts, b.err = nil, nil
	h.next = 0
	g := h.g
	var rc C.int
	if h.poll != nil && timeout != 0 {
		rc = h.poll.next(timeout)
	} else {
		rc = C.go_next(g, C.int(millis(timeout)))
	}
	if rc != C.NR_OK {
		if rc == C.NR_EOF {
			return nil, io.EOF
		}
		return nil, mkerr(op, rc, C.GoString(&g.err[0]))
	}
	b.h = h
	if g.n > 0 {
		b.pkts = unsafe.Slice(g.pkts, int(g.n))
	}
	if g.fill_rc != C.NR_OK {
		b.err = mkerr("batch", g.fill_rc, C.GoString(&g.err[0]))
	}
	b.seq = uint64(g.seq) // taken by go_next: no second cgo call
	return b, nil
}

// zeroCopyRead walks the held batch packet by packet, taking the next batch
// when it is exhausted.
func (h *handle) zeroCopyRead(timeout time.Duration, op string) ([]byte, CaptureInfo, error) {
	for h.next >= len(h.batch.pkts) {
		if _, err := h.nextBatch(timeout, op); err != nil {
			return nil, CaptureInfo{}, err
		}
	}
	p := &h.batch.pkts[h.next]
	h.next++
	return unsafe.Slice((*byte)(unsafe.Pointer(p.data)), int(p.caplen)), CaptureInfo{
		Timestamp:      time.Unix(0, int64(p.ts_ns)),
		CaptureLength:  int(p.caplen),
		Length:         int(p.len),
		InterfaceIndex: int(p.ifindex),
	}, nil
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	h.batch.pkts = nil
	if h.poll != nil {
		h.poll.close()
		h.poll = nil
	}
	C.go_h_free(h.g)
	h.g = nil
}

// breakloop: safe from any goroutine; a no-op once closed.
func (h *handle) breakloop() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.closed {
		C.go_breakloop(h.g)
		if h.poll != nil {
			h.poll.kick()
		}
	}
}

// millis: negative waits without limit, 0 does not wait.
func millis(d time.Duration) int {
	if d < 0 {
		return -1
	}
	ms := d / time.Millisecond
	if d > 0 && ms == 0 {
		ms = 1
	}
	if ms > 0x7fffffff {
		ms = 0x7fffffff
	}
	return int(ms)
}
