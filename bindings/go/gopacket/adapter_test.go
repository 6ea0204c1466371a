package gopacket_test

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"netring"
	nrgopacket "netring/gopacket"
)

// udpFrame: a real Ethernet/IPv4/UDP frame with a sequence number in its payload.
func udpFrame(seq uint32) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0x6e, 0x72, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0xcb, 0, 0, 0, 0xff}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}}
	udp := &layers.UDP{SrcPort: 9, DstPort: 9}
	udp.SetNetworkLayerForChecksum(ip)
	payload := make([]byte, 18)
	binary.BigEndian.PutUint32(payload, seq)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func checkUDP(t *testing.T, p gopacket.Packet, seq uint32) {
	u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok || u.DstPort != 9 || binary.BigEndian.Uint32(u.Payload) != seq {
		t.Fatalf("packet %d: not the UDP frame sent: %v", seq, p)
	}
	if p.Metadata().CaptureLength != len(p.Data()) || p.Metadata().Timestamp.IsZero() {
		t.Fatalf("metadata %+v", p.Metadata())
	}
}

func TestPacketSourceOverFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.pcap")
	w, err := netring.CreateWriter(path, netring.FormatPcap, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint32(0); i < 100; i++ {
		f := udpFrame(i)
		w.WritePacket(netring.CaptureInfo{Timestamp: time.Now(), CaptureLength: len(f), Length: len(f)}, f)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := nrgopacket.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ps := gopacket.NewPacketSource(src, layers.LinkTypeEthernet)
	n := uint32(0)
	for p := range ps.Packets() { // ends at io.EOF
		checkUDP(t, p, n)
		n++
	}
	if n != 100 {
		t.Fatalf("got %d", n)
	}
}

func TestPacketSourceOnVeth(t *testing.T) {
	a, b := os.Getenv("NR_TEST_IF_A"), os.Getenv("NR_TEST_IF_B")
	if a == "" {
		t.Skip("needs NR_TEST_IF_A/B: run through bindings/netns.sh")
	}
	cfg := netring.DefaultConfig()
	cfg.BlockSize, cfg.BlockCount, cfg.BlockTimeout = 1<<20, 8, 5*time.Millisecond
	src, err := nrgopacket.Open(a, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	go func() {
		fd, _ := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
		defer syscall.Close(fd)
		ifi, _ := net.InterfaceByName(b)
		syscall.Bind(fd, &syscall.SockaddrLinklayer{Ifindex: ifi.Index})
		for i := uint32(0); i < 1000; i++ {
			for {
				if _, err := syscall.Write(fd, udpFrame(i)); err == nil {
					break
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	ps := gopacket.NewPacketSource(src, layers.LinkTypeEthernet)
	ps.NoCopy = true
	n := uint32(0)
	for n < 1000 {
		p, err := ps.NextPacket()
		if err != nil {
			t.Fatal(err)
		}
		checkUDP(t, p, n)
		n++
	}
	st, err := src.Capture.Stats()
	if err != nil || st.Drops != 0 {
		t.Fatalf("%+v %v", st, err)
	}
}
