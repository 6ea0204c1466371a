package netring

// #include "helpers.h"
import "C"

import (
	"time"
	"unsafe"
)

// RawInstruction is one classic BPF instruction, laid out like
// golang.org/x/net/bpf.RawInstruction (and the kernel's sock_filter), so a
// []bpf.RawInstruction converts with a plain loop or unsafe cast.
type RawInstruction struct {
	Op uint16
	Jt uint8
	Jf uint8
	K  uint32
}

// Direction: which frames a capture sees.
type Direction uint8

const (
	DirectionInOut Direction = C.NR_DIRECTION_INOUT
	DirectionIn    Direction = C.NR_DIRECTION_IN
	DirectionOut   Direction = C.NR_DIRECTION_OUT
)

// FanoutMode of a fanout group (0: none).
type FanoutMode uint8

const (
	FanoutNone     FanoutMode = C.NR_FANOUT_NONE
	FanoutHash     FanoutMode = C.NR_FANOUT_HASH
	FanoutLB       FanoutMode = C.NR_FANOUT_LB
	FanoutCPU      FanoutMode = C.NR_FANOUT_CPU
	FanoutRollover FanoutMode = C.NR_FANOUT_ROLLOVER
	FanoutRandom   FanoutMode = C.NR_FANOUT_RANDOM
	FanoutQM       FanoutMode = C.NR_FANOUT_QM
	// FanoutFlow: netring's symmetric flow hash; members join exactly
	// once (see NR_FANOUT_FLOW in netring.h).
	FanoutFlow FanoutMode = C.NR_FANOUT_FLOW
)

// Config of a capture. Start from DefaultConfig(): it holds the library's
// defaults (a 256 MiB ring, promiscuous, snaplen 262144); a nil *Config
// means the same. Every value is checked by Open, whose error names the
// field.
type Config struct {
	BlockSize      uint32        // bytes per ring block, power of two, multiple of the page size
	BlockCount     uint32        // ring blocks
	FrameSize      uint32        // kernel frame accounting (multiple of 16, >= 80)
	BlockTimeout   time.Duration // hand over a partly filled block after this long (ms resolution)
	Snaplen        uint32        // bytes captured per packet
	Promiscuous    bool
	IgnoreOutgoing bool
	Direction      Direction
	Filter         []RawInstruction // classic BPF attached before bind; nil = none
	FanoutMode     FanoutMode
	FanoutGroup    uint16
	FanoutFlags    uint32
	BusyPoll       time.Duration // SO_BUSY_POLL (µs resolution); 0 = off
	// Netns opens the capture in that network namespace: a name under
	// /run/netns (as `ip netns add` makes) or an absolute path. The library
	// switches its own thread while it creates the socket: Go never calls
	// setns, so no goroutine ends up in the wrong namespace.
	Netns string
	// Immediate hands each frame over as soon as the kernel has written it
	// (libpcap's immediate mode): a TPACKET_V2 frame ring with a status
	// word per frame instead of blocks handed over when full or after
	// BlockTimeout. See nr_capture_config.immediate.
	Immediate bool
	// Timeout of ZeroCopyReadPacketData/ReadPacketData; negative waits
	// without limit (the default: Break() ends the wait).
	Timeout time.Duration
}

// DefaultConfig returns the library's defaults.
func DefaultConfig() Config {
	var c C.nr_capture_config
	C.nr_capture_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	return Config{
		BlockSize:    uint32(c.block_size),
		BlockCount:   uint32(c.block_count),
		FrameSize:    uint32(c.frame_size),
		BlockTimeout: time.Duration(c.block_timeout_ms) * time.Millisecond,
		Snaplen:      uint32(c.snaplen),
		Promiscuous:  bool(c.promiscuous),
		Direction:    Direction(c.direction),
		Timeout:      -1,
	}
}

// Stats of a capture. Packets, Drops and Freezes are the kernel's; the
// library keeps lifetime totals (the kernel resets on each read).
type Stats struct {
	Packets   uint64 // put into the ring by the kernel
	Drops     uint64 // dropped by the kernel: ring full
	Freezes   uint64
	Delivered uint64 // packets in the blocks handed out
	Blocks    uint64
	SeqGaps   uint64
	Malformed uint64
}

func statsOf(s *C.nr_capture_stats) Stats {
	return Stats{uint64(s.packets), uint64(s.drops), uint64(s.freezes), uint64(s.delivered),
		uint64(s.blocks), uint64(s.seq_gaps), uint64(s.malformed)}
}

// Capture is an open AF_PACKET TPACKET_V3 capture. One goroutine reads it
// (NextBatch, ZeroCopyReadPacketData, ...); Break may be called from any
// goroutine. Close it when done.
type Capture struct {
	handle
	timeout time.Duration
}

