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
// library handle, its held batch and a chunk of descriptors.
type handle struct {
	mu     sync.RWMutex // Break (read) against Close (write)
	g      *C.go_h
	batch  Batch
	next   int // ZeroCopyReadPacketData's position in batch
	closed bool
}

// Batch is the batch a handle holds: one ring block (capture), a run of
// file records (reader) or RX descriptors (AF_XDP). It is reused: the
// handle's next NextBatch (or Release, or Close) invalidates it and every
// Data slice from it.
//
// At(i) and Data(i) cost no cgo call per packet: the descriptors come in
// chunks of 64 (nr_batch_fill into a small C-owned array, one cgo call
// per chunk, the first one inside NextBatch's call). Walking i upwards is
// the cheap order; going back to an earlier chunk re-reads from the start.
type Batch struct {
	h    *handle
	n    int           // Len
	base int           // index of win[0]
	win  []C.nr_packet // the current chunk (C memory)
	seq  uint64
	err  error
}

// Len is the number of packets in the batch. If the batch ends early
// (a ring block that fails validation, an AF_XDP descriptor refused by the
// bounds check), Len shrinks when the walk gets there and Err says why, so
// `for i := 0; i < b.Len(); i++` stays exact.
func (b *Batch) Len() int { return b.n }

// Err is the error that ended the batch early, or nil.
func (b *Batch) Err() error { return b.err }

// desc returns descriptor i, filling chunks as needed; it panics like a
// slice when i is out of range. Not inlined, so that Data's fast path is.
//
//go:noinline
func (b *Batch) desc(i int) *C.nr_packet {
	if p := b.tryDesc(i); p != nil {
		return p
	}
	panic("netring: Batch index out of range (see Len; Err tells why a batch ended early)")
}

// tryDesc returns descriptor i, or nil when i is out of range (Len may
// have shrunk: the batch ended early).
func (b *Batch) tryDesc(i int) *C.nr_packet {
	j := i - b.base
	if uint(j) < uint(len(b.win)) {
		return &b.win[j]
	}
	if i >= b.n || i < 0 || b.h == nil || b.h.g == nil {
		return nil
	}
	g := b.h.g
	rewind := C.int(0)
	if i < b.base {
		rewind = 1
		b.base, b.win = 0, nil
	}
	for {
		b.base += len(b.win)
		rc := C.go_fill(g, rewind)
		rewind = 0
		b.win = unsafe.Slice(&g.pkts[0], int(g.n))
		if rc != C.NR_OK || g.n == 0 {
			// The batch ends here: fewer packets than nr_batch_len said.
			if rc != C.NR_OK {
				b.err = mkerr("batch", rc, C.GoString(&g.err[0]))
			}
			b.n = b.base
			b.win = nil
			return nil
		}
		if i < b.base+len(b.win) {
			return &b.win[i-b.base]
		}
	}
}

// At returns packet i (0 <= i < Len()).
func (b *Batch) At(i int) Packet {
	p := b.desc(i)
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

// Data returns packet i's bytes alone (zero copy), the cheapest accessor
// (an index check within the current chunk, then the slice).
func (b *Batch) Data(i int) []byte {
	j := uint(i - b.base)
	if j >= uint(len(b.win)) {
		return b.dataSlow(i)
	}
	p := &b.win[j]
	return unsafe.Slice((*byte)(p.data), p.caplen)
}

func (b *Batch) dataSlow(i int) []byte {
	p := b.desc(i)
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
	b.n, b.base, b.win = 0, 0, nil
}

// nextBatch: release the held batch, take the next one and its first
// chunk, in one cgo call.
func (h *handle) nextBatch(timeout time.Duration, op string) (*Batch, error) {
	if h.closed {
		return nil, ErrClosed
	}
	b := &h.batch
	b.n, b.base, b.win, b.err = 0, 0, nil, nil
	h.next = 0
	rc := C.go_next(h.g, C.int(millis(timeout)))
	if rc != C.NR_OK {
		if rc == C.NR_EOF {
			return nil, io.EOF
		}
		return nil, mkerr(op, rc, C.GoString(&h.g.err[0]))
	}
	g := h.g
	b.h = h
	b.n = int(g.len)
	b.win = unsafe.Slice(&g.pkts[0], int(g.n))
	if g.n == 0 && g.len > 0 {
		// the first chunk already failed (malformed block) or was empty
		if g.fill_rc != C.NR_OK {
			b.err = mkerr("batch", g.fill_rc, C.GoString(&g.err[0]))
		}
		b.n = 0
	}
	b.seq = uint64(C.nr_batch_seq(g.batch))
	return b, nil
}

// zeroCopyRead walks the held batch packet by packet, taking the next batch
// when it is exhausted.
func (h *handle) zeroCopyRead(timeout time.Duration, op string) ([]byte, CaptureInfo, error) {
	for {
		for h.next >= h.batch.n {
			if _, err := h.nextBatch(timeout, op); err != nil {
				return nil, CaptureInfo{}, err
			}
		}
		p := h.batch.tryDesc(h.next)
		if p == nil {
			continue // the batch ended early
		}
		h.next++
		return unsafe.Slice((*byte)(unsafe.Pointer(p.data)), int(p.caplen)), CaptureInfo{
			Timestamp:      time.Unix(0, int64(p.ts_ns)),
			CaptureLength:  int(p.caplen),
			Length:         int(p.len),
			InterfaceIndex: int(p.ifindex),
		}, nil
	}
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	h.batch.n, h.batch.base, h.batch.win = 0, 0, nil
	C.go_h_free(h.g)
	h.g = nil
}

// breakloop: safe from any goroutine; a no-op once closed.
func (h *handle) breakloop() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.closed {
		C.go_breakloop(h.g)
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
