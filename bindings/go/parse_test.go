package netring

import (
	"bytes"
	"testing"
)

// An Ethernet/IPv4/UDP frame of known layout: 10.0.0.1:1234 -> 10.0.0.2:53.
func udpFrame() []byte {
	f := []byte{
		0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, // Ethernet
		0x45, 0, 0, 32, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, // IPv4: len 32, DF, ttl 64, UDP
		10, 0, 0, 1, 10, 0, 0, 2,
		0x04, 0xd2, 0x00, 0x35, 0, 12, 0, 0, // UDP 1234 -> 53, len 12
		'a', 'b', 'c', 'd',
	}
	return f
}

func TestParseUDP(t *testing.T) {
	f := udpFrame()
	p := Packet{Data: f, CaptureInfo: CaptureInfo{CaptureLength: len(f), Length: len(f)}}
	l, err := Parse(&p)
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != ParseComplete || l.EtherType != 0x0800 || l.L3 != L3IPv4 || l.L4 != L4UDP {
		t.Fatalf("layers %+v", l)
	}
	if l.NetOff != 14 || l.NetLen != 20 || l.TransportOff != 34 || l.TransportLen != 8 {
		t.Fatalf("offsets %+v", l)
	}
	if l.PayloadOff != 42 || l.PayloadLen != 4 || !bytes.Equal(f[l.PayloadOff:l.PayloadOff+l.PayloadLen], []byte("abcd")) {
		t.Fatalf("payload %+v", l)
	}
	if l.SrcPort != 1234 || l.DstPort != 53 || l.TTL != 64 || l.IPProto != 17 {
		t.Fatalf("fields %+v", l)
	}
	if !bytes.Equal(l.SrcAddr, []byte{10, 0, 0, 1}) || !bytes.Equal(l.DstAddr, []byte{10, 0, 0, 2}) {
		t.Fatalf("addresses %v %v", l.SrcAddr, l.DstAddr)
	}
}

func TestParseTruncated(t *testing.T) {
	f := udpFrame()
	p := Packet{Data: f[:20], CaptureInfo: CaptureInfo{CaptureLength: 20, Length: len(f)}, Flags: FlagTruncated}
	l, err := Parse(&p)
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != ParseTruncated || l.StopLayer != LayerNetwork {
		t.Fatalf("layers %+v", l)
	}
}
