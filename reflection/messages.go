package reflection

import (
	"github.com/h2rpc/h2rpc/rpc"
	"github.com/h2rpc/h2rpc/wire"
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

func decodeRequest(b []byte) (request, error) {
	var req request
	err := wire.Range(b, func(f wire.Field) error {
		if f.Type != wire.TypeLen {
			return nil
		}
		switch f.Num {
		case 1:
			req.host = string(f.Bytes)
		case 3, 4, 6, 7:
			req.kind, req.name, req.number = kind(f.Num), string(f.Bytes), 0
		case 5:
			req.kind, req.name, req.number = fileContainingExtension, "", 0
			return wire.Range(f.Bytes, func(f wire.Field) error {
				switch {
				case f.Is(1, wire.TypeLen):
					req.name = string(f.Bytes)
				case f.Is(2, wire.TypeVarint):
					req.number = f.Int32()
				}
				return nil
			})
		}
		return nil
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

func appendMessage(b []byte, num wire.Number, m []byte) []byte {
	b = wire.AppendTag(b, num, wire.TypeLen)
	return wire.AppendBytes(b, m)
}

func (r *response) append(b []byte) []byte {
	b = wire.AppendStringField(b, 1, r.host)
	b = appendMessage(b, 2, r.original)
	var m []byte
	switch r.kind {
	case fileByFilename:
		for _, f := range r.files {
			m = appendMessage(m, 1, f)
		}
		return appendMessage(b, 4, m)
	case allExtensionNumbersOfType:
		m = wire.AppendStringField(m, 1, r.extensionType)
		if len(r.extensionNumbers) > 0 {
			var packed []byte
			for _, n := range r.extensionNumbers {
				packed = wire.AppendVarint(packed, uint64(int64(n)))
			}
			m = appendMessage(m, 2, packed)
		}
		return appendMessage(b, 5, m)
	case listServices:
		for _, s := range r.services {
			m = appendMessage(m, 1, wire.AppendStringField(nil, 1, s))
		}
		return appendMessage(b, 6, m)
	case errorResponse:
		m = wire.AppendInt32Field(m, 1, int32(r.errCode))
		m = wire.AppendStringField(m, 2, r.errMessage)
		return appendMessage(b, 7, m)
	}
	return b
}
