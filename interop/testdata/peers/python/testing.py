"""What the grpcio (gRPC C-core) client and server share: flags and the
grpc.testing messages, built at run time from a FileDescriptorSet that the
Go test writes from grpc-go's generated descriptors."""

import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

TEST_SERVICE = "grpc.testing.TestService"


def flags(argv):
    """Parses --name=value arguments into a dict."""
    out = {}
    for a in argv:
        if not a.startswith("--") or "=" not in a:
            sys.exit(f"unexpected argument {a!r}: want --name=value")
        name, value = a[2:].split("=", 1)
        out[name] = value
    return out


class Messages:
    """The grpc.testing message classes, by their short names."""

    def __init__(self, path):
        fds = descriptor_pb2.FileDescriptorSet()
        with open(path, "rb") as f:
            fds.ParseFromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            pool.Add(fd)
        factory = message_factory.MessageFactory(pool)
        for name in (
            "Empty", "Payload", "EchoStatus", "SimpleRequest", "SimpleResponse",
            "StreamingInputCallRequest", "StreamingInputCallResponse",
            "StreamingOutputCallRequest", "StreamingOutputCallResponse",
            "ResponseParameters", "BoolValue",
        ):
            desc = pool.FindMessageTypeByName("grpc.testing." + name)
            if hasattr(message_factory, "GetMessageClass"):
                cls = message_factory.GetMessageClass(desc)
            else:
                cls = factory.GetPrototype(desc)
            setattr(self, name, cls)


def serialize(m):
    return m.SerializeToString()
