"""Audiences: a filter tree compiled to one query over members, and the sender's scope.

A definition is JSON, nested with ``and``, ``or`` and ``not``; the leaves are:

    {"area": ["75", "13-01", "R84", "75107"]}      where members live (region R.., department,
                                                   constituency, commune)
    {"role": ["relay", "substitute"], "within": ["75"]}   current grants (optionally on areas
                                                   under those codes)
    {"community": ["jeunes"]}                       current members of communities
    {"consent": {"channel": "email", "type": "newsletter"}}   may receive it now
    {"confirmed": true}                             confirmed their address or not
    {"active_within_days": 90}                      logged in during the last N days
    {"opened_within_days": 30} / {"clicked_within_days": 30}  only members who allow tracking
    {"language": ["fr", "en"]}

For example "the relays of Paris and Bouches-du-Rhône, except those in the Jeunes community":

    {"and": [{"role": ["relay"], "within": ["75", "13"]},
             {"not": {"community": ["jeunes"]}}]}

Whatever the definition, a message goes only to members within the sender's scope who may
receive that channel and type (``consent.reachable_q``): a segment narrows, never widens.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from nextwork.common.errors import Forbidden, InvalidInput, NotFound
from nextwork.messaging import communities
from nextwork.messaging.consent import reachable_q
from nextwork.messaging.models import Community, CommunityMembership
from nextwork.network.models import Grant, Member, MemberLocation, Role
from nextwork.network.permissions import current_grants
from nextwork.network.selectors import area_by_code
from nextwork.territories.lookup import get_engine
from nextwork.territories.models import SENATE_KINDS, Area, AreaKind

MAX_NODES = 200
MAX_DEPTH = 8
MAX_CODES = 600  # every constituency fits
LEAVES = (
    "area", "role", "community", "consent", "confirmed", "active_within_days",
    "opened_within_days", "clicked_within_days", "language", "donor",
)  # fmt: skip
ROLES = [r.value for r in Role if r != Role.STAFF]


def written(area: Area) -> str:
    """An area's code as the API reads it back: regions are written R84 (their codes overlap
    the departments')."""
    return f"R{area.code}" if area.kind == AreaKind.REGION else area.code


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", field="definition", code="invalid_segment")


def _codes(value, path: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, "expected a non-empty list of codes.")
    if len(value) > MAX_CODES:
        raise _fail(path, f"{len(value)} codes; {MAX_CODES} at most.")
    return value


def _area(code: str, path: str) -> Area:
    area = area_by_code(code)
    if area is None and len(code) == 5:  # a commune's INSEE code (75107, 2A004)
        area = Area.objects.filter(
            boundary_set_id=get_engine().boundary_set_id,
            kind__in=[AreaKind.COMMUNE, AreaKind.ARRONDISSEMENT],
            code=code.upper(),
        ).first()
    if area is None:
        raise _fail(
            path,
            f"no area {code!r} (a region R84, a department 75, a constituency 75-02 "
            "or a commune 75107).",
        )
    return area


def location_in(areas: list[Area]) -> Q:
    """A Q on ``Member``: the current location lies in one of ``areas``.

    The departments of the regions asked are looked up first, so that the query is one
    ``pk IN (SELECT member_id …)`` over the locations' indexes instead of a lookup (and a join
    to the areas) per member.
    """
    ids = {a.pk for a in areas}
    departments = ids | set(
        Area.objects.filter(parent__in=ids, kind__in=SENATE_KINDS).values_list("pk", flat=True)
    )
    inside = MemberLocation.objects.filter(valid_to__isnull=True).filter(
        Q(constituency__in=ids) | Q(department__in=departments) | Q(commune__in=ids)
    )
    return Q(pk__in=inside.values("member_id"))


def _days(value, path: str) -> datetime.datetime:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise _fail(path, "expected a number of days between 1 and 3650.")
    return timezone.now() - datetime.timedelta(days=value)


def _is_staff(member) -> bool:
    from nextwork.network.permissions import is_staff

    return is_staff(member)


