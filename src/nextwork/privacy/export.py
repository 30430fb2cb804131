"""A member's own data, all of it, in one zip: ``data.json``, one CSV per table, a README.

Which rows are the member's is decided from the models themselves: every row of a table that
points to the member through a foreign key that deletes with them (``CASCADE``: their
locations, consents, supports, proxies…), plus the rows they wrote that outlive them
(``OWN_SET_NULL``: proposals, comments, reports, donor records, fundraising pages, social
accounts) and rows reached through those (``THROUGH``: their donations, receipts, the proxy
matches of their requests). A foreign key that names the member as the one who *acted* on
someone else's record (``granted_by``, ``decided_by``, ``created_by``…) does not make that
record theirs: it belongs to the other person, and is not exported.

In an exported row, a foreign key to another member is left out (a proxy match does not name
the other side), secrets and keys are left out (``SKIPPED``), other foreign keys are given as
ids (a territory as its official code).
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import uuid
import zipfile

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from nextwork.privacy.services import audit_record

FORMAT = 1

# Rows the member made that stay (``SET_NULL``) after their erasure: still theirs while they are.
OWN_SET_NULL = {
    ("participation.Proposal", "author"),
    ("participation.Comment", "author"),
    ("participation.Report", "reporter"),
    ("fundraising.Donor", "member"),
    ("fundraising.FundraisingPage", "owner"),
    ("monitoring.Channel", "member"),
    ("campaigns.Assignment", "relay"),
}
# Foreign keys to the member that do not make the row theirs, though it goes with them.
NOT_THEIRS = {
    ("admin.LogEntry", "user"),  # their staff actions in the admin: about other records
}
# Rows reached through a row of the member's: (model, lookup from it to the member).
THROUGH = [
    ("fundraising.Donation", "donor__member"),
    ("fundraising.Receipt", "donor__member"),
    ("fundraising.Recurring", "donor__member"),
    ("mobilisation.ProxyMatch", "request__member"),
    ("participation.ProposalVersion", "proposal__author"),
    ("participation.ProposalAttachment", "proposal__author"),
]
# Field names never exported: credentials, secrets, keys and hashes that identify nothing
# the member needs (and would help whoever gets hold of the file).
SKIPPED = {"password", "key", "secret", "webhook_secret", "token", "token_hash", "address_hash",
           "body_digest", "sha256", "avatar_hash"}  # fmt: skip

README = """Vos données — export du {date}

Ce fichier zip contient toutes les données que la plateforme conserve sur vous.

- data.json : toutes vos données, regroupées par application puis par table, dans un
  format lisible par un programme (les dates sont au format ISO 8601, en UTC).
