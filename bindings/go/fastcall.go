//go:build netring_fastcall && !go1.23

package netring

/*
#include "helpers.h"

// go_next_nb in the shape of a function called straight on the system
// stack: one pointer argument, the result in the handle. Not static: Go
// takes its address (defined in this file's C unit only).
void netring_go_next_nb_tramp(void *arg) {
    go_h *g = arg;
    g->nb_rc = go_next_nb(g);
}
void netring_go_fill_win_tramp(void *arg) { go_fill_win(arg); }
*/
import "C"

import "unsafe"

// Opt-in (`go build -tags netring_fastcall`, Go < 1.23): asmcgocall runs
// a C function on the thread's system stack without
// entersyscall/exitsyscall (the runtime's own way of calling C that
// cannot block). Without the tag, and on Go 1.23 and later (which refuse
// such links), cgocall.go makes the ordinary cgo call: the default, with
// no link into the runtime (README: "How waiting works" has the measured
// difference).
//
//go:linkname asmcgocall runtime.asmcgocall
//go:noescape
func asmcgocall(fn, arg unsafe.Pointer) int32

// nextNB is go_next_nb(g) for a capture waiting in the netpoller. The
// call never blocks (timeout 0) and copies no descriptor: a few
// microseconds, so it keeps its P like Go code would. An ordinary cgo call
// would first wake sysmon (asleep while the goroutine was parked), which
// then polls every 20 us while the batch is walked: measured at ~2 ns per
// 60-byte packet, more than the call itself. The goroutine cannot be
// preempted during the call (a GC stop waits the few microseconds).
func nextNB(g *C.go_h) C.int {
	asmcgocall(unsafe.Pointer(C.netring_go_next_nb_tramp), unsafe.Pointer(g))
	return g.nb_rc
}

// fillWin is go_fill_win(g) (Batch.Window): up to 64 descriptors, a
// microsecond or two, called the same way for the same reason.
func fillWin(g *C.go_h) { asmcgocall(unsafe.Pointer(C.netring_go_fill_win_tramp), unsafe.Pointer(g)) }
