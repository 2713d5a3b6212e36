"""Parses OpenMetrics text on stdin with prometheus_client's strict parser
(an implementation independent of herokuevents) and prints the families as
JSON: [{"name", "type", "unit", "samples": [{"name", "labels", "value"}]}].
A text the parser refuses exits 1 with its message."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

try:
    families = list(text_string_to_metric_families(sys.stdin.read()))
except Exception as e:  # the parser's ValueError and friends
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(1)
json.dump([{"name": f.name, "type": f.type, "unit": f.unit,
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
           for f in families], sys.stdout)
