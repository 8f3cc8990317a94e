"""`keygen`, `derive` and `recover`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dydx_airgap.offline.hygiene import harden_process
from dydx_airgap.offline.keys.cold_key import ColdKey
from dydx_airgap.offline.keys.passphrase_rule import require_strong_passphrase
from dydx_airgap.offline.keys.prompts import get_secret
from dydx_airgap.offline.keys.sources import (
    decrypt_keystore_bytes,
    generate_key,
    load_keys,
    parse_account_range,
)
from dydx_airgap.offline.options import (
    json_option,
    key_source_from,
    key_source_options,
    network_option,
    overwrite_vault_option,
    variant_option,
    vault_password_option,
)
from dydx_airgap.shared.dydx_v3.networks import Network
from dydx_airgap.shared.dydx_v3.variants import StarkKeyVariant
from dydx_airgap.shared.errors import InputError, VerificationError
from dydx_airgap.shared.fsutil import read_secret_file, write_secret_file
from dydx_airgap.shared.progress import BatchProgress
from dydx_airgap.shared.progress import wanted as progress_wanted

_file = click.Path(path_type=Path, dir_okay=False)


@click.command()
@click.option("--out", "out", type=_file, required=True, help="Keystore file to create (0600).")
@click.option("--password-file", type=_file, help="File (0600) with the new keystore's password.")
@click.option(
    "--mnemonic-out", type=_file, help="Write the mnemonic to this file (0600) instead of the screen."
)
@json_option
def keygen(out: Path, password_file: Path | None, mnemonic_out: Path | None, as_json: bool) -> None:
    """Create a new Ethereum key from the OS random generator.

    Writes it as an encrypted keystore (scrypt) and shows its 24-word mnemonic once, on the terminal:
    numbered words in columns, cleared (scrollback too) when you press Enter, then an optional check that
    asks for three words from your paper copy (or into --mnemonic-out). Write the words down: they are the
    only backup.
    """
    harden_process()
    if out.exists():
        raise InputError(f"{out} already exists: keygen never overwrites a key")
    if mnemonic_out is not None and mnemonic_out.exists():
        raise InputError(f"{mnemonic_out} already exists")
    password = get_secret(
        "new keystore password",
        password_file,
        confirm=True,
        option_hint="--password-file FILE",
        check=lambda secret: require_strong_passphrase(secret, "keystore password"),
    )
    phrase, raw, keystore = generate_key(password)
    if mnemonic_out is not None:
        write_secret_file(mnemonic_out, (phrase.reveal() + "\n").encode())
    else:
        from dydx_airgap.offline.keys.mnemonic_display import show_mnemonic_once

        show_mnemonic_once(phrase.reveal())
    write_secret_file(out, keystore)
    # Read back what we wrote: the keystore must decrypt to the same key (ethstaker-deposit-cli habit).
    again = decrypt_keystore_bytes(read_secret_file(out), password, out)
    if again.reveal() != raw.reveal():
        raise VerificationError(f"{out} does not decrypt back to the new key; do not use it")
    address = ColdKey(again).address
    if as_json:
        click.echo(json.dumps({"address": address, "keystore": str(out)}))
    else:
        click.echo(f"created keystore {out} for address {address}")


@click.command()
@key_source_options
@network_option
@click.option(
    "--accounts", "accounts", default="0", show_default=True, help="Account indices: 0, 0-9, 0,3,5-7."
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True)
@variant_option
@vault_password_option
@overwrite_vault_option
@json_option
def derive(
    network: Network,
    accounts: str,
    variant: StarkKeyVariant,
    out_dir: Path,
    vault_password_file: Path | None,
    overwrite: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Derive each account's STARK key pair and default API credentials, exactly as dYdX did.

    Writes one public file per account (address, STARK public key x and y, fingerprint) and one encrypted
    vault (0600) with the secrets of all accounts. The derivation signatures are never written anywhere.
    """
    from dydx_airgap.offline.keys.derive import VAULT_NAME, derive_to_directory
    from dydx_airgap.offline.keys.vault import require_room_for

    harden_process()
    source = key_source_from(kwargs)
    indices = parse_account_range(accounts)
    require_room_for(len(indices))  # before any key is loaded or prompt shown
    keys = list(load_keys(source, indices))
    vault_pass = get_secret(
        "vault passphrase",
        vault_password_file,
        confirm=True,
        option_hint="--vault-password-file FILE",
        check=lambda secret: require_strong_passphrase(secret, "vault passphrase"),
    )
    with BatchProgress(progress_wanted(as_json)) as progress:
        records = derive_to_directory(
            network, keys, out_dir, vault_pass, overwrite, variant=variant, progress=progress
        )
    if as_json:
        click.echo(json.dumps([json.loads(r.data) for r in records], indent=2))
        return
    click.echo(f"network {network.label}; vault {out_dir / VAULT_NAME} (0600, Argon2id + AES-256-GCM)")
    click.echo(f"key variant {variant.value}: {variant.description}")
    for r in records:
        body = r.payload.body
        click.echo(
            f"account {r.key.index}: {r.account.address}  stark {body['stark_public_key']}  "
            f"key fingerprint {r.payload.key_fingerprint}  payload fingerprint {r.payload.fingerprint}  "
            f"-> {r.path.name}"
        )
    click.echo(
        "the key fingerprint depends only on network, address and STARK key: compare it across machines; "
        "the payload fingerprint identifies this file (it covers its id and time)"
    )


