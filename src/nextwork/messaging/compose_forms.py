"""What the compose pages read from their forms and show back, without a request.

- the sender's scopes as form choices (``national``, ``area:75``, ``community:jeunes``);
- the audience controls (areas, roles, communities, confirmed, activity, language, one
  community left out), each producing one leaf of a definition joined by ``and`` (the format
  is documented in ``segments.py``), and back (to start again from a message);
- the services' domain errors in French, placed next to the field they concern (the API
  keeps the English message; one not listed here is shown as the service wrote it);
- the live count box and the SMS cost estimate.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from nextwork.common import messages
from nextwork.common.errors import DomainError, Forbidden, InvalidInput
from nextwork.messaging import render as templating
from nextwork.messaging import segments, services
from nextwork.messaging.models import Channel, Message, MessageStatus, MessageType
from nextwork.messaging.sms import encoding
from nextwork.network.models import Member, Role

NATIONAL = "national"

# -- scopes ---------------------------------------------------------------------------------------


def _area_code(area) -> str:
    """The code ``area_by_code`` reads back: regions are written R84."""
    return segments.written(area)


def scope_value(scope: segments.Scope) -> str:
    if scope.area is not None:
        return f"area:{_area_code(scope.area)}"
    if scope.community is not None:
        return f"community:{scope.community.slug}"
    return NATIONAL


def scope_label(scope: segments.Scope) -> str:
    if scope.area is not None:
        return f"{scope.area.name} ({_area_code(scope.area)})"
    if scope.community is not None:
        return _("Communauté : %(name)s") % {"name": scope.community.name}
    return _("National : tous les membres")


def scope_args(value: str, scopes: list[segments.Scope]) -> dict:
    """``scope_area``/``scope_community`` for the services, from the form's value."""
    value = (value or "").strip()
    if value in ("", NATIONAL):
        # The service would pick a coordinator's only scope: a forged "national" is refused.
        if not any(s.national for s in scopes):
            raise Forbidden("Only staff write to every member.", field="scope", code="national")
        return {"scope_area": None, "scope_community": None}
    kind, _sep, code = value.partition(":")
    if kind == "area" and code:
        return {"scope_area": code, "scope_community": None}
    if kind == "community" and code:
        return {"scope_area": None, "scope_community": code}
    raise InvalidInput(f"Unknown scope {value!r}.", field="scope", code="bad_scope")


def message_scope_args(message: Message) -> dict:
    return {
        "scope_area": _area_code(message.scope_area) if message.scope_area else None,
        "scope_community": message.scope_community.slug if message.scope_community else None,
    }


def scope_of_message(message: Message) -> str:
    return scope_label(segments.Scope(area=message.scope_area, community=message.scope_community))


# -- the audience controls ------------------------------------------------------------------------


AUDIENCE_FIELDS = ("areas", "exclude_community", "active_days", "language", "segment")


def audience_from(data) -> dict:
    """The audience controls as the form sent them (a QueryDict), or their defaults."""
    if data is None:
        return {
            "source": "filters",
            "areas": "",
            "roles": [],
            "communities": [],
            "exclude_community": "",
            "confirmed": True,
            "active_days": "",
            "language": "",
            "segment": "",
        }
    return {
        "source": "segment" if data.get("source") == "segment" else "filters",
        "roles": data.getlist("roles"),
        "communities": data.getlist("communities"),
        "confirmed": data.get("confirmed") == "on",
        **{name: (data.get(name) or "").strip() for name in AUDIENCE_FIELDS},
    }


def audience_from_definition(definition) -> dict:
    """The controls that produce ``definition``, when it came from this form (else None)."""
    aud = audience_from(None)
    aud["confirmed"] = False
    leaves = definition.get("and", [definition]) if isinstance(definition, dict) else None
    if not leaves:
        return None
    for leaf in leaves:
        if not isinstance(leaf, dict) or len(leaf) != 1:
            return None
        ((key, value),) = leaf.items()
        if key == "area":
            aud["areas"] = ", ".join(value)
        elif key == "role":
            aud["roles"] = list(value)
        elif key == "community":
            aud["communities"] = list(value)
        elif key == "not" and set(value) == {"community"} and len(value["community"]) == 1:
            aud["exclude_community"] = value["community"][0]
        elif key == "confirmed" and value is True:
            aud["confirmed"] = True
        elif key == "active_within_days":
            aud["active_days"] = str(value)
        elif key == "language" and len(value) == 1:
            aud["language"] = value[0]
        elif key == "or" and value == EVERYONE["or"]:
            pass
        else:
            return None
    return aud


