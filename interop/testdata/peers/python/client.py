"""A grpcio (gRPC C-core) client running gRPC's standard interop cases
(doc/interop-test-descriptions.md) against a grpc.testing.TestService.

    python3 client.py --addr=127.0.0.1:10000 --descriptors=testing.pb --test_case=large_unary

It prints "PASS <case>" and exits 0, or prints the reason and exits 1.
The *_gzip cases compress every request with gzip and ask the server to
compress its responses. The RPCs are generic (method path and serializers),
so no generated stubs are needed."""

import os
import queue
import signal
import sys
import time

import grpc

from testing import TEST_SERVICE, Messages, flags, serialize

args = flags(sys.argv[1:])
pb = Messages(args["descriptors"])
channel = grpc.insecure_channel(args["addr"])


class Failure(Exception):
    pass


def method(kind, name, response, service=TEST_SERVICE):
    make = getattr(channel, kind)
    return make(f"/{service}/{name}", request_serializer=serialize, response_deserializer=response.FromString)


EmptyCall = method("unary_unary", "EmptyCall", pb.Empty)
UnaryCall = method("unary_unary", "UnaryCall", pb.SimpleResponse)
StreamingInputCall = method("stream_unary", "StreamingInputCall", pb.StreamingInputCallResponse)
StreamingOutputCall = method("unary_stream", "StreamingOutputCall", pb.StreamingOutputCallResponse)
FullDuplexCall = method("stream_stream", "FullDuplexCall", pb.StreamingOutputCallResponse)
UnimplementedCall = method("unary_unary", "UnimplementedCall", pb.Empty)
UnimplementedServiceCall = method("unary_unary", "UnimplementedCall", pb.Empty, "grpc.testing.UnimplementedService")


def zeros(n):
    return pb.Payload(type=0, body=bytes(n))


def check_payload(p, n, what):
    if len(p.body) != n:
        raise Failure(f"{what}: payload of {len(p.body)} bytes, want {n}")
    if p.body.count(0) != n:
        raise Failure(f"{what}: payload is not all zeros")


def code_of(err):
    return err.code().value[0]


def want_code(f, code, what):
    try:
        f()
    except grpc.RpcError as e:
        if code_of(e) != code:
            raise Failure(f"{what}: status {e.code()} ({e.details()}), want {code}")
        return e
    raise Failure(f"{what}: succeeded, want status {code}")


def large_request(**kw):
    return pb.SimpleRequest(response_type=0, response_size=314159, payload=zeros(271828), **kw)


class Requests:
    """A request stream the case feeds while it reads the responses."""

    def __init__(self):
        self.q = queue.Queue()

    def __iter__(self):
        return iter(self.q.get, None)

    def send(self, m):
        self.q.put(m)

    def close(self):
        self.q.put(None)


def empty_unary(**kw):
    r = EmptyCall(pb.Empty(), **kw)
    if r.ByteSize() != 0:
        raise Failure(f"EmptyCall returned {r}")


def large_unary(**kw):
    check_payload(UnaryCall(large_request(), **kw).payload, 314159, "UnaryCall")


def client_streaming(**kw):
    sizes = [27182, 8, 1828, 45904]
    r = StreamingInputCall(iter([pb.StreamingInputCallRequest(payload=zeros(n)) for n in sizes]), **kw)
    if r.aggregated_payload_size != 74922:
        raise Failure(f"aggregated_payload_size {r.aggregated_payload_size}, want 74922")


def streaming_output(sizes, compressed=None, **kw):
    req = pb.StreamingOutputCallRequest(response_type=0)
    for n in sizes:
        rp = req.response_parameters.add(size=n)
        if compressed is not None:
            rp.compressed.value = compressed
    got = list(StreamingOutputCall(req, **kw))
    if len(got) != len(sizes):
        raise Failure(f"{len(got)} responses, want {len(sizes)}")
    for i, (m, n) in enumerate(zip(got, sizes)):
        check_payload(m.payload, n, f"response {i + 1}")


def server_streaming(**kw):
    streaming_output([31415, 9, 2653, 58979], **kw)


def ping_pong(**kw):
    sizes = [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]
    reqs = Requests()
    it = FullDuplexCall(iter(reqs), **kw)
    try:
        for resp, req in sizes:
            m = pb.StreamingOutputCallRequest(response_type=0, payload=zeros(req))
            m.response_parameters.add(size=resp)
            reqs.send(m)
            check_payload(next(it).payload, resp, f"response to {req}")
    finally:
        reqs.close()
    rest = list(it)
    if rest:
        raise Failure(f"{len(rest)} responses more than asked for")


def empty_stream():
    got = list(FullDuplexCall(iter([])))
    if got:
        raise Failure(f"{len(got)} responses, want none")


def cancel_after_begin():
    reqs = Requests()
    fut = StreamingInputCall.future(iter(reqs))
    try:
        fut.cancel()
        try:
            fut.result(timeout=30)
        except grpc.FutureCancelledError:
            pass
        except grpc.RpcError as e:
            if code_of(e) != grpc.StatusCode.CANCELLED.value[0]:
                raise Failure(f"status {e.code()} ({e.details()}), want CANCELLED")
        else:
            raise Failure("the cancelled call succeeded")
        if fut.code() != grpc.StatusCode.CANCELLED:
            raise Failure(f"status {fut.code()}, want CANCELLED")
    finally:
        reqs.close()


def cancel_after_first_response():
    reqs = Requests()
    it = FullDuplexCall(iter(reqs))
    try:
        m = pb.StreamingOutputCallRequest(response_type=0, payload=zeros(27182))
        m.response_parameters.add(size=31415)
        reqs.send(m)
        check_payload(next(it).payload, 31415, "first response")
        it.cancel()
        want_code(lambda: list(it), grpc.StatusCode.CANCELLED.value[0], "FullDuplexCall after cancel")
    finally:
        reqs.close()


