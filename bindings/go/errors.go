package xproc

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Status is a libxproc status code (xproc_status_e in xproc.h); the values are stable.
type Status int

// The statuses of xproc.h, by name.
const (
	StatusOK              Status = 0
	StatusNoBroker        Status = 1
	StatusTimeout         Status = 2
	StatusEmpty           Status = 3
	StatusFull            Status = 4
	StatusTypeMismatch    Status = 5
	StatusClosed          Status = 6
	StatusDisconnected    Status = 7
	StatusLimit           Status = 8
	StatusKeyNotFound     Status = 9
	StatusNotOwner        Status = 10
	StatusBusy            Status = 11
	StatusBrokenBarrier   Status = 12
	StatusInvalidArgument Status = 13
	StatusNullArgument    Status = 14
	StatusShuttingDown    Status = 15
	StatusNotFound        Status = 16
	StatusOptionMismatch  Status = 17
	StatusInvalidName     Status = 18
	StatusInvalidValue    Status = 19
	StatusWrongType       Status = 20
	StatusOutOfRange      Status = 21
	StatusBrokerError     Status = 22
	StatusProtocolError   Status = 23
	StatusPanic           Status = 24
	StatusUnknownDelivery Status = 25
	StatusDenied          Status = 26
	StatusInterrupted     Status = 27
)

// Sentinel errors, one per status: test with errors.Is(err, xproc.ErrTimeout). Every error
// this package returns is an *Error that matches exactly one of them.
var (
	ErrNoBroker        = errors.New("xproc: no broker")
	ErrTimeout         = errors.New("xproc: timed out")
	ErrEmpty           = errors.New("xproc: empty")
	ErrFull            = errors.New("xproc: full")
	ErrTypeMismatch    = errors.New("xproc: the name holds an object of another type")
	ErrClosed          = errors.New("xproc: closed")
	ErrDisconnected    = errors.New("xproc: disconnected from the broker")
	ErrLimit           = errors.New("xproc: a broker limit refused the request")
	ErrKeyNotFound     = errors.New("xproc: no such key")
	ErrNotOwner        = errors.New("xproc: not the owner")
	ErrBusy            = errors.New("xproc: held by another connection")
	ErrBrokenBarrier   = errors.New("xproc: broken barrier")
	ErrInvalidArgument = errors.New("xproc: invalid argument")
	ErrShuttingDown    = errors.New("xproc: the broker is shutting down")
	ErrNotFound        = errors.New("xproc: no such object")
	ErrOptionMismatch  = errors.New("xproc: creation option differs from the object's")
	ErrInvalidName     = errors.New("xproc: invalid object name")
	ErrInvalidValue    = errors.New("xproc: invalid value")
	ErrWrongType       = errors.New("xproc: value of the wrong type")
	ErrOutOfRange      = errors.New("xproc: out of range")
	ErrBroker          = errors.New("xproc: broker error")
	ErrProtocol        = errors.New("xproc: protocol error")
	ErrUnknownDelivery = errors.New("xproc: unknown delivery")
	ErrDenied          = errors.New("xproc: denied by the broker's allow-lists")
	ErrInterrupted     = errors.New("xproc: interrupted")
	ErrInternal        = errors.New("xproc: internal error in libxproc")
)

var sentinels = map[Status]error{
	StatusNoBroker: ErrNoBroker, StatusTimeout: ErrTimeout, StatusEmpty: ErrEmpty,
	StatusFull: ErrFull, StatusTypeMismatch: ErrTypeMismatch, StatusClosed: ErrClosed,
	StatusDisconnected: ErrDisconnected, StatusLimit: ErrLimit,
	StatusKeyNotFound: ErrKeyNotFound, StatusNotOwner: ErrNotOwner, StatusBusy: ErrBusy,
	StatusBrokenBarrier: ErrBrokenBarrier, StatusInvalidArgument: ErrInvalidArgument,
	StatusNullArgument: ErrInvalidArgument, StatusShuttingDown: ErrShuttingDown,
	StatusNotFound: ErrNotFound, StatusOptionMismatch: ErrOptionMismatch,
	StatusInvalidName: ErrInvalidName, StatusInvalidValue: ErrInvalidValue,
	StatusWrongType: ErrWrongType, StatusOutOfRange: ErrOutOfRange,
	StatusBrokerError: ErrBroker, StatusProtocolError: ErrProtocol, StatusPanic: ErrInternal,
	StatusUnknownDelivery: ErrUnknownDelivery, StatusDenied: ErrDenied,
	StatusInterrupted: ErrInterrupted,
}

// Error is every error of this package: which operation on which object failed, with the
// status and libxproc's message. It matches its status's sentinel under errors.Is; a
// timeout that came from a context's deadline also matches context.DeadlineExceeded, a
// cancelled call context.Canceled, and end of file on a pipe io.EOF.
type Error struct {
	Op      string // "queue.get", "dict.set", "connect", ...
	Name    string // the object's name, or the socket path for connect ("" if none)
	Status  Status
	Message string // libxproc's explanation (may be empty)
	cause   error  // a context error, when the context ended the call
}

func (e *Error) Error() string {
	s := "xproc: " + e.Op
	if e.Name != "" {
		s += fmt.Sprintf(" %q", e.Name)
	}
	msg := e.Message
	if msg == "" {
		msg = e.sentinel().Error()[len("xproc: "):]
	}
	s += ": " + msg
	if e.cause != nil {
		s += " (" + e.cause.Error() + ")"
	}
	return s
}

func (e *Error) sentinel() error {
	if s, ok := sentinels[e.Status]; ok {
		return s
	}
	return ErrBroker
}

// Unwrap gives the status's sentinel, then the context's error or io.EOF where they apply.
func (e *Error) Unwrap() []error {
	errs := []error{e.sentinel()}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.Status == StatusClosed && e.Op == "pipe.recv" {
		errs = append(errs, io.EOF)
	}
	return errs
}

// contextError is the error of a call that its context ended: a deadline is a timeout
// (ErrTimeout and context.DeadlineExceeded), a cancel is ErrInterrupted and
// context.Canceled.
func contextError(ctx context.Context, op, name string) error {
	err := ctx.Err()
	status := StatusInterrupted
	if errors.Is(err, context.DeadlineExceeded) {
		status = StatusTimeout
	}
	return &Error{Op: op, Name: name, Status: status, Message: "", cause: err}
}