# Every member, as a definition (a definition cannot be empty).
EVERYONE = {"or": [{"confirmed": True}, {"confirmed": False}]}


def build_definition(aud: dict) -> tuple[dict, list[str]]:
    """The definition the filters make, and the control behind each leaf (for errors)."""
    leaves: list[dict] = []
    controls: list[str] = []

    def add(leaf: dict, control: str) -> None:
        leaves.append(leaf)
        controls.append(control)

    codes = [c for c in re.split(r"[\s,;]+", aud["areas"].upper()) if c]
    if codes:
        add({"area": codes}, "areas")
    if aud["roles"]:
        add({"role": aud["roles"]}, "roles")
    if aud["communities"]:
        add({"community": aud["communities"]}, "communities")
    if aud["exclude_community"]:
        add({"not": {"community": [aud["exclude_community"]]}}, "exclude_community")
    if aud["confirmed"]:
        add({"confirmed": True}, "confirmed")
    if aud["active_days"]:
        try:
            days = int(aud["active_days"])
        except ValueError:
            raise InvalidInput(
                "active_within_days: expected a number of days between 1 and 3650.",
                field="active_days",
                code="bad_days",
            ) from None
        add({"active_within_days": days}, "active_days")
    if aud["language"]:
        add({"language": [aud["language"]]}, "language")
    if not leaves:
        return EVERYONE, ["audience"]
    return ({"and": leaves} if len(leaves) > 1 else leaves[0]), controls


def audience_args(aud: dict, by: Member) -> tuple[dict, list[str]]:
    """``segment``/``definition`` for the services, and the controls behind the leaves."""
    if aud["source"] == "segment":
        if not aud["segment"].isdigit():
            raise InvalidInput("Choose a saved segment.", field="segment", code="no_segment")
        return {"segment": int(aud["segment"]), "definition": None}, []
    definition, controls = build_definition(aud)
    return {"segment": None, "definition": definition}, controls


def definition_for_count(args: dict, by: Member) -> dict:
    if args["segment"] is not None:
        return services.segment_visible(args["segment"], by=by).definition
    return args["definition"]


def audience_summary(message: Message) -> list[str]:
    """The audience of a message in a few French lines."""
    if message.segment_id:
        return [_("Segment enregistré : %(name)s") % {"name": message.segment.name}]
    definition = message.definition
    if isinstance(definition, dict) and services.INTERNAL_KEY in definition:
        n = len(definition[services.INTERNAL_KEY])
        return [ngettext("%(n)s membre choisi par la plateforme", "%(n)s membres choisis par la "
                         "plateforme", n) % {"n": number(n)}]  # fmt: skip
    aud = audience_from_definition(definition)
    if aud is None:
        return [json.dumps(definition, ensure_ascii=False)]
    lines = []
    if aud["areas"]:
        lines.append(_("Zones : %(codes)s") % {"codes": aud["areas"]})
    if aud["roles"]:
        labels = ", ".join(str(Role(r).label) for r in aud["roles"] if r in Role.values)
        lines.append(_("Rôles : %(roles)s") % {"roles": labels})
    if aud["communities"]:
        lines.append(_("Communautés : %(slugs)s") % {"slugs": ", ".join(aud["communities"])})
    if aud["exclude_community"]:
        lines.append(_("Sauf la communauté : %(slug)s") % {"slug": aud["exclude_community"]})
    if aud["confirmed"]:
        lines.append(_("Adresse confirmée"))
    if aud["active_days"]:
        lines.append(_("Connectés depuis %(n)s jours") % {"n": aud["active_days"]})
    if aud["language"]:
        lines.append(_("Langue : %(code)s") % {"code": aud["language"]})
    return lines or [_("Tous les membres")]


# -- errors in the words of the page --------------------------------------------------------------

