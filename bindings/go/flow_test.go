package netring

import (
	"net"
	"testing"
)

func TestFlowMeterBothDirectionsOneRecord(t *testing.T) {
	m, err := NewFlowMeter(0, 0, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	q := udpFrame()
	r := append([]byte(nil), q...)
	copy(r[0:6], q[6:12])
	copy(r[6:12], q[0:6])
	copy(r[26:30], q[30:34])
	copy(r[30:34], q[26:30])
	copy(r[34:36], q[36:38])
	copy(r[36:38], q[34:36])
	for i, f := range [][]byte{q, r, r} {
		p := Packet{Data: f, CaptureInfo: CaptureInfo{CaptureLength: len(f), Length: len(f)}, TimestampNs: uint64(i+1) * 1000}
		if err := m.Observe(&p); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := m.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	x := recs[0]
	if !x.Src.Equal(net.IPv4(10, 0, 0, 1)) || !x.Dst.Equal(net.IPv4(10, 0, 0, 2)) || x.SrcPort != 1234 || x.DstPort != 53 ||
		x.Proto != 17 || x.PacketsFwd != 1 || x.PacketsRev != 2 || x.BytesFwd != uint64(len(q)) || x.EndReason != 6 {
		t.Fatalf("record %+v", x)
	}
	st, err := m.Stats()
	if err != nil || st.Packets != 3 || st.Flows != 1 || st.Records != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	if again, _ := m.Records(); len(again) != 0 {
		t.Fatalf("records taken twice: %d", len(again))
	}
}
