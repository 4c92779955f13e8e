#!/usr/bin/env python3
"""A fault-injecting HTTP reverse proxy for registry client tests (loopback only, stdlib only).

    python3 fault_proxy.py --port 0 --upstream 127.0.0.1:5000 [--seed 1] [--rate-429 F]
        [--retry-after S] [--rate-500 F] [--rate-503 F] [--rate-drop F]
        [--only-methods PUT,PATCH,POST] [--max-faults N] [--fail-all]

Listens on 127.0.0.1 and prints `PORT <n>` as its first stdout line once it accepts connections
(`--port 0` picks a free port); the request log goes to stderr.

Every request (any method) is forwarded to the upstream with its headers and body (Content-Length or
chunked), and the response is streamed back (HEAD: headers only). The client's `Host` header is passed
on, so distribution builds its absolute `Location`s from the proxy's address; `Location`s that still
name the upstream are rewritten to the proxy anyway.

Faults, decided per request before forwarding, from one random draw per eligible request
(`random.Random(seed)`, so a sequence of requests meets the same faults on every run):
  --rate-429 F    429 TOOMANYREQUESTS with `Retry-After: S` (--retry-after, default 1)
  --rate-500 F    500 UNKNOWN
  --rate-503 F    503 UNAVAILABLE
  --rate-drop F   no answer: requests with a body have part of it read, then the connection is closed;
                  others are closed at once
  The rates are cumulative probabilities of one draw, so their sum must be at most 1.
  --only-methods  only requests with these methods are eligible (default: all)
  --max-faults N  stop injecting after N faults since the last configuration (0: no limit), so
                  `--rate-503 1 --max-faults 2` fails exactly the first two eligible requests
  --fail-all      every request, whatever its method, gets 503 ("the fault persists")
A status fault reads the whole request body first, then answers on a connection that stays usable.

Control endpoints (never forwarded, never faulted):
  GET /__stats    {"requests", "forwarded", "faults", "fault_429", "fault_500", "fault_503", "fault_drop",
                   "upstream_errors", "locations_rewritten", "method_<METHOD>": n, ...}: counts since start
                   (or reset); "requests" and "method_*" count every request but the control endpoints
  POST /__config  JSON object with any of rate_429, rate_500, rate_503, rate_drop, retry_after,
                  only_methods (list), only_path_suffix (faults only requests whose path ends so; "" for
                  all), max_faults, fail_all, seed (re-seeds), reset_stats (bool);
                  keys absent keep their value. Replies with the configuration now in force.
The proxy exits when its parent process goes away, so a crashed test leaves nothing running.
"""

import argparse
import http.client
import json
import random
import socket
import sys
import time
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from loopback_server import Server, serve, unblock_signals

BLOCK = 64 * 1024
# Hop-by-hop headers (RFC 9110 §7.6.1) and those the proxy sets itself.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
}
FAULT_BODIES = {
    "429": (429, "TOOMANYREQUESTS", "too many requests (injected by fault_proxy)"),
    "500": (500, "UNKNOWN", "internal server error (injected by fault_proxy)"),
    "503": (503, "UNAVAILABLE", "service unavailable (injected by fault_proxy)"),
}
# Fault kinds by the configuration key of their rate. silent: the request is read and never answered;
# trickle: the upstream's answer is sent at about 100 bytes a second; cut: the answer stops in the middle of
# its headers and the connection closes.
RATE_KEYS = ("rate_429", "rate_500", "rate_503", "rate_drop", "rate_silent", "rate_trickle", "rate_cut")

STAT_KEYS = [
    "requests", "forwarded", "faults", "fault_429", "fault_500", "fault_503", "fault_drop", "fault_silent",
    "fault_trickle", "fault_cut", "upstream_errors",
    "locations_rewritten",
]


class ConfigError(ValueError):
    pass


