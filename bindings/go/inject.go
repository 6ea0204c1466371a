package netring

// #include "helpers.h"
import "C"

import (
	"time"
	"unsafe"
)

// InjectorConfig: zero values take the library's defaults.
type InjectorConfig struct {
	FrameSize   uint32 // bytes per slot including a 32-byte header
	FrameCount  uint32
	Mode        int // 0 auto, 1 TX ring, 2 sendmmsg
	QdiscBypass bool
}

// Injector sends frames (copied once into a slot).
type Injector struct {
	inj *C.nr_injector
	e   errbuf
	buf []byte
	lns []C.uint32_t
}

// OpenInjector opens an injector on iface.
func OpenInjector(iface string, cfg *InjectorConfig) (*Injector, error) {
	var c C.nr_injector_config
	C.nr_injector_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	if cfg != nil {
		setNonZero(&c.frame_size, cfg.FrameSize)
		setNonZero(&c.frame_count, cfg.FrameCount)
		c.mode = C.uint32_t(cfg.Mode)
		c.qdisc_bypass = C.bool(cfg.QdiscBypass)
	}
	var cs cstrs
	defer cs.free()
	n := cs.str(iface)
	i := &Injector{}
	if rc := C.go_injector_open(n, &c, &i.inj, i.e.ptr()); rc != C.NR_OK {
		return nil, mkerr("open injector "+iface, rc, i.e.String())
	}
	return i, nil
}

// Inject queues one frame (one cgo call; InjectBatch takes many per call).
// ErrTimeout when the ring stayed full. Call Flush to send.
func (i *Injector) Inject(frame []byte) error {
	if i.inj == nil {
		return ErrClosed
	}
	if len(frame) == 0 {
		return &Error{Op: "inject", Status: ErrInvalidArg, Message: "empty frame"}
	}
	rc := C.go_inject(i.inj, (*C.uint8_t)(unsafe.Pointer(&frame[0])), C.size_t(len(frame)), i.e.ptr())
	return check("inject", rc, i.e.ptr())
}

// InjectBatch queues frames in order and flushes (frames are gathered
// into one buffer, then one cgo call). Returns how many were queued.
func (i *Injector) InjectBatch(frames [][]byte) (int, error) {
	if i.inj == nil {
		return 0, ErrClosed
	}
	if len(frames) == 0 {
		return 0, nil
	}
	i.buf = i.buf[:0]
	i.lns = i.lns[:0]
	for _, f := range frames {
		i.buf = append(i.buf, f...)
		i.lns = append(i.lns, C.uint32_t(len(f)))
	}
	if len(i.buf) == 0 {
		return 0, &Error{Op: "inject", Status: ErrInvalidArg, Message: "empty frames"}
	}
	var q C.size_t
	rc := C.go_inject_batch(i.inj, (*C.uint8_t)(unsafe.Pointer(&i.buf[0])), &i.lns[0], C.size_t(len(frames)), &q, i.e.ptr())
	if rc != C.NR_OK {
		return int(q), mkerr("inject", rc, i.e.String())
	}
	return int(q), nil
}

// Flush hands queued frames to the kernel.
func (i *Injector) Flush() error {
	if i.inj == nil {
		return ErrClosed
	}
	return check("flush", C.go_injector_flush(i.inj, i.e.ptr()), i.e.ptr())
}

// WaitDrained flushes and waits until every queued frame left (ErrTimeout if not).
func (i *Injector) WaitDrained(timeout time.Duration) error {
	if i.inj == nil {
		return ErrClosed
	}
	return check("wait", C.go_injector_wait(i.inj, C.int(millis(timeout)), i.e.ptr()), i.e.ptr())
}

// Sent is the number of frames the kernel took.
func (i *Injector) Sent() (uint64, error) {
	if i.inj == nil {
		return 0, ErrClosed
	}
	var s C.nr_injector_stats
	if rc := C.go_injector_stats(i.inj, &s, i.e.ptr()); rc != C.NR_OK {
		return 0, mkerr("stats", rc, i.e.String())
	}
	return uint64(s.sent), nil
}

// Close flushes once and closes.
func (i *Injector) Close() {
	if i.inj != nil {
		C.nr_injector_close(i.inj)
		i.inj = nil
	}
}
