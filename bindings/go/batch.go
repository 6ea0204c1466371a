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
	FlagVLANValid  = C.NR_PACKET_FLAG_VLAN_VALID
	FlagTruncated  = C.NR_PACKET_FLAG_TRUNCATED
	FlagLosing     = C.NR_PACKET_FLAG_LOSING
	FlagTSSoftware = C.NR_PACKET_FLAG_TS_SOFTWARE
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
// Two ways to read it, both without a cgo call per packet:
//   - Len/At/Data/Err, in any order: the first of them copies all of the
//     batch's descriptors (nr_batch_fill) into a C-owned array that the
//     handle reuses, in one cgo call.
//   - Window, in order: the next 64 descriptors at a time, into a small
//     reused array that stays in the CPU cache while it is read; the
//     fastest walk (a 4 MiB block of 60-byte frames holds ~30k packets, and
//     their 1.4 MiB of descriptors copied at once do not fit in L2).
type Batch struct {
	h        *handle
	pkts     []C.nr_packet // every descriptor of the batch (C memory), once full
	full     bool          // pkts is filled (or the batch is gone)
	streamed bool          // Window moved the library's fill position
	wpos     int           // Window's position in pkts when full
	seq      uint64
	err      error
}

// fill copies all of the batch's descriptors, once.
func (b *Batch) fill() {
	if b.full {
		return
	}
	b.full = true
	if b.h == nil || b.h.g == nil {
		return
	}
	g := b.h.g
	rc := C.go_fill_all(g, boolInt(b.streamed))
	if g.n > 0 {
		b.pkts = unsafe.Slice(g.pkts, int(g.n))
	}
	if rc != C.NR_OK {
		b.err = mkerr("batch", rc, C.GoString(&g.err[0]))
	}
}

func boolInt(v bool) C.int {
	if v {
		return 1
	}
	return 0
}

// Len is the number of packets in the batch. If the batch ended early
// (a ring block that fails validation, an AF_XDP descriptor refused by the
// bounds check), Len counts the packets before the fault and Err says why.
func (b *Batch) Len() int {
	if !b.full {
		b.fill()
	}
	return len(b.pkts)
}

// Err is the error that ended the batch early, or nil.
func (b *Batch) Err() error {
	if !b.streamed {
		b.fill()
	}
	return b.err
}

// At returns packet i (0 <= i < Len(); it panics like a slice otherwise).
func (b *Batch) At(i int) Packet {
	if !b.full {
		b.fill()
	}
	return packetOf(&b.pkts[i])
}

func packetOf(p *C.nr_packet) Packet {
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

// Data returns packet i's bytes alone (zero copy), the cheapest random
// accessor.
func (b *Batch) Data(i int) []byte {
	if !b.full {
		b.fill()
	}
	p := &b.pkts[i]
	return unsafe.Slice((*byte)(p.data), p.caplen)
}

// Desc is one packet descriptor as the library fills it (nr_packet), in
// C memory owned by the handle: read it through its methods, don't keep it.
type Desc C.nr_packet

// Data is the packet's bytes (zero copy, valid as Batch.Data's).
func (d *Desc) Data() []byte { return unsafe.Slice((*byte)(d.data), d.caplen) }

// Packet is the packet with all of its fields, as Batch.At gives it.
func (d *Desc) Packet() Packet { return packetOf((*C.nr_packet)(d)) }

// Window returns the batch's next descriptors in arrival order, up to 64
// at a time, and nil at the end of the batch; the slice is valid until the
// next Window call (or NextBatch, Release, Close). Walk a whole batch with
//
//	for w := b.Window(); w != nil; w = b.Window() {
//		for i := range w {
//			use(w[i].Data())
//		}
//	}
//
// Each Desc gives the bytes with w[i].Data() and every field with
// w[i].Packet(), a Packet:
//   - Data []byte: the captured bytes (zero copy, caplen long)
//   - CaptureInfo (embedded): Timestamp time.Time, CaptureLength int
//     (caplen), Length int (length on the wire), InterfaceIndex int,
//     AncillaryData (nil)
//   - TimestampNs uint64 (nanoseconds since the Unix epoch)
//   - Flags uint32 (FlagVLANValid, FlagTruncated, FlagLosing,
//     FlagTSSoftware, ...: nr_packet.flags)
//   - Protocol uint16 (EtherType, host order)
//   - PktType uint8 (NR_PACKET_*: 0 host, 1 broadcast, 2 multicast,
//     3 other host, 4 outgoing)
//   - VLANTCI uint16 (valid with FlagVLANValid), RxHash uint32
//
// Each call copies the next descriptors into a small array the handle
// reuses, so they are read while still in cache: one short C call per 64
// packets (with -tags netring_fastcall on Go < 1.23, a direct call on the
// system stack, no scheduler work). If the batch ends early, the window before the fault comes first,
// then nil, and Err says why. Len/At/Data may be used afterwards (they copy
// the whole batch again); after them, Window walks their array.
func (b *Batch) Window() []Desc {
	if b.full {
		if b.wpos >= len(b.pkts) {
			return nil
		}
		end := b.wpos + C.GO_WIN
		if end > len(b.pkts) {
			end = len(b.pkts)
		}
		w := b.pkts[b.wpos:end]
		b.wpos = end
		return unsafe.Slice((*Desc)(unsafe.Pointer(&w[0])), len(w))
	}
	if b.h == nil || b.h.g == nil {
		return nil
	}
	g := b.h.g
	b.streamed = true
	fillWin(g)
	if g.win_rc != C.NR_OK {
		b.err = mkerr("batch", g.win_rc, C.GoString(&g.err[0]))
		return nil
	}
	if g.wn == 0 {
		return nil
	}
	return unsafe.Slice((*Desc)(unsafe.Pointer(&g.win[0])), int(g.wn))
}

// Seq is the batch's sequence number (nr_batch_seq).
func (b *Batch) Seq() uint64 { return b.seq }

// Release gives the batch's memory back now (NextBatch does it anyway).
func (b *Batch) Release() {
	if b.h == nil || b.h.g == nil {
		return
	}
	C.go_release(b.h.g)
	b.pkts, b.full = nil, true
}

// nextBatch: release the held batch and take the next one, in one cgo call
// (none when a capture's block was already ready). Its descriptors are
// copied when they are asked for (Batch.fill, Batch.Window).
func (h *handle) nextBatch(timeout time.Duration, op string) (*Batch, error) {
	if h.closed {
		return nil, ErrClosed
	}
	b := &h.batch
	b.pkts, b.err, b.full, b.streamed, b.wpos = nil, nil, false, false, 0
	h.next = 0
	g := h.g
	var rc C.int
	if h.poll != nil && timeout != 0 {
		rc = h.poll.next(timeout)
	} else {
		rc = C.go_next(g, C.int(millis(timeout)))
	}
	if rc != C.NR_OK {
		b.full = true
		if rc == C.NR_EOF {
			return nil, io.EOF
		}
		return nil, mkerr(op, rc, C.GoString(&g.err[0]))
	}
	b.h = h
	b.seq = uint64(g.seq) // taken by go_next: no second cgo call
	return b, nil
}

// zeroCopyRead walks the held batch packet by packet, taking the next batch
// when it is exhausted.
func (h *handle) zeroCopyRead(timeout time.Duration, op string) ([]byte, CaptureInfo, error) {
	for h.next >= h.batch.Len() {
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
	h.batch.pkts, h.batch.full = nil, true
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