def timeout_on_sleeping_server():
    reqs = Requests()
    it = FullDuplexCall(iter(reqs), timeout=0.001)
    try:
        reqs.send(pb.StreamingOutputCallRequest(response_type=0, payload=zeros(27182)))
        want_code(lambda: list(it), grpc.StatusCode.DEADLINE_EXCEEDED.value[0], "FullDuplexCall with a 1 ms deadline")
    finally:
        reqs.close()


ECHO = (("x-grpc-test-echo-initial", "test_initial_metadata_value"), ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab"))


def check_echoed(header, trailer, what):
    initial = [v for k, v in header if k == "x-grpc-test-echo-initial"]
    if initial != ["test_initial_metadata_value"]:
        raise Failure(f"{what}: initial metadata x-grpc-test-echo-initial = {initial}")
    trailing = [v for k, v in trailer if k == "x-grpc-test-echo-trailing-bin"]
    if trailing != [b"\xab\xab\xab"]:
        raise Failure(f"{what}: trailing metadata x-grpc-test-echo-trailing-bin = {trailing}")


def custom_metadata():
    r, call = UnaryCall.with_call(large_request(), metadata=ECHO)
    check_payload(r.payload, 314159, "UnaryCall")
    check_echoed(call.initial_metadata(), call.trailing_metadata(), "UnaryCall")
    m = pb.StreamingOutputCallRequest(response_type=0, payload=zeros(271828))
    m.response_parameters.add(size=314159)
    it = FullDuplexCall(iter([m]), metadata=ECHO)
    got = list(it)
    if len(got) != 1:
        raise Failure(f"FullDuplexCall: {len(got)} responses, want 1")
    check_payload(got[0].payload, 314159, "FullDuplexCall")
    check_echoed(it.initial_metadata(), it.trailing_metadata(), "FullDuplexCall")


def echo_status(code, message, stream):
    e = want_code(lambda: UnaryCall(pb.SimpleRequest(response_status=pb.EchoStatus(code=code, message=message))), code, "UnaryCall")
    if e.details() != message:
        raise Failure(f"UnaryCall: message {e.details()!r}, want {message!r}")
    if not stream:
        return
    m = pb.StreamingOutputCallRequest(response_status=pb.EchoStatus(code=code, message=message))
    e = want_code(lambda: list(FullDuplexCall(iter([m]))), code, "FullDuplexCall")
    if e.details() != message:
        raise Failure(f"FullDuplexCall: message {e.details()!r}, want {message!r}")


def status_code_and_message():
    echo_status(2, "test status message", True)


def special_status_message():
    echo_status(2, "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n", False)


def unimplemented_method():
    want_code(lambda: UnimplementedCall(pb.Empty()), grpc.StatusCode.UNIMPLEMENTED.value[0], "TestService/UnimplementedCall")


def unimplemented_service():
    want_code(lambda: UnimplementedServiceCall(pb.Empty()), grpc.StatusCode.UNIMPLEMENTED.value[0], "UnimplementedService/UnimplementedCall")


def drain():
    """Not a standard case: with the server's pid in --server_pid, it stops
    the server (SIGTERM, a graceful stop) after the first response of a
    FullDuplexCall and checks that the call goes on to its end: the
    server's GOAWAY lets the streams it has finish."""
    pid = int(args.get("server_pid", "0"))
    if not pid:
        raise Failure("drain needs --server_pid")
    reqs = Requests()
    it = FullDuplexCall(iter(reqs))
    try:
        for i in range(3):
            m = pb.StreamingOutputCallRequest(response_type=0, payload=zeros(100))
            m.response_parameters.add(size=1000)
            reqs.send(m)
            check_payload(next(it).payload, 1000, f"response {i + 1}")
            if i == 0:
                os.kill(pid, signal.SIGTERM)
            time.sleep(0.2)
    finally:
        reqs.close()
    rest = list(it)
    if rest:
        raise Failure(f"{len(rest)} responses more than asked for")


GZIP = {"compression": grpc.Compression.Gzip}


def large_unary_gzip():
    for compressed in (True, False):
        r = UnaryCall(large_request(response_compressed=pb.BoolValue(value=compressed)), **GZIP)
        check_payload(r.payload, 314159, f"UnaryCall, response_compressed {compressed}")


def streaming_gzip():
    client_streaming(**GZIP)
    streaming_output([31415, 92653], compressed=True, **GZIP)
    ping_pong(**GZIP)


CASES = {
    "empty_unary": empty_unary,
    "large_unary": large_unary,
    "client_streaming": client_streaming,
    "server_streaming": server_streaming,
    "ping_pong": ping_pong,
    "empty_stream": empty_stream,
    "cancel_after_begin": cancel_after_begin,
    "cancel_after_first_response": cancel_after_first_response,
    "timeout_on_sleeping_server": timeout_on_sleeping_server,
    "custom_metadata": custom_metadata,
    "status_code_and_message": status_code_and_message,
    "special_status_message": special_status_message,
    "unimplemented_method": unimplemented_method,
    "unimplemented_service": unimplemented_service,
    "large_unary_gzip": large_unary_gzip,
    "streaming_gzip": streaming_gzip,
    "drain": drain,
}


def main():
    name = args["test_case"]
    if name not in CASES:
        sys.exit(f"unknown case {name!r}; known: {', '.join(CASES)}")
    try:
        CASES[name]()
    except (Failure, grpc.RpcError) as e:
        if isinstance(e, grpc.RpcError):
            e = f"status {e.code()}: {e.details()}"
        print(f"FAIL {name}: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        channel.close()
    print(f"PASS {name}")


if __name__ == "__main__":
    main()
