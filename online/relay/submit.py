"""Submitting a checked payload: journal first, exact bytes out, and no second effect after a doubt.

The flow for one payload:

1. :func:`~.preflight.check_payload` — kind, network, address, every signature, expiry (nothing sent yet);
   the ``--api`` host is checked against the network (:mod:`.target`).
2. The journal is asked whether this request was seen before. ``accepted`` → nothing is sent again.
   ``sending``/``ambiguous`` → the server is asked for the state first (below), and only a request that
   certainly did not take effect is sent again.
3. The request is sent with bounded retries (:mod:`.api_client`); a ladder picks the rung that fits the
   server clock at each attempt. An attempt that may have taken effect (timeout after sending, dropped
   connection, 5xx) is followed by a status query before any resend:

   * onboarding — ``GET /v3/users/exists``; if the user exists, the default credentials derived from the
     onboarding signature must authenticate (proving it was *this* onboarding);
   * api-key create — the key list (HMAC) before and after; a key that appeared was created by us and its
     secret, lost with the answer, is reported as such. First the relay waits until the rung it sent has
     left the server's ±30 s window, so a request still queued somewhere can no longer be accepted;
   * api-key delete — the key list: gone means done;
   * recovery — a read, simply retried.
4. Answers are checked (:mod:`.responses`), new credentials stored 0600 (:mod:`.credentials`), and the
   journal entry closed as ``accepted`` or ``rejected`` — or left ``ambiguous`` when the server could not be
   asked, with a one-line message saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from dydx_airgap.online.firm_addresses import require_firm_address
from dydx_airgap.online.http import RetryPolicy, system_jitter
from dydx_airgap.online.relay.api_client import (
    ApiClient,
    ApiRequest,
    ApiResponse,
    Attempt,
    Reconciled,
    RequestFailed,
)
from dydx_airgap.online.relay.api_key_calls import get_account, hmac_get, list_api_keys, parse_api_key_list
from dydx_airgap.online.relay.credentials import CredentialStore, StoredKey
from dydx_airgap.online.relay.journal import REDACTED, Journal, Submission
from dydx_airgap.online.relay.ladder import choose_rung, usable_interval
from dydx_airgap.online.relay.preflight import ONBOARDING, CheckedRequest, check_payload
from dydx_airgap.online.relay.responses import (
    account_fields,
    api_credentials_from,
    parse_deleted_key,
    parse_onboarding_answer,
    parse_recovery_answer,
)
from dydx_airgap.online.relay.server_clock import ServerClock
from dydx_airgap.online.relay.target import ApiTarget, resolve_api_target
from dydx_airgap.online.state_dir import locked_state_dir
from dydx_airgap.shared.dydx_v3.api_auth import HEADER_ETHEREUM_ADDRESS, HEADER_SIGNATURE, HEADER_TIMESTAMP
from dydx_airgap.shared.dydx_v3.derivation import ApiCredentials, api_credentials_from_onboarding_signature
from dydx_airgap.shared.dydx_v3.ids import account_id, user_id
from dydx_airgap.shared.dydx_v3.networks import get_network
from dydx_airgap.shared.errors import AirgapError, PolicyError, RemoteError
from dydx_airgap.shared.timestamps import SERVER_WINDOW_SECONDS, iso_ms, now_utc, parse_iso_ms

#: Extra seconds after a sent rung leaves the server window before its effect is judged final.
SETTLE_MARGIN_SECONDS = 2.0
_CONTENT_TYPE = "Content-Type"
_JSON = "application/json"


def _quiet(line: str) -> None:
    return None


@dataclass(frozen=True)
class RelayOptions:
    state_dir: Path | None = None
    allow_host: bool = False
    timeout: float = 20.0
    connect_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = system_jitter
    #: Wait for an ambiguous api-key create's rung to expire before checking (see module docstring).
    settle_after_ambiguity: bool = True
    #: Wait (by the server's clock, never past the ladder's end) for a ladder that is not yet usable.
    wait_for_ladder: bool = False
    report: Callable[[str], None] = _quiet
    now: Callable[[], datetime] = now_utc
    #: Firm addresses allowed besides those pinned in the state directory (``--expect-address``).
    expect_addresses: tuple[str, ...] = ()

    def client(self, target: ApiTarget) -> ApiClient:
        return ApiClient(
            target.origin,
            transport=self.transport,
            timeout=self.timeout,
            connect_timeout=self.connect_timeout,
            retry=self.retry,
            sleep=self.sleep,
            jitter=self.jitter,
            report=self.report,
        )


@dataclass
class SubmitResult:
    """What happened, without a secret in it (``details`` holds ids, never keys' secrets)."""

    outcome: str  # "accepted", "already-accepted" or "accepted-after-check"
    sent: bool
    action: str
    address: str
    network_id: int
    api: str
    payload_id: str
    fingerprint: str
    journal_entry: int
    journal_path: str
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    credentials_file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "sent": self.sent,
            "action": self.action,
            "address": self.address,
            "network_id": self.network_id,
            "api": self.api,
            "payload_id": self.payload_id,
            "fingerprint": self.fingerprint,
            "journal_entry": self.journal_entry,
            "journal": self.journal_path,
            "details": dict(self.details),
            "notes": list(self.notes),
            "credentials_file": self.credentials_file,
        }


