//go:build !go1.23

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
*/
import "C"

import "unsafe"

// asmcgocall runs a C function on the thread's system stack without
// entersyscall/exitsyscall (the runtime's own way of calling C that
// cannot block). Go 1.23 refuses such links; fastcall_go123.go is then
// the ordinary cgo call.
//
//go:linkname asmcgocall runtime.asmcgocall
//go:noescape
func asmcgocall(fn, arg unsafe.Pointer) int32

// nextNB is go_next_nb(g) for a capture waiting in the netpoller. The
// call never blocks (timeout 0) and lasts what copying one block's
// descriptors lasts (~0.1-0.3 ms for 30k packets), so it keeps its P like
// Go code would: an ordinary cgo call would first wake sysmon (asleep
// while the goroutine was parked) and leave it polling every 20 us while
// the batch is walked, which costs more than the walk's cgo call itself.
// The goroutine cannot be preempted during the call (a GC stop waits for
// it to return).
func nextNB(g *C.go_h) C.int {
	asmcgocall(unsafe.Pointer(C.netring_go_next_nb_tramp), unsafe.Pointer(g))
	return g.nb_rc
}
