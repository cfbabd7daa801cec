package rpc

import "strconv"

// Code is a gRPC status code (grpc doc/statuscodes.md). The zero value is OK.
type Code uint32

// The status codes of grpc doc/statuscodes.md, with their wire values.
const (
	OK                 Code = 0  // not an error
	Canceled           Code = 1  // CANCELLED: the operation was cancelled, typically by the caller
	Unknown            Code = 2  // an error from an unknown error space, or without enough information
	InvalidArgument    Code = 3  // the client specified an invalid argument
	DeadlineExceeded   Code = 4  // the deadline expired before the operation could complete
	NotFound           Code = 5  // some requested entity was not found
	AlreadyExists      Code = 6  // the entity a client attempted to create already exists
	PermissionDenied   Code = 7  // the caller does not have permission
	ResourceExhausted  Code = 8  // some resource has been exhausted (quota, message size, ...)
	FailedPrecondition Code = 9  // the system is not in a state required for the operation
	Aborted            Code = 10 // the operation was aborted (concurrency conflict, ...)
	OutOfRange         Code = 11 // the operation was attempted past the valid range
	Unimplemented      Code = 12 // the operation is not implemented or supported
	Internal           Code = 13 // an invariant of the underlying system is broken
	Unavailable        Code = 14 // the service is currently unavailable; retrying may help
	DataLoss           Code = 15 // unrecoverable data loss or corruption
	Unauthenticated    Code = 16 // no valid authentication credentials
)

// codeNames are grpc-go's names for the codes (its codes/code_string.go),
// so that errors and logs read the same as grpc-go's. statuscodes.md spells
// them in capitals with underscores (CANCELLED, DEADLINE_EXCEEDED, ...).
var codeNames = [...]string{
	OK:                 "OK",
	Canceled:           "Canceled",
	Unknown:            "Unknown",
	InvalidArgument:    "InvalidArgument",
	DeadlineExceeded:   "DeadlineExceeded",
	NotFound:           "NotFound",
	AlreadyExists:      "AlreadyExists",
	PermissionDenied:   "PermissionDenied",
	ResourceExhausted:  "ResourceExhausted",
	FailedPrecondition: "FailedPrecondition",
	Aborted:            "Aborted",
	OutOfRange:         "OutOfRange",
	Unimplemented:      "Unimplemented",
	Internal:           "Internal",
	Unavailable:        "Unavailable",
	DataLoss:           "DataLoss",
	Unauthenticated:    "Unauthenticated",
}

// String returns the code's name as grpc-go spells it, such as
// "DeadlineExceeded", or "Code(n)" for a value outside the 17 defined codes.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// statusValues holds the grpc-status header values "0" to "16", so sending a
// status allocates nothing.
var statusValues = func() (v [len(codeNames)]string) {
	for i := range v {
		v[i] = strconv.Itoa(i)
	}
	return v
}()

func (c Code) headerValue() string {
	if int(c) < len(statusValues) {
		return statusValues[c]
	}
	return strconv.FormatUint(uint64(c), 10)
}

// parseCode parses a grpc-status value: "a decimal-encoded integer as an
// ASCII string, without any leading zeros" (PROTOCOL-HTTP2.md, Responses).
// Codes beyond the 17 defined ones are kept (grpc doc/statuscodes.md: the
// client treats them as it would UNKNOWN, but keeping the number is more
// useful to the caller); a value that is not a number fails.
func parseCode(s string) (Code, bool) {
	if s == "0" {
		return OK, true
	}
	if s == "" || len(s) > 10 || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return Code(n), true
}
