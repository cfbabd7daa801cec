package reflection

import (
	"errors"
	"math"

	"github.com/h2rpc/h2rpc/rpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// The messages of grpc/reflection/v1/reflection.proto (v1alpha has the
// same fields):
//
//	message ServerReflectionRequest {
//	  string host = 1;
//	  oneof message_request {
//	    string file_by_filename = 3;
//	    string file_containing_symbol = 4;
//	    ExtensionRequest file_containing_extension = 5;  // containing_type = 1, extension_number = 2
//	    string all_extension_numbers_of_type = 6;
//	    string list_services = 7;
//	  }
//	}
//	message ServerReflectionResponse {
//	  string valid_host = 1;
//	  ServerReflectionRequest original_request = 2;
//	  oneof message_response {
//	    FileDescriptorResponse file_descriptor_response = 4;             // repeated bytes file_descriptor_proto = 1
//	    ExtensionNumberResponse all_extension_numbers_response = 5;      // base_type_name = 1, repeated int32 extension_number = 2
//	    ListServiceResponse list_services_response = 6;                  // repeated ServiceResponse service = 1 (name = 1)
//	    ErrorResponse error_response = 7;                                // int32 error_code = 1, error_message = 2
//	  }
//	}

// kind is the case of a request's oneof, and of the response's answer to
// it (fileByFilename standing for a FileDescriptorResponse).
type kind int

const (
	none                      kind = 0
	fileByFilename            kind = 3
	fileContainingSymbol      kind = 4
	fileContainingExtension   kind = 5
	allExtensionNumbersOfType kind = 6
	listServices              kind = 7
	errorResponse             kind = -1
)

type request struct {
	host   string
	kind   kind
	name   string // the file, symbol or type; the containing type of an extension
	number int32  // extension_number
}

var errMalformed = errors.New("malformed message")

// skip, returned by a field callback, skips the field's value.
const skip = math.MinInt

// malformed, returned by a field callback, fails the decoding.
const malformed = math.MinInt + 1

// fields calls f with each field of b; f returns how much of the value it
// consumed (a negative protowire error code if it could not), skip, or
// malformed.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, b []byte) int) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch n = f(num, typ, b); n {
		case skip:
			n = protowire.ConsumeFieldValue(num, typ, b)
		case malformed:
			return errMalformed
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

func decodeRequest(b []byte) (request, error) {
	var req request
	err := fields(b, func(num protowire.Number, typ protowire.Type, b []byte) int {
		if typ != protowire.BytesType {
			return skip
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return n
		}
		switch num {
		case 1:
			req.host = string(v)
		case 3, 4, 6, 7:
			req.kind, req.name, req.number = kind(num), string(v), 0
		case 5:
			req.kind, req.name, req.number = fileContainingExtension, "", 0
			err := fields(v, func(num protowire.Number, typ protowire.Type, b []byte) int {
				switch {
				case num == 1 && typ == protowire.BytesType:
					s, n := protowire.ConsumeBytes(b)
					req.name = string(s)
					return n
				case num == 2 && typ == protowire.VarintType:
					x, n := protowire.ConsumeVarint(b)
					req.number = int32(x)
					return n
				}
				return skip
			})
			if err != nil {
				return malformed
			}
		}
		return n
	})
	if err != nil {
		return request{}, err
	}
	return req, nil
}

type response struct {
	host     string
	original []byte // the request's encoding, echoed
	kind     kind

	files            [][]byte // fileByFilename
	extensionType    string   // allExtensionNumbersOfType
	extensionNumbers []int32
	services         []string // listServices
	errCode          rpc.Code // errorResponse
	errMessage       string
}

func (r *response) fail(code rpc.Code, msg string) {
	r.kind, r.errCode, r.errMessage = errorResponse, code, msg
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func (r *response) append(b []byte) []byte {
	b = appendString(b, 1, r.host)
	b = appendMessage(b, 2, r.original)
	var m []byte
	switch r.kind {
	case fileByFilename:
		for _, f := range r.files {
			m = protowire.AppendTag(m, 1, protowire.BytesType)
			m = protowire.AppendBytes(m, f)
		}
		return appendMessage(b, 4, m)
	case allExtensionNumbersOfType:
		m = appendString(m, 1, r.extensionType)
		if len(r.extensionNumbers) > 0 {
			var packed []byte
			for _, n := range r.extensionNumbers {
				packed = protowire.AppendVarint(packed, uint64(int64(n)))
			}
			m = appendMessage(m, 2, packed)
		}
		return appendMessage(b, 5, m)
	case listServices:
		for _, s := range r.services {
			m = appendMessage(m, 1, appendString(nil, 1, s))
		}
		return appendMessage(b, 6, m)
	case errorResponse:
		m = protowire.AppendTag(m, 1, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(r.errCode))
		m = appendString(m, 2, r.errMessage)
		return appendMessage(b, 7, m)
	}
	return b
}