class _Unresolved(RemoteError):
    """The request may have taken effect and the server could not tell us: the entry stays ambiguous."""


class _Refused(RemoteError):
    """The server definitively refused the request (a final 4xx): the entry becomes rejected."""


def submit_payload(
    data: bytes, api_url: str, network: int | str, options: RelayOptions | None = None
) -> SubmitResult:
    """Check ``data`` (payload bytes), then submit it to ``api_url`` for ``network``; see the module doc."""
    options = options or RelayOptions()
    net = get_network(network)
    checked = check_payload(data, net, now=options.now())
    target = resolve_api_target(api_url, net, allow_host=options.allow_host)
    with locked_state_dir(options.state_dir) as state_dir, Journal.open(state_dir) as journal:
        note = require_firm_address(checked.address, state_dir, options.expect_addresses)
        if note is not None:
            options.report(note)
        keys = checked.request_keys(target.origin)
        existing = journal.find(keys)
        if existing is not None:
            journal.add_keys(existing.id, keys)
            if existing.state == "accepted":
                return _already_accepted(existing, checked, journal)
        with options.client(target) as client:
            run = _Run(checked, target, options, journal, client, CredentialStore(state_dir), existing)
            return run.execute()


def _already_accepted(entry: Submission, checked: CheckedRequest, journal: Journal) -> SubmitResult:
    return SubmitResult(
        outcome="already-accepted",
        sent=False,
        action=entry.action,
        address=checked.address,
        network_id=checked.network.chain_id,
        api=entry.api_origin,
        payload_id=checked.payload.id,
        fingerprint=checked.payload.fingerprint,
        journal_entry=entry.id,
        journal_path=str(journal.path),
        details=dict(entry.result),
        notes=[f"already accepted ({entry.updated_at}, journal entry {entry.id}): nothing was sent"],
    )