// Open starts a capture on interface iface (nil cfg: DefaultConfig()).
// The error is an *Error carrying the library's sentence, e.g.
// "interface 'eth9' not found ...", with errors.Is(err, ErrNoDevice).
func Open(iface string, cfg *Config) (*Capture, error) {
	if cfg == nil {
		d := DefaultConfig()
		cfg = &d
	}
	var cs cstrs
	defer cs.free()
	var c C.nr_capture_config
	C.nr_capture_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	setNonZero(&c.block_size, cfg.BlockSize)
	setNonZero(&c.block_count, cfg.BlockCount)
	setNonZero(&c.frame_size, cfg.FrameSize)
	if cfg.BlockTimeout != 0 {
		c.block_timeout_ms = C.uint32_t(cfg.BlockTimeout / time.Millisecond)
	}
	setNonZero(&c.snaplen, cfg.Snaplen)
	c.promiscuous = C.bool(cfg.Promiscuous)
	c.ignore_outgoing = C.bool(cfg.IgnoreOutgoing)
	c.direction = C.uint8_t(cfg.Direction)
	c.fanout_mode = C.uint8_t(cfg.FanoutMode)
	c.fanout_group = C.uint16_t(cfg.FanoutGroup)
	c.fanout_flags = C.uint32_t(cfg.FanoutFlags)
	c.busy_poll_us = C.uint32_t(cfg.BusyPoll / time.Microsecond)
	c.immediate = C.bool(cfg.Immediate)
	// The config is Go memory passed to C: whatever it points to must be C
	// memory (cgo's pointer rules), so the filter and names are copied.
	if len(cfg.Filter) > 0 {
		n := len(cfg.Filter)
		p := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(C.nr_bpf_insn{})))
		defer C.free(p)
		copy(unsafe.Slice((*RawInstruction)(p), n), cfg.Filter)
		c.filter = (*C.nr_bpf_insn)(p)
		c.filter_len = C.size_t(n)
	}
	if cfg.Netns != "" {
		c.netns = cs.str(cfg.Netns)
	}
	name := cs.str(iface)
	var g *C.go_h
	var e errbuf
	if rc := C.go_capture_open(name, &c, &g, e.ptr()); rc != C.NR_OK {
		return nil, mkerr("open "+iface, rc, e.String())
	}
	cp := &Capture{timeout: cfg.Timeout}
	cp.g = g
	cp.poll = newPoller(g)
	return cp, nil
}

// NextBatch releases the batch held, waits up to timeout (negative: no
// limit, 0: do not wait) for the next ring block and returns it. One cgo
// call per batch; iterate with Len/At in Go. Errors: ErrTimeout, ErrBreak,
// ErrIfaceDown (not failures: call again), or an *Error.
func (c *Capture) NextBatch(timeout time.Duration) (*Batch, error) {
	return c.nextBatch(timeout, "next batch")
}

// ZeroCopyReadPacketData returns the next packet with gopacket's signature.
// data points into the ring: valid until the next call (it may release the
// block). Waits as Config.Timeout says (SetTimeout changes it).
func (c *Capture) ZeroCopyReadPacketData() (data []byte, ci CaptureInfo, err error) {
	return c.zeroCopyRead(c.timeout, "read")
}

// ReadPacketData is ZeroCopyReadPacketData with the bytes copied.
func (c *Capture) ReadPacketData() (data []byte, ci CaptureInfo, err error) {
	d, ci, err := c.zeroCopyRead(c.timeout, "read")
	if err != nil {
		return nil, ci, err
	}
	return append([]byte(nil), d...), ci, nil
}

// SetTimeout sets the wait of ZeroCopyReadPacketData/ReadPacketData.
func (c *Capture) SetTimeout(d time.Duration) { c.timeout = d }

// Stats returns the lifetime totals.
func (c *Capture) Stats() (Stats, error) {
	t, _, err := c.ReadStats()
	return t, err
}

// ReadStats returns the lifetime totals and the change since the previous
// ReadStats/Stats call.
func (c *Capture) ReadStats() (total, delta Stats, err error) {
	var t, d C.nr_capture_stats
	if err := query(c.closed, c.g, "stats", func() C.int { return C.go_capture_stats(c.g, &t, &d) }); err != nil {
		return Stats{}, Stats{}, err
	}
	return statsOf(&t), statsOf(&d), nil
}

// SetBPF replaces the filter at run time (nil: capture everything). The
// program is copied; pass the whole program (snap length included).
func (c *Capture) SetBPF(insns []RawInstruction) error {
	if c.closed {
		return ErrClosed
	}
	var p *C.nr_bpf_insn
	if len(insns) > 0 {
		p = (*C.nr_bpf_insn)(unsafe.Pointer(&insns[0])) // no Go pointers inside: allowed
	}
	return check("set filter", C.go_capture_set_filter(c.g, p, C.size_t(len(insns))), &c.g.err[0])
}

// Break makes the current or next wait return ErrBreak. Safe from any
// goroutine (and concurrent with Close: after Close it does nothing).
func (c *Capture) Break() { c.breakloop() }

// Fd is the socket, for poll/epoll (owned by the capture).
func (c *Capture) Fd() int {
	if c.closed {
		return -1
	}
	return int(C.go_capture_fd(c.g))
}

// Info is what the ring really got.
type Info struct {
	BlockSize, BlockCount, FrameSize uint32
	Locked                           bool
	Ifindex                          int
	Warning                          string
}

// Info reports the ring's geometry and any option weakened at open.
func (c *Capture) Info() (Info, error) {
	var i C.nr_capture_info
	if err := query(c.closed, c.g, "info", func() C.int { return C.go_capture_info(c.g, &i) }); err != nil {
		return Info{}, err
	}
	info := Info{BlockSize: uint32(i.ring.block_size), BlockCount: uint32(i.ring.block_count),
		FrameSize: uint32(i.ring.frame_size), Locked: bool(i.ring.locked), Ifindex: int(i.ifindex)}
	if i.warning != nil {
		info.Warning = C.GoString(i.warning)
	}
	return info, nil
}

// Close releases the held batch and closes the capture. Safe to call twice
// and concurrently with Break, but not while another goroutine is inside
// NextBatch or a read on this capture: Break it, let that goroutine return,
// then Close.
func (c *Capture) Close() { c.close() }
