package netring_test

import (
	"path/filepath"
	"testing"
	"time"

	"netring"
)

// BenchmarkBatchWalk: ns per packet of walking a held batch of 60-byte
// packets with Len/Data (all descriptors copied by NextBatch's one cgo call).
func BenchmarkBatchWalk(b *testing.B) {
	path := filepath.Join(b.TempDir(), "w.pcap")
	w, _ := netring.CreateWriter(path, netring.FormatPcap, nil)
	for i := 0; i < 4096; i++ {
		w.WritePacket(netring.CaptureInfo{Timestamp: time.Now(), CaptureLength: 60, Length: 60}, frame(60, uint32(i)))
	}
	w.Close()
	r, _ := netring.OpenReader(path)
	defer r.Close()
	bt, err := r.NextBatch()
	if err != nil {
		b.Fatal(err)
	}
	n := bt.Len()
	b.ResetTimer()
	sum := 0
	for k := 0; k < b.N; k += n {
		for i := 0; i < bt.Len(); i++ {
			sum += len(bt.Data(i))
		}
	}
	if sum == 0 {
		b.Fatal("nothing walked")
	}
}
