"""Sends records in the fluentd Forward protocol's Message mode with the `fluent-logger`
package (fluent/fluent-logger-python), the way a Python application logs to fluentd.

Driven by tests/receivers.rs. The records come from an NDJSON file (one JSON object per
line, e.g. {"log": "<operator JSON line>\\n", "stream": "stdout"}); each is sent as
[tag, EventTime, record]. This client has no acknowledgements, so the test checks the
database for the rows.

Usage: fluent_send.py --port N --records FILE
Prints {"sent": N} and exits 1 if the sender reported an error.
"""

import argparse
import json
import sys
import time

from fluent import sender


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--records", required=True)
    args = parser.parse_args()

    with open(args.records) as f:
        records = [json.loads(line) for line in f if line.strip()]
    logger = sender.FluentSender("kubernetes", host="127.0.0.1", port=args.port, nanosecond_precision=True, timeout=10)
    sent = 0
    for record in records:
        if not logger.emit_with_time("mirrord-operator", time.time(), record):
            print(json.dumps({"sent": sent, "error": str(logger.last_error)}))
            return 1
        sent += 1
    logger.close()
    print(json.dumps({"sent": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
