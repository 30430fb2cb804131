"""The programme: a draft that staff write (chapters of measures, each measure tracing back to
the members' proposals it came from), published as frozen, numbered versions.

Writes (staff only) change the draft; ``programme_publish`` freezes the draft into a
``ProgrammeVersion`` snapshot, so later edits never rewrite what readers were shown.

What readers see always goes through ``public_snapshot``: a proposal's title shows only while
the proposal is ``published`` *now*. A proposal hidden after a version was published keeps
its place in that version but loses its title and link everywhere (page, API, PDF, diff).
"""

from __future__ import annotations

import copy
import difflib
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from nextwork.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from nextwork.common.richtext import render as markdown
from nextwork.network.models import Member
from nextwork.network.permissions import is_staff
from nextwork.participation.models import Chapter, Measure, ProgrammeVersion, Proposal, State
from nextwork.privacy.services import audit_record

SNAPSHOT_FORMAT = 1
TITLE_MAX = 200
TEXT_MAX = 20_000
NOTE_MAX = 300
LINKS_MAX = 50


class ProposalsRefused(InvalidInput):
    """Some proposal ids cannot be linked; ``unknown`` and ``not_public`` say which."""

    def __init__(self, message: str, *, unknown: list[int], not_public: list[int]):
        super().__init__(message, field="proposals", code="proposals_refused")
        self.unknown = unknown
        self.not_public = not_public


def proposal_url(proposal_id: int) -> str:
    return f"/propositions/{proposal_id}/"


# -- checks shared by the writes -----------------------------------------------------------------


def _require_staff(by: Member | None) -> None:
    if not is_staff(by):
        raise Forbidden("Only national staff may edit or publish the programme.")


def _title(value: str) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidInput("The title holds a NUL character.", field="title")
    if not value:
        raise InvalidInput("The title is required.", field="title", code="required")
    if len(value) > TITLE_MAX:
        raise InvalidInput(
            f"The title is {len(value)} characters long; at most {TITLE_MAX} are allowed.",
            field="title",
            code="too_long",
        )
    return value


def _text(value: str, *, field: str, limit: int = TEXT_MAX) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidInput(f"The {field} holds a NUL character.", field=field)
    if len(value) > limit:
        raise InvalidInput(
            f"The {field} is {len(value)} characters long; at most {limit} are allowed.",
            field=field,
            code="too_long",
        )
    return value


def _chapter(chapter_id: int) -> Chapter:
    chapter = Chapter.objects.filter(pk=chapter_id).first()
    if chapter is None:
        raise NotFound(f"No chapter {chapter_id}.", field="chapter")
    return chapter


def _measure(measure_id: int) -> Measure:
    measure = Measure.objects.select_related("chapter").filter(pk=measure_id).first()
    if measure is None:
        raise NotFound(f"No measure {measure_id}.", field="measure")
    return measure


def _place(items: list, item, position: int | None) -> list:
    """``items`` without ``item``, then ``item`` inserted at 1-based ``position`` (the end when
    None). Refuses a position outside the list, naming the valid range."""
    others = [i for i in items if i.pk != item.pk]
    last = len(others) + 1
    if position is None:
        position = last
    if not 1 <= position <= last:
        raise InvalidInput(
            f"The position must be between 1 and {last}.", field="position", code="position"
        )
    others.insert(position - 1, item)
    return others


def _renumber(items: list, *fields: str) -> None:
    for index, item in enumerate(items, start=1):
        item.position = index
    if items:
        type(items[0]).objects.bulk_update(items, ["position", *fields])


# -- chapters ------------------------------------------------------------------------------------


@transaction.atomic
def chapter_create(
    *, by: Member | None, title: str, intro: str = "", position: int | None = None
) -> Chapter:
    """A new chapter of the draft, last unless ``position`` (1 = first) says otherwise."""
    _require_staff(by)
    chapter = Chapter(title=_title(title), intro=_text(intro, field="intro"))
    chapter.save()
    _renumber(_place(list(Chapter.objects.select_for_update()), chapter, position))
    chapter.refresh_from_db(fields=["position"])
    return chapter


@transaction.atomic
def chapter_update(
    *, by: Member | None, chapter_id: int, title: str | None = None, intro: str | None = None
) -> Chapter:
    """Rename a chapter or rewrite its introduction (None leaves a field as it is)."""
    _require_staff(by)
    chapter = _chapter(chapter_id)
    fields = []
    if title is not None:
        chapter.title = _title(title)
        fields.append("title")
    if intro is not None:
        chapter.intro = _text(intro, field="intro")
        fields.append("intro")
    if fields:
        chapter.save(update_fields=fields)
    return chapter


