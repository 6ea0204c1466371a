package netring

/*
#cgo pkg-config: netring
#include "helpers.h"
*/
import "C"

import "unsafe"

// errbuf is a buffer for the library's sentence, filled by the C helpers.
type errbuf [C.GO_ERRLEN]C.char

func (e *errbuf) ptr() *C.char   { return &e[0] }
func (e *errbuf) String() string { return C.GoString(&e[0]) }

// cstrs holds the C copies of Go strings that one call passes to C
// (`defer cs.free()` releases them all).
type cstrs []*C.char

// str is a C copy of s, freed by free.
func (cs *cstrs) str(s string) *C.char {
	p := C.CString(s)
	*cs = append(*cs, p)
	return p
}

func (cs *cstrs) free() {
	for _, p := range *cs {
		C.free(unsafe.Pointer(p))
	}
}

// setNonZero sets a config field to v unless v is 0 (0 keeps the
// library's default, which *_config_init wrote).
func setNonZero[T ~uint32 | ~int](dst *C.uint32_t, v T) {
	if v != 0 {
		*dst = C.uint32_t(v)
	}
}
