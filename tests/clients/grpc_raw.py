"""Sends one raw, already-encoded ExportLogsServiceRequest to LogsService/Export with grpcio
(gzip-compressed on the wire) and prints the outcome as `OK` or `<STATUS_CODE> <details>`.

Used by the receiver-limit tests to send bodies no well-behaved SDK would build (millions of
empty log records) without holding them as Python objects."""

import argparse
import sys

import grpc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True, help="host:port")
    parser.add_argument("--body", required=True, help="file with the protobuf bytes")
    args = parser.parse_args()
    with open(args.body, "rb") as f:
        body = f.read()
    options = [("grpc.max_send_message_length", 128 << 20)]
    with grpc.insecure_channel(args.endpoint, options=options) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        try:
            export(body, timeout=120, compression=grpc.Compression.Gzip)
            print("OK")
        except grpc.RpcError as e:
            print(f"{e.code().name} {e.details()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
