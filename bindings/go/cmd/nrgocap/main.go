// nrgocap: nrcap's capture loop written with the Go binding.
//
//	nrgocap -i IFACE [-c COUNT] [-s SNAPLEN] [-B BLOCK_KIB] [-n BLOCKS] [-p] [-q] [-v]
//	        [--netns NAME] [--immediate] [-w FILE [-F pcap|pcap-ns|pcapng]]
//	nrgocap -r FILE [-c COUNT] [-q] [-v] [-w FILE ...]
//
// Stops after COUNT packets or on SIGINT/SIGTERM (Break from the signal
// goroutine), then prints on stderr exactly one line, as nrcap does:
//
//	RESULT packets=<packets seen> drops=<lifetime kernel drops>
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"netring"
)

var (
	iface     = flag.String("i", "", "interface to capture on")
	count     = flag.Uint64("c", 0, "stop after COUNT packets")
	snaplen   = flag.Uint("s", 0, "bytes to capture per packet")
	blockK    = flag.Uint("B", 0, "ring block size in KiB (power of two)")
	blocks    = flag.Uint("n", 0, "number of ring blocks")
	noPromisc = flag.Bool("p", false, "do not put the interface in promiscuous mode")
	quiet     = flag.Bool("q", false, "quiet: no line per packet")
	verbose   = flag.Bool("v", false, "verbose per-packet lines")
	wfile     = flag.String("w", "", "write packets to a capture file")
	format    = flag.String("F", "pcap", "pcap, pcap-ns or pcapng")
	rfile     = flag.String("r", "", "read packets from a pcap or pcapng file")
	netns     = flag.String("netns", "", "capture in network namespace NAME (/run/netns/NAME)")
	immediate = flag.Bool("immediate", false, "hand each frame over at once (TPACKET_V2 frame ring, libpcap's immediate mode)")
)

type state struct {
	packets uint64
	bytes   uint64
	out     *bufio.Writer
	w       *netring.Writer
}

func (st *state) print(p netring.Packet) {
	d := p.Data
	t := p.Timestamp.UTC()
	fmt.Fprintf(st.out, "%02d:%02d:%02d.%09d len %d cap %d", t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), p.Length, p.CaptureLength)
	if len(d) >= 14 {
		fmt.Fprintf(st.out, " %x > %x ethertype 0x%04x", d[6:12], d[0:6], int(d[12])<<8|int(d[13]))
	}
	if *verbose {
		fmt.Fprintf(st.out, " ifindex %d type %d flags 0x%x", p.InterfaceIndex, p.PktType, p.Flags)
	}
	st.out.WriteByte('\n')
}

// take counts (and prints, writes) a batch; true once COUNT is reached.
func (st *state) take(b *netring.Batch) (bool, error) {
	if st.w != nil && *count == 0 {
		if err := st.w.WriteBatch(b); err != nil {
			return true, err
		}
	}
	if *quiet && st.w == nil && *count == 0 {
		// The plain counting loop (-q): touch every descriptor, as nrcap's
		// callback is called for each; Window copies 64 descriptors at a
		// time, read while in cache (Desc.Data is inlined).
		var bytes, n uint64
		for w := b.Window(); w != nil; w = b.Window() {
			for i := range w {
				bytes += uint64(len(w[i].Data()))
			}
			n += uint64(len(w))
		}
		if err := b.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "nrgocap: %v\n", err)
		}
		st.bytes += bytes
		st.packets += n
		return false, nil
	}
	for i := 0; i < b.Len(); i++ {
		st.bytes += uint64(len(b.Data(i)))
		st.packets++
		if st.w != nil && *count != 0 {
			p := b.At(i)
			if err := st.w.WritePacket(p.CaptureInfo, p.Data); err != nil {
				return true, err
			}
		}
		if !*quiet {
			st.print(b.At(i))
		}
		if *count != 0 && st.packets >= *count {
			return true, nil
		}
	}
	return false, nil
}

