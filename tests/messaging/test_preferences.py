"""The preferences page: logged in or by the signed link of bulk emails; only changes reach the
ledger; SMS needs a phone; tracking is off until ticked; the history shown to the member."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing

from nextwork.common.errors import InvalidInput
from nextwork.messaging import consent, preferences
from nextwork.messaging.models import ConsentEvent, ConsentState, Preferences

URL = "/espace/preferences/"
ALL_EMAIL = {
    "email.newsletter": "on",
    "email.campaign": "on",
    "email.alert": "on",
    "email.community": "on",
}


@pytest.fixture
def lou(people, consenting):
    return consenting(people["member"])  # email newsletter, campaign, alert given


def ledger(member):
    return list(
        ConsentEvent.objects.filter(member=member)
        .order_by("at", "pk")
        .values_list("channel", "message_type", "given", "how")
    )


def test_the_page_needs_a_login_or_a_link(client, lou):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    client.force_login(lou)
    html = client.get(URL).content.decode()
    assert 'name="email.newsletter" checked' in html
    assert 'name="email.community"' in html and 'name="email.community" checked' not in html
    assert 'name="sms.campaign"' in html and 'name="sms.newsletter"' not in html
    assert 'name="tracking" checked' not in html  # off by default
    assert 'href="/espace/preferences/"' in client.get("/espace/").content.decode()


def test_preferences_url_is_absolute_and_opens_the_page_without_login(client, settings, lou):
    settings.NEXTWORK_SITE_URL = "https://reseau.example.org"
    url = preferences.preferences_url(lou)
    parsed = urlparse(url)
    assert url.startswith("https://reseau.example.org/espace/preferences/?t=")
    token = parse_qs(parsed.query)["t"][0]
    assert preferences.member_from_token(token) == lou
    page = client.get(f"{parsed.path}?{parsed.query}")
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"].startswith("max-age=0")
    assert "l•••@example.org" in html and lou.email not in html
    assert f'name="t" value="{token}"' in html

    # By the link, withdrawing works (giving needs a login: see the test below).
    answers = {k: v for k, v in ALL_EMAIL.items() if k not in ("email.community", "email.alert")}
    response = client.post(f"{parsed.path}?{parsed.query}", {**answers, "t": token})
    assert response.status_code == 302
    assert parse_qs(urlparse(response["Location"]).query)["t"] == [token]  # still by the link
    assert not consent.may_receive(lou.pk, "email", "alert")


def test_a_forged_or_expired_link_is_refused(client, lou, people, monkeypatch):
    token = preferences.preferences_token(lou)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = client.get(f"{URL}?t={forged}")
    assert response.status_code == 400 and "pas valide" in response.content.decode()
    other_salt = signing.dumps({"m": str(lou.public_id)}, salt="nextwork.network.confirm")
    assert client.get(f"{URL}?t={other_salt}").status_code == 400
    # A forged link cannot change anything either, even for a logged-in member.
    client.force_login(people["camille"])
    assert client.post(URL, {"t": forged}).status_code == 400
    assert ledger(lou) == [("email", t, True, "site") for t in ("newsletter", "campaign", "alert")]
    with pytest.raises(InvalidInput) as exc:
        preferences.member_from_token("nonsense")
    assert exc.value.field == "t"

    monkeypatch.setattr(preferences, "TOKEN_MAX_AGE", -1)
    response = client.get(f"{URL}?t={token}")
    assert response.status_code == 400 and "expiré" in response.content.decode()


def test_the_ledger_records_changes_only(client, lou):
    client.force_login(lou)
    before = ledger(lou)
    # Withdraw the newsletter; leave the rest as it was (community never consented to).
    form = {"email.campaign": "on", "email.alert": "on"}
    assert client.post(URL, form).status_code == 302
    after = ledger(lou)
    assert after[len(before) :] == [("email", "newsletter", False, "site")]
    event = ConsentEvent.objects.filter(member=lou).latest("at", "pk")
    assert event.text.kind == "preferences"
    client.post(URL, form)  # the same answers again: nothing new
    assert ledger(lou) == after
    assert not ConsentState.objects.filter(member=lou, message_type="community").exists()
    html = client.get(URL).content.decode()
    assert "retiré" in html and "Préférences sur le site" in html
    assert "page des préférences, v1" in html


def test_sms_without_a_phone_is_a_clear_error(client, lou):
    client.force_login(lou)
    html = client.get(URL).content.decode()
    assert 'name="sms.alert" disabled' in html
    assert "ajoutez-le à votre profil" in html
    before = ledger(lou)
    response = client.post(URL, {**ALL_EMAIL, "sms.alert": "on"})
    assert response.status_code == 400
    assert "phone number" in response.content.decode()
    assert ledger(lou) == before  # nothing written, the email boxes neither
    with pytest.raises(InvalidInput) as exc:
        preferences.preferences_update(member=lou, consents={("sms", "alert"): True})
    assert exc.value.field == "sms.alert"
    with pytest.raises(InvalidInput) as exc:
        preferences.preferences_update(member=lou, consents={("sms", "newsletter"): True})
    assert exc.value.field == "sms.newsletter"


def test_sms_with_a_phone(client, lou):
    lou.phone = "+33612345678"
    lou.save(update_fields=["phone"])
    client.force_login(lou)
    assert 'name="sms.alert" disabled' not in client.get(URL).content.decode()
    client.post(URL, {"email.newsletter": "on", "email.campaign": "on", "sms.alert": "on"})
    assert consent.may_receive(lou.pk, "sms", "alert")
    assert not consent.may_receive(lou.pk, "sms", "campaign")
    assert not consent.may_receive(lou.pk, "email", "alert")
    event = ConsentEvent.objects.get(member=lou, channel="sms")
    assert event.how == "site" and event.text.kind == "sms"


def test_digest_and_tracking(client, lou):
    client.force_login(lou)
    prefs = consent.preferences_for(lou)
    assert not prefs.tracking and not prefs.weekly_digest
    client.post(URL, {**ALL_EMAIL, "weekly_digest": "on", "tracking": "on"})
    prefs.refresh_from_db()
    assert prefs.tracking and prefs.weekly_digest
    Preferences.objects.filter(pk=prefs.pk).update(last_opened_at="2026-01-01T00:00:00Z")
    client.post(URL, ALL_EMAIL)
    prefs.refresh_from_db()
    assert not prefs.tracking and not prefs.weekly_digest
    assert prefs.last_opened_at is None  # what was recorded under the permission goes too


def test_an_unconfirmed_member_is_told_nothing_is_sent_yet(client, make_member):
    pending = make_member("Pending", confirmed=False)
    response = client.get(f"{URL}?t={preferences.preferences_token(pending)}")
    assert "pas encore confirmée" in response.content.decode()


def test_the_language_of_messages_is_chosen_and_segments_see_it(client, lou):
    from nextwork.messaging import segments

    client.force_login(lou)
    client.post(URL, {**ALL_EMAIL, "language": "en"})
    assert consent.preferences_for(lou).language == "en"
    english = segments.audience({"language": ["en"]}, scope=segments.Scope())
    assert list(english.values_list("pk", flat=True)) == [lou.pk]
    answer = client.post(URL, {**ALL_EMAIL, "language": "xx"})
    assert answer.status_code == 400
    assert consent.preferences_for(lou).language == "en"  # nothing changed


def test_the_emailed_link_may_withdraw_but_never_give(client, lou, make_member):
    from nextwork.messaging.preferences import preferences_url

    url = preferences_url(lou).split("testserver", 1)[-1]
    url = url[url.index("/espace") :]
    # Withdrawing the newsletter through the link works…
    withdraw = {"email.campaign": "on", "email.alert": "on"}  # the newsletter unticked
    assert client.post(url, withdraw).status_code == 302
    assert consent.current_consents(lou)[("email", "newsletter")] is False
    # …giving it back (or allowing tracking) does not: a forwarded email must not consent.
    for answers in ({**withdraw, "email.newsletter": "on"}, {**withdraw, "tracking": "on"}):
        refused = client.post(url, answers)
        assert refused.status_code == 400
        assert "Connectez-vous pour donner un nouvel accord" in refused.content.decode()
    assert consent.current_consents(lou)[("email", "newsletter")] is False
    assert not consent.preferences_for(lou).tracking
    # The page itself offers only what may be done: unticked boxes are disabled.
    page = client.get(url).content.decode()
    assert 'name="email.newsletter" disabled' in page
    # Logged in as themselves, the member gives it back.
    client.force_login(lou)
    assert client.post(URL, ALL_EMAIL).status_code == 302
    assert consent.current_consents(lou)[("email", "newsletter")] is True


def _link(member):
    url = preferences.preferences_url(member)
    return url[url.index("/espace") :]


def _token(url):
    return parse_qs(urlparse(url).query)["t"][0]


def test_without_a_login_the_service_only_withdraws_and_narrows(lou):
    lou.phone = "+33612345678"
    lou.save(update_fields=["phone"])
    before = ledger(lou)
    # Each new consent — an email type, an SMS type, tracking — is refused, naming it, and
    # nothing at all is written (the withdrawal asked alongside neither).
    for consents, tracking, field in (
        ({("email", "newsletter"): False, ("email", "community"): True}, None, "email.community"),
        ({("email", "newsletter"): False, ("sms", "alert"): True}, None, "sms.alert"),
        ({("email", "newsletter"): False}, True, "tracking"),
    ):
        with pytest.raises(InvalidInput) as exc:
            preferences.preferences_update(
                member=lou, consents=consents, tracking=tracking, may_give=False
            )
        assert exc.value.code == "login_to_give" and exc.value.field == field
        assert ledger(lou) == before
    assert not consent.preferences_for(lou).tracking
    # Keeping what is given, withdrawing, the weekly digest either way: all allowed.
    changes = preferences.preferences_update(
        member=lou,
        consents={("email", "newsletter"): False, ("email", "alert"): True},
        weekly_digest=True,
        tracking=False,
        may_give=False,
    )
    assert [(c.message_type, c.given) for c in changes] == [("newsletter", False)]
    assert consent.preferences_for(lou).weekly_digest
    preferences.preferences_update(member=lou, consents={}, weekly_digest=False, may_give=False)
    assert not consent.preferences_for(lou).weekly_digest
    # Tracking already on may stay on, then be turned off.
    Preferences.objects.filter(member=lou).update(tracking=True)
    preferences.preferences_update(member=lou, consents={}, tracking=True, may_give=False)
    preferences.preferences_update(member=lou, consents={}, tracking=False, may_give=False)
    assert not consent.preferences_for(lou).tracking


def test_a_link_for_someone_else_gives_nothing_even_logged_in(client, lou, make_member):
    other = make_member("Sam")
    client.force_login(other)  # logged in, but the link names Lou: a forwarded email
    url = _link(lou)
    page = client.get(url).content.decode()
    assert 'name="email.community" disabled' in page and 'name="tracking" disabled' in page
    assert "pour en donner un nouveau, connectez-vous" in page
    refused = client.post(url, {**ALL_EMAIL, "t": _token(url)})
    assert refused.status_code == 400
    assert "Connectez-vous pour donner un nouvel accord" in refused.content.decode()
    assert not ConsentState.objects.filter(member=lou, message_type="community").exists()


def test_logged_in_as_themselves_the_link_gives_everything(client, lou):
    client.force_login(lou)
    url = _link(lou)
    page = client.get(url).content.decode()
    assert 'name="email.community" disabled' not in page
    assert 'name="tracking" disabled' not in page
    assert "pour en donner un nouveau" not in page  # no "log in to give" hint: they are
    answer = client.post(url, {**ALL_EMAIL, "tracking": "on", "t": _token(url)})
    assert answer.status_code == 302
    assert consent.current_consents(lou)[("email", "community")] is True
    assert consent.preferences_for(lou).tracking
