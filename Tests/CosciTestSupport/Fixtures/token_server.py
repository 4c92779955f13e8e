#!/usr/bin/env python3
"""A token server for docker-registry's `auth.token` mode, for loopback tests only.

    python3 token_server.py --port 0 --key token.key --cert token.crt --users users.json \
        --issuer cosci-test-issuer --service cosci-test-registry

Listens on 127.0.0.1 and prints `PORT <n>` as its first stdout line once it accepts connections
(`--port 0` picks a free port). Everything else goes to stderr; credentials are never printed.

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...]   (one scope value may hold several,
    space-separated). `Authorization: Basic` is checked against users.json ({"user": "password"}):
    wrong or malformed credentials -> 401; none -> anonymous, granted only `pull`; a known user is
    granted every action asked for. A `service` other than --service -> 400 (the token would carry the
    wrong audience). Reply: {"token", "access_token", "expires_in": 300, "issued_at"}.
POST /token (OAuth2 form: grant_type=password, username, password, service, scope) -> the same reply;
    other grant types -> 400 unsupported_grant_type.
GET /stats -> {"token_requests": n, "tokens_issued": n, "tokens_refused": n} (requests to /token,
    whatever their outcome).

The token is a JWS signed with ES256 carrying the certificate in `x5c`, as distribution 2.8.2
checks it (`registry/auth/token/token.go`): `iss`, `aud`, `exp`/`nbf`, `access: [{type, name, actions}]`.
The server exits when its parent process goes away, so a crashed test leaves nothing running.
"""

import argparse
import base64
import datetime
import json
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from loopback_server import Server, serve, unblock_signals

EXPIRES_IN = 300


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


class Signer:
    """Signs JWT claims with an EC P-256 key (ES256, raw r||s signature, x5c header)."""

    def __init__(self, key_path: str, cert_path: str):
        with open(key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        if not isinstance(self.key, ec.EllipticCurvePrivateKey) or self.key.curve.name != "secp256r1":
            raise SystemExit(f"{key_path}: not an EC P-256 private key (ES256 needs prime256v1)")
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        der = cert.public_bytes(serialization.Encoding.DER)
        self.header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(der).decode("ascii")]}

    def sign(self, claims: dict) -> str:
        signing_input = b64url(compact_json(self.header)) + "." + b64url(compact_json(claims))
        r, s = decode_dss_signature(self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def parse_scopes(values):
    """Scope values -> ordered {(type, class, name): [actions]}; several scopes may share one value.

    Grammar `type[(class)]:name:action[,action]`; the name may hold a `:` (a registry port), so split
    the type off the front and the actions off the back. Malformed scopes are ignored, as
    distribution's token servers do.
    """
    resources = {}
    for value in values:
        for scope in value.split():
            if ":" not in scope:
                continue
            kind, rest = scope.split(":", 1)
            if ":" not in rest:
                continue
            name, actions = rest.rsplit(":", 1)
            resource_class = ""
            if kind.endswith(")") and "(" in kind:
                kind, resource_class = kind[:-1].split("(", 1)
            if not kind or not name:
                continue
            granted = resources.setdefault((kind, resource_class, name), [])
            for action in actions.split(","):
                if action and action not in granted:
                    granted.append(action)
    return resources


class Stats:
    """Request counters; `lock` guards all fields."""

    def __init__(self):
        self.lock = threading.Lock()
        self.token_requests = 0
        self.tokens_issued = 0
        self.tokens_refused = 0

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "tokens_refused": self.tokens_refused,
            }

    def count(self, issued: bool):
        with self.lock:
            if issued:
                self.tokens_issued += 1
            else:
                self.tokens_refused += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cosci-test-token-server"
    timeout = 60

    # Set on the class by main().
    signer: Signer = None
    users: dict = {}
    issuer = ""
    service = ""
    stats: Stats = None

    def log_message(self, format, *args):
        # The request line holds no credentials (they travel in the Authorization header or a POST body).
        # Escaped: a TLS handshake sent to this plain-HTTP port arrives as a binary "request line".
        message = (format % args).encode("ascii", "backslashreplace").decode("ascii")
        sys.stderr.write("token_server: %s\n" % message)

    def reply(self, status: int, body: dict, extra_headers=()):
        data = compact_json(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, status: int, code: str, description: str, extra_headers=()):
        self.reply(status, {"error": code, "error_description": description,
                            "errors": [{"code": code.upper(), "message": description}]}, extra_headers)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/stats":
            self.reply(200, self.stats.snapshot())
            return
        if url.path != "/token":
            self.error(404, "not_found", f"no such endpoint: {url.path}")
            return
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        with self.stats.lock:
            self.stats.token_requests += 1
        user = self.basic_user()
        if user is False:
            self.stats.count(issued=False)
            self.error(401, "unauthorized", "invalid credentials",
                       [("WWW-Authenticate", 'Basic realm="cosci-test-token-server"')])
            return
        self.issue(user, query.get("service", [""])[0], query.get("scope", []))

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)
        if url.path != "/token":
            self.error(404, "not_found", f"no such endpoint: {url.path}")
            return
        with self.stats.lock:
            self.stats.token_requests += 1
        grant = form.get("grant_type", [""])[0]
        if grant != "password":
            self.stats.count(issued=False)
            self.error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported (only password)")
            return
        user = form.get("username", [""])[0]
        if not user or self.users.get(user) != form.get("password", [""])[0]:
            self.stats.count(issued=False)
            self.error(401, "invalid_grant", "invalid credentials")
            return
        self.issue(user, form.get("service", [""])[0], form.get("scope", []))

    def basic_user(self):
        """None for anonymous, the user name for valid credentials, False for anything else."""
        header = self.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep or user not in self.users or self.users[user] != password:
            return False
        return user

    def issue(self, user, service: str, scope_values):
        if service and service != self.service:
            self.stats.count(issued=False)
            self.error(400, "invalid_request", f"unknown service {service!r} (this server signs for {self.service!r})")
            return
        access = []
        for (kind, resource_class, name), actions in parse_scopes(scope_values).items():
            granted = actions if user is not None else [a for a in actions if a == "pull"]
            entry = {"type": kind, "name": name, "actions": granted}
            if resource_class:
                entry["class"] = resource_class
            access.append(entry)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + EXPIRES_IN,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = self.signer.sign(claims)
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.stats.count(issued=True)
        sys.stderr.write("token_server: issued for %s: %s\n" % (user or "<anonymous>", json.dumps(access)))
        self.reply(200, {"token": token, "access_token": token, "expires_in": EXPIRES_IN, "issued_at": issued_at})


def main():
    parser = argparse.ArgumentParser(description="Token server for docker-registry tests (loopback only).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--key", required=True, help="PEM EC P-256 private key")
    parser.add_argument("--cert", required=True, help="PEM certificate of that key (the registry's rootcertbundle)")
    parser.add_argument("--users", required=True, help='JSON file {"user": "password"}')
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--service", required=True)
    args = parser.parse_args()
    unblock_signals()

    with open(args.users, "rb") as f:
        users = json.load(f)
    if not isinstance(users, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in users.items()):
        raise SystemExit(f'{args.users}: expected a JSON object {{"user": "password"}}')

    Handler.signer = Signer(args.key, args.cert)
    Handler.users = users
    Handler.issuer = args.issuer
    Handler.service = args.service
    Handler.stats = Stats()

    server = Server(("127.0.0.1", args.port), Handler)
    serve(server)


if __name__ == "__main__":
    main()