# (field, pattern on the service's English message, French text using the pattern's groups).
# The API keeps the English; a message not listed here is shown as the service wrote it.
FRENCH = [
    ("scope_area", r"^(?P<code>\S+) is outside", gettext_lazy(
        "%(code)s n'est pas dans le territoire que vous coordonnez : choisissez l'un des "
        "vôtres dans la liste.")),
    ("scope_area", r"^No area '(?P<code>[^']*)'", gettext_lazy(
        "Le territoire « %(code)s » n'existe pas.")),
    ("scope_area", r"^You write under several scopes", gettext_lazy(
        "Vous écrivez au nom de plusieurs territoires ou communautés : choisissez-en un.")),
    ("scope_area", r"^Choose an area or a community", gettext_lazy(
        "Choisissez un territoire ou une communauté, pas les deux.")),
    ("scope_community", r"^You do not coordinate the community '(?P<slug>[^']*)'", gettext_lazy(
        "Vous ne coordonnez pas la communauté « %(slug)s » : choisissez l'une des vôtres.")),
    ("scope_community", r"^No community '(?P<slug>[^']*)'", gettext_lazy(
        "La communauté « %(slug)s » n'existe pas.")),
    ("scope", r"^Only staff write to every member", gettext_lazy(
        "Seule l'équipe nationale écrit à tous les membres : choisissez votre territoire ou "
        "votre communauté.")),
    ("scope", r"^Unknown scope", gettext_lazy(
        "Choisissez au nom de qui vous écrivez dans la liste.")),
    ("message_type", r"^A community's coordinators", gettext_lazy(
        "Aux membres d'une communauté, on écrit des « nouvelles des communautés » : choisissez "
        "ce type.")),
    ("message_type", r"^Unknown message type", gettext_lazy(
        "Choisissez le type du message dans la liste.")),
    ("channel", r"^Unknown channel", gettext_lazy("Choisissez le courriel ou le SMS.")),
    ("channels", r"", gettext_lazy("Choisissez au moins un canal : courriel ou SMS.")),
    ("subject", r"^An email needs a subject", gettext_lazy("Un courriel a besoin d'un objet.")),
    ("subject", r"^The subject is too long", gettext_lazy(
        "L'objet est trop long (200 caractères au plus).")),
    (None, r"^Unknown variable \{\{ (?P<name>\w+) \}\}", gettext_lazy(
        "La variable {{ %(name)s }} n'existe pas ; les variables sont %(known)s.")),
    (None, r"^A variable is written", gettext_lazy(
        "Une variable s'écrit {{ first_name }} : une accolade « {{ » ou « }} » n'est pas "
        "fermée.")),
    ("body_html", r"^Write the message", gettext_lazy("Écrivez le message (en HTML ou en texte).")),
    ("body_html", r"^The message is too long", gettext_lazy("Le message est trop long.")),
    ("body_text", r"^Write the SMS", gettext_lazy("Écrivez le texte du SMS.")),
    ("body_text", r"^The SMS is too long", gettext_lazy(
        "Le SMS est trop long (1 600 caractères au plus, soit dix SMS).")),
    ("body_text", r"^\{\{ (?P<name>\w+) \}\} is for emails", gettext_lazy(
        "{{ %(name)s }} ne sert qu'aux courriels : un SMS se termine par la mention STOP, "
        "ajoutée d'office.")),
    ("segment", r"^No segment", gettext_lazy(
        "Ce segment n'existe pas, ou vous ne pouvez pas l'utiliser.")),
    ("segment", r"^Choose a saved segment", gettext_lazy("Choisissez un segment enregistré.")),
    ("segment", r"^Give a saved segment", gettext_lazy(
        "Choisissez un segment enregistré, ou des filtres.")),
    ("definition", r"no area '(?P<code>[^']*)'", gettext_lazy(
        "Aucune zone « %(code)s » : une région (R84), un département (75), une "
        "circonscription (75-02) ou une commune (75107).")),
    ("definition", r"no community '(?P<slug>[^']*)'", gettext_lazy(
        "Aucune communauté « %(slug)s ».")),
    ("definition", r"(?P<n>\d+) codes; (?P<max>\d+) at most", gettext_lazy(
        "%(n)s zones : %(max)s au plus.")),
    ("definition", r"unknown role", gettext_lazy("Choisissez les rôles dans la liste.")),
    ("definition", r"number of days", gettext_lazy("Un nombre de jours entre 1 et 3650.")),
    ("active_days", r"", gettext_lazy("Un nombre de jours entre 1 et 3650.")),
    ("phone", r"", gettext_lazy(
        "Ajoutez votre numéro de téléphone à votre profil pour recevoir un SMS de test.")),
    ("status", r"^This message is already (?P<status>\w+)", gettext_lazy(
        "Ce message est déjà « %(status)s » : il ne peut plus l'être de nouveau.")),
    (None, r"^Only staff, coordinators", gettext_lazy(
        "Seuls l'équipe nationale, les coordinateurs de territoire et les coordinateurs de "
        "communauté écrivent aux membres.")),
]  # fmt: skip

