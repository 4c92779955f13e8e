#!/usr/bin/env python3
"""A static file server for luet `http` repositories, for loopback tests only.

    python3 file_server.py --port 0 --root DIR [--user NAME --password SECRET]

Listens on 127.0.0.1, prints `PORT <n>` as its first stdout line once it accepts connections, and serves the
files under DIR (GET and HEAD; no directory listings). With --user, every request needs that
`Authorization: Basic` (else 401 with a Basic challenge). One line per request goes to stderr, with the
status and whether credentials came; credentials themselves are never printed. Exits when its parent goes away.
"""

import argparse
import base64
import os
import sys
from http.server import SimpleHTTPRequestHandler

from loopback_server import Server, serve, unblock_signals


def main():
    unblock_signals()
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--root", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    expected = None
    if args.user is not None:
        expected = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    root = os.path.realpath(args.root)

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def authorized(self):
            if expected is None or self.headers.get("Authorization") == expected:
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="cosci-test-files"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def do_GET(self):
            if self.authorized():
                if self.path.endswith("/"):
                    self.send_error(404)
                    return
                super().do_GET()

        def do_HEAD(self):
            if self.authorized():
                super().do_HEAD()

        def log_message(self, fmt, *a):
            creds = "with credentials" if self.headers.get("Authorization") else "anonymous"
            sys.stderr.write(f"{self.command} {self.path} {creds}: {fmt % a}\n")

    serve(Server(("127.0.0.1", args.port), Handler))


if __name__ == "__main__":
    main()