def _leaf(key: str, node: dict, path: str, state: dict) -> Q:
    value = node[key]
    if key == "area":
        return location_in([_area(c, path) for c in _codes(value, path)])
    if key == "role":
        roles = _codes(value, path)
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise _fail(path, f"unknown role {unknown[0]!r}; the roles are {', '.join(ROLES)}.")
        grants = Grant.objects.filter(member=OuterRef("pk"), role__in=roles, valid_to__isnull=True)
        if "within" in node:
            ids = [_area(c, f"{path}.within").pk for c in _codes(node["within"], path)]
            grants = grants.filter(
                Q(area__in=ids) | Q(area__parent__in=ids) | Q(area__parent__parent__in=ids)
            )
        return Q(Exists(grants))
    if key == "community":
        slugs = _codes(value, path)
        usable = Community.objects.all()
        viewer = state.get("viewer")
        if viewer is not None and not _is_staff(viewer):
            # Hidden communities are for staff and their own coordinators: a count narrowed
            # enough could otherwise reveal a person's membership. Hidden and unknown slugs get
            # the same answer.
            usable = usable.filter(
                Q(public=True) | Q(coordinators__member=viewer, coordinators__valid_to__isnull=True)
            )
        found = dict(usable.filter(slug__in=slugs).values_list("slug", "pk"))
        missing = [s for s in slugs if s not in found]
        if missing:
            raise _fail(path, f"no community {missing[0]!r}.")
        return Q(
            Exists(
                CommunityMembership.objects.filter(
                    member=OuterRef("pk"), community__in=found.values(), left_at__isnull=True
                )
            )
        )
    if key == "consent":
        if not isinstance(value, dict) or set(value) != {"channel", "type"}:
            raise _fail(path, 'expected {"channel": "email", "type": "newsletter"}.')
        try:
            return reachable_q(str(value["channel"]), str(value["type"]))
        except InvalidInput as exc:
            raise _fail(path, exc.message) from exc
    if key == "confirmed":
        if not isinstance(value, bool):
            raise _fail(path, "expected true or false.")
        return Q(confirmed_at__isnull=not value)
    if key == "active_within_days":
        return Q(last_login__gte=_days(value, path))
    if key in ("opened_within_days", "clicked_within_days"):
        field = "last_opened_at" if key.startswith("opened") else "last_clicked_at"
        return Q(preferences__tracking=True, **{f"preferences__{field}__gte": _days(value, path)})
    if key == "language":
        languages = _codes(value, path)
        q = Q(preferences__language__in=languages)
        return q | Q(preferences__isnull=True) if "fr" in languages else q
    if key == "donor":
        raise _fail(path, "donor status comes with fundraising, which is not installed yet.")
    raise AssertionError(key)


def compile_definition(definition, path: str = "definition", *, viewer=None, _state=None) -> Q:
    """The Q on ``Member`` for a definition; bad definitions raise ``InvalidInput``
    naming the place in the tree (``definition.and[1].area``). ``viewer``: the sender whose
    definition it is (what communities they may name); None when it was checked already."""
    state = _state if _state is not None else {"nodes": 0, "viewer": viewer}
    state["nodes"] += 1
    if state["nodes"] > MAX_NODES:
        raise _fail(path, f"too many filters ({MAX_NODES} at most).")
    if path.count(".") > MAX_DEPTH:
        raise _fail(path, f"nested too deep ({MAX_DEPTH} levels at most).")
    if not isinstance(definition, dict) or not definition:
        raise _fail(path, 'expected an object such as {"area": ["75"]}.')
    keys = set(definition)
    if keys & {"and", "or"}:
        if len(keys) != 1:
            raise _fail(path, "an 'and' or 'or' stands alone in its object.")
        (op,) = keys
        parts = definition[op]
        if not isinstance(parts, list) or not parts:
            raise _fail(f"{path}.{op}", "expected a non-empty list of filters.")
        compiled = [
            compile_definition(p, f"{path}.{op}[{i}]", _state=state) for i, p in enumerate(parts)
        ]
        q = compiled[0]
        for other in compiled[1:]:
            q = q & other if op == "and" else q | other
        return q
    if keys == {"not"}:
        return ~compile_definition(definition["not"], f"{path}.not", _state=state)
    leaf = [k for k in keys if k in LEAVES]
    extra = keys - set(LEAVES) - ({"within"} if "role" in keys else set())
    if len(leaf) != 1 or extra:
        raise _fail(
            path,
            f"unknown filter {sorted(extra or keys)[0]!r}; the filters are and, or, not, "
            + ", ".join(LEAVES)
            + ".",
        )
    return _leaf(leaf[0], definition, f"{path}.{leaf[0]}", state)


