"""The exporter's wire: the Prometheus text format and the HTTP server of
``masivo-tiktok metrics`` (:mod:`cli.metrics` holds the metrics themselves).

Why not prometheus_client's: with 50 destinations a scrape has ~1,800 samples, and its
``generate_latest`` (which validates and escapes every label name of every sample) was a
third of the scrape (``bench/scrape.py``, ``docs/benchmarks.md``). :func:`render` writes the
same bytes for less; :func:`serve` is built as prometheus_client's server is (a threading
WSGI server, any path, gzip when asked) and answers in the text format 0.0.4, which every
Prometheus reads (no OpenMetrics negotiation).
"""

from __future__ import annotations

import gzip
import math
import socket
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

__all__ = ["render", "serve", "wsgi_app"]


def render(collector: Collector) -> bytes:
    """What ``collector`` yields in the Prometheus text format (0.0.4): byte for byte what
    prometheus_client's ``generate_latest`` writes, for under half its cost (it validates and
    escapes every label name of every sample; ours are fixed identifiers). With 50
    destinations a scrape has ~1,800 samples: rendering them took a third of the scrape
    (``bench/scrape.py``)."""
    out: list[str] = []
    for family in collector.collect():
        name, kind = family.name, family.type
        exposed = name
        if kind == "counter":
            exposed = name + "_total"
        elif kind == "info":
            exposed, kind = name + "_info", "gauge"
        elif kind == "stateset":
            kind = "gauge"
        elif kind == "gaugehistogram":
            kind = "histogram"
        elif kind == "unknown":
            kind = "untyped"
        doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {exposed} {doc}\n# TYPE {exposed} {kind}\n")
        separate: dict[str, list[str]] = {}
        for sample in family.samples:
            suffix = sample.name[len(name) :] if sample.name.startswith(name) else ""
            if suffix in _SEPARATE:  # OpenMetrics-only samples: a gauge of their own
                separate.setdefault(suffix, []).append(_line(sample))
            else:
                out.append(_line(sample))
        for suffix, lines in sorted(separate.items()):
            out.append(f"# HELP {name}{suffix} {doc}\n# TYPE {name}{suffix} gauge\n")
            out.extend(lines)
    return "".join(out).encode()


_SEPARATE = frozenset({"_created", "_gsum", "_gcount"})


def _line(sample: Sample) -> str:
    value = _number(sample.value)
    stamp = "" if sample.timestamp is None else f" {int(float(sample.timestamp) * 1000):d}"
    if not sample.labels:
        return f"{sample.name} {value}{stamp}\n"
    labels = ",".join([f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items())])
    return f"{sample.name}{{{labels}}} {value}{stamp}\n"


def _number(value: float) -> str:
    """A sample value as Go writes it (prometheus_client's ``floatToGoString``)."""
    d = float(value)
    if d == math.inf:
        return "+Inf"
    if d == -math.inf:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    text = repr(d)
    dot = text.find(".")
    if d > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per scrape (daemon threads: nothing to join at shutdown)."""

    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: Prometheus scrapes every few seconds."""


def wsgi_app(collector: Collector) -> Callable[..., Any]:
    """The exporter's HTTP endpoint: :func:`render` on any path (gzip when asked), as
    prometheus_client's app serves it, in the text format 0.0.4 (what every Prometheus
    reads; no OpenMetrics negotiation)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        if environ.get("PATH_INFO") == "/favicon.ico":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b""]
        body = render(collector)
        headers = [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=6)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body] if method == "GET" else [b""]

    return app


def serve(collector: Collector, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve :func:`wsgi_app` on ``host:port`` (IPv4 or IPv6) from a daemon thread."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    server_class = type("Server", (_Server,), {"address_family": family})
    server: WSGIServer = make_server(
        str(address[0]), port, wsgi_app(collector), server_class, _Quiet
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server, thread