class State:
    """Configuration, random source and counters; `lock` guards every field."""

    def __init__(self, seed: int):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.config = {
            "rate_429": 0.0, "rate_500": 0.0, "rate_503": 0.0, "rate_drop": 0.0, "rate_silent": 0.0,
            "rate_trickle": 0.0, "rate_cut": 0.0,
            "retry_after": 1, "only_methods": [], "only_path_suffix": "", "max_faults": 0, "fail_all": False,
        }
        self.faults_since_config = 0
        self.stats = {key: 0 for key in STAT_KEYS}

    def configure(self, changes: dict) -> dict:
        """Applies a partial configuration atomically; raises ConfigError without changing anything."""
        known = set(self.config) | {"seed", "reset_stats"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown configuration keys {unknown}; known: {sorted(known)}")
        with self.lock:
            config = dict(self.config)
            for key in RATE_KEYS:
                if key in changes:
                    value = changes[key]
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                        raise ConfigError(f"{key} must be a number in [0, 1], not {value!r}")
                    config[key] = float(value)
            if sum(config[key] for key in RATE_KEYS) > 1 + 1e-9:
                raise ConfigError("the fault rates add up to more than 1")
            for key in ("retry_after", "max_faults"):
                if key in changes:
                    value = changes[key]
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise ConfigError(f"{key} must be a non-negative integer, not {value!r}")
                    config[key] = value
            if "only_methods" in changes:
                value = changes["only_methods"]
                if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
                    raise ConfigError(f"only_methods must be a list of method names, not {value!r}")
                config["only_methods"] = sorted({m.upper() for m in value})
            if "only_path_suffix" in changes:
                if not isinstance(changes["only_path_suffix"], str):
                    raise ConfigError(f"only_path_suffix must be a string, not {changes['only_path_suffix']!r}")
                config["only_path_suffix"] = changes["only_path_suffix"]
            if "fail_all" in changes:
                if not isinstance(changes["fail_all"], bool):
                    raise ConfigError(f"fail_all must be true or false, not {changes['fail_all']!r}")
                config["fail_all"] = changes["fail_all"]
            if "seed" in changes:
                if isinstance(changes["seed"], bool) or not isinstance(changes["seed"], int):
                    raise ConfigError(f"seed must be an integer, not {changes['seed']!r}")
                self.rng = random.Random(changes["seed"])
            if changes.get("reset_stats"):
                self.stats = {key: 0 for key in STAT_KEYS}
            self.config = config
            self.faults_since_config = 0
            return dict(config)

    def decide(self, method: str, path: str = ""):
        """Counts a request and returns (fault kind or None, retry_after)."""
        with self.lock:
            c = self.config
            self.stats["requests"] += 1
            self.stats["method_" + method] = self.stats.get("method_" + method, 0) + 1
            kind = None
            if c["fail_all"]:
                kind = "503"
            elif (not c["only_methods"] or method in c["only_methods"]) and path.endswith(c["only_path_suffix"]):
                draw = self.rng.random()  # drawn even when no fault can come, so sequences stay aligned
                if not c["max_faults"] or self.faults_since_config < c["max_faults"]:
                    edge = 0.0
                    for key in RATE_KEYS:
                        name = key[len("rate_"):]
                        edge += c[key]
                        if draw < edge:
                            kind = name
                            break
            if kind is None:
                self.stats["forwarded"] += 1
            else:
                self.stats["fault_" + kind] += 1
                self.stats["faults"] += 1
                self.faults_since_config += 1
            return kind, c["retry_after"]

    def count(self, key: str):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.stats)


class ClientGone(Exception):
    """The client closed its connection or sent a malformed body."""


