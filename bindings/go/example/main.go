// Capture COUNT packets (default 5) on IFACE with the netring Go binding,
// print each one's length and first bytes, then the capture's stats.
//
//	example IFACE [COUNT]
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"

	"netring"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: example IFACE [COUNT]")
		os.Exit(2)
	}
	count := 5
	if len(os.Args) > 2 {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "example: bad COUNT:", err)
			os.Exit(2)
		}
		count = n
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if err := capture(os.Args[1], count, out); err != nil {
		out.Flush()
		fmt.Fprintln(os.Stderr, "example:", err) // *netring.Error: the library's sentence
		os.Exit(1)
	}
}

func capture(iface string, count int, out *bufio.Writer) error {
	cfg := netring.DefaultConfig() // the library's defaults; change what you need
	cfg.Snaplen = 256
	c, err := netring.Open(iface, &cfg)
	if err != nil {
		return err
	}
	defer c.Close()

	seen := 0
	for seen < count {
		b, err := c.NextBatch(time.Second) // releases the previous batch
		if err == netring.ErrTimeout || err == netring.ErrIfaceDown {
			continue // not failures: wait again
		}
		if err == netring.ErrBreak {
			break // c.Break() from another goroutine
		}
		if err != nil {
			return err
		}
		for i := 0; i < b.Len() && seen < count; i++ {
			p := b.At(i) // p.Data: the bytes in the ring (zero copy), valid until the next NextBatch
			n := len(p.Data)
			if n > 16 {
				n = 16
			}
			fmt.Fprintf(out, "%d bytes: % x\n", p.Length, p.Data[:n])
			seen++
		}
	}

	st, err := c.Stats()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stats: packets=%d drops=%d\n", st.Packets, st.Drops)
	return nil
}