class _Run:
    """One submission attempt of one checked payload (holds the state dir lock throughout)."""

    def __init__(
        self,
        checked: CheckedRequest,
        target: ApiTarget,
        options: RelayOptions,
        journal: Journal,
        client: ApiClient,
        store: CredentialStore,
        existing: Submission | None,
    ) -> None:
        self.checked = checked
        self.target = target
        self.options = options
        self.journal = journal
        self.client = client
        self.store = store
        self.entry = existing
        self.sent = False
        self.doubt = False  # an attempt of this run may have taken effect (unresolved)
        # An earlier run left this entry in doubt; until the server is asked, it stays so.
        self.doubt_from_before = existing is not None and existing.state in ("sending", "ambiguous")
        self._clock: ServerClock | None = None
        self.notes: list[str] = []
        self.stored_credentials = False
        self._unlinked: list[int] = []  # exchanges recorded before the journal entry existed

    # ---- small helpers ----

    def scrub(self, text: str) -> str:
        """Remove the onboarding signature (the seed of the API secret) should a server echo it back."""
        if self.checked.onboarding_signature is None:
            return text
        signature = self.checked.onboarding_signature.reveal()[2:].lower()
        lowered = text.lower()
        for part in (signature, signature[:64], signature[64:128]):
            while part in lowered:
                at = lowered.index(part)
                text = text[:at] + REDACTED + text[at + len(part) :]
                lowered = text.lower()
        return text

    def report(self, line: str) -> None:
        self.options.report(self.scrub(line))

    def observe(self, purpose: str) -> Callable[[Attempt], None]:
        def record(attempt: Attempt) -> None:
            exchange = self.journal.record(
                self.entry.id if self.entry else None, purpose, attempt, scrub=self.scrub
            )
            if self.entry is None:
                self._unlinked.append(exchange)

        return record

    @property
    def clock(self) -> ServerClock:
        if self._clock is None:
            self._clock = ServerClock.measure(self.client, self.observe("time"))
        return self._clock

    @property
    def context(self) -> dict[str, Any]:
        return dict(self.entry.context) if self.entry else {}

    def _update(self, **changes: Any) -> None:
        assert self.entry is not None
        self.entry = self.journal.update(self.entry.id, **changes)

    # ---- the flow ----

    def execute(self) -> SubmitResult:
        try:
            return self._execute()
        except AirgapError as exc:
            message = self.scrub(exc.message)
            if isinstance(exc, _Refused):
                state = "rejected"
            elif isinstance(exc, _Unresolved) or self.doubt or self.doubt_from_before:
                state = "ambiguous"
            else:  # certainly never took effect: sending again is allowed
                state = "rejected"
            if self.entry is not None:
                self._update(state=state, note=message)
            if message != exc.message:
                raise type(exc)(message) from None
            raise
        except BaseException as exc:
            # Not one of ours (a bug, an interrupt): the request may have gone out, so the entry must not
            # stay "sending" as if nothing had happened — it is marked ambiguous, to be checked next run.
            if self.entry is not None and self.entry.state == "sending":
                self._update(
                    state="ambiguous", note=f"interrupted by {type(exc).__name__}; check before resending"
                )
            raise

    def _wait_for_ladder(self) -> None:
        """Sleep until the first rung is usable, with a countdown; the ladder's own end bounds the wait."""
        c = self.checked
        starts, ends = usable_interval(c.rungs, valid_from=c.valid_from, valid_until=c.valid_until)
        if starts >= ends:
            return  # never usable: choose_rung says so in one line
        while (left := self.clock.seconds_until(starts)) > 0:
            self.report(f"waiting for the ladder: its first rung is usable in {left:.0f} s (server clock)")
            self.options.sleep(min(left, 10.0))

    def _execute(self) -> SubmitResult:
        c = self.checked
        if self.doubt_from_before:
            assert self.entry is not None
            self.report(
                f"journal entry {self.entry.id}: an earlier attempt may have taken effect; "
                "asking the API first"
            )
            found = self._reconcile(None)
            if found is not None:
                return self._reconciled(found)
            self.doubt_from_before = False
        if c.rungs:  # fail fast, before any other request, if the ladder cannot be used now
            if self.options.wait_for_ladder:
                self._wait_for_ladder()
            choose_rung(c.rungs, self.clock.now(), valid_from=c.valid_from, valid_until=c.valid_until)
        context = self._prepare()
        if self.entry is None:
            self.entry = self.journal.start(
                keys=c.request_keys(self.target.origin),
                payload_digest=c.payload.digest.hex(),
                payload_id=c.payload.id,
                kind=c.payload.kind,
                action=c.action,
                network_id=c.network.chain_id,
                address=c.address,
                api_origin=self.target.origin,
                context=context,
            )
            self.journal.attach(self.entry.id, self._unlinked)
        else:
            self._update(state="sending", note="sending again", context=context)
        try:
            outcome = self.client.call(
                self._build,
                idempotent=c.idempotent,
                reconcile=self._reconcile_hook,
                observe=self._observe_submit,
            )
        except RequestFailed as exc:
            if not exc.uncertain:
                raise
            # The last attempt may have taken effect: one more look before giving up.
            found = self._reconcile(exc.last)
            if found is not None:
                return self._reconciled(found)
            self.doubt = False
            raise RemoteError(
                f"{exc.message}; the API shows it did not take effect; try again later"
            ) from None
        if isinstance(outcome, Reconciled):
            return self._reconciled(outcome.value)
        return self._answered(outcome)

    def _observe_submit(self, attempt: Attempt) -> None:
        self.sent = True
        if attempt.may_have_taken_effect and not self.checked.idempotent:
            self.doubt = True
        self.journal.record(self.entry.id if self.entry else None, "submit", attempt, scrub=self.scrub)

    def _reconcile_hook(self, attempt: Attempt) -> Reconciled[dict[str, Any]] | None:
        found = self._reconcile(attempt)
        if found is None:
            self.doubt = False
            return None
        return Reconciled(found)

    def _reconcile(self, attempt: Attempt | None) -> dict[str, Any] | None:
        """Ask the server whether the request took effect; None = certainly not. Raises if it cannot tell."""
        try:
            if self.checked.action == ONBOARDING:
                return self._reconcile_onboarding()
            if self.checked.action == "api-key-create":
                return self._reconcile_create()
            if self.checked.action == "api-key-delete":
                return self._reconcile_delete()
            return None  # recovery is a read
        except (_Refused, _Unresolved, PolicyError):
            raise
        except AirgapError as exc:
            raise _Unresolved(
                f"{self.checked.method} {self.checked.request_path.split('?')[0]} may have taken effect and "
                f"the API could not be asked ({exc.message}); nothing more was sent: run the same command "
                "again to check and finish"
            ) from None

    # ---- per action: what to do before, how to build, how to check, how to read the answer ----

    def _prepare(self) -> dict[str, Any]:
        c = self.checked
        if c.action == "api-key-create":
            # Listed afresh each time sending starts: earlier attempts are known to have had no effect.
            stored = self.store.pick(self.target.origin, c.address)
            if stored is None:
                self.report(
                    f"no stored API credentials for {c.address}: if this request is interrupted, the relay "
                    "cannot check whether the key was created"
                )
                return {"keys_before": None}
            keys = list_api_keys(self.client, stored.credentials, self.clock, self.observe("status"))
            return {"keys_before": keys, "check_key": stored.key}
        return {}

    def _build(self, attempt: int) -> ApiRequest:
        c = self.checked
        headers = {HEADER_ETHEREUM_ADDRESS: c.address, _CONTENT_TYPE: _JSON}
        if c.action == ONBOARDING:
            assert c.onboarding_signature is not None
            headers[HEADER_SIGNATURE] = c.onboarding_signature.reveal()
            # The onboarding signature is the seed of the default API secret: never journaled.
            return ApiRequest(
                c.method,
                c.request_path,
                c.body_text.encode("utf-8"),
                headers,
                frozenset({HEADER_ETHEREUM_ADDRESS, _CONTENT_TYPE}),
            )
        rung = choose_rung(c.rungs, self.clock.now(), valid_from=c.valid_from, valid_until=c.valid_until)
        sent = [*self.context.get("sent_rungs", []), rung.timestamp]
        self._update(context={"sent_rungs": sent})  # committed before the rung leaves
        headers[HEADER_SIGNATURE] = rung.signature
        headers[HEADER_TIMESTAMP] = rung.timestamp
        return ApiRequest(
            c.method,
            c.request_path,
            c.body_text.encode("utf-8"),
            headers,
            frozenset(headers),
        )

    def _onboarding_credentials(self) -> ApiCredentials:
        assert self.checked.onboarding_signature is not None
        raw = bytes.fromhex(self.checked.onboarding_signature.reveal()[2:])
        return api_credentials_from_onboarding_signature(raw)

    def _reconcile_onboarding(self) -> dict[str, Any] | None:
        c = self.checked
        data = self.client.get_json(
            f"/v3/users/exists?ethereumAddress={c.address}", observe=self.observe("status")
        )
        if not isinstance(data, dict) or not isinstance(data.get("exists"), bool):
            raise RemoteError("GET /v3/users/exists: the answer has no 'exists' flag")
        if not data["exists"]:
            return None
        return self._confirm_onboarded_by_us(
            "the onboarding had taken effect, but its answer was lost; the default API credentials were "
            "re-derived from the onboarding signature and confirmed by the API"
        )

    def _confirm_onboarded_by_us(self, note: str) -> dict[str, Any]:
        """The user exists: it is ours if the credentials this signature implies authenticate."""
        c = self.checked
        derived = self._onboarding_credentials()
        response = hmac_get(self.client, derived, self.clock, "/v3/api-keys", self.observe("status"))
        if response.status == 401:
            raise _Refused(
                f"a dYdX user {c.address} exists, but not from this onboarding signature (its default API "
                "key is not valid there); nothing more was sent"
            )
        if not response.ok:
            raise RemoteError(f"GET /v3/api-keys: HTTP {response.status}: {response.error_message()}")
        keys = parse_api_key_list(response.json())
        details: dict[str, Any] = {
            "user_id": user_id(c.address),
            "account_id": account_id(c.address, 0),
            "api_key": derived.key,
            "api_keys": keys,
        }
        try:
            account = get_account(
                self.client, derived, self.clock, account_id(c.address, 0), self.observe("status")
            )
            _, position_id, stark_key = account_fields(account, "GET /v3/accounts", None)
            details["position_id"], details["stark_key"] = position_id, stark_key
        except AirgapError as exc:
            self.notes.append(f"the account could not be read ({exc.message})")
        else:
            if int(details["stark_key"], 16) != c.stark_public_key:
                # Our signature, someone else's STARK key: the classic substitution (security.md T1 b).
                raise _Refused(
                    f"dYdX account 0 of {c.address} has STARK key {details['stark_key']}, not the payload's "
                    f"0x{c.stark_public_key or 0:064x}: it was onboarded with another key; do not use it"
                )
        self._store_key(derived, "default")
        self.notes.append(note)
        return details

    def _settle(self) -> None:
        """Wait until every rung this submission sent is outside the server window (it can no longer act)."""
        sent = self.context.get("sent_rungs") or []
        if not sent or not self.options.settle_after_ambiguity:
            return
        latest = max(parse_iso_ms(t) for t in sent)
        deadline = latest + timedelta(seconds=SERVER_WINDOW_SECONDS + SETTLE_MARGIN_SECONDS)
        wait = self.clock.seconds_until(deadline)
        if wait > 0:
            self.report(
                f"waiting {wait:.0f} s until the interrupted request's timestamp has expired at the server, "
                "so the check that follows is final"
            )
            self.options.sleep(wait)

    def _reconcile_create(self) -> dict[str, Any] | None:
        c = self.checked
        before = self.context.get("keys_before")
        stored = self.store.pick(self.target.origin, c.address)
        if before is None or stored is None:
            raise _Unresolved(
                f"POST /v3/api-keys may have created a key for {c.address}, and without stored API "
                "credentials the relay cannot check; see 'dydx-relay api-keys list' once you have them, "
                "and sign a new ladder if no key was created"
            )
        self._settle()
        after = list_api_keys(self.client, stored.credentials, self.clock, self.observe("status"))
        new = [k for k in after if k not in before]
        if not new:
            return None
        self.notes.append(
            f"the API created {', '.join(new)} but its answer (with the secret) was lost: that key cannot be "
            "used; delete it with an api-key-delete payload"
        )
        return {"created_key": None, "lost_secret_keys": new, "api_keys": after}

    def _reconcile_delete(self) -> dict[str, Any] | None:
        c = self.checked
        key = c.api_key_to_delete or ""
        stored = self.store.pick(self.target.origin, c.address, exclude=frozenset({key}))
        if stored is None:
            return None  # deleting twice is harmless: a second DELETE answers 404, read as "done"
        after = list_api_keys(self.client, stored.credentials, self.clock, self.observe("status"))
        if key in after:
            return None
        self.store.remove(self.target.origin, key)
        return {"deleted_key": key, "api_keys": after}

    # ---- answers ----

    def _answered(self, response: ApiResponse) -> SubmitResult:
        c = self.checked
        if not response.ok:
            return self._refused(response)
        # It took effect: should the answer fail its checks, the entry stays ambiguous and the next run
        # asks the server instead of resending.
        self.doubt = True
        data = response.json()
        if c.action == ONBOARDING:
            assert c.stark_public_key is not None
            answer = parse_onboarding_answer(data, c.address, c.stark_public_key)
            if answer.credentials.key != self._onboarding_credentials().key:
                self.notes.append(
                    "the API's default API key differs from the one dYdX derives from the signature"
                )
            self._store_key(answer.credentials, "default")
            details: dict[str, Any] = {
                "user_id": user_id(c.address),
                "account_id": answer.account_id,
                "position_id": answer.position_id,
                "stark_key": answer.stark_key,
                "api_key": answer.credentials.key,
            }
        elif c.action == "api-key-create":
            credentials = api_credentials_from(data, "POST /v3/api-keys")
            self._store_key(credentials, "created")
            details = {"created_key": credentials.key}
        elif c.action == "api-key-delete":
            key = c.api_key_to_delete or ""
            parse_deleted_key(data, key)
            self.store.remove(self.target.origin, key)
            details = {"deleted_key": key}
        else:
            details = {"recovery": parse_recovery_answer(data)}
        return self._accepted("accepted", details)

    def _refused(self, response: ApiResponse) -> SubmitResult:
        c = self.checked
        message = response.error_message()
        if c.action == ONBOARDING and response.status == 409 and "exist" in message.lower():
            # Onboarded before (another relay, a lost journal): the same signature proves it was us.
            details = self._confirm_onboarded_by_us(
                "the user already existed, from this same onboarding signature; its default API credentials "
                "were re-derived and confirmed by the API"
            )
            return self._accepted("accepted-after-check", details)
        if c.action == "api-key-delete" and response.status == 404 and self.doubt:
            # An earlier attempt of this run may have deleted it: 404 now means it is gone, as asked.
            self.store.remove(self.target.origin, c.api_key_to_delete or "")
            return self._accepted("accepted-after-check", {"deleted_key": c.api_key_to_delete})
        self.doubt = False
        raise _Refused(
            f"the API refused {c.method} {c.request_path.split('?')[0]}: HTTP {response.status}: {message}"
        )

    def _reconciled(self, details: dict[str, Any]) -> SubmitResult:
        return self._accepted("accepted-after-check", details)

    def _store_key(self, credentials: ApiCredentials, label: str) -> None:
        c = self.checked
        self.store.add(
            StoredKey(
                api=self.target.origin,
                network_id=c.network.chain_id,
                address=c.address,
                key=credentials.key,
                secret=credentials.secret,
                passphrase=credentials.passphrase,
                label=label,
                created=iso_ms(now_utc()),
                payload_id=c.payload.id,
            )
        )
        self.stored_credentials = True

    def _accepted(self, outcome: str, details: dict[str, Any]) -> SubmitResult:
        c = self.checked
        assert self.entry is not None  # every path here went through the journal first
        self._update(state="accepted", note="; ".join(self.notes) or None, result=details)
        stored = self.stored_credentials
        return SubmitResult(
            outcome=outcome,
            sent=self.sent,
            action=c.action,
            address=c.address,
            network_id=c.network.chain_id,
            api=self.target.origin,
            payload_id=c.payload.id,
            fingerprint=c.payload.fingerprint,
            journal_entry=self.entry.id,
            journal_path=str(self.journal.path),
            details=details,
            notes=list(self.notes),
            credentials_file=str(self.store.path) if stored else None,
        )
