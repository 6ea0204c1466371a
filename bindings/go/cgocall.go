//go:build !netring_fastcall || go1.23

package netring

// #include "helpers.h"
import "C"

// nextNB is go_next_nb(g): an ordinary cgo call, the default (fastcall.go
// is the opt-in direct call of -tags netring_fastcall on Go < 1.23).
func nextNB(g *C.go_h) C.int { return C.go_next_nb(g) }

// fillWin is go_fill_win(g): an ordinary cgo call.
func fillWin(g *C.go_h) { C.go_fill_win(g) }
