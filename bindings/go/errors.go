package netring

// #include "helpers.h"
import "C"

import (
	"fmt"
)

// Status is a netring status code (nr_status). Positive values are not
// errors; negative ones are NR_E_*. A Status is an error whose text is
// nr_strerror()'s; errors.Is(err, netring.ErrNoDevice) works on an *Error.
type Status int

// The statuses. ErrTimeout and ErrBreak are returned as they are (sentinel
// errors: compare with ==); files end with io.EOF.
const (
	ErrTimeout   Status = C.NR_TIMEOUT    // the timeout passed, nothing was ready
	ErrBreak     Status = C.NR_BREAK      // Break() was called
	ErrIfaceDown Status = C.NR_IFACE_DOWN // the timeout passed while the interface was down

	ErrInvalidArg  Status = C.NR_E_INVALID_ARG
	ErrPermission  Status = C.NR_E_PERMISSION
	ErrNoDevice    Status = C.NR_E_NO_DEVICE
	ErrNoMemory    Status = C.NR_E_NO_MEMORY
	ErrConfig      Status = C.NR_E_CONFIG
	ErrIfaceGone   Status = C.NR_E_IFACE_GONE
	ErrBusy        Status = C.NR_E_BUSY
	ErrBadBatch    Status = C.NR_E_BAD_BATCH
	ErrUnsupported Status = C.NR_E_UNSUPPORTED
	ErrMalformed   Status = C.NR_E_MALFORMED
	ErrTooBig      Status = C.NR_E_TOO_BIG
	ErrSystem      Status = C.NR_E_SYSTEM
	ErrInternal    Status = C.NR_E_INTERNAL
	ErrClosed      Status = -1000 // the Go handle was closed (not a library status)
)

func (s Status) Error() string {
	if s == ErrClosed {
		return "netring: handle is closed"
	}
	return "netring: " + C.GoString(C.nr_strerror(C.int(s)))
}

// Error is a failed netring call: the operation, the status and the
// library's sentence (nr_last_error(), copied in the same cgo call as the
// failing call, so it is the right thread's).
type Error struct {
	Op      string // "open", "next batch", ...
	Status  Status // negative NR_E_* value
	Message string // the library's sentence: what was wrong, what to do
}

func (e *Error) Error() string {
	return fmt.Sprintf("netring: %s: %s (%s)", e.Op, e.Message, C.GoString(C.nr_strerror(C.int(e.Status))))
}

// Unwrap gives the Status, so errors.Is(err, netring.ErrNoDevice) works.
func (e *Error) Unwrap() error { return e.Status }

func mkerr(op string, rc C.int, msg string) error {
	if rc >= 0 {
		return Status(rc)
	}
	return &Error{Op: op, Status: Status(rc), Message: msg}
}

// query runs call, a query of handle g, and says how it went: ErrClosed
// (call not run) when the handle is closed, else check(op, call's status,
// g's sentence).
func query(closed bool, g *C.go_h, op string, call func() C.int) error {
	if closed {
		return ErrClosed
	}
	return check(op, call(), &g.err[0])
}

// check is nil when rc is NR_OK, else mkerr(op, rc, the sentence at msg).
func check(op string, rc C.int, msg *C.char) error {
	if rc != C.NR_OK {
		return mkerr(op, rc, C.GoString(msg))
	}
	return nil
}

// Version is the library's version at run time ("MAJOR.MINOR.PATCH").
func Version() string { return C.GoString(C.nr_version()) }
