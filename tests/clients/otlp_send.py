"""Sends operator-style log records with the OpenTelemetry Python SDK's own OTLP exporters.

Driven by tests/receivers.rs. The records come from a JSON file written by the test:
    [{"time_unix_nano": int, "severity": "INFO", "body": "Session Start",
      "attributes": {"session_id": "...", "port": 8080, ...}}, ...]
They go through the SDK's real path: LoggerProvider (with resource attributes like the
operator's) -> BatchLogRecordProcessor -> OTLPLogExporter (gRPC or HTTP/protobuf). The
exporter is wrapped only to record each export's result, so the script can fail loudly.

Usage:
    otlp_send.py --protocol grpc|http --endpoint URL --records FILE [--gzip] [--batch N]
                 [--ca CA.pem] [--header NAME=VALUE ...]
--ca verifies the receiver's TLS certificate against CA.pem (gRPC over TLS; for HTTP use an
https:// endpoint); --header adds a header / gRPC metadata entry (e.g. authorization=Bearer T).
Prints {"exports": N, "failures": N, "records": N} and exits 1 if any export failed.
"""

import argparse
import json
import sys

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource

SEVERITIES = {"INFO": SeverityNumber.INFO, "WARN": SeverityNumber.WARN, "ERROR": SeverityNumber.ERROR}


def exporter_class(protocol):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    return OTLPLogExporter


def make_exporter(protocol, endpoint, gzip, results, ca=None, headers=None):
    base = exporter_class(protocol)

    class Recorded(base):
        def export(self, batch):
            result = super().export(batch)
            results.append(result)
            return result

    kwargs = {"endpoint": endpoint, "timeout": 30}
    if headers:
        kwargs["headers"] = headers
    if protocol == "grpc":
        import grpc

        if ca:
            with open(ca, "rb") as f:
                kwargs["credentials"] = grpc.ssl_channel_credentials(root_certificates=f.read())
            kwargs["insecure"] = False
        else:
            kwargs["insecure"] = True
        if gzip:
            kwargs["compression"] = grpc.Compression.Gzip
    else:
        if ca:
            kwargs["certificate_file"] = ca
        if gzip:
            from opentelemetry.exporter.otlp.proto.http import Compression

            kwargs["compression"] = Compression.Gzip
    return Recorded(**kwargs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--records", required=True)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--ca")
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    headers = dict(h.split("=", 1) for h in args.header)

    with open(args.records) as f:
        records = json.load(f)
    resource = Resource.create(
        {
            "service.name": "mirrord-operator",
            "service.version": "3.120.0",
            "k8s.cluster.name": "receivers-test",
            "k8s.namespace.name": "mirrord",
        }
    )
    results = []
    provider = LoggerProvider(resource=resource)
    exporter = make_exporter(args.protocol, args.endpoint, args.gzip, results, args.ca, headers)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_export_batch_size=args.batch, schedule_delay_millis=50)
    )
    logger = provider.get_logger("operator::session")
    for r in records:
        severity = r.get("severity", "INFO")
        logger.emit(
            LogRecord(
                timestamp=r["time_unix_nano"],
                observed_timestamp=r["time_unix_nano"],
                severity_text=severity,
                severity_number=SEVERITIES.get(severity, SeverityNumber.INFO),
                body=r["body"],
                attributes=r.get("attributes", {}),
            )
        )
    provider.force_flush(timeout_millis=60_000)
    provider.shutdown()
    failures = sum(1 for r in results if r != LogRecordExportResult.SUCCESS)
    print(json.dumps({"exports": len(results), "failures": failures, "records": len(records)}))
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main())
