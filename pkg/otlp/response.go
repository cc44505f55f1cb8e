package otlp

import (
	"encoding/binary"
	"encoding/json"
)

// rejectedField is the name of the partial-success count in each signal's
// export response (OTLP/JSON spelling).
var rejectedField = map[Signal]string{
	Logs:    "rejectedLogRecords",
	Metrics: "rejectedDataPoints",
	Traces:  "rejectedSpans",
}

// Response is the body of a successful export's answer, in enc:
// Export{Logs,Metrics,Trace}ServiceResponse, with partial_success when rej
// counts records that became no event.
func Response(sig Signal, enc Encoding, rej Rejects) []byte {
	if enc == JSON {
		if rej.N == 0 {
			return []byte("{}")
		}
		b, _ := json.Marshal(map[string]any{"partialSuccess": map[string]any{
			rejectedField[sig]: rej.N,
			"errorMessage":     rej.Msg,
		}})
		return b
	}
	if rej.N == 0 {
		return []byte{}
	}
	// Export*PartialSuccess {int64 rejected_* = 1; string error_message = 2}
	var ps []byte
	ps = binary.AppendUvarint(append(ps, 0x08), uint64(rej.N))
	ps = appendBytes(ps, 0x12, []byte(rej.Msg))
	// Export*ServiceResponse {Export*PartialSuccess partial_success = 1}
	return appendBytes(nil, 0x0a, ps)
}

// The gRPC status codes of error answers (google.rpc.Status.code).
const (
	CodeInvalidArgument = 3
	CodeInternal        = 13
	CodeUnavailable     = 14
)

// Status is the body of an error answer in enc: a google.rpc.Status
// {code, message}, as OTLP/HTTP asks. In JSON it also carries "error" (the
// same message), the shape of every other mpmd error.
func Status(enc Encoding, code int, msg string) []byte {
	if enc == JSON {
		b, _ := json.Marshal(map[string]any{"code": code, "message": msg, "error": msg})
		return b
	}
	// google.rpc.Status {int32 code = 1; string message = 2}
	b := binary.AppendUvarint([]byte{0x08}, uint64(code))
	return appendBytes(b, 0x12, []byte(msg))
}

func appendBytes(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