func die(err error) {
	fmt.Fprintf(os.Stderr, "nrgocap: %v\n", err)
	os.Exit(1)
}

func main() {
	flag.Parse()
	if (*iface == "") == (*rfile == "") {
		flag.Usage()
		os.Exit(2)
	}
	st := &state{out: bufio.NewWriterSize(os.Stdout, 1<<16)}
	if *wfile != "" {
		f := map[string]netring.Format{"pcap": netring.FormatPcap, "pcap-ns": netring.FormatPcapNs, "pcapng": netring.FormatPcapng}
		fm, ok := f[*format]
		if !ok {
			fmt.Fprintf(os.Stderr, "nrgocap: unknown format '%s' (pcap, pcap-ns, pcapng)\n", *format)
			os.Exit(2)
		}
		w, err := netring.CreateWriter(*wfile, fm, &netring.WriterConfig{Snaplen: uint32(*snaplen), IfName: *iface})
		if err != nil {
			die(err)
		}
		st.w = w
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	if *rfile != "" {
		r, err := netring.OpenReader(*rfile)
		if err != nil {
			die(err)
		}
		for {
			select {
			case <-sigs:
				goto doneFile
			default:
			}
			b, err := r.NextBatch()
			if err == io.EOF {
				break
			}
			if err != nil {
				die(err)
			}
			if done, err := st.take(b); err != nil {
				die(err)
			} else if done {
				break
			}
		}
	doneFile:
		r.Close()
		st.out.Flush()
		if st.w != nil {
			if err := st.w.Close(); err != nil {
				die(err)
			}
		}
		fmt.Fprintf(os.Stderr, "RESULT packets=%d drops=0\n", st.packets)
		return
	}

	cfg := netring.DefaultConfig()
	if *snaplen != 0 {
		cfg.Snaplen = uint32(*snaplen)
	}
	if *blockK != 0 {
		cfg.BlockSize = uint32(*blockK) * 1024
	}
	if *blocks != 0 {
		cfg.BlockCount = uint32(*blocks)
	}
	cfg.Promiscuous = !*noPromisc
	cfg.Netns = *netns
	cfg.Immediate = *immediate
	capt, err := netring.Open(*iface, &cfg)
	if err != nil {
		if st.w != nil {
			st.w.Close()
		}
		die(err)
	}
	go func() {
		<-sigs
		capt.Break()
	}()
	if info, err := capt.Info(); err == nil {
		if info.Warning != "" {
			fmt.Fprintf(os.Stderr, "nrgocap: warning: %s\n", info.Warning)
		}
		if !*quiet {
			fmt.Fprintf(os.Stderr, "nrgocap: capturing on %s, ring %d x %d KiB\n", *iface, info.BlockCount, info.BlockSize/1024)
		}
	}
	status := 0
	for {
		b, err := capt.NextBatch(time.Second)
		if err == nil {
			done, err := st.take(b)
			if err != nil {
				fmt.Fprintf(os.Stderr, "nrgocap: %v\n", err)
				status = 1
			}
			if done {
				break
			}
			continue
		}
		if err == netring.ErrTimeout || err == netring.ErrIfaceDown {
			if st.w != nil {
				st.w.Flush()
			}
			continue
		}
		if err == netring.ErrBreak {
			break
		}
		var ne *netring.Error
		if errors.As(err, &ne) {
			fmt.Fprintf(os.Stderr, "nrgocap: %v\n", ne)
		}
		status = 1
		break
	}
	st.out.Flush()
	total, err := capt.Stats()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nrgocap: stats: %v\n", err)
	}
	capt.Close()
	if st.w != nil {
		st.w.SetStats(total.Packets+total.Drops, total.Drops)
		if err := st.w.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "nrgocap: %v\n", err)
			status = 1
		}
	}
	fmt.Fprintf(os.Stderr, "RESULT packets=%d drops=%d\n", st.packets, total.Drops)
	os.Exit(status)
}