@transaction.atomic
def chapter_delete(*, by: Member | None, chapter_id: int) -> None:
    """Delete a chapter and its measures from the draft; published versions keep them."""
    _require_staff(by)
    _chapter(chapter_id).delete()
    _renumber(list(Chapter.objects.select_for_update()))


@transaction.atomic
def chapter_move(*, by: Member | None, chapter_id: int, position: int) -> Chapter:
    """Put a chapter at ``position`` (1 = first); the others keep their order."""
    _require_staff(by)
    chapter = _chapter(chapter_id)
    _renumber(_place(list(Chapter.objects.select_for_update()), chapter, position))
    chapter.refresh_from_db(fields=["position"])
    return chapter


# -- measures ------------------------------------------------------------------------------------


@transaction.atomic
def measure_create(
    *,
    by: Member | None,
    chapter_id: int,
    title: str,
    body: str = "",
    position: int | None = None,
) -> Measure:
    """A new measure at the end of a chapter (or at ``position``, 1 = first)."""
    _require_staff(by)
    chapter = _chapter(chapter_id)
    measure = Measure(chapter=chapter, title=_title(title), body=_text(body, field="body"))
    measure.save()
    _renumber(_place(list(chapter.measures.select_for_update()), measure, position))
    measure.refresh_from_db(fields=["position"])
    return measure


@transaction.atomic
def measure_update(
    *, by: Member | None, measure_id: int, title: str | None = None, body: str | None = None
) -> Measure:
    """Rename a measure or rewrite its text (None leaves a field as it is)."""
    _require_staff(by)
    measure = _measure(measure_id)
    fields = []
    if title is not None:
        measure.title = _title(title)
        fields.append("title")
    if body is not None:
        measure.body = _text(body, field="body")
        fields.append("body")
    if fields:
        measure.save(update_fields=fields)
    return measure


@transaction.atomic
def measure_delete(*, by: Member | None, measure_id: int) -> None:
    """Delete a measure from the draft; published versions keep it."""
    _require_staff(by)
    measure = _measure(measure_id)
    chapter = measure.chapter
    measure.delete()
    _renumber(list(chapter.measures.select_for_update()))


@transaction.atomic
def measure_move(
    *,
    by: Member | None,
    measure_id: int,
    position: int | None = None,
    chapter_id: int | None = None,
) -> Measure:
    """Put a measure at ``position`` (1 = first; None = last) of its chapter, or of chapter
    ``chapter_id``."""
    _require_staff(by)
    measure = _measure(measure_id)
    source = measure.chapter
    target = source if chapter_id in (None, source.pk) else _chapter(chapter_id)
    ordered = _place(list(target.measures.select_for_update()), measure, position)
    measure.chapter = target
    _renumber(ordered, "chapter")
    if target.pk != source.pk:
        _renumber(list(source.measures.select_for_update()))
    measure.refresh_from_db(fields=["position", "chapter"])
    return measure


@transaction.atomic
def measure_link_proposals(
    *, by: Member | None, measure_id: int, proposal_ids: set[int]
) -> Measure:
    """Set the proposals a measure came from. Every id must be a proposal that is public now:
    an unknown, pending or hidden proposal is refused, and nothing changes."""
    _require_staff(by)
    measure = _measure(measure_id)
    wanted = set(proposal_ids)
    if len(wanted) > LINKS_MAX:
        raise InvalidInput(
            f"A measure links to at most {LINKS_MAX} proposals ({len(wanted)} given).",
            field="proposals",
            code="too_many",
        )
    states = dict(Proposal.objects.filter(pk__in=wanted).values_list("pk", "state"))
    unknown = sorted(wanted - states.keys())
    not_public = sorted(pk for pk, state in states.items() if state != State.PUBLISHED)
    if unknown or not_public:
        parts = []
        if unknown:
            parts.append("no proposal has the number " + ", ".join(map(str, unknown)))
        if not_public:
            parts.append(
                "proposal "
                + ", ".join(map(str, not_public))
                + " is not public (held for moderation or hidden)"
            )
        raise ProposalsRefused(
            "Cannot link: " + "; ".join(parts) + ".", unknown=unknown, not_public=not_public
        )
    measure.proposals.set(wanted)
    return measure


def linked_ids(*, measure_id: int) -> set[int]:
    """The proposals a measure of the draft links to now."""
    return set(_measure(measure_id).proposals.values_list("pk", flat=True))


# -- the snapshot and publishing -----------------------------------------------------------------


