"""The evidence report for people: one self-contained HTML page, safe to open anywhere.

Self-contained and inert: inline CSS, no script, images only as inline SVG (the QR codes, drawn by segno),
and a Content-Security-Policy that forbids the page from loading anything at all. Every piece of text from
the bundle goes through :func:`text` — control, bidi and invisible characters made visible
(shared/display.py), then HTML-escaped, and ``://`` broken so no URL in the data becomes a live one.
"""

from __future__ import annotations

import html
import json
from typing import Any

import segno

from dydx_airgap.shared import __version__
from dydx_airgap.shared.audit.review import network_label, payload_rows
from dydx_airgap.shared.display import escape_for_display
from dydx_airgap.shared.evidence.files import BundleFiles
from dydx_airgap.shared.evidence.layout import RECEIPTS, RECEIPTS_SIG
from dydx_airgap.shared.evidence.verify import NOT_PINNED, SIGNER_NOT_PINNED, Verification
from dydx_airgap.shared.parallel import map_public
from dydx_airgap.shared.progress import BatchProgress, disabled

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MAX_TEXT = 20_000
MAX_QR_BYTES = 1200  # larger artefacts get a QR of their digest instead (fits one comfortable code)

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;
 padding:0 1rem;color:#1a1a1a;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:2px solid #ddd}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d0d0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3;width:14rem}td{overflow-wrap:anywhere}.grid th{width:auto}.grid td:last-child{width:55%}
