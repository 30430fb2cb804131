"""Networks without a publishing API here: the text is prepared, checked against the network's
limit and cut to it when needed, ready to copy by hand.

X counts 280 characters, each address as 23 (t.co); Instagram 2,200 and its captions' links
are not clickable; LinkedIn 3,000; Facebook 63,206. YouTube, TikTok, PeerTube, websites and
other channels take text of many kinds (a description, a comment, an article): no limit is
checked."""

from __future__ import annotations

from nextwork.monitoring.publishers import Problem, Publisher, register, with_link


@register
class X(Publisher):
    kind, label, limit, url_weight = "x", "X", 280, 23


@register
class Instagram(Publisher):
    kind, label, limit = "instagram", "Instagram", 2200

    def check(self, text: str, link: str, *, account=None, where: str = "") -> list[Problem]:
        found = super().check(text, link, account=account, where=where)
        if link or "http://" in text.lower() or "https://" in text.lower():
            name = f"{self.label}{f' ({where})' if where else ''}"
            found.append(Problem("link_not_clickable", "warning", (
                f"Sur {name}, les liens d'une publication ne sont pas cliquables : mettez "
                "l'adresse dans la bio du compte et écrivez « lien en bio »."
            )))  # fmt: skip
        return found


@register
class LinkedIn(Publisher):
    kind, label, limit = "linkedin", "LinkedIn", 3000


@register
class Facebook(Publisher):
    kind, label, limit = "facebook", "Facebook", 63206


class _Unchecked(Publisher):
    def adapt(self, text: str, link: str, *, account=None):
        return self.render(with_link(text, link))


@register
class YouTube(_Unchecked):
    kind, label = "youtube", "YouTube"


@register
class TikTok(_Unchecked):
    kind, label = "tiktok", "TikTok"


@register
class PeerTube(_Unchecked):
    kind, label = "peertube", "PeerTube"


@register
class Website(_Unchecked):
    kind, label = "website", "le site web"


@register
class Other(_Unchecked):
    kind, label = "other", "ce canal"
