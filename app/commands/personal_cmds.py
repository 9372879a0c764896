"""Personal data commands: the key that seals personal data at rest, and the erasure of one
data subject by deleting their key (docs/personal-data.md)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.commands.proof_cmds import keys
from app.commands.stores import ledger_to_read
from app.console import err, fail, out
from app.settings import Settings
from ledger.errors import LedgerError
from ledger.personal import PersonalDataError, new_master_key_text
from ledger.unit_of_work import ERASURE_KEY_PREFIX

NOT_CONFIGURED = ("no personal-data key is configured (DOSSIER_PERSONAL_DATA_KEY_FILE): "
                  "personal data is stored in clear")


def register(cli: typer.Typer) -> None:
    keys.command("personal")(personal_key_cmd)
    cli.command("erase")(erase_cmd)


def personal_key_cmd(
    new: Annotated[bool, typer.Option("--new", help="create the key (refused if one exists)")
                   ] = False,
) -> None:
    """Say where the personal-data key and the subjects' keys are; with --new, create the
    key at DOSSIER_PERSONAL_DATA_KEY_FILE. From then on the personal fields of new events
    are sealed under their applicant's own key."""
    settings = Settings()
    path = settings.personal_data_key_file
    if path is None:
        fail(NOT_CONFIGURED + "; set it to the file to create, then run `dossier keys "
             "personal --new`")
    if new:
        if path.exists():
            fail(f"a personal-data key exists already at {path}: not replacing it (the "
                 "subjects' keys are wrapped by it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_master_key_text() + "\n")
        err.print(f"personal-data key written to {path} (keep it secret, and apart from the "
                  "ledger's backups)", highlight=False)
    elif not path.is_file():
        fail(f"no personal-data key at {path}: create it with `dossier keys personal --new`")
    out.print(f"personal data sealed with the key {path}; subjects' keys in "
              f"{settings.personal_keys_path}", highlight=False, soft_wrap=True)


def erase_cmd(
    applicant: Annotated[str, typer.Option(
        "--applicant", help="the applicant's reference (applicant_ref), as the one-stop system "
        "gave it")],
) -> None:
    """Xóa dữ liệu cá nhân: erase one applicant (data subject) by deleting their key: every
    personal value sealed under it (their reference, the names and reasons written about
    their dossiers) becomes unreadable for good, while the ledger's hashes, proofs and scores
    still hold. The erasure is recorded in the ledger (under the subject's id, never the
    reference)."""
    settings = Settings()
    if settings.personal_data_key_file is None:
        fail(NOT_CONFIGURED + ", so there is no key to delete")
    try:
        ledger = ledger_to_read(settings, doing="erase")
    except PersonalDataError as error:
        fail(str(error))
    try:
        sealer = ledger.sealer
        assert sealer is not None
        subject = sealer.subject_id(applicant)
        recorded = ledger.stream_envelopes("request", f"{ERASURE_KEY_PREFIX}{subject}")
        if recorded:
            sealer.forget(subject)  # again: a run stopped between the record and the delete
            out.print(f"subject {subject} was erased already (recorded "
                      f"{recorded[0]['recorded_at']}): nothing to do", highlight=False)
            return
        if sealer.keys.get(subject) is None:
            fail(f"no personal data of this applicant is sealed in the ledger (subject "
                 f"{subject}): nothing erased (data recorded before sealing was configured "
                 "stays in clear: docs/personal-data.md)", code=1)
        work = ledger.unit_of_work()
        try:
            work.add_erasure(subject)
            positions = work.commit_positions()
        finally:
            work.close()
        sealer.forget(subject)
    except LedgerError as error:
        fail(str(error), code=1)
    finally:
        ledger.close()
    out.print(f"erased subject {subject}: its key is deleted, its sealed personal data can no "
              f"longer be read; recorded at position {positions[0]}", highlight=False,
              soft_wrap=True)
