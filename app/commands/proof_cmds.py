"""Proof commands: the signing key, signed checkpoints and Merkle proofs an auditor checks
without trusting the ledger's server (docs/proofs.md)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from app.commands.stores import ledger_to_read
from app.console import err, fail, out
from app.settings import Settings
from ledger.checkpoints import SigningKey, SigningKeyError, new_signing_key, parse_signing_key
from ledger.merkle import MissingNode
from ledger.proofs import (
    ProofRefused,
    consistency_proof,
    find_checkpoint,
    find_position,
    inclusion_proof,
    take_checkpoint,
)

DEFAULT_SIGNER = "dossier-ledger"

keys = typer.Typer(help="The ledger's keys.", no_args_is_help=True)


def register(cli: typer.Typer) -> None:
    cli.add_typer(keys, name="keys")
    keys.command("signing")(signing_cmd)
    cli.command("checkpoint")(checkpoint_cmd)
    cli.command("prove")(prove_cmd)


def signing_cmd(
    new: Annotated[bool, typer.Option("--new", help="create the key (refused if one exists)")
                   ] = False,
    name: Annotated[str, typer.Option(help="the signer's name, also the checkpoints' origin "
                                      "line (no spaces, no '+')")] = DEFAULT_SIGNER,
) -> None:
    """Print the verifier key to publish (the checkpoint signing key's public half); with
    --new, create the signing key first (DOSSIER_SIGNING_KEY_FILE, default
    <data dir>/signing.key)."""
    path = Settings().signing_key_path
    if new:
        if path.exists():
            fail(f"a signing key exists already at {path}: not replacing it (checkpoints "
                 "signed with it could no longer be checked by its verifier key)")
        try:
            key = new_signing_key(name)
        except SigningKeyError as error:
            fail(str(error))
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key.private_text() + "\n")
        err.print(f"signing key written to {path} (keep it secret); publish the verifier key:")
    else:
        key = signing_key(path)
    out.print(key.verifier_key(), highlight=False, soft_wrap=True)


def signing_key(path: Path) -> SigningKey:
    if not path.is_file():
        fail(f"no signing key at {path} (DOSSIER_SIGNING_KEY_FILE): create one with "
             "`dossier keys signing --new`")
    try:
        return parse_signing_key(path.read_text())
    except SigningKeyError as error:
        fail(f"{path}: {error}")


def checkpoint_cmd(
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="also write the signed checkpoint to this file")] = None,
    every: Annotated[float | None, typer.Option(
        help="keep signing a checkpoint every so many seconds (until interrupted)",
        min=1.0)] = None,
) -> None:
    """Sign the log's size and Merkle root with the signing key and keep the checkpoint in
    the ledger; print it (a signed note) and, with --out, write it to a file kept outside
    the ledger. Refused when the log no longer extends its latest checkpoint."""
    settings = Settings()
    key = signing_key(settings.signing_key_path)
    while True:
        ledger = ledger_to_read(settings, doing="checkpoint")
        try:
            checkpoint, created = take_checkpoint(ledger, key)
        except (ProofRefused, MissingNode) as error:
            fail(str(error), code=1)
        finally:
            ledger.close()
        if out_file is not None:
            partial = out_file.with_name(out_file.name + ".partial")
            partial.write_text(checkpoint.note, encoding="utf-8")
            partial.replace(out_file)
        state = "signed" if created else "unchanged since"
        err.print(f"checkpoint {state}: {checkpoint.size} events, root {checkpoint.root}, "
                  f"{checkpoint.signed_at}, by {checkpoint.signer}", style="dim",
                  highlight=False)
        if every is None:
            sys.stdout.write(checkpoint.note)  # byte for byte: its signature covers it
            return
        time.sleep(every)


def prove_cmd(
    event: Annotated[str | None, typer.Argument(
        help="the event: its position, its hash, or stream:id:seq (dossier:d-0001:3)")] = None,
    checkpoint: Annotated[str | None, typer.Option(
        help="the checkpoint: its size (kept in the ledger) or its file; default: the latest")
    ] = None,
    consistency: Annotated[tuple[str, str] | None, typer.Option(
        help="prove that checkpoint NEW extends checkpoint OLD (sizes or files)",
        metavar="OLD NEW")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="write the proof here")
                        ] = None,
) -> None:
    """Print an inclusion proof of EVENT in a checkpoint, or with --consistency OLD NEW a
    consistency proof between two checkpoints, as JSON: check it with
    `python -m ledger.proofcheck --key VERIFIER_KEY FILE`."""
    if (event is None) == (consistency is None):
        fail("give an EVENT, or --consistency OLD NEW")
    ledger = ledger_to_read(doing="prove")
    try:
        proof: dict[str, Any]
        if consistency is not None:
            old, new = (find_checkpoint(ledger, ref) for ref in consistency)
            proof = consistency_proof(ledger, old, new)
        else:
            assert event is not None
            proof = inclusion_proof(ledger, find_position(ledger, event),
                                    find_checkpoint(ledger, checkpoint))
    except (ProofRefused, MissingNode) as error:
        fail(str(error), code=1)
    finally:
        ledger.close()
    text = json.dumps(proof, ensure_ascii=False, indent=1) + "\n"
    if out_file is not None:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"{proof['kind']} proof written to {out_file}", style="dim", highlight=False)
    else:
        sys.stdout.write(text)
