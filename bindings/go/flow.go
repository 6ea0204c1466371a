package netring

/*
#include "helpers.h"

static int go_flow_open(uint64_t idle, uint64_t active, uint32_t max, uint32_t flags,
                        nr_flow_meter **out, char *err)
{
    return go_rc_err(nr_flow_meter_open(idle, active, max, flags, out), err);
}

// One cgo call per packet.
static int go_flow_observe(nr_flow_meter *m, const uint8_t *data, uint32_t caplen, uint32_t len,
                           uint64_t ts, uint32_t flags, uint16_t tci, uint16_t proto, char *err)
{
    nr_packet p = go_packet(data, caplen, len, ts, flags, tci, proto);
    return go_rc_err(nr_flow_meter_observe(m, &p), err);
}

// The exported array's column i, buffer b.
static const void *go_arrow_buf(const nr_arrow_array *a, int i, int b)
{
    return a->children[i]->buffers[b];
}

static void go_arrow_release(nr_arrow_schema *s, nr_arrow_array *a)
{
    if (a->release) a->release(a);
    if (s->release) s->release(s);
}
*/
import "C"

import (
	"net"
	"time"
	"unsafe"
)

// FlowMeter counts packets into bidirectional flows (5-tuple and VLAN;
// non-IP frames by EtherType and MAC addresses) with idle and active
// timeouts and a bounded table: nr_flow_meter_* of netring.h. One
// goroutine at a time; one meter per worker of a fanout group.
type FlowMeter struct {
	m *C.nr_flow_meter
}

// FlowIPBytes makes a meter count IP bytes (as IPFIX does) instead of
// frame wire lengths.
const FlowIPBytes = C.NR_FLOW_IP_BYTES

// NewFlowMeter opens a flow meter; zero values take the defaults (idle
// 15 s, active 1800 s, 65,536 flows). flags: 0 or FlowIPBytes. About 148
// bytes per flow of maxFlows are reserved.
func NewFlowMeter(idle, active time.Duration, maxFlows uint32, flags uint32) (*FlowMeter, error) {
	var m *C.nr_flow_meter
	var e errbuf
	if rc := C.go_flow_open(C.uint64_t(idle.Nanoseconds()), C.uint64_t(active.Nanoseconds()),
		C.uint32_t(maxFlows), C.uint32_t(flags), &m, e.ptr()); rc != C.NR_OK {
		return nil, mkerr("flow meter open", rc, e.String())
	}
	return &FlowMeter{m: m}, nil
}

// Close frees the meter; records not taken are dropped.
func (f *FlowMeter) Close() {
	if f.m != nil {
		C.nr_flow_meter_close(f.m)
		f.m = nil
	}
}

// Observe counts one packet (from a batch, a reader, ...).
func (f *FlowMeter) Observe(p *Packet) error {
	if f.m == nil {
		return ErrClosed
	}
	var data *C.uint8_t
	if len(p.Data) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&p.Data[0]))
	}
	var e errbuf
	rc := C.go_flow_observe(f.m, data, C.uint32_t(len(p.Data)), C.uint32_t(p.Length),
		C.uint64_t(p.TimestampNs), C.uint32_t(p.Flags), C.uint16_t(p.VLANTCI), C.uint16_t(p.Protocol), e.ptr())
	return check("flow observe", rc, e.ptr())
}

// Expire moves the meter's clock to nowNs (a live capture's quiet link)
// and ends the flows idle since.
func (f *FlowMeter) Expire(nowNs uint64) error {
	if f.m == nil {
		return ErrClosed
	}
	return status(C.nr_flow_meter_expire(f.m, C.uint64_t(nowNs)), "flow expire")
}

// Flush ends every flow (at the end of the input).
func (f *FlowMeter) Flush() error {
	if f.m == nil {
		return ErrClosed
	}
	return status(C.nr_flow_meter_flush(f.m), "flow flush")
}

func status(rc C.int, op string) error {
	if rc != C.NR_OK {
		return mkerr(op, rc, C.GoString(C.nr_last_error()))
	}
	return nil
}

// FlowStats are a meter's counters (nr_flow_stats).
type FlowStats struct {
	Packets, Bytes, Flows, Records                 uint64
	IdleTimeouts, ActiveTimeouts, TCPEnds, Evicted uint64
	Flushed, Fragments, NonIP, ActiveFlows         uint64
}

