#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target (fuzz/fuzz_targets) from the captured SDK
requests in ../shared/fixtures/sdk-payloads: envelopes as sent and decoded, the event,
transaction and span payloads inside them, header values, and a few issue searches.

usage: fuzz-seeds.py FIXTURES_DIR CORPUS_DIR
"""

import gzip
import hashlib
import json
import pathlib
import sys


def items(envelope: bytes):
    """(item header, payload) of each item of an envelope, read as Relay reads it."""
    lines = envelope.split(b"\n", 1)
    rest = lines[1] if len(lines) > 1 else b""
    while rest:
        header_line, _, rest = rest.partition(b"\n")
        if not header_line.strip():
            continue
        try:
            header = json.loads(header_line)
        except ValueError:
            return
        length = header.get("length") if isinstance(header, dict) else None
        if isinstance(length, int):
            payload, rest = rest[:length], rest[length + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        yield header, payload


def symbolicate_seeds() -> list[bytes]:
    """The esbuild builds of the processing tests' shop app: each as a minified file and map
    (odd first byte) and as an artifact bundle like `sentry-cli` uploads (even first byte)."""
    import io
    import zipfile

    root = pathlib.Path(__file__).resolve().parent.parent
    builds = root / "crates/processing/tests/fixtures/sourcemaps"
    seeds = []
    for build in sorted(builds.glob("build*")):
        minified = (build / "app.min.js").read_bytes()
        sourcemap = (build / "app.min.js.map").read_bytes()
        seeds.append(b"\x01" + minified + b"\x00" + sourcemap)
        debug_id = "2d3c0196-df7d-4726-8044-ee25012db347"
        manifest = {
            "files": {
                "_/_/app.min.js": {
                    "url": "~/static/app.min.js",
                    "type": "minified_source",
                    "headers": {"debug-id": debug_id, "sourcemap": "app.min.js.map"},
                },
                "_/_/app.min.js.map": {
                    "url": "~/static/app.min.js.map",
                    "type": "source_map",
                    "headers": {"debug-id": debug_id},
                },
            },
            "debug_id": "11111111-2222-3333-4444-555555555555",
        }
        out = io.BytesIO()
        out.write(b"SYSB\x02\x00\x00\x00")
        with zipfile.ZipFile(out, "w") as bundle:
            bundle.writestr("files/_/_/app.min.js", minified)
            bundle.writestr("files/_/_/app.min.js.map", sourcemap)
            bundle.writestr("manifest.json", json.dumps(manifest))
        seeds.append(b"\x00" + out.getvalue())
    return seeds


def main() -> None:
    fixtures, corpus = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    seeds: dict[str, set[bytes]] = {
        name: set()
        for name in [
            "envelope",
            "protocol_text",
            "event_payload",
            "decode_body",
            "process_event",
            "search_query",
            "pii_config",
            "user_report",
            "symbolicate",
            "chunk_upload",
        ]
    }
    for request in sorted(fixtures.glob("*/*/request.json")):
        folder = request.parent
        meta = json.loads(request.read_text())
        raw = (folder / "body.bin").read_bytes()
        decoded_path = folder / "body.decoded"
        body = decoded_path.read_bytes() if decoded_path.exists() else raw
        seeds["decode_body"].add(raw)
        if meta["path"].endswith("/envelope/"):
            seeds["envelope"].add(body)
            for header, payload in items(body):
                kind = header.get("type") if isinstance(header, dict) else None
                if kind in ("event", "transaction", "span", "feedback"):
                    seeds["process_event"].add(payload)
                    seeds["event_payload"].add(payload)
                if kind in ("user_report", "feedback"):
                    seeds["user_report"].add(payload)
        else:
            seeds["event_payload"].add(body)
            seeds["process_event"].add(body)
        for name, value in meta["headers"]:
            if name.lower() in ("x-sentry-auth", "authorization", "content-encoding"):
                seeds["protocol_text"].add(value.encode())
        if meta.get("query"):
            seeds["protocol_text"].add(meta["query"].encode())
    seeds["protocol_text"].update(
        [
            b"http://0123456789abcdef0123456789abcdef@127.0.0.1:9000/42",
            b"60:error;transaction:key:key_quota, 2700:default:organization",
            b"2026-11-28T03:36:44.123456Z",
            b"b734577d-50fd-48ea-9070-b488e32bdbf7",
        ]
    )
    seeds["search_query"].update(
        [
            b"is:unresolved",
            b'is:unresolved !level:info "Zero Division" release:1.2.3',
            b'user.email:"a b@example.com" issue.category:performance',
            b"is:for_review environment:production transaction:/api/cart",
            b"times_seen:>10 !user.count:>=1k age:-24h lastSeen:+7d firstSeen:>2026-01-01T10:00:00Z",
            b'(release:[shop@1.0, "shop 2"] OR level:fatal) AND !url:*/checkout/* message:*timeout*',
            b"error.type:ValueError !error.handled:1 error.unhandled:true tags[foo]:bar event.timestamp:2026-01-01",
            b"b734577d-50fd-48ea-9070-b488e32bdbf7",
            b"issue:SHOP-1A id:0123456789abcdef0123456789abcdef has:browser !is:new count():>5",
        ]
    )
    seeds["pii_config"].update(
        [
            b'{"rules": {"0": {"type": "password", "redaction": {"method": "remove"}}},'
            b' "applications": {"$http.headers": ["0"]}}',
            b'{"rules": {"r": {"type": "pattern", "pattern": "ORDER-\\\\d+", "replaceGroups": [0],'
            b' "redaction": {"method": "replace", "text": "[order]"}}},'
            b' "applications": {"$string && !extra.card": ["r", "@creditcard:mask"]}}',
            b'{"applications": {"$frame.vars.secret || \'extra\'.** || $user.ip_address": ["@anything:hash"]}}',
            b'{"rules": {"p": {"type": "redact_pair", "keyPattern": "api_?key"}, "m": {"type": "multiple",'
            b' "rules": ["p", "@ip"], "hide_inner": true}}, "applications": {"**": ["m"]}}',
        ]
    )
    seeds["user_report"].update(
        [
            b'{"event_id": "b734577d50fd48ea9070b488e32bdbf7", "name": "Jane",'
            b' "email": "jane@example.com", "comments": "It froze"}',
            b'{"type": "feedback", "contexts": {"feedback": {"message": "Nothing happened",'
            b' "contact_email": "sam@example.com", "name": "Sam",'
            b' "associated_event_id": "B734577D-50FD-48EA-9070-B488E32BDBF7"}}}',
        ]
    )
    seeds["symbolicate"].update(symbolicate_seeds())
    chunk = b"function applyDiscount(a){return a*0.9}"
    seeds["chunk_upload"].update(
        [
            b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
            + hashlib.sha1(chunk).hexdigest().encode()
            + b"\"\r\n\r\n"
            + chunk
            + b"\r\n--b0undary--\r\n",
            b"--b0undary\r\nContent-Disposition: form-data; name=\"file_gzip\"; filename=\""
            + hashlib.sha1(chunk).hexdigest().encode()
            + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            + gzip.compress(chunk)
            + b"\r\n--b0undary--\r\n",
            b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"app.js\"\r\n\r\n"
            + chunk
            + b"\r\n--b0undary\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n~/app.js"
            + b"\r\n--b0undary\r\nContent-Disposition: form-data; name=\"header\"\r\n\r\nSourcemap: app.js.map"
            + b"\r\n--b0undary--\r\n",
        ]
    )
    for target, values in seeds.items():
        folder = corpus / target
        folder.mkdir(parents=True, exist_ok=True)
        for value in values:
            (folder / hashlib.sha1(value).hexdigest()).write_bytes(value)
        print(f"{target}: {len(values)} seeds")


if __name__ == "__main__":
    main()