def _networks(ctx: click.Context, param: click.Parameter, value: str) -> list[Network]:
    from dydx_airgap.shared.dydx_v3.networks import NETWORKS, get_network

    if value.strip().lower() == "all":
        return list(NETWORKS.values())
    try:
        chosen = [get_network(part) for part in value.split(",") if part.strip()]
    except InputError as exc:
        raise click.BadParameter(exc.message) from None
    if not chosen:
        raise click.BadParameter("name at least one network, or all")
    if len({n.chain_id for n in chosen}) != len(chosen):
        raise click.BadParameter("a network is named twice")
    return chosen


def _match_targets(matches: tuple[str, ...], match_file: Path | None) -> list[Any]:
    from dydx_airgap.offline.keys.recover import parse_target
    from dydx_airgap.shared.fsutil import read_untrusted_file

    texts = list(matches)
    if match_file is not None:
        raw = read_untrusted_file(match_file, cap=4 * 1024 * 1024)
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise InputError(f"{match_file} is not UTF-8 text: one STARK key per line") from None
        for number, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                texts.append(line)
                parse_target(line)
            except InputError as exc:
                raise InputError(f"{match_file} line {number}: {exc.message}") from None
    if not texts:
        raise InputError("nothing to look for: give --match KEY (repeatable) or --match-file FILE")
    targets = [parse_target(text) for text in texts]
    if len({t.text for t in targets}) != len(targets):
        raise InputError("a STARK key to match is given twice")
    return targets


@click.command()
@key_source_options
@click.option(
    "--network",
    "networks",
    required=True,
    callback=_networks,
    help="Chain ids or names, comma-separated (1,11155111), or all.",
)
@click.option(
    "--accounts", "accounts", default=None, help="Account indices to try: 0, 0-99, 0,3,5-7 (default 0)."
)
@click.option(
    "--match",
    "matches",
    multiple=True,
    help="A STARK public key (x) to find, hex; repeatable; 8 or more leading digits match as a prefix.",
)
@click.option("--match-file", type=_file, help="A file with one STARK key (or prefix) per line.")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Processes to use (default: every CPU)."
)
@json_option
def recover(
    networks: list[Network],
    accounts: str | None,
    matches: tuple[str, ...],
    match_file: Path | None,
    workers: int | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Find which account, network and key variant gives each STARK key dYdX has on record.

    Tries every variant (web-app, v-rotated, type-rotated, both-rotated, legacy-personal-sign,
    dydx3-python) of every account on every network, on every core, and prints each match with the flags
    that sign for it.
    """
    from dydx_airgap.offline.keys.recover import search
    from dydx_airgap.shared.dydx_v3.variants import ALL_VARIANTS

    indices = parse_account_range(accounts if accounts is not None else "0")
    targets = _match_targets(matches, match_file)
    harden_process()
    keys = list(load_keys(key_source_from(kwargs), indices))
    with BatchProgress(progress_wanted(as_json)) as progress:
        advance = progress.stage("searching", len(keys)) if progress.enabled else None
        result = search(keys, networks, targets, workers, advance)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "searched": {
                        "accounts": len(keys),
                        "network_ids": [n.chain_id for n in networks],
                        "variants": [v.value for v in ALL_VARIANTS],
                        "candidates": result.candidates_tried,
                    },
                    "matches": [
                        {
                            "match": "0x" + m.target.text,
                            "how": m.how,
                            "account": m.candidate.account,
                            "derivation_path": m.candidate.derivation_path,
                            "address": m.candidate.address,
                            "network_id": m.candidate.network.chain_id,
                            "variant": m.candidate.variant.value,
                            "same_key_variants": [v.value for v in m.same_key_variants],
                            "stark_public_key": f"0x{m.candidate.stark_key:064x}",
                        }
                        for m in result.matches
                    ],
                    "not_found": ["0x" + t.text for t in result.not_found],
                },
                indent=2,
            )
        )
    else:
        click.echo(
            f"searched {len(keys)} account(s) x {len(networks)} network(s) x {len(ALL_VARIANTS)} variants "
            f"= {result.candidates_tried} STARK keys"
        )
        for m in result.matches:
            c = m.candidate
            how = "exact" if m.how == "exact" else f"prefix match ({len(m.target.text)} digits)"
            path = c.derivation_path or "keystore"
            also = "".join(f" (= {v.value}: same key)" for v in m.same_key_variants)
            click.echo(
                f"MATCH {how}: 0x{c.stark_key:064x} is account {c.account} ({path}, {c.address}) "
                f"on {c.network.label}, variant {c.variant.value}{also}"
            )
            click.echo(
                f"      sign for it with --account {c.account} --network {c.network.chain_id} "
                f"{c.variant.flag}"
            )
        if result.matches and any(m.how == "prefix" for m in result.matches):
            click.echo("a prefix match is not proof: compare the whole key before signing")
    if result.not_found:
        shown = ", ".join("0x" + t.text for t in result.not_found[:5])
        more = f" and {len(result.not_found) - 5} more" if len(result.not_found) > 5 else ""
        raise InputError(
            f"{len(result.not_found)} of {len(targets)} STARK key(s) not found ({shown}{more}) among "
            f"{result.candidates_tried} candidates: check the key source, --accounts and --network"
        )