def draft_snapshot() -> dict[str, Any]:
    """The draft as it would be frozen now: chapters → measures → linked proposals (id, and
    title while the proposal is public). Texts stay Markdown."""
    chapters = Chapter.objects.prefetch_related("measures__proposals").order_by("position", "id")
    return {
        "format": SNAPSHOT_FORMAT,
        "chapters": [
            {
                "id": chapter.pk,
                "title": chapter.title,
                "intro": chapter.intro,
                "measures": [
                    {
                        "id": measure.pk,
                        "title": measure.title,
                        "body": measure.body,
                        "proposals": [
                            {
                                "id": p.pk,
                                "title": p.title if p.state == State.PUBLISHED else None,
                            }
                            for p in sorted(measure.proposals.all(), key=lambda p: p.pk)
                        ],
                    }
                    for measure in sorted(chapter.measures.all(), key=lambda m: (m.position, m.pk))
                ],
            }
            for chapter in chapters
        ],
    }


def _reader_view(snapshot: dict) -> list:
    """What a reader can tell apart: texts and links, not the draft's row ids (a chapter
    deleted and written again word for word is no change)."""
    return [
        (
            c["title"],
            c["intro"],
            [
                (m["title"], m["body"], [(p["id"], p["title"]) for p in m["proposals"]])
                for m in c["measures"]
            ],
        )
        for c in snapshot.get("chapters", [])
    ]


def has_changes() -> bool:
    """Is there something to publish: a draft that differs from the latest version?"""
    latest = current_version()
    draft = draft_snapshot()
    if latest is None:
        return bool(draft["chapters"])
    return _reader_view(draft) != _reader_view(latest.snapshot)