.mono,code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;padding:.5rem;margin:0}
.PASS{background:#dff3e0;color:#0b5d1e;font-weight:bold}.FAIL{background:#fbdcdc;color:#8a1010;font-weight:bold}
.banner{padding:.8rem 1rem;font-size:1.2rem;border-radius:.3rem;margin:1rem 0}
.qr{display:inline-block;margin:.4rem 1rem .4rem 0;text-align:center;font-size:.8rem;vertical-align:top}
.qr svg{display:block;margin:0 auto .2rem}.note{color:#555;font-size:.85rem}
"""


def text(value: object) -> str:
    """Untrusted text, made safe and visible for an HTML page."""
    shown = escape_for_display(str(value), max_len=MAX_TEXT)
    return html.escape(shown, quote=True).replace("://", "&#58;//")


def multiline_text(value: str) -> str:
    """Like :func:`text`, but line breaks stay line breaks (for pretty-printed bodies in <pre>): each line
    is escaped on its own, so a carriage return or any other control character is still made visible."""
    lines = value[:MAX_TEXT].split("\n")
    shown = "\n".join(text(line) for line in lines)
    return shown + (f"…(+{len(value) - MAX_TEXT} characters)" if len(value) > MAX_TEXT else "")


def _table(rows: list[tuple[str, str]], mono: bool = True) -> str:
    cls = ' class="mono"' if mono else ""
    body = "".join(f"<tr><th>{text(k)}</th><td{cls}>{text(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _grid(header: list[str], rows: list[list[str]], raw_first: bool = False) -> str:
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    out = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if raw_first and i == 0:
                cells.append(cell)  # already markup (a verdict cell built here)
            else:
                cells.append(f"<td>{text(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="mono grid"><tr>{head}</tr>{"".join(out)}</table>'


def _qr(data: str | bytes, caption: str) -> str:
    svg = segno.make(data, error="m").svg_inline(scale=2, dark="#000", light="#fff")
    return f'<div class="qr">{svg}{text(caption)}</div>'


def _pretty(body: str | None) -> str:
    if body is None:
        return "-"
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False, sort_keys=True)
    except (ValueError, RecursionError):
        return body


#: From this many codes on, they are drawn on every core; QR_WORKERS None: one worker per CPU.
QR_PARALLEL_MIN_ITEMS = 256
QR_WORKERS: int | None = None


def _qr_job(job: tuple[str | bytes, str]) -> str:
    return _qr(*job)


def render_report(
    verification: Verification, bundle: BundleFiles, progress: BatchProgress | None = None
) -> str:
    """The page. ``progress``: where a large bundle shows its stages (the QR codes are most of the time:
    segno picks the best of eight masks for each, about 4 ms a code, so they are drawn on every core)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>dydx-airgap evidence report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>dydx-airgap evidence report</h1>",
        f'<p class="note">Bundle {text(bundle.source)} — checked by dydx-audit {text(__version__)} '
        "with public data only.</p>",
        _banner(verification),
        _summary(verification),
        _checks(verification),
        _timeline(verification),
        _artefacts(verification, bundle, progress if progress is not None else disabled()),
        _relay(verification),
        _log(verification),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _banner(v: Verification) -> str:
    failed = len(v.failures)
    if v.ok:
        return f'<div class="banner PASS">PASS — all {len(v.checks)} checks pass</div>'
    return f'<div class="banner FAIL">FAIL — {failed} of {len(v.checks)} checks fail</div>'


def _summary(v: Verification) -> str:
    m = v.manifest
    rows: list[tuple[str, str]] = [("manifest SHA-256", v.manifest_sha256 or "-")]
    qrs = []
    if m is not None:
        rows += [
            ("format", "dydx-airgap-evidence/1"),
            ("network", network_label(m.network_id)),
            (
                "signer address (cold key)",
                f"{m.address} ({'pinned by the auditor' if v.signer_pinned else SIGNER_NOT_PINNED})",
            ),
            ("created (cold clock)", m.created),
            ("tool version (cold)", m.tool_version),
            *_policy_rows(m.policy),
            ("evidence log", f"{m.evidence_log.path}: {m.evidence_log.entries} entries"),
        ]
        qrs.append(_qr(m.address, "signer address"))
    if v.manifest_sha256:
        qrs.append(_qr(f"sha256:{v.manifest_sha256}", "manifest SHA-256"))
    if v.relay_key:
        pinned = "pinned by the auditor" if v.relay_key_pinned else NOT_PINNED
        rows.append(("relay key (Ed25519)", f"{v.relay_key} ({pinned})"))
        qrs.append(_qr(f"ed25519:{v.relay_key}", "relay key"))
    if v.receipts is not None:
        rows.append(("receipts created (relay clock)", v.receipts.created))
    return "<h2>Summary</h2>" + _table(rows) + "".join(qrs)


def _settings(value: object) -> str:
    """A recorded policy's settings as "name value, name value" (JSON only for nested values)."""
    if isinstance(value, dict):
        return ", ".join(
            f"{str(k).replace('_', ' ')} {v if isinstance(v, str | int | bool) else json.dumps(v)}"
            for k, v in sorted(value.items(), key=lambda item: str(item[0]))
        )
    return json.dumps(value, sort_keys=True)


def _policy_rows(policy: object) -> list[tuple[str, str]]:
    """The policy the cold log recorded, one readable row per setting instead of one JSON blob."""
    if not isinstance(policy, dict):
        return [("policy in force (as recorded)", json.dumps(policy, sort_keys=True))]
    rows: list[tuple[str, str]] = []
    for name, value in sorted(policy.items(), key=lambda item: str(item[0])):
        if name == "confirmations" and isinstance(value, dict):
            shown = ", ".join(f"{count} {how}" for how, count in sorted(value.items())) or "none"
            rows.append(("policy: confirmations", shown))
        elif name == "doctor_overrides" and isinstance(value, list):
            rows.append(
                ("policy: doctor overrides", ", ".join(f"log entry {seq}" for seq in value) or "none")
            )
        elif name == "recorded" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    rows.append((f"policy of log entry {item.get('seq')}", _settings(item.get("policy"))))
        else:
            rows.append((f"policy: {str(name).replace('_', ' ')}", _settings(value)))
    return rows


def _checks(v: Verification) -> str:
    rows = [[f'<td class="{c.verdict}">{c.verdict}</td>', c.name, c.artefact, c.detail] for c in v.checks]
    return "<h2>Checks</h2>" + _grid(["verdict", "check", "artefact", "detail"], rows, raw_first=True)


def _timeline(v: Verification) -> str:
    events: list[tuple[str, str, str]] = []
    for entry in v.log_entries:
        what = str(entry.get("event"))
        if what == "sign":
            what = (
                f"signed {entry.get('kind')} {entry.get('fingerprint')} ({entry.get('file')}) for "
                f"{entry.get('address')}: {entry.get('confirmation')}"
            )
        elif what == "export":
            what = (
                f"exported {entry.get('kind')} {entry.get('fingerprint')} ({entry.get('file')}) for "
                f"{entry.get('address')} on {network_label(entry.get('network_id'))}"
            )
        elif what == "handoff":
            accounts = entry.get("accounts")
            indices = (
                [str(a.get("account")) for a in accounts if isinstance(a, dict)]
                if isinstance(accounts, list)
                else []
            )
            what = (
                f"sealed {entry.get('secrets')} of account(s) {', '.join(indices) or '?'} to recipient "
                f"{entry.get('recipient_fingerprint')} ({entry.get('recipient_type')}) in "
                f"{entry.get('kind')} {entry.get('fingerprint')} ({entry.get('file')}): "
                f"{entry.get('confirmation')}"
            )
        elif what == "doctor-override":
            what = f"doctor override: {entry.get('note')}"
        events.append((str(entry.get("time")), "cold (its clock)", f"log entry {entry.seq}: {what}"))
    if v.manifest is not None:
        events.append((v.manifest.created, "cold (its clock)", "evidence manifest signed"))
    if v.receipts is not None:
        for sub in v.receipts.submissions:
            events.append(
                (
                    sub["created_at"],
                    "relay",
                    f"journal entry {sub['journal_entry']}: {sub['kind']} ({sub['action']})",
                )
            )
            for x in sub["exchanges"]:
                outcome = f"HTTP {x['status']}" if x["status"] is not None else f"no answer: {x['failure']}"
                events.append(
                    (x["started_at"], "relay → API", f"{x['purpose']}: {x['method']} {x['path']} → {outcome}")
                )
            events.append(
                (sub["updated_at"], "relay", f"journal entry {sub['journal_entry']} is {sub['state']}")
            )
        for tx in v.receipts.transactions:
            for e in tx["events"]:
                events.append((e["at"], "relay → chain", f"{tx['tx_hash']}: {e['event']} {e['detail']}"))
        events.append((v.receipts.created, "relay", "receipts signed"))
    events.sort(key=lambda e: e[0])
    note = (
        '<p class="note">Cold-machine times come from its own clock, which may be off; relay times from the '
        "relay's clock.</p>"
    )
    return "<h2>Timeline</h2>" + note + _grid(["time (UTC)", "where", "what"], [list(e) for e in events])


def _artefacts(v: Verification, bundle: BundleFiles, progress: BatchProgress) -> str:
    out = ["<h2>Artefacts</h2>"]
    if v.manifest is None:
        return out[0] + '<p class="FAIL">The manifest could not be read.</p>'
    codes: list[tuple[int, tuple[str | bytes, str]]] = []  # (where in out, what to draw)
    for art in v.manifest.artefacts:
        out.append(f"<h3>{text(art.path)}</h3>")
        rows = [("kind", art.kind), ("SHA-256", art.sha256), ("size", f"{art.size} bytes")]
        if art.log_seq is not None:
            rows.append(("evidence log entry", str(art.log_seq)))
        payload = v.payloads.get(art.path)
        if payload is not None:
            rows += payload_rows(payload)[1:]
        out.append(_table(rows))
        data = bundle.files.get(art.path)
        if (
            payload is not None
            and payload.kind == "public-key"
            and data is not None
            and len(data) <= MAX_QR_BYTES
        ):
            codes.append((len(out), (data, f"{art.path} (the whole public payload)")))
            out.append("")
        elif payload is not None and payload.kind != "onboarding-request":
            codes.append((len(out), (f"sha256:{art.sha256}", f"{art.path} SHA-256")))
            out.append("")
    advance = progress.stage("drawing QR codes", len(codes))
    drawn = map_public(_qr_job, [job for _, job in codes], advance, QR_PARALLEL_MIN_ITEMS, QR_WORKERS)
    for (position, _), svg in zip(codes, drawn, strict=True):
        out[position] = svg
    return "".join(out)


def _relay(v: Verification) -> str:
    out = ["<h2>Relay receipts</h2>"]
    if v.receipts is None:
        return out[0] + f'<p class="note">No relay receipts ({text(RECEIPTS)}, {text(RECEIPTS_SIG)}).</p>'
    for sub in v.receipts.submissions:
        out.append(
            f"<h3>journal entry {text(sub['journal_entry'])}: {text(sub['kind'])} — {text(sub['state'])}</h3>"
        )
        rows: list[tuple[str, str]] = [
            ("payload SHA-256", sub["payload_sha256"]),
            ("payload id", sub["payload_id"]),
            ("network", network_label(sub["network_id"])),
            ("address", sub["address"]),
            ("API", sub["api_origin"]),
            ("result", json.dumps(sub["result"], sort_keys=True)),
            ("note", sub["note"] or "-"),
        ]
        out.append(_table(rows))
        for x in sub["exchanges"]:
            out.append(
                f'<p class="mono">{text(x["purpose"])} #{text(x["attempt"])}: {text(x["method"])} '
                f"{text(x['path'])} — {text(x['started_at'])} → {text(x['finished_at'])}, status "
                f"{text(x['status'] if x['status'] is not None else x['failure'])}</p>"
            )
            detail: list[tuple[str, str]] = [
                ("request headers", json.dumps(x["request_headers"], sort_keys=True)),
                ("request body", x["request_body"] or "-"),
            ]
            out.append(_table(detail))
            out.append(f"<pre>{multiline_text(_pretty(x['response_body']))}</pre>")
    for tx in v.receipts.transactions:
        out.append(f"<h3>transaction {text(tx['tx_hash'])} — {text(tx['state'])}</h3>")
        rows = [
            (k, str(tx[k]))
            for k in (
                "payload_sha256",
                "request_id",
                "request_sha256",
                "raw_sha256",
                "block_number",
                "gas_used",
            )
        ]
        rows += [("node", tx["rpc_origin"]), ("note", tx["note"] or "-")]
        out.append(_table(rows))
    return "".join(out)


def _log(v: Verification) -> str:
    rows = []
    for entry in v.log_entries:
        shown: dict[str, Any] = {
            k: val for k, val in entry.fields.items() if k not in ("format", "seq", "prev", "time", "event")
        }
        rows.append(
            [
                str(entry.seq),
                str(entry.get("time")),
                str(entry.get("event")),
                json.dumps(shown, sort_keys=True),
            ]
        )
    return "<h2>Cold evidence log</h2>" + _grid(["seq", "time (cold clock)", "event", "fields"], rows)
