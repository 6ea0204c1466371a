// Package gopacket adapts netring to gopacket: a Source is a
// gopacket.PacketDataSource and gopacket.ZeroCopyPacketDataSource, so
//
//	src, _ := nrgopacket.Open("eth0", nil)
//	ps := gopacket.NewPacketSource(src, layers.LinkTypeEthernet)
//	for p := range ps.Packets() { ... }
//
// works as with gopacket's own afpacket or pcap handles. It lives in its
// own module so the netring module keeps no external dependency.
package gopacket

import (
	"github.com/google/gopacket"

	"netring"
)

// Source is a netring capture or file reader seen through gopacket.
type Source struct {
	zc     func() ([]byte, netring.CaptureInfo, error)
	closer func()
	// Capture is the underlying capture (nil for a file): Stats, Break, SetBPF, ...
	Capture *netring.Capture
	// Reader is the underlying file reader (nil for a capture).
	Reader *netring.Reader
}

var (
	_ gopacket.PacketDataSource         = (*Source)(nil)
	_ gopacket.ZeroCopyPacketDataSource = (*Source)(nil)
)

// Open captures on iface (cfg nil: netring.DefaultConfig()).
func Open(iface string, cfg *netring.Config) (*Source, error) {
	c, err := netring.Open(iface, cfg)
	if err != nil {
		return nil, err
	}
	return FromCapture(c), nil
}

// FromCapture wraps an open capture.
func FromCapture(c *netring.Capture) *Source {
	return &Source{zc: c.ZeroCopyReadPacketData, closer: c.Close, Capture: c}
}

// OpenFile reads a pcap/pcapng file; the end is io.EOF, which ends
// gopacket.PacketSource.Packets().
func OpenFile(path string) (*Source, error) {
	r, err := netring.OpenReader(path)
	if err != nil {
		return nil, err
	}
	return &Source{zc: r.ZeroCopyReadPacketData, closer: r.Close, Reader: r}, nil
}

func convert(ci netring.CaptureInfo) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{
		Timestamp:      ci.Timestamp,
		CaptureLength:  ci.CaptureLength,
		Length:         ci.Length,
		InterfaceIndex: ci.InterfaceIndex,
		AncillaryData:  ci.AncillaryData,
	}
}

// ZeroCopyReadPacketData: data points into the ring, valid until the next call.
func (s *Source) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	d, ci, err := s.zc()
	return d, convert(ci), err
}

// ReadPacketData returns a copy of the next packet.
func (s *Source) ReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	d, ci, err := s.zc()
	if err != nil {
		return nil, gopacket.CaptureInfo{}, err
	}
	return append([]byte(nil), d...), convert(ci), nil
}

// Close closes the capture or file.
func (s *Source) Close() { s.closer() }
