"""A grpcio (gRPC C-core) server of grpc.testing.TestService with the server
features the standard interop cases need (doc/interop-test-descriptions.md):
payloads, EchoStatus, metadata echo, sleeping streams, and
CompressedResponse (gzip when asked, per call and per message). grpcio does
not tell a handler whether a request arrived compressed, so
CompressedRequest is not implemented.

    python3 server.py --port=0 --descriptors=testing.pb [--max_concurrent_streams=N]

Once listening it prints "listening on 127.0.0.1:PORT"; SIGTERM stops it."""

import signal
import sys
import threading
import time
from concurrent import futures

import grpc

from testing import TEST_SERVICE, Messages, flags, serialize

args = flags(sys.argv[1:])
pb = Messages(args["descriptors"])
CODES = {c.value[0]: c for c in grpc.StatusCode}


def payload(ctx, size):
    if size < 0:
        ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, f"negative payload size {size}")
    return pb.Payload(type=0, body=bytes(size))


def echo_metadata(ctx):
    md = dict(ctx.invocation_metadata())
    if "x-grpc-test-echo-initial" in md:
        ctx.send_initial_metadata((("x-grpc-test-echo-initial", md["x-grpc-test-echo-initial"]),))
    if "x-grpc-test-echo-trailing-bin" in md:
        ctx.set_trailing_metadata((("x-grpc-test-echo-trailing-bin", md["x-grpc-test-echo-trailing-bin"]),))


def echo_status(ctx, req):
    if req.HasField("response_status") and req.response_status.code != 0:
        ctx.abort(CODES.get(req.response_status.code, grpc.StatusCode.UNKNOWN), req.response_status.message)


def empty_call(req, ctx):
    return pb.Empty()


def unary_call(req, ctx):
    echo_metadata(ctx)
    echo_status(ctx, req)
    if req.HasField("response_compressed"):
        ctx.set_compression(grpc.Compression.Gzip if req.response_compressed.value else grpc.Compression.NoCompression)
    return pb.SimpleResponse(payload=payload(ctx, req.response_size))


def respond(ctx, params):
    """Yields one response per ResponseParameters, each after its interval,
    compressed as asked (the call compresses once any message asks to)."""
    if any(rp.HasField("compressed") and rp.compressed.value for rp in params):
        ctx.set_compression(grpc.Compression.Gzip)
    for rp in params:
        if rp.interval_us > 0:
            time.sleep(rp.interval_us / 1e6)
        if rp.HasField("compressed") and not rp.compressed.value:
            ctx.disable_next_message_compression()
        yield pb.StreamingOutputCallResponse(payload=payload(ctx, rp.size))


def streaming_output_call(req, ctx):
    yield from respond(ctx, req.response_parameters)


def streaming_input_call(reqs, ctx):
    return pb.StreamingInputCallResponse(aggregated_payload_size=sum(len(r.payload.body) for r in reqs))


def full_duplex_call(reqs, ctx):
    echo_metadata(ctx)
    for req in reqs:
        echo_status(ctx, req)
        yield from respond(ctx, req.response_parameters)


def half_duplex_call(reqs, ctx):
    for req in list(reqs):
        yield from respond(ctx, req.response_parameters)


def handler(kind, f, request):
    make = getattr(grpc, kind + "_rpc_method_handler")
    return make(f, request_deserializer=request.FromString, response_serializer=serialize)


def main():
    options = [("grpc.max_concurrent_streams", int(args["max_concurrent_streams"]))] if "max_concurrent_streams" in args else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=options)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(TEST_SERVICE, {
        "EmptyCall": handler("unary_unary", empty_call, pb.Empty),
        "UnaryCall": handler("unary_unary", unary_call, pb.SimpleRequest),
        "StreamingOutputCall": handler("unary_stream", streaming_output_call, pb.StreamingOutputCallRequest),
        "StreamingInputCall": handler("stream_unary", streaming_input_call, pb.StreamingInputCallRequest),
        "FullDuplexCall": handler("stream_stream", full_duplex_call, pb.StreamingOutputCallRequest),
        "HalfDuplexCall": handler("stream_stream", half_duplex_call, pb.StreamingOutputCallRequest),
    }),))
    port = server.add_insecure_port(f"127.0.0.1:{args.get('port', '0')}")
    if port == 0:
        sys.exit("server: could not listen")
    server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