# -- the sender's scope -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Whose members a sender may write to: everyone (staff), an area, or a community."""

    area: Area | None = None
    community: Community | None = None

    @property
    def national(self) -> bool:
        return self.area is None and self.community is None

    def q(self) -> Q:
        if self.area is not None:
            return location_in([self.area])
        if self.community is not None:
            return Q(
                Exists(
                    CommunityMembership.objects.filter(
                        member=OuterRef("pk"), community=self.community, left_at__isnull=True
                    )
                )
            )
        return Q()

    def describe(self) -> str:
        if self.area is not None:
            return written(self.area)
        if self.community is not None:
            return f"community:{self.community.slug}"
        return "national"


def scopes_of(member: Member) -> list[Scope]:
    """Every scope the member may write under (staff: the national one first)."""
    grants = list(current_grants(member, [Role.STAFF, Role.COORDINATOR]))
    scopes = [Scope()] if any(g.role == Role.STAFF for g in grants) else []
    scopes += [Scope(area=g.area) for g in grants if g.role == Role.COORDINATOR]
    scopes += [Scope(community=c) for c in communities.coordinated(member)]
    return scopes


def resolve_scope(member: Member, *, area: str | None = None, community: str | None = None):
    """The scope the sender asked for, if they hold it; else their only one; else an error."""
    scopes = scopes_of(member)
    if not scopes:
        raise Forbidden(
            "Only staff, coordinators and community coordinators write to members.",
            field=None,
        )
    if area and community:
        raise InvalidInput("Choose an area or a community, not both.", field="scope_area")
    if area:
        target = area_by_code(area)
        if target is None:
            raise NotFound(f"No area {area!r}.", field="scope_area", code="unknown_area")
        for scope in scopes:
            if scope.national or (scope.area is not None and _under(target, scope.area)):
                return Scope(area=target)
        raise Forbidden(f"{area} is outside the territory you coordinate.", field="scope_area")
    if community:
        for scope in scopes:
            if scope.national or (
                scope.community is not None and scope.community.slug == community
            ):
                found = Community.objects.filter(slug=community).first()
                if found is None:
                    raise NotFound(f"No community {community!r}.", field="scope_community")
                return Scope(community=found)
        raise Forbidden(
            f"You do not coordinate the community {community!r}.", field="scope_community"
        )
    if scopes[0].national:
        return scopes[0]
    if len(scopes) == 1:
        return scopes[0]
    raise InvalidInput(
        "You write under several scopes: choose one ("
        + ", ".join(s.describe() for s in scopes)
        + ").",
        field="scope_area",
    )


def _under(area: Area, ancestor: Area) -> bool:
    node = area
    while node is not None:
        if node.pk == ancestor.pk:
            return True
        node = node.parent
    return False


def audience(
    definition, *, scope: Scope, channel: str | None = None, message_type=None, viewer=None
):
    """The members a message would reach: definition ∩ scope (∩ reachable, when the channel
    and type are given). A queryset of ``Member``."""
    q = compile_definition(definition, viewer=viewer) & scope.q()
    if channel and message_type:
        q &= reachable_q(channel, message_type)
    return Member.objects.filter(q)


def count(
    definition, *, scope: Scope, channel: str | None = None, message_type=None, viewer=None
) -> int:
    return audience(
        definition, scope=scope, channel=channel, message_type=message_type, viewer=viewer
    ).count()