- Un fichier CSV par table (dossier de l'application / nom de la table), à ouvrir avec
  un tableur : une ligne par enregistrement, une colonne par champ. Les cellules qui
  commencent par =, +, - ou @ sont précédées d'une apostrophe pour qu'aucun tableur ne
  les exécute comme une formule.
- account.csv (dossier network) : votre compte (courriel, nom, téléphone, dates).

Les nombres dans les colonnes se terminant par « _id » renvoient à d'autres
enregistrements (une proposition, un événement, un tour d'élection…). Les territoires
sont donnés par leur code officiel (circonscription 75-02, département 75, commune).

Ce qui n'y figure pas : les données d'autres personnes (par exemple, le nom de la
personne avec qui une procuration a été appariée), vos mots de passe et clés secrètes
(jamais stockés en clair), et les actions que vous avez faites sur les données des
autres en tant que relais, coordinateur·rice ou équipe (elles sont dans le journal
d'audit de l'organisation).

Pour faire rectifier ou effacer vos données : rubrique « Mes données » de votre espace.
"""


def _value(obj, field: models.Field):
    if isinstance(field, models.ForeignKey):
        related = getattr(obj, field.attname)
        if related is None:
            return None
        if field.related_model._meta.label == "territories.Area":
            area = getattr(obj, field.name)
            return getattr(area, "code", related)
        return related
    value = field.value_from_object(obj)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(field, models.FileField):
        return value.name if value else ""
    if isinstance(value, bytes | memoryview):
        return None
    return value


def skipped(name: str) -> bool:
    """Whether a field is a credential or a secret, by its name (``SKIPPED``, ``*_hash``,
    ``*secret*``, ``*_hmac``): tables added later are covered too."""
    return name in SKIPPED or name.endswith(("_hash", "_hmac")) or "secret" in name


def _exported_fields(model, owner: str | None) -> list[models.Field]:
    member_model = get_user_model()
    fields = []
    for field in model._meta.concrete_fields:
        if skipped(field.name) or field.name == owner:
            continue
        if field.is_relation and field.related_model is member_model:
            continue  # another member (or the member again): never named
        fields.append(field)
    return fields


def _row(obj, fields: list[models.Field]) -> dict:
    return {
        (f.attname if isinstance(f, models.ForeignKey) and not _is_area(f) else f.name): _value(
            obj, f
        )
        for f in fields
    }


def _is_area(field: models.Field) -> bool:
    return field.related_model is not None and field.related_model._meta.label == "territories.Area"


def owner_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, foreign key) by which a row belongs to a member."""
    member_model = get_user_model()
    found = []
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label
        for field in model._meta.concrete_fields:
            if not (field.is_relation and field.related_model is member_model):
                continue
            if (label, field.name) in NOT_THEIRS:
                continue
            cascade = field.remote_field.on_delete is models.CASCADE
            if cascade or (label, field.name) in OWN_SET_NULL:
                found.append((model, field.name))
    return found


def collect(member) -> dict[str, dict[str, list[dict]]]:
    """The member's rows: {app label: {table: [row, …]}}; the account itself first."""
    member_model = get_user_model()
    account_fields = [
        f for f in member_model._meta.concrete_fields
        if not skipped(f.name) and f.name != "is_superuser"
    ]  # fmt: skip
    data: dict[str, dict[str, list[dict]]] = {
        member_model._meta.app_label: {"account": [_row(member, account_fields)]}
    }
    tables: dict[type[models.Model], dict[int, object]] = {}
    owners: dict[type[models.Model], str | None] = {}
    for model, name in owner_fields():
        rows = tables.setdefault(model, {})
        for obj in model._default_manager.filter(**{name: member}).order_by("pk"):
            rows[obj.pk] = obj
        owners[model] = name if model not in owners else None
    for label, lookup in THROUGH:
        model = apps.get_model(label)
        rows = tables.setdefault(model, {})
        for obj in model._default_manager.filter(**{lookup: member}).order_by("pk"):
            rows[obj.pk] = obj
        owners.setdefault(model, None)
    for model, rows in sorted(tables.items(), key=lambda kv: kv[0]._meta.label):
        if not rows:
            continue
        fields = _exported_fields(model, owners[model])
        app = data.setdefault(model._meta.app_label, {})
        app[model._meta.model_name] = [_row(obj, fields) for _pk, obj in sorted(rows.items())]
    return data


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = list(rows[0])
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def member_export(member, *, by=None) -> bytes:
    """The zip of the member's data (see the module's docstring). Audited as ``privacy.export``
    with counts only; ``by`` is who asked (the member themself unless given)."""
    data = collect(member)
    now = timezone.now()
    document = {
        "format": FORMAT,
        "generated_at": now.isoformat(),
        "member": str(member.public_id),
        "apps": data,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", README.format(date=now.strftime("%d/%m/%Y")))
        zf.writestr("data.json", json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True))
        for app, tables in data.items():
            for table, rows in tables.items():
                zf.writestr(f"{app}/{table}.csv", _csv(rows))
    rows = sum(len(r) for tables in data.values() for r in tables.values())
    tables_count = sum(len(tables) for tables in data.values())
    audit_record(
        actor=by or member,
        action="privacy.export",
        details={"member": member.pk, "tables": tables_count, "rows": rows},
    )
    return buffer.getvalue()
