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

func cstr(s string) *C.char { return C.CString(s) }
func cfree(p *C.char)       { C.free(unsafe.Pointer(p)) }

// setNonZero sets a config field to v unless v is 0 (0 keeps the
// library's default, which *_config_init wrote).
func setNonZero[T ~uint32 | ~int](dst *C.uint32_t, v T) {
	if v != 0 {
		*dst = C.uint32_t(v)
	}
}
