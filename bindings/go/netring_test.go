package netring_test

// Without NR_TEST_IF_A only the tests that need no network run. With
// NR_TEST_IF_A/NR_TEST_IF_B (bindings/netns.sh runs `go test` inside a
// throwaway namespace holding the veth pair A <-> B), a raw AF_PACKET
// socket sends on B what the capture on A must see.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"netring"
)

const testEthertype = 0x88b5

// frame is the frame of tests/common: dst, src, EtherType 0x88b5, a 4-byte
// sequence number, then a pattern derived from it.
func frame(n int, seq uint32) []byte {
	f := []byte{0x02, 0xcb, 0, 0, 0, 0xff, 0x02, 0x6e, 0x72, 0, 0, 1, 0x88, 0xb5, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(f[14:], seq)
	for i := 18; i < n; i++ {
		f = append(f, byte(uint32(i)*31+seq))
	}
	return f
}

// testFrames returns n test frames of size bytes, numbered 0 .. n-1.
func testFrames(n, size int) [][]byte {
	f := make([][]byte, n)
	for i := range f {
		f[i] = frame(size, uint32(i))
	}
	return f
}

// sameFrames fails the test unless got holds exactly want, in order.
func sameFrames(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("captured %d of %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

func isTestFrame(d []byte) bool {
	return len(d) >= 18 && binary.BigEndian.Uint16(d[12:]) == testEthertype
}

func TestErrors(t *testing.T) {
	err := error(&netring.Error{Op: "open", Status: netring.ErrNoDevice, Message: "interface 'x' not found"})
	if !errors.Is(err, netring.ErrNoDevice) || errors.Is(err, netring.ErrConfig) {
		t.Fatal("errors.Is on *Error")
	}
	if !strings.Contains(err.Error(), "interface 'x' not found") {
		t.Fatal(err)
	}
	if netring.ErrTimeout.Error() == "" || netring.Version() == "" {
		t.Fatal("empty text")
	}
}

func TestBadConfigSentence(t *testing.T) {
	cfg := netring.DefaultConfig()
	cfg.BlockSize = 3000
	_, err := netring.Open("lo", &cfg)
	var ne *netring.Error
	if !errors.As(err, &ne) || ne.Status != netring.ErrConfig {
		t.Fatalf("want ErrConfig, got %v", err)
	}
	if !strings.Contains(ne.Message, "block_size") {
		t.Fatalf("sentence does not name the field: %q", ne.Message)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := netring.DefaultConfig()
	if c.BlockSize == 0 || c.BlockCount == 0 || !c.Promiscuous || c.Snaplen != 262144 {
		t.Fatalf("%+v", c)
	}
}

// fileFrame is packet i of writeFile's files: 60 bytes when i is even,
// 1514 when it is odd.
func fileFrame(i int) []byte {
	if i%2 == 1 {
		return frame(1514, uint32(i))
	}
	return frame(60, uint32(i))
}

// openReader opens path; the reader closes at the end of the test.
func openReader(t *testing.T, path string) *netring.Reader {
	t.Helper()
	r, err := netring.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll reads r to its end with ReadPacketData (copies), checking that
// each packet's CaptureLength is its data's length.
func readAll(t *testing.T, r *netring.Reader) [][]byte {
	t.Helper()
	var all [][]byte
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.CaptureLength != len(d) {
			t.Fatal("CaptureLength")
		}
		all = append(all, d)
	}
}

func writeFile(t *testing.T, n int) string {
	path := filepath.Join(t.TempDir(), "t.pcap")
	w, err := netring.CreateWriter(path, netring.FormatPcapNs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f := fileFrame(i)
		ci := netring.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if w.Packets() != uint64(n) {
		t.Fatalf("writer counted %d", w.Packets())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFileBatches(t *testing.T) {
	const n = 5000
	path := writeFile(t, n)
	r := openReader(t, path)
	if lt, _ := r.LinkType(); lt != 1 {
		t.Fatalf("link type %d", lt)
	}
	seen := 0
	for {
		b, err := r.NextBatch()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < b.Len(); i++ {
			p := b.At(i)
			if !bytes.Equal(p.Data, fileFrame(seen)) || p.Length != len(p.Data) ||
				p.Timestamp.UnixNano() != time.Unix(1700000000, int64(seen)).UnixNano() {
				t.Fatalf("packet %d differs", seen)
			}
			seen++
		}
	}
	if seen != n {
		t.Fatalf("read %d of %d", seen, n)
	}
}

func TestBatchRandomAccess(t *testing.T) {
	path := writeFile(t, 3000)
	r := openReader(t, path)
	b, err := r.NextBatch()
	if err != nil {
		t.Fatal(err)
	}
	n := b.Len()
	if n < 600 {
		t.Fatalf("first batch holds %d packets: want several hundred", n)
	}
	want := fileFrame
	// forwards, back to earlier packets, then jumps
	for _, i := range []int{0, 1, 255, 256, 257, 511, 512, n - 1, 0, 300, 299, 600, 5} {
		if !bytes.Equal(b.Data(i), want(i)) || b.At(i).Length != len(want(i)) {
			t.Fatalf("packet %d of %d differs", i, n)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("At(Len()) did not panic")
			}
		}()
		b.At(n)
	}()
	if b.Err() != nil {
		t.Fatal(b.Err())
	}
}

func TestFilePacketData(t *testing.T) {
	path := writeFile(t, 300)
	r := openReader(t, path)
	keep := readAll(t, r)
	for i, d := range keep { // copies stay valid after the batches are gone
		if !bytes.Equal(d, fileFrame(i)) {
			t.Fatalf("packet %d", i)
		}
	}
	if len(keep) != 300 {
		t.Fatal(len(keep))
	}
}

func TestMissingFile(t *testing.T) {
	_, err := netring.OpenReader("/nonexistent/x.pcap")
	var ne *netring.Error
	if !errors.As(err, &ne) || !strings.Contains(ne.Message, "/nonexistent/x.pcap") {
		t.Fatalf("%v", err)
	}
}

// ---- veth pair

func veth(t *testing.T) (string, string) {
	a, b := os.Getenv("NR_TEST_IF_A"), os.Getenv("NR_TEST_IF_B")
	if a == "" || b == "" {
		t.Skip("needs NR_TEST_IF_A/B: run through bindings/netns.sh")
	}
	return a, b
}

// openOn opens a capture on iface with cfg, closed when the test ends.
func openOn(t *testing.T, iface string, cfg *netring.Config) *netring.Capture {
	t.Helper()
	c, err := netring.Open(iface, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func smallRing() *netring.Config {
	c := netring.DefaultConfig()
	c.BlockSize = 1 << 20
	c.BlockCount = 8
	c.BlockTimeout = 5 * time.Millisecond
	return &c
}

func send(t *testing.T, ifname string, frames [][]byte) {
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer syscall.Close(fd)
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Error(err)
		return
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		t.Error(err)
		return
	}
	for _, f := range frames {
		for {
			_, err := syscall.Write(fd, f)
			if err == nil {
				break
			}
			if err != syscall.ENOBUFS && err != syscall.EAGAIN && err != syscall.EINTR {
				t.Error(err)
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// collect copies the test frames seen until want arrived and 200 ms passed quietly.
func collect(t *testing.T, c *netring.Capture, want int) [][]byte {
	var got [][]byte
	start, last := time.Now(), time.Now()
	for time.Since(start) < 10*time.Second {
		if len(got) >= want && time.Since(last) > 200*time.Millisecond {
			break
		}
		if nextTestFrames(t, c.NextBatch, 20*time.Millisecond, &got) != nil {
			last = time.Now()
		}
	}
	return got
}

// nextTestFrames waits up to timeout for next's batch and appends copies of
// its test frames to *got; it returns the batch, nil when the wait timed out.
func nextTestFrames(t *testing.T, next func(time.Duration) (*netring.Batch, error), timeout time.Duration, got *[][]byte) *netring.Batch {
	t.Helper()
	b, err := next(timeout)
	if err == netring.ErrTimeout {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < b.Len(); i++ {
		if d := b.Data(i); isTestFrame(d) {
			*got = append(*got, append([]byte(nil), d...))
		}
	}
	return b
}

func testExact(t *testing.T, size int) {
	a, b := veth(t)
	c := openOn(t, a, smallRing())
	const n = 2000
	frames := testFrames(n, size)
	done := make(chan struct{})
	go func() { send(t, b, frames); close(done) }()
	got := collect(t, c, n)
	<-done
	sameFrames(t, got, frames)
	total, delta, err := c.ReadStats()
	if err != nil {
		t.Fatal(err)
	}
	if total.Drops != 0 || total.Packets < n || total.Delivered < n || delta.Packets != total.Packets {
		t.Fatalf("stats %+v delta %+v", total, delta)
	}
	if _, delta, _ = c.ReadStats(); delta.Packets != 0 {
		t.Fatalf("delta after delta: %+v", delta)
	}
}

func TestVethExact60(t *testing.T)   { testExact(t, 60) }
func TestVethExact1514(t *testing.T) { testExact(t, 1514) }

// Immediate mode: every frame byte-exact, and a lone frame delivered long
// before the 10 s block timeout a block ring would wait for.
func TestVethImmediate(t *testing.T) {
	a, b := veth(t)
	cfg := smallRing()
	cfg.BlockTimeout = 10 * time.Second
	cfg.Immediate = true
	c := openOn(t, a, cfg)
	const n = 2000
	frames := testFrames(n, 60)
	done := make(chan struct{})
	go func() { send(t, b, frames); close(done) }()
	got := collect(t, c, n)
	<-done
	sameFrames(t, got, frames)
	lone := frame(60, 4242)
	start := time.Now()
	send(t, b, [][]byte{lone})
	for {
		bt, err := c.NextBatch(time.Second)
		if err != nil {
			t.Fatalf("lone frame: %v", err)
		}
		if bt.Len() > 0 && bytes.Equal(bt.Data(bt.Len()-1), lone) {
			break
		}
	}
	if lag := time.Since(start); lag > 200*time.Millisecond {
		t.Fatalf("a lone frame took %v in immediate mode", lag)
	}
}

func TestVethZeroCopyReadPacketData(t *testing.T) {
	a, b := veth(t)
	cfg := smallRing()
	cfg.Timeout = 200 * time.Millisecond
	c := openOn(t, a, cfg)
	const n = 500
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = frame(60+i, uint32(i))
	}
	go send(t, b, frames)
	seen := 0
	for seen < n {
		d, ci, err := c.ZeroCopyReadPacketData()
		if err == netring.ErrTimeout {
			t.Fatalf("timeout after %d packets", seen)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !isTestFrame(d) {
			continue
		}
		if !bytes.Equal(d, frames[seen]) || ci.CaptureLength != len(d) || ci.Length != len(d) || ci.Timestamp.IsZero() {
			t.Fatalf("packet %d differs", seen)
		}
		seen++
	}
}

func TestVethBreakFromAnotherGoroutine(t *testing.T) {
	a, _ := veth(t)
	c := openOn(t, a, smallRing())
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.Break()
	}()
	start := time.Now()
	_, err := c.NextBatch(-1)
	if err != netring.ErrBreak {
		t.Fatalf("want ErrBreak, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("break took too long")
	}
	// ReadPacketData (blocking by default) ends the same way
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Break()
	}()
	if _, _, err := c.ReadPacketData(); err != netring.ErrBreak {
		t.Fatalf("want ErrBreak, got %v", err)
	}
	c.Close()
	c.Break() // after Close: a no-op, not a crash
}

// The wait is in Go's netpoller: its own timeout, a Break made before the
// wait, and no stale wake-up afterwards (Break's past deadline is reset).
func TestVethTimeoutAndEarlyBreak(t *testing.T) {
	a, _ := veth(t)
	c := openOn(t, a, smallRing())
	for i := 0; i < 2; i++ {
		start := time.Now()
		if _, err := c.NextBatch(60 * time.Millisecond); err != netring.ErrTimeout {
			t.Fatalf("want ErrTimeout, got %v", err)
		}
		if d := time.Since(start); d < 50*time.Millisecond || d > 3*time.Second {
			t.Fatalf("timeout of 60 ms took %v", d)
		}
		c.Break()
		start = time.Now()
		if _, err := c.NextBatch(-1); err != netring.ErrBreak {
			t.Fatalf("want ErrBreak, got %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("early break took %v", d)
		}
	}
	if _, err := c.NextBatch(0); err != netring.ErrTimeout {
		t.Fatalf("non-blocking: want ErrTimeout, got %v", err)
	}
}

// Window walks a batch in order, byte-exact; Len/At afterwards see the
// same packets.
func TestVethWindow(t *testing.T) {
	a, b := veth(t)
	c := openOn(t, a, smallRing())
	const n = 3000
	frames := testFrames(n, 60)
	done := make(chan struct{})
	go func() { send(t, b, frames); close(done) }()
	var got [][]byte
	start, last := time.Now(), time.Now()
	for time.Since(start) < 10*time.Second && (len(got) < n || time.Since(last) < 200*time.Millisecond) {
		bt, err := c.NextBatch(20 * time.Millisecond)
		if err == netring.ErrTimeout {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		walked := 0
		for w := bt.Window(); w != nil; w = bt.Window() {
			if len(w) > 64 {
				t.Fatalf("window of %d", len(w))
			}
			for i := range w {
				if d := w[i].Data(); isTestFrame(d) {
					got = append(got, append([]byte(nil), d...))
					if p := w[i].Packet(); p.CaptureLength != len(d) || p.Timestamp.IsZero() {
						t.Fatalf("packet %+v", p.CaptureInfo)
					}
				}
			}
			walked += len(w)
		}
		if bt.Err() != nil || bt.Len() != walked {
			t.Fatalf("window walked %d, Len %d, err %v", walked, bt.Len(), bt.Err())
		}
		if walked > 0 && !bytes.Equal(bt.At(walked-1).Data, bt.Data(walked-1)) {
			t.Fatal("At/Data after Window differ")
		}
		last = time.Now()
	}
	<-done
	sameFrames(t, got, frames)
}

// ownVeth makes a second veth pair in the test namespace (removed at the end).
func ownVeth(t *testing.T, name string) {
	veth(t)
	if out, err := exec.Command("ip", "link", "add", name+"a", "type", "veth", "peer", "name", name+"b").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", name+"a").Run() })
	for _, i := range []string{name + "a", name + "b"} {
		if out, err := exec.Command("ip", "link", "set", i, "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set up: %v %s", err, out)
		}
	}
}

// An interface removed under a waiting NextBatch: the library's error, not
// a wait in the netpoller forever.
func TestVethInterfaceRemoved(t *testing.T) {
	ownVeth(t, "nrgorm")
	c := openOn(t, "nrgorma", smallRing())
	var err error
	go func() {
		time.Sleep(200 * time.Millisecond)
		exec.Command("ip", "link", "del", "nrgorma").Run()
	}()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		_, err = c.NextBatch(-1)
		if err != nil && err != netring.ErrTimeout && err != netring.ErrIfaceDown {
			break
		}
	}
	var ne *netring.Error
	if !errors.Is(err, netring.ErrIfaceGone) || !errors.As(err, &ne) || ne.Message == "" {
		t.Fatalf("want ErrIfaceGone with the library's sentence, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("removal noticed after %v", d)
	}
}

// An interface taken down under a waiting NextBatch: its timeout still
// holds (ErrIfaceDown or ErrTimeout), Break still works, and frames are
// captured again once it is up.
func TestVethInterfaceDown(t *testing.T) {
	ownVeth(t, "nrgodn")
	c := openOn(t, "nrgodna", smallRing())
	if out, err := exec.Command("ip", "link", "set", "nrgodna", "down").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for i := 0; i < 3; i++ {
		start := time.Now()
		_, err := c.NextBatch(150 * time.Millisecond)
		if err != netring.ErrIfaceDown && err != netring.ErrTimeout {
			t.Fatalf("down: want ErrIfaceDown or ErrTimeout, got %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("timeout of 150 ms took %v while down", d)
		}
	}
	go func() { time.Sleep(100 * time.Millisecond); c.Break() }()
	if _, err := c.NextBatch(-1); err != netring.ErrBreak {
		t.Fatalf("down: want ErrBreak, got %v", err)
	}
	if out, err := exec.Command("ip", "link", "set", "nrgodna", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	frames := testFrames(100, 60)
	time.Sleep(100 * time.Millisecond)
	send(t, "nrgodnb", frames)
	got := collect(t, c, len(frames))
	if len(got) != len(frames) {
		t.Fatalf("after up: captured %d of %d", len(got), len(frames))
	}
}

func TestVethBadInterface(t *testing.T) {
	veth(t)
	_, err := netring.Open("nrnosuch0", nil)
	var ne *netring.Error
	if !errors.As(err, &ne) || !errors.Is(err, netring.ErrNoDevice) {
		t.Fatalf("want *Error with ErrNoDevice, got %v", err)
	}
	if !strings.Contains(ne.Message, "nrnosuch0") || !strings.Contains(err.Error(), ne.Message) {
		t.Fatalf("sentence: %q", ne.Message)
	}
}

func TestVethNetnsField(t *testing.T) {
	a, b := veth(t)
	cfg := smallRing()
	cfg.Netns = os.Getenv("NR_TEST_NS")
	c := openOn(t, a, cfg)
	go send(t, b, [][]byte{frame(100, 7)})
	if got := collect(t, c, 1); len(got) != 1 || !bytes.Equal(got[0], frame(100, 7)) {
		t.Fatalf("got %d frames", len(got))
	}
	cfg.Netns = "nrnosuchns"
	if _, err := netring.Open(a, cfg); err == nil || !strings.Contains(err.Error(), "nrnosuchns") {
		t.Fatalf("unknown namespace: %v", err)
	}
}

func TestVethSetBPF(t *testing.T) {
	a, b := veth(t)
	c := openOn(t, a, smallRing())
	// accept frames whose sequence number is even
	prog := []netring.RawInstruction{
		{Op: 0x30, K: 17},       // ldb [17]
		{Op: 0x45, Jt: 1, K: 1}, // jset #1 -> drop
		{Op: 0x06, K: 262144},   // ret all
		{Op: 0x06, K: 0},        // ret 0
	}
	if err := c.SetBPF(prog); err != nil {
		t.Fatal(err)
	}
	frames := testFrames(100, 60)
	go send(t, b, frames)
	got := collect(t, c, 50)
	if len(got) != 50 {
		t.Fatalf("got %d", len(got))
	}
	for _, f := range got {
		if f[17]%2 != 0 {
			t.Fatal("odd frame passed the filter")
		}
	}
	bad := []netring.RawInstruction{{Op: 0xffff}}
	if err := c.SetBPF(bad); !errors.Is(err, netring.ErrConfig) {
		t.Fatalf("bad program: %v", err)
	}
}

func TestVethInjector(t *testing.T) {
	a, b := veth(t)
	c := openOn(t, a, smallRing())
	inj, err := netring.OpenInjector(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inj.Close()
	frames := testFrames(100, 200)
	if q, err := inj.InjectBatch(frames[:50]); err != nil || q != 50 {
		t.Fatalf("%d %v", q, err)
	}
	for _, f := range frames[50:] {
		if err := inj.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := inj.WaitDrained(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 100)
	if len(got) != 100 {
		t.Fatalf("got %d", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], frames[i]) {
			t.Fatalf("frame %d", i)
		}
	}
}

func TestVethWriteBatch(t *testing.T) {
	a, b := veth(t)
	c, err := netring.Open(a, smallRing())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.pcapng")
	w, err := netring.CreateWriter(path, netring.FormatPcapng, &netring.WriterConfig{IfName: a})
	if err != nil {
		t.Fatal(err)
	}
	go send(t, b, [][]byte{frame(60, 1), frame(1514, 2)})
	n := 0
	for start := time.Now(); n < 2 && time.Since(start) < 5*time.Second; {
		bt, err := c.NextBatch(50 * time.Millisecond)
		if err == netring.ErrTimeout {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteBatch(bt); err != nil {
			t.Fatal(err)
		}
		n += bt.Len()
	}
	c.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openReader(t, path)
	got := readAll(t, r)
	if len(got) != 2 || !bytes.Equal(got[0], frame(60, 1)) || !bytes.Equal(got[1], frame(1514, 2)) {
		t.Fatalf("file holds %d frames", len(got))
	}
}

func TestVethXDP(t *testing.T) {
	a, b := veth(t)
	x, err := netring.OpenXDP(a, 0, &netring.XDPConfig{FrameCount: 512, AttachMode: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.ZeroCopy() {
		t.Fatal("veth has no zero-copy")
	}
	sizes := []int{60, 61, 100, 1000, 1514}
	frames := make([][]byte, len(sizes))
	for i, n := range sizes {
		frames[i] = frame(n, uint32(i))
	}
	go send(t, b, frames)
	var got [][]byte
	for start := time.Now(); len(got) < len(frames) && time.Since(start) < 5*time.Second; {
		if bt := nextTestFrames(t, x.NextBatch, 50*time.Millisecond, &got); bt != nil {
			bt.Release()
		}
	}
	sameFrames(t, got, frames)
	st, err := x.Stats()
	if err != nil || st.RxDropped+st.RxRingFull != 0 || st.RxPackets < uint64(len(frames)) {
		t.Fatalf("%+v %v", st, err)
	}
	go func() { time.Sleep(50 * time.Millisecond); x.Break() }()
	if _, err := x.NextBatch(-1); err != netring.ErrBreak {
		t.Fatalf("want ErrBreak, got %v", err)
	}
}