@transaction.atomic
def programme_publish(*, note: str, by: Member | None) -> ProgrammeVersion:
    """Freeze the draft as the next version. Refused when the draft is empty or reads the same
    as the latest version. Audited."""
    _require_staff(by)
    note = _text(note, field="note", limit=NOTE_MAX)
    snapshot = draft_snapshot()
    if not snapshot["chapters"]:
        raise InvalidInput("The programme is empty: add a chapter before publishing.", code="empty")
    latest = current_version()
    if latest is not None and _reader_view(latest.snapshot) == _reader_view(snapshot):
        raise Conflict(
            f"Nothing changed since version {latest.number}: edit the draft before publishing.",
            code="unchanged",
        )
    number = (ProgrammeVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            version = ProgrammeVersion.objects.create(
                number=number, note=note, snapshot=snapshot, published_by=by
            )
    except IntegrityError:
        raise Conflict(
            f"Version {number} was published at the same moment by someone else: reload "
            "and check the draft.",
            code="race",
        ) from None
    audit_record(actor=by, action="programme.publish", details={"version": number})
    return version


# -- reads ---------------------------------------------------------------------------------------


def current_version() -> ProgrammeVersion | None:
    return ProgrammeVersion.objects.order_by("-number").first()


def version(number: int) -> ProgrammeVersion:
    # Bounded first: a number past 64 bits would reach the database as an error, not a 404.
    found = None
    if 0 < number < 2**31:
        found = ProgrammeVersion.objects.filter(number=number).first()
    if found is None:
        raise NotFound(f"No programme version {number}.", field="number")
    return found


def versions():
    return ProgrammeVersion.objects.order_by("-number")


def public_snapshot(snapshot: dict) -> dict:
    """The snapshot as anyone may read it: each linked proposal keeps its title and gets its
    link only while it is public now; otherwise it becomes ``withdrawn``, with neither id nor
    title. Never returns the stored dict itself."""
    public = copy.deepcopy(snapshot)
    ids = {p["id"] for c in public["chapters"] for m in c["measures"] for p in m["proposals"]}
    live = dict(
        Proposal.objects.filter(pk__in=ids, state=State.PUBLISHED).values_list("pk", "title")
    )
    for chapter in public["chapters"]:
        for measure in chapter["measures"]:
            shown = []
            for p in measure["proposals"]:
                if p["id"] in live:
                    # The title as published; a proposal that was held for moderation when
                    # the version was frozen, and is public now, shows today's title.
                    title = p["title"] if p["title"] is not None else live[p["id"]]
                    shown.append(
                        {
                            "id": p["id"],
                            "title": title,
                            "url": proposal_url(p["id"]),
                            "withdrawn": False,
                        }
                    )
                else:
                    shown.append({"id": None, "title": None, "url": None, "withdrawn": True})
            measure["proposals"] = shown
    return public


def document(snapshot: dict) -> dict:
    """A snapshot ready to show to anyone: public proposals only, chapters and measures
    numbered, Markdown rendered (sanitised), and counts for the reader."""
    public = public_snapshot(snapshot)
    chapters = []
    measures_total = traced = 0
    for c_index, chapter in enumerate(public["chapters"], start=1):
        measures = []
        for m_index, measure in enumerate(chapter["measures"], start=1):
            measures_total += 1
            if any(not p["withdrawn"] for p in measure["proposals"]):
                traced += 1
            measures.append(
                {
                    **measure,
                    "number": f"{c_index}.{m_index}",
                    "anchor": f"mesure-{c_index}-{m_index}",
                    "body_html": markdown(measure["body"]),
                }
            )
        chapters.append(
            {
                **chapter,
                "number": c_index,
                "anchor": f"chapitre-{c_index}",
                "intro_html": markdown(chapter["intro"]),
                "measures": measures,
            }
        )
    return {"chapters": chapters, "measures": measures_total, "traced": traced}


# -- the diff ------------------------------------------------------------------------------------

# Words, runs of spaces, and each punctuation mark on its own: "partout." → "partout en France."
# keeps "partout" and shows " en France" inserted.
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def text_ops(old: str, new: str) -> list[dict[str, str]]:
    """Word-level differences: ``{"op": equal|delete|insert, "text": ...}`` items whose
    equal+delete texts spell ``old`` and whose equal+insert texts spell ``new``."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    ops: list[dict[str, str]] = []

    def add(op: str, tokens: list[str]) -> None:
        if not tokens:
            return
        text = "".join(tokens)
        if ops and ops[-1]["op"] == op:
            ops[-1]["text"] += text
        else:
            ops.append({"op": op, "text": text})

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            add("equal", a[i1:i2])
        else:
            add("delete", a[i1:i2])
            add("insert", b[j1:j2])
    return ops


def _aligned(old_ids: list[int], new_ids: list[int]):
    """Walk two orderings of ids in the new order, the ids that are gone where they were:
    yields (id, side, moved), side being "both", "old" (gone) or "new" (not in old_ids).
    An id in both is ``moved`` when it left the longest common order."""
    new_set, old_set = set(new_ids), set(old_ids)
    matcher = difflib.SequenceMatcher(None, old_ids, new_ids, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for pk in new_ids[j1:j2]:
                yield pk, "both", False
            continue
        for pk in old_ids[i1:i2]:
            if pk not in new_set:
                yield pk, "old", False
        for pk in new_ids[j1:j2]:
            yield pk, ("both" if pk in old_set else "new"), pk in old_set


def _measure_entry(old: dict | None, new: dict | None, *, moved: bool, from_chapter: str | None):
    current = new or old
    entry = {
        "id": current["id"],
        "title": current["title"],
        "old_title": None,
        "title_ops": None,
        "renamed": False,
        "moved": moved,
        "moved_from_chapter": from_chapter,
        "text_changed": False,
        "body": current["body"],
        "body_ops": None,
        "proposals": list(new["proposals"]) if new else [],
        "proposals_added": [],
        "proposals_removed": [],
    }
    if old is None:
        entry.update(status="added", proposals_added=list(new["proposals"]))
        return entry
    if new is None:
        entry.update(status="removed", proposals_removed=list(old["proposals"]))
        return entry
    old_ids = {p["id"] for p in old["proposals"]}
    new_ids = {p["id"] for p in new["proposals"]}
    entry["proposals_added"] = [p for p in new["proposals"] if p["id"] not in old_ids]
    entry["proposals_removed"] = [p for p in old["proposals"] if p["id"] not in new_ids]
    if old["title"] != new["title"]:
        entry.update(
            renamed=True, old_title=old["title"], title_ops=text_ops(old["title"], new["title"])
        )
    if old["body"] != new["body"]:
        entry.update(text_changed=True, body_ops=text_ops(old["body"], new["body"]))
    changed = entry["renamed"] or entry["text_changed"] or moved
    changed = changed or entry["proposals_added"] or entry["proposals_removed"]
    entry["status"] = "changed" if changed else "unchanged"
    return entry


SUMMARY_KEYS = (
    "chapters_added",
    "chapters_removed",
    "chapters_renamed",
    "chapters_moved",
    "chapters_intro_changed",
    "measures_added",
    "measures_removed",
    "measures_renamed",
    "measures_moved",
    "measures_text_changed",
    "proposals_linked",
    "proposals_unlinked",
)


def diff_snapshots(old: dict, new: dict) -> dict:
    """A readable, structured diff: chapters in the new order (removed ones where they were),
    each with its measures added, removed, moved (within or between chapters), renamed, with
    their text changed word by word, and their links to proposals added or removed."""
    old_chapters = {c["id"]: c for c in old["chapters"]}
    new_chapters = {c["id"]: c for c in new["chapters"]}
    old_measures = {m["id"]: (m, c) for c in old["chapters"] for m in c["measures"]}
    new_measures = {m["id"]: (m, c) for c in new["chapters"] for m in c["measures"]}
    summary = dict.fromkeys(SUMMARY_KEYS, 0)

    def measures_of(old_c: dict | None, new_c: dict | None) -> list[dict]:
        old_ids = [m["id"] for m in old_c["measures"]] if old_c else []
        new_ids = [m["id"] for m in new_c["measures"]] if new_c else []
        out = []
        for pk, side, moved in _aligned(old_ids, new_ids):
            if side == "old" and pk in new_measures:
                continue  # it went to another chapter: listed there
            if side == "old":
                entry = _measure_entry(old_measures[pk][0], None, moved=False, from_chapter=None)
                summary["measures_removed"] += 1
            elif side == "new" and pk in old_measures:
                previous, previous_chapter = old_measures[pk]
                entry = _measure_entry(
                    previous,
                    new_measures[pk][0],
                    moved=True,
                    from_chapter=previous_chapter["title"],
                )
            elif side == "new":
                entry = _measure_entry(None, new_measures[pk][0], moved=False, from_chapter=None)
                summary["measures_added"] += 1
            else:
                entry = _measure_entry(
                    old_measures[pk][0], new_measures[pk][0], moved=moved, from_chapter=None
                )
            summary["measures_renamed"] += entry["renamed"]
            summary["measures_moved"] += entry["moved"]
            summary["measures_text_changed"] += entry["text_changed"]
            summary["proposals_linked"] += len(entry["proposals_added"])
            summary["proposals_unlinked"] += len(entry["proposals_removed"])
            out.append(entry)
        return out

    chapters = []
    for pk, side, moved in _aligned(list(old_chapters), list(new_chapters)):
        old_c = old_chapters[pk] if side != "new" else None
        new_c = new_chapters[pk] if side != "old" else None
        entry = {
            "id": pk,
            "title": (new_c or old_c)["title"],
            "old_title": None,
            "title_ops": None,
            "renamed": False,
            "moved": moved,
            "intro": (new_c or old_c)["intro"],
            "intro_changed": False,
            "intro_ops": None,
            "measures": measures_of(old_c, new_c),
        }
        entry["unchanged_measures"] = sum(m["status"] == "unchanged" for m in entry["measures"])
        if new_c is None:
            summary["chapters_removed"] += 1
            entry["status"] = "removed"
        elif old_c is None:
            summary["chapters_added"] += 1
            entry["status"] = "added"
        else:
            if old_c["title"] != new_c["title"]:
                entry.update(
                    renamed=True,
                    old_title=old_c["title"],
                    title_ops=text_ops(old_c["title"], new_c["title"]),
                )
            if old_c["intro"] != new_c["intro"]:
                entry.update(intro_changed=True, intro_ops=text_ops(old_c["intro"], new_c["intro"]))
            summary["chapters_renamed"] += entry["renamed"]
            summary["chapters_moved"] += moved
            summary["chapters_intro_changed"] += entry["intro_changed"]
            touched = entry["renamed"] or entry["intro_changed"] or moved
            touched = touched or any(m["status"] != "unchanged" for m in entry["measures"])
            entry["status"] = "changed" if touched else "unchanged"
        chapters.append(entry)
    return {
        "changed": any(c["status"] != "unchanged" for c in chapters),
        "summary": summary,
        "chapters": chapters,
    }


def _version_ref(v: ProgrammeVersion) -> dict:
    return {"number": v.number, "note": v.note, "published_at": v.published_at}


def diff(a: int, b: int) -> dict:
    """What changed from version ``a`` to version ``b``, as anyone may read it (withdrawn
    proposals without their titles)."""
    if a == b:
        raise InvalidInput(
            f"Choose two different versions (both are {a}).", field="to", code="same_version"
        )
    old, new = version(a), version(b)
    result = diff_snapshots(public_snapshot(old.snapshot), public_snapshot(new.snapshot))
    return {"from_version": _version_ref(old), "to_version": _version_ref(new), **result}


def draft_diff() -> dict | None:
    """What publishing now would change against the latest version (None before the first)."""
    latest = current_version()
    if latest is None:
        return None
    result = diff_snapshots(public_snapshot(latest.snapshot), public_snapshot(draft_snapshot()))
    return {"from_version": _version_ref(latest), "to_version": None, **result}
