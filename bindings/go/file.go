package netring

// #include "helpers.h"
import "C"

import (
	"time"
	"unsafe"
)

// Format of a capture file.
type Format int

const (
	FormatPcap   Format = C.NR_FORMAT_PCAP    // pcap, microseconds
	FormatPcapNs Format = C.NR_FORMAT_PCAP_NS // pcap, nanoseconds
	FormatPcapng Format = C.NR_FORMAT_PCAPNG
)

// Reader reads a pcap or pcapng file through the same batches as a
// capture (zero copy out of its read buffer). The end is io.EOF.
type Reader struct{ handle }

// OpenReader opens a pcap/pcapng file.
func OpenReader(path string) (*Reader, error) {
	var cs cstrs
	defer cs.free()
	p := cs.str(path)
	var g *C.go_h
	var e errbuf
	if rc := C.go_reader_open(p, &g, e.ptr()); rc != C.NR_OK {
		return nil, mkerr("open "+path, rc, e.String())
	}
	r := &Reader{}
	r.g = g
	return r, nil
}

// NextBatch releases the held batch and decodes the next run of records;
// io.EOF at the end of the file.
func (r *Reader) NextBatch() (*Batch, error) { return r.nextBatch(0, "read") }

// ZeroCopyReadPacketData: gopacket's signature; data valid until the next call.
func (r *Reader) ZeroCopyReadPacketData() ([]byte, CaptureInfo, error) {
	return r.zeroCopyRead(0, "read")
}

// ReadPacketData is ZeroCopyReadPacketData with the bytes copied.
func (r *Reader) ReadPacketData() ([]byte, CaptureInfo, error) {
	d, ci, err := r.zeroCopyRead(0, "read")
	if err != nil {
		return nil, ci, err
	}
	return append([]byte(nil), d...), ci, nil
}

// LinkType of the file (1 = Ethernet).
func (r *Reader) LinkType() (uint32, error) {
	var i C.nr_reader_info
	if err := query(r.closed, r.g, "info", func() C.int { return C.go_reader_info(r.g, &i) }); err != nil {
		return 0, err
	}
	return uint32(i.link_type), nil
}

// Close closes the file.
func (r *Reader) Close() { r.close() }

// WriterConfig: zero values take the library's defaults.
type WriterConfig struct {
	Snaplen     uint32 // 0: 262144
	LinkType    uint32 // 0: Ethernet
	RotateBytes uint64 // start a new file past this many bytes; 0 never
	RotateFiles uint32 // keep at most this many files; 0 unlimited
	IfName      string // pcapng if_name
}

// Writer writes a pcap or pcapng file through one large buffer.
type Writer struct {
	w *C.nr_writer
	e errbuf
}

// CreateWriter creates (truncates) path and writes its header.
func CreateWriter(path string, format Format, cfg *WriterConfig) (*Writer, error) {
	var cs cstrs
	defer cs.free()
	var c C.nr_writer_config
	C.nr_writer_config_init(&c, C.size_t(unsafe.Sizeof(c)))
	if cfg != nil {
		setNonZero(&c.snaplen, cfg.Snaplen)
		setNonZero(&c.link_type, cfg.LinkType)
		c.rotate_bytes = C.uint64_t(cfg.RotateBytes)
		c.rotate_files = C.uint32_t(cfg.RotateFiles)
		if cfg.IfName != "" {
			c.if_name = cs.str(cfg.IfName)
		}
	}
	p := cs.str(path)
	w := &Writer{}
	if rc := C.go_writer_open(p, C.int(format), &c, &w.w, w.e.ptr()); rc != C.NR_OK {
		return nil, mkerr("create "+path, rc, w.e.String())
	}
	return w, nil
}

// WriteBatch writes every packet of a held batch straight from its memory
// (one cgo call for the whole batch). The batch stays held.
func (w *Writer) WriteBatch(b *Batch) error {
	if w.w == nil {
		return ErrClosed
	}
	if b == nil || b.h == nil || b.h.g == nil {
		return ErrBadBatch
	}
	return check("write", C.go_writer_write_batch(w.w, b.h.g, w.e.ptr()), w.e.ptr())
}

// WritePacket writes one packet (pcapgo.Writer's signature): ci's
// Timestamp, CaptureLength and Length, and data.
func (w *Writer) WritePacket(ci CaptureInfo, data []byte) error {
	if w.w == nil {
		return ErrClosed
	}
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	caplen := ci.CaptureLength
	if caplen == 0 || caplen > len(data) {
		caplen = len(data)
	}
	length := ci.Length
	if length < caplen {
		length = caplen
	}
	ts := ci.Timestamp.UnixNano()
	if ci.Timestamp.IsZero() {
		ts = time.Now().UnixNano()
	}
	return check("write", C.go_writer_write_packet(w.w, p, C.uint32_t(caplen), C.uint32_t(length), C.uint64_t(ts), w.e.ptr()), w.e.ptr())
}

// SetStats sets the counts a pcapng file's statistics block reports.
func (w *Writer) SetStats(received, dropped uint64) {
	if w.w != nil {
		C.nr_writer_set_stats(w.w, C.uint64_t(received), C.uint64_t(dropped))
	}
}

// Packets written so far.
func (w *Writer) Packets() uint64 {
	var s C.nr_writer_stats
	if w.w == nil || C.go_writer_stats(w.w, &s, w.e.ptr()) != C.NR_OK {
		return 0
	}
	return uint64(s.packets)
}

// Flush writes out everything buffered.
func (w *Writer) Flush() error {
	if w.w == nil {
		return ErrClosed
	}
	return check("flush", C.go_writer_flush(w.w, w.e.ptr()), w.e.ptr())
}

// Close finishes the file; the error says whether the last write failed.
func (w *Writer) Close() error {
	if w.w == nil {
		return nil
	}
	rc := C.go_writer_close(w.w, w.e.ptr())
	w.w = nil
	return check("close", rc, w.e.ptr())
}