// Stats returns the lifetime totals.
func (f *FlowMeter) Stats() (FlowStats, error) {
	if f.m == nil {
		return FlowStats{}, ErrClosed
	}
	var s C.nr_flow_stats
	if err := status(C.nr_flow_meter_get_stats(f.m, &s, nil), "flow stats"); err != nil {
		return FlowStats{}, err
	}
	return FlowStats{uint64(s.packets), uint64(s.bytes), uint64(s.flows), uint64(s.records),
		uint64(s.idle_timeouts), uint64(s.active_timeouts), uint64(s.tcp_ends), uint64(s.evicted),
		uint64(s.flushed), uint64(s.fragments), uint64(s.non_ip), uint64(s.active_flows)}, nil
}

// ExportArrow moves the ended records into caller-allocated Arrow C Data
// Interface structs (for Arrow Go: pointers to cdata.CArrowSchema and
// cdata.CArrowArray, then cdata.ImportCRecordBatch). The caller releases
// them.
func (f *FlowMeter) ExportArrow(schema, array unsafe.Pointer) error {
	if f.m == nil {
		return ErrClosed
	}
	return status(C.nr_flow_meter_export(f.m, (*C.nr_arrow_schema)(schema), (*C.nr_arrow_array)(array)), "flow export")
}

// FlowRecord is one ended flow, oriented by its initiator (Src sent the
// first packet); Fwd counters are Src → Dst, Rev the reverse.
type FlowRecord struct {
	First, Last                         time.Time
	IPVersion, Proto                    uint8
	Src, Dst                            net.IP // nil for non-IP flows
	SrcPort, DstPort                    uint16
	VLAN, EtherType                     uint16
	PacketsFwd, BytesFwd                uint64
	PacketsRev, BytesRev                uint64
	TCPFlagsFwd, TCPFlagsRev, EndReason uint8
	FlowHash                            uint64
}

// Records takes the ended records (through ExportArrow, decoded into Go
// values: a copy).
func (f *FlowMeter) Records() ([]FlowRecord, error) {
	if f.m == nil {
		return nil, ErrClosed
	}
	s := (*C.nr_arrow_schema)(C.calloc(1, C.sizeof_nr_arrow_schema))
	a := (*C.nr_arrow_array)(C.calloc(1, C.sizeof_nr_arrow_array))
	defer C.free(unsafe.Pointer(s))
	defer C.free(unsafe.Pointer(a))
	if err := status(C.nr_flow_meter_export(f.m, s, a), "flow export"); err != nil {
		return nil, err
	}
	defer C.go_arrow_release(s, a)
	n := int(a.length)
	out := make([]FlowRecord, n)
	col := func(i int) unsafe.Pointer { return C.go_arrow_buf(a, C.int(i), 1) }
	u64 := func(i, r int) uint64 { return unsafe.Slice((*uint64)(col(i)), n)[r] }
	u16 := func(i, r int) uint16 { return unsafe.Slice((*uint16)(col(i)), n)[r] }
	u8 := func(i, r int) uint8 { return unsafe.Slice((*uint8)(col(i)), n)[r] }
	for r := range out {
		o := &out[r]
		o.First = time.Unix(0, int64(u64(0, r)))
		o.Last = time.Unix(0, int64(u64(1, r)))
		o.VLAN, o.EtherType, o.IPVersion = u16(4, r), u16(6, r), u8(7, r)
		switch o.IPVersion {
		case 4:
			s4 := unsafe.Slice((*uint32)(col(8)), n)[r]
			d4 := unsafe.Slice((*uint32)(col(9)), n)[r]
			o.Src = net.IPv4(byte(s4>>24), byte(s4>>16), byte(s4>>8), byte(s4)).To4()
			o.Dst = net.IPv4(byte(d4>>24), byte(d4>>16), byte(d4>>8), byte(d4)).To4()
		case 6:
			o.Src = net.IP(C.GoBytes(unsafe.Add(col(10), 16*r), 16))
			o.Dst = net.IP(C.GoBytes(unsafe.Add(col(11), 16*r), 16))
		}
		o.Proto, o.SrcPort, o.DstPort = u8(12, r), u16(13, r), u16(14, r)
		o.PacketsFwd, o.BytesFwd, o.PacketsRev, o.BytesRev = u64(15, r), u64(16, r), u64(17, r), u64(18, r)
		o.TCPFlagsFwd, o.TCPFlagsRev, o.EndReason = u8(19, r), u8(20, r), u8(21, r)
		o.FlowHash = u64(22, r)
	}
	return out, nil
}