class RequestBody:
    """The request body as it arrives: Content-Length bytes, chunked, or none."""

    def __init__(self, handler):
        self.rfile = handler.rfile
        encoding = (handler.headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in encoding
        length = handler.headers.get("Content-Length")
        self.length = None
        if not self.chunked and length is not None:
            try:
                self.length = int(length)
            except ValueError:
                raise ClientGone(f"bad Content-Length {length!r}")
        self.done = not self.chunked and not self.length

    @property
    def present(self) -> bool:
        return self.chunked or bool(self.length)

    def blocks(self):
        """Yields the decoded body in blocks; raises ClientGone if it ends early."""
        if self.done:
            return
        if self.chunked:
            while True:
                line = self.rfile.readline(1024)
                if not line.endswith(b"\n"):
                    raise ClientGone("connection closed inside a chunked body")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ClientGone(f"bad chunk size line {line[:40]!r}")
                if size == 0:
                    while True:  # trailers, up to the empty line
                        trailer = self.rfile.readline(8192)
                        if not trailer.endswith(b"\n"):
                            raise ClientGone("connection closed inside chunked trailers")
                        if trailer in (b"\r\n", b"\n"):
                            break
                    self.done = True
                    return
                remaining = size
                while remaining:
                    data = self.rfile.read(min(BLOCK, remaining))
                    if not data:
                        raise ClientGone("connection closed inside a chunk")
                    remaining -= len(data)
                    yield data
                if self.rfile.readline(1024) not in (b"\r\n", b"\n"):
                    raise ClientGone("chunk not followed by CRLF")
        else:
            remaining = self.length
            while remaining:
                data = self.rfile.read(min(BLOCK, remaining))
                if not data:
                    raise ClientGone(f"connection closed with {remaining} body bytes unread")
                remaining -= len(data)
                yield data
            self.done = True

    def read_part(self):
        """Reads part of the body: half of a Content-Length body (1 byte to 1 MiB), or one chunk."""
        if self.chunked:
            next(self.blocks(), None)
        elif self.length:
            wanted = max(1, min(self.length // 2, 1024 * 1024))
            while wanted:
                data = self.rfile.read(min(BLOCK, wanted))
                if not data:
                    return
                wanted -= len(data)

    def drain(self):
        for _ in self.blocks():
            pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cosci-fault-proxy"
    timeout = 120

    # Set on the class by main().
    state: State = None
    upstream = ("127.0.0.1", 0)
    upstream_origins = ()
    own_host = ""

    def log_message(self, format, *args):
        # Escaped: a TLS handshake sent to this plain-HTTP port arrives as a binary "request line".
        message = (format % args).encode("ascii", "backslashreplace").decode("ascii")
        sys.stderr.write("fault_proxy: %s\n" % message)

    def do_GET(self):
        self.handle_request()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def handle_request(self):
        target = self.path
        if target.startswith("http://") or target.startswith("https://"):  # absolute form
            parts = urllib.parse.urlsplit(target)
            target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        path = urllib.parse.urlsplit(target).path
        try:
            body = RequestBody(self)
            if path == "/__stats" and self.command == "GET":
                self.reply_json(200, self.state.snapshot())
                return
            if path == "/__config" and self.command == "POST":
                self.configure(body)
                return
            kind, retry_after = self.state.decide(self.command, path)
            if kind in ("silent", "trickle", "cut"):
                self.log_message('"%s" %s (injected)', self.requestline, kind)
                self.misbehave(kind, target, body)
            elif kind == "drop":
                self.log_message('"%s" dropped (injected)', self.requestline)
                body.read_part()
                self.drop_connection()
            elif kind is not None:
                body.drain()
                self.send_fault(kind, retry_after)
            else:
                self.forward(target, body)
        except ClientGone as gone:
            self.log_message('"%s" client gone: %s', self.requestline, gone)
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as error:
            self.log_message('"%s" client connection lost: %s', self.requestline, error)
            self.close_connection = True

    def drop_connection(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def configure(self, body: RequestBody):
        data = b"".join(body.blocks())
        try:
            changes = json.loads(data or b"{}")
            if not isinstance(changes, dict):
                raise ConfigError("expected a JSON object")
            config = self.state.configure(changes)
        except (ValueError, ConfigError) as error:
            self.reply_json(400, {"error": str(error)})
            return
        self.log_message("configured: %s", json.dumps(config, sort_keys=True))
        self.reply_json(200, config)

    def reply_json(self, status: int, value, extra_headers=()):
        data = json.dumps(value, sort_keys=True).encode("utf-8")
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, header_value in extra_headers:
            self.send_header(name, header_value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.log_request(status)

    def send_fault(self, kind: str, retry_after: int):
        status, code, message = FAULT_BODIES[kind]
        extra = [("Docker-Distribution-Api-Version", "registry/2.0")]
        if status == 429:
            extra.append(("Retry-After", str(retry_after)))
        self.reply_json(status, {"errors": [{"code": code, "message": message, "detail": None}]}, extra)

    def client_host(self) -> str:
        return self.headers.get("Host") or self.own_host

    def rewrite_location(self, value: str) -> str:
        for origin in self.upstream_origins:
            if value.startswith(origin) and value[len(origin):len(origin) + 1] in ("", "/", "?", "#"):
                self.state.count("locations_rewritten")
                return "http://" + self.client_host() + value[len(origin):]
        return value

    def forward(self, target: str, body: RequestBody):
        connection_tokens = {t.strip().lower() for t in (self.headers.get("Connection") or "").split(",")}
        conn = http.client.HTTPConnection(*self.upstream, timeout=300)
        try:
            try:
                conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", self.client_host())
                for name, value in self.headers.items():
                    lower = name.lower()
                    if lower in HOP_BY_HOP or lower in connection_tokens or lower in ("host", "expect", "content-length"):
                        continue
                    conn.putheader(name, value)
                if body.chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                elif body.length is not None:
                    conn.putheader("Content-Length", str(body.length))
                conn.endheaders()
            except OSError as error:
                body.drain()
                self.upstream_failed(f"cannot reach upstream {self.upstream[0]}:{self.upstream[1]}: {error}")
                return

            upstream_open = True
            for block in body.blocks():
                if not upstream_open:
                    continue  # keep reading, so the client's connection stays in step
                try:
                    conn.send(b"%x\r\n%s\r\n" % (len(block), block) if body.chunked else block)
                except OSError:
                    upstream_open = False  # it may have answered early; try to read that answer below
            if body.chunked and upstream_open:
                try:
                    conn.send(b"0\r\n\r\n")
                except OSError:
                    pass

            try:
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.upstream_failed(f"no response from upstream: {error!r}")
                return
            self.relay(response)
        finally:
            conn.close()

    def misbehave(self, kind: str, target: str, body):
        """A silent, trickling or cut answer, the last two to what the upstream really answered."""
        if kind == "silent":
            body.drain()
            self.close_connection = True
            self.connection.settimeout(120)
            try:
                while self.connection.recv(4096):  # until the client gives up
                    pass
            except OSError:
                pass
            return
        data = b"".join(body.blocks())
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() not in ("expect", "content-length")}
            headers["Host"] = self.client_host()
            conn.request(self.command, target, body=data if data or self.command in ("PUT", "POST", "PATCH") else None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            lines = [f"HTTP/1.1 {response.status} {response.reason}"]
            for name, value in response.getheaders():
                lower = name.lower()
                if lower in HOP_BY_HOP or lower == "content-length":
                    continue
                if lower == "location":
                    value = self.rewrite_location(value)
                lines.append(f"{name}: {value}")
            lines.append(f"Content-Length: {len(payload)}")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        except (OSError, http.client.HTTPException) as error:
            self.upstream_failed(f"upstream: {error!r}")
            return
        finally:
            conn.close()
        self.close_connection = True
        try:
            if kind == "cut":
                self.wfile.write(head[: head.index(b"\r\n") + 2 + 10])  # the status line and a piece of a header
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            whole = head + (b"" if self.command == "HEAD" else payload)
            for i in range(0, len(whole), 10):
                self.wfile.write(whole[i : i + 10])
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def upstream_failed(self, message: str):
        self.state.count("upstream_errors")
        self.log_message('"%s" %s', self.requestline, message)
        self.reply_json(502, {"errors": [{"code": "UNKNOWN", "message": "fault_proxy: " + message, "detail": None}]})

    def relay(self, response):
        status = response.status
        self.send_response_only(status, response.reason)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP:
                continue
            if lower == "location":
                value = self.rewrite_location(value)
            self.send_header(name, value)
        bodiless = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        old_client = self.request_version == "HTTP/1.0"
        if bodiless:
            self.end_headers()
            self.log_request(status)
            return
        if response.getheader("Content-Length") is not None:
            chunked = False
            self.end_headers()
        elif old_client:
            chunked = False
            self.close_connection = True
            self.send_header("Connection", "close")
            self.end_headers()
        else:
            chunked = True
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
        try:
            while True:
                block = response.read(BLOCK)
                if not block:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (http.client.HTTPException, OSError) as error:
            if isinstance(error, (BrokenPipeError, ConnectionResetError)) and not isinstance(error, http.client.HTTPException):
                raise  # the client went away: handled by the caller
            self.state.count("upstream_errors")
            self.log_message('"%s" upstream response cut short: %r', self.requestline, error)
            self.close_connection = True  # the client sees a truncated response, as from the upstream
        self.log_request(status)


def main():
    parser = argparse.ArgumentParser(description="Fault-injecting reverse proxy for registry tests (loopback only).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on injected 429s")
    parser.add_argument("--rate-500", type=float, default=0.0)
    parser.add_argument("--rate-503", type=float, default=0.0)
    parser.add_argument("--rate-drop", type=float, default=0.0)
    parser.add_argument("--only-methods", default="", help="comma-separated methods eligible for faults")
    parser.add_argument("--max-faults", type=int, default=0, help="stop after N faults (0: no limit)")
    parser.add_argument("--fail-all", action="store_true", help="answer every request with 503")
    args = parser.parse_args()
    unblock_signals()

    host, sep, port = args.upstream.rpartition(":")
    if not sep or not port.isdigit():
        parser.error(f"--upstream must be HOST:PORT, not {args.upstream!r}")
    host = host.strip("[]")

    state = State(args.seed)
    try:
        state.configure({
            "rate_429": args.rate_429, "rate_500": args.rate_500, "rate_503": args.rate_503,
            "rate_drop": args.rate_drop, "retry_after": args.retry_after, "max_faults": args.max_faults,
            "only_methods": [m for m in args.only_methods.split(",") if m.strip()], "fail_all": args.fail_all,
        })
    except ConfigError as error:
        parser.error(str(error))

    server = Server(("127.0.0.1", args.port), Handler)
    own_port = server.server_address[1]
    Handler.state = state
    Handler.upstream = (host, int(port))
    Handler.own_host = f"127.0.0.1:{own_port}"
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    origins = {f"http://{authority}"}
    if host in ("127.0.0.1", "localhost", "::1"):
        origins |= {f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"}
    Handler.upstream_origins = tuple(sorted(origins))

    serve(server)


if __name__ == "__main__":
    main()
