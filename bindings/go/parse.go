package netring

/*
#include "helpers.h"

// One cgo call per parse: the result lands in *out, and a failure's
// sentence is copied in the same call.
static int go_parse(const uint8_t *data, uint32_t caplen, uint32_t len, uint32_t flags,
                    uint16_t tci, uint16_t proto, nr_layers *out, char *err)
{
    nr_packet p = go_packet(data, caplen, len, 0, flags, tci, proto);
    out->size = sizeof *out;
    return go_rc_err(nr_packet_parse(&p, out), err);
}
*/
import "C"

import "unsafe"

// Parse status and layer values (nr_parse_status, nr_layer, nr_l3, nr_l4).
const (
	ParseComplete  = C.NR_PARSE_COMPLETE  // every known header complete
	ParseTruncated = C.NR_PARSE_TRUNCATED // the snap length cut layer StopLayer
	ParseMalformed = C.NR_PARSE_MALFORMED // layer StopLayer is impossible

	LayerLink      = C.NR_LAYER_LINK
	LayerNetwork   = C.NR_LAYER_NETWORK
	LayerTransport = C.NR_LAYER_TRANSPORT
	LayerPayload   = C.NR_LAYER_PAYLOAD

	L3None = C.NR_L3_NONE
	L3IPv4 = C.NR_L3_IPV4
	L3IPv6 = C.NR_L3_IPV6
	L3ARP  = C.NR_L3_ARP

	L4None   = C.NR_L4_NONE
	L4TCP    = C.NR_L4_TCP
	L4UDP    = C.NR_L4_UDP
	L4ICMP   = C.NR_L4_ICMP
	L4ICMPv6 = C.NR_L4_ICMPV6
	L4SCTP   = C.NR_L4_SCTP
	L4Other  = C.NR_L4_OTHER
)

// Layers is what nr_packet_parse() found in a packet: offsets and lengths
// into Packet.Data (no copy), the EtherType after up to two VLAN tags, IP
// addresses, ports and fragment fields. See netring.h's "Header parsing"
// section for every field.
type Layers struct {
	Status, StopLayer, L3, L4  uint8
	VLANCount                  uint8
	VLANFromMetadata           bool
	IPProto, TTL               uint8
	EtherType, ARPOp           uint16
	VLANTPID, VLANTCI          [2]uint16
	LinkLen                    uint32
	NetOff, NetLen             uint32
	TransportOff, TransportLen uint32
	PayloadOff, PayloadLen     uint32
	IPLen                      uint32
	SrcPort, DstPort           uint16
	TCPFlags, FragFlags        uint8
	FragOffset                 uint16
	FragID                     uint32
	// SrcAddr and DstAddr: 4 bytes for IPv4 (and ARP), 16 for IPv6.
	SrcAddr, DstAddr []byte
}

// Parse finds the protocol headers of p (one cgo call; nothing is copied
// but the result). A truncated or malformed packet is not an error: see
// Layers.Status and StopLayer.
func Parse(p *Packet) (Layers, error) {
	var l C.nr_layers
	var e errbuf
	var data *C.uint8_t
	if len(p.Data) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&p.Data[0]))
	}
	rc := C.go_parse(data, C.uint32_t(len(p.Data)), C.uint32_t(p.Length), C.uint32_t(p.Flags),
		C.uint16_t(p.VLANTCI), C.uint16_t(p.Protocol), &l, e.ptr())
	if rc < 0 {
		return Layers{}, mkerr("parse", rc, e.String())
	}
	out := Layers{
		Status: uint8(l.status), StopLayer: uint8(l.stop_layer), L3: uint8(l.l3), L4: uint8(l.l4),
		VLANCount: uint8(l.vlan_count), VLANFromMetadata: l.vlan_from_metadata != 0,
		IPProto: uint8(l.ip_proto), TTL: uint8(l.ttl),
		EtherType: uint16(l.ethertype), ARPOp: uint16(l.arp_op),
		LinkLen: uint32(l.link_len), NetOff: uint32(l.net_off), NetLen: uint32(l.net_len),
		TransportOff: uint32(l.transport_off), TransportLen: uint32(l.transport_len),
		PayloadOff: uint32(l.payload_off), PayloadLen: uint32(l.payload_len), IPLen: uint32(l.ip_len),
		SrcPort: uint16(l.src_port), DstPort: uint16(l.dst_port),
		TCPFlags: uint8(l.tcp_flags), FragFlags: uint8(l.frag_flags),
		FragOffset: uint16(l.frag_offset), FragID: uint32(l.frag_id),
	}
	for i := 0; i < 2; i++ {
		out.VLANTPID[i] = uint16(l.vlan_tpid[i])
		out.VLANTCI[i] = uint16(l.vlan_tci[i])
	}
	n := 0
	switch out.L3 {
	case L3IPv4, L3ARP:
		n = 4
	case L3IPv6:
		n = 16
	}
	if n > 0 {
		out.SrcAddr = C.GoBytes(unsafe.Pointer(&l.src_addr[0]), C.int(n))
		out.DstAddr = C.GoBytes(unsafe.Pointer(&l.dst_addr[0]), C.int(n))
	}
	return out, nil
}