# Where each service field is shown on the form.
FIELD_PLACE = {
    "scope_area": "scope",
    "scope_community": "scope",
    "definition": "audience",
    "channels": "channels",
}


def french(exc: DomainError) -> str:
    found = messages.lookup(exc, FRENCH)
    if found is None:
        return exc.message
    text, values = found
    if "status" in values:
        values["status"] = MessageStatus(values["status"]).label
    values["known"] = ", ".join(f"{{{{ {v} }}}}" for v in templating.VARIABLES)
    return text % values


def error_place(exc: DomainError, controls: list[str], *, sms: bool = False) -> str:
    """The form field a domain error belongs next to."""
    if exc.field == "definition":
        found = re.match(r"definition(?:\.and\[(\d+)\])?", exc.message)
        if found and controls:
            index = int(found.group(1) or 0)
            if index < len(controls):
                return controls[index]
        return "audience"
    if exc.field == "body_text" and sms:
        return "sms_text"
    if exc.field is None:
        return "form"
    return FIELD_PLACE.get(exc.field, exc.field)


# -- counts and costs -----------------------------------------------------------------------------


def number(value: int) -> str:
    return formats.number_format(value, force_grouping=True)


def euros(value: Decimal) -> str:
    return formats.number_format(value.quantize(Decimal("0.01"), ROUND_HALF_UP), 2, True) + " €"


def sms_estimate(text: str, recipients: int, values: dict | None = None) -> dict:
    """SMS per message (the STOP line included, as sent), total and cost."""
    filled = templating.Compiled.of(text).fill(values or {}).rstrip()
    stop = getattr(settings, "NEXTWORK_SMS_STOP_TEXT", None)
    stop = _("STOP au numéro de l'expéditeur") if stop is None else stop
    body = f"{filled}\n{stop}" if stop else filled
    parts = encoding.analyse(body)
    try:
        cost = encoding.estimate_cost(body, recipients)
    except InvalidInput:  # a misconfigured price: the counts still help
        cost = None
    return {
        "encoding": "GSM-7" if parts.encoding == encoding.GSM7 else "UCS-2",
        "segments": parts.segments,
        "characters": parts.units,
        "non_gsm": " ".join(parts.non_gsm),
        "total": number(parts.segments * recipients),
        "cost": euros(cost.cost) if cost is not None else "",
        "price": euros(cost.price_per_segment) if cost is not None else "",
    }


def live_count(*, by: Member, definition: dict, scope: dict, channel: str, message_type: str,
               sms_text: str = "", values: dict | None = None) -> dict:  # fmt: skip
    """The count box: members of the audience in the scope, and those the channel reaches."""
    answer = services.segment_count(
        definition=definition, by=by, channel=channel, message_type=message_type, **scope
    )
    reachable = answer.get(f"reachable_{channel}", 0)
    box = {
        "members": number(answer["members"]),
        "reachable": number(reachable),
        "reachable_n": reachable,
        "channel": Channel(channel).label,
        "type": MessageType(message_type).label,
    }
    if channel == Channel.SMS:
        box["sms"] = sms_estimate(sms_text, reachable, values)
    return box


def author_values(member: Member) -> dict:
    """The author's own values, to estimate an SMS's length as it will be filled."""
    return {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "constituency": "75-02",
        "department": "Paris",
        "deputy": "Prénom Nom",
    }
