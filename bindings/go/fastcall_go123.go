//go:build go1.23 || netring_nofastcall

package netring

// #include "helpers.h"
import "C"

// nextNB is go_next_nb(g): an ordinary cgo call (see fastcall.go); used
// from Go 1.23 on and with -tags netring_nofastcall.
func nextNB(g *C.go_h) C.int { return C.go_next_nb(g) }

// fillWin is go_fill_win(g): an ordinary cgo call.
func fillWin(g *C.go_h) { C.go_fill_win(g) }
