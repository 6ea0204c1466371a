// gopacket_afpacket: the Go peer of the RX benchmark, written the way a
// gopacket user captures: gopacket's afpacket package (TPACKET_V3 walked in
// Go), ZeroCopyReadPacketData in a loop, the same ring as nrcap's defaults
// (4 MiB x 64 blocks, 60 ms block timeout). Stops on SIGINT/SIGTERM and
// prints "RESULT packets=N drops=N" (drops: PACKET_STATISTICS tp_drops).
//
//	gopacket_afpacket IFACE
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/gopacket/afpacket"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gopacket_afpacket IFACE")
		os.Exit(2)
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(os.Args[1]),
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptFrameSize(2048),
		afpacket.OptBlockSize(4<<20),
		afpacket.OptNumBlocks(64),
		afpacket.OptBlockTimeout(60*time.Millisecond),
		// afpacket has no breakloop: wake up to look at the stop flag.
		afpacket.OptPollTimeout(100*time.Millisecond),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopacket_afpacket: %v\n", err)
		os.Exit(1)
	}
	var stop int32
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; atomic.StoreInt32(&stop, 1) }()
	var packets uint64
	for atomic.LoadInt32(&stop) == 0 {
		_, _, err := tp.ZeroCopyReadPacketData()
		if err == nil {
			packets++
			continue
		}
		if err != afpacket.ErrTimeout {
			fmt.Fprintf(os.Stderr, "gopacket_afpacket: %v\n", err)
			break
		}
	}
	_, v3, _ := tp.SocketStats()
	tp.Close()
	fmt.Fprintf(os.Stderr, "RESULT packets=%d drops=%d\n", packets, v3.Drops())
}
