"""Proxy votes: the rules of the electoral code, deadlines, the communes an election covers,
consent, and who sees what."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from nextwork.common.errors import Conflict, Forbidden, InvalidInput
from nextwork.mobilisation import selectors, services
from nextwork.mobilisation.services import LawBroken


def _pair(voter, first_round, people, *, abroad=False, holder=None, commune="75056"):
    requester = voter("Rania", commune)
    request = services.request_create(
        member=requester, round_id=first_round.pk, established_abroad=abroad
    )
    holder = holder or voter("Hugo", commune)
    offer = services.ProxyOffer.objects.filter(
        member=holder, round=first_round, active=True
    ).first()
    if offer is None:
        offer = services.offer_create(
            member=holder, round_id=first_round.pk, commune_codes=[commune]
        )
    return request, offer, holder


def test_elections_are_entered_by_staff_with_consistent_dates(people):
    today = datetime.date(2027, 1, 1)
    rounds = [services.RoundIn(1, today + datetime.timedelta(days=30))]
    with pytest.raises(Forbidden):
        services.election_create(by=people["member"], kind="legislatives", name="L",
                                 slug="l", registration_deadline=today, rounds=rounds)  # fmt: skip
    with pytest.raises(InvalidInput) as error:
        services.election_create(
            by=people["staff"], kind="legislative_partielle", name="Partielle", slug="p",
            registration_deadline=today, rounds=rounds,
        )  # fmt: skip
    assert error.value.field == "areas"
    with pytest.raises(InvalidInput) as error:
        services.election_create(
            by=people["staff"], kind="legislatives", name="L", slug="l",
            registration_deadline=today + datetime.timedelta(days=40), rounds=rounds,
        )  # fmt: skip
    assert error.value.field == "registration_deadline"
    with pytest.raises(InvalidInput):
        services.election_create(
            by=people["staff"], kind="legislatives", name="L", slug="l",
            registration_deadline=today, rounds=[*rounds, services.RoundIn(2, today)],
        )  # fmt: skip


def test_nothing_is_kept_without_the_consent_and_withdrawing_erases_and_tells(
    voter, first_round, people, make_member, django_capture_on_commit_callbacks
):
    from nextwork.mobilisation.models import ProxyMatch, ProxyRequest, VotingSituation

    stranger = make_member("Zoe")
    with pytest.raises(InvalidInput) as error:
        services.situation_set(member=stranger, consent=False, registered="no")
    assert error.value.field == "consent"
    assert not VotingSituation.objects.filter(member=stranger).exists()
    with pytest.raises(Forbidden):
        services.request_create(member=stranger, round_id=first_round.pk, commune_code="75056")

    request, offer, holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.situation_withdraw(member=request.member) == 1
    assert not VotingSituation.objects.filter(member=request.member).exists()
    assert ProxyMatch.objects.get(pk=match.pk).status == "cancelled"
    assert ProxyRequest.objects.get(pk=request.pk).status == "cancelled"
    # The holder is told; the member who withdrew gets nothing more.
    assert [m.to for m in mail.outbox] == [[holder.email]]
    assert "annulée" in mail.outbox[0].subject


def test_rounds_past_or_too_close_are_refused(voter, election, settings):
    from django.utils import timezone

    member = voter()
    past = election.rounds.get(number=2)
    past.date = timezone.localdate() - datetime.timedelta(days=1)
    past.save()
    with pytest.raises(Conflict, match="over"):
        services.request_create(member=member, round_id=past.pk)
    close = election.rounds.get(number=1)
    close.date = timezone.localdate() + datetime.timedelta(days=1)
    close.save()
    settings.NEXTWORK_PROXY_DEADLINE_DAYS = 2
    with pytest.raises(Conflict, match="until"):
        services.request_create(member=member, round_id=close.pk)


def test_a_by_election_covers_its_seat_only(voter, people, make_member):
    from django.utils import timezone

    by_election = services.election_create(
        by=people["staff"], kind="legislative_partielle", name="Partielle de la 2e de Paris",
        slug="partielle-75-02", area_codes=["75-02"], published=True,
        registration_deadline=timezone.localdate() + datetime.timedelta(days=3),
        rounds=[services.RoundIn(1, timezone.localdate() + datetime.timedelta(days=20))],
    )  # fmt: skip
    the_round = by_election.rounds.get()
    marseille = voter("Marius", "13055")
    with pytest.raises(InvalidInput) as error:
        services.request_create(member=marseille, round_id=the_round.pk)
    assert error.value.field == "commune"
    with pytest.raises(InvalidInput):
        services.offer_create(member=voter("Paul", "75056"), round_id=the_round.pk,
                              commune_codes=["13055"])  # fmt: skip
    paris = voter("Iris", "75056")  # Paris has arrondissements in the 2nd seat
    assert services.request_create(member=paris, round_id=the_round.pk).commune.code == "75056"
    # The 20th arrondissement is not in the 2nd seat; the 6th is.
    with pytest.raises(InvalidInput):
        services.request_create(member=voter("Leo", "75120"), round_id=the_round.pk)
    assert services.request_create(member=voter("Mia", "75106"), round_id=the_round.pk)


def test_a_holder_carries_one_french_proxy_and_at_most_two(voter, first_round, people):
    holder = voter("Hugo")
    first, offer, _ = _pair(voter, first_round, people, holder=holder)
    services.match_propose(request_id=first.pk, offer_id=offer.pk, by=people["coord75"])
    second = services.request_create(member=voter("Sam"), round_id=first_round.pk)
    with pytest.raises(LawBroken, match="only one"):
        services.match_propose(request_id=second.pk, offer_id=offer.pk, by=people["coord75"])
    # One established abroad may come on top of it: two in all.
    abroad = services.request_create(
        member=voter("Ana"), round_id=first_round.pk, established_abroad=True
    )
    services.match_propose(request_id=abroad.pk, offer_id=offer.pk, by=people["coord75"])
    third = services.request_create(
        member=voter("Eve"), round_id=first_round.pk, established_abroad=True
    )
    with pytest.raises(LawBroken, match="two proxies"):
        services.match_propose(request_id=third.pk, offer_id=offer.pk, by=people["coord75"])
    # And a requester has one holder.
    other = services.offer_create(member=voter("Max"), round_id=first_round.pk,
                                  commune_codes=["75056"])  # fmt: skip
    with pytest.raises(Conflict):
        services.match_propose(request_id=first.pk, offer_id=other.pk, by=people["coord75"])


def test_coordinators_see_and_match_only_their_territory(voter, first_round, people):
    paris, offer, _ = _pair(voter, first_round, people)
    marseille = services.request_create(member=voter("Marius", "13055"), round_id=first_round.pk)
    seen13 = set(selectors.requests_in_scope(caller=people["coord13"]).values_list("pk", flat=True))
    seen75 = set(selectors.requests_in_scope(caller=people["coord75"]).values_list("pk", flat=True))
    assert seen13 == {marseille.pk} and seen75 == {paris.pk}
    assert not selectors.requests_in_scope(caller=people["member"]).exists()
    assert not selectors.requests_in_scope(caller=people["camille"]).exists()  # a relay
    with pytest.raises(Forbidden):
        services.match_propose(request_id=paris.pk, offer_id=offer.pk, by=people["coord13"])
    with pytest.raises(Forbidden):
        services.match_propose(request_id=paris.pk, offer_id=offer.pk, by=people["member"])


def test_contact_details_only_once_both_accepted(
    voter, first_round, people, django_capture_on_commit_callbacks
):
    request, offer, holder = _pair(voter, first_round, people)
    with django_capture_on_commit_callbacks(execute=True):
        match = services.match_propose(
            request_id=request.pk, offer_id=offer.pk, by=people["coord75"]
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted([request.member.email, holder.email])
    seen = selectors.match_view(match, request.member)
    assert seen["other"] == {"first_name": holder.first_name}
    coordinator = selectors.match_view(match, people["coord75"])
    assert "other" not in coordinator and "email" not in str(coordinator)
    with pytest.raises(services.NotFound):
        services.match_accept(match_id=match.pk, member=people["member"])
    services.match_accept(match_id=match.pk, member=request.member)
    match.refresh_from_db()
    assert match.status == "proposed"
    assert "email" not in selectors.match_view(match, holder)["other"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.match_accept(match_id=match.pk, member=holder)
    match.refresh_from_db()
    assert match.status == "accepted" and match.request.status == "accepted"
    assert selectors.match_view(match, request.member)["other"]["email"] == holder.email
    assert selectors.match_view(match, holder)["other"]["email"] == request.member.email
    to_requester = next(m for m in mail.outbox if m.to == [request.member.email])
    assert holder.email in to_requester.body and "maprocuration.gouv.fr" in to_requester.body
    # The steps: the requester declares, the holder votes (after the round only).
    with pytest.raises(Forbidden):
        services.match_step(match_id=match.pk, member=holder, step="declared")
    services.match_step(match_id=match.pk, member=request.member, step="declared")
    with pytest.raises(Conflict, match="not taken place"):
        services.match_step(match_id=match.pk, member=holder, step="voted")


def test_a_decline_frees_the_request_for_another_holder(voter, first_round, people):
    request, offer, holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    services.match_decline(match_id=match.pk, member=holder)
    request.refresh_from_db()
    assert request.status == "requested"
    other = services.offer_create(member=voter("Max"), round_id=first_round.pk,
                                  commune_codes=["75056"])  # fmt: skip
    services.match_propose(request_id=request.pk, offer_id=other.pk, by=people["coord75"])


def test_a_declined_pair_is_never_proposed_again(voter, first_round, people):
    request, offer, _holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    services.match_decline(match_id=match.pk, member=request.member)
    with pytest.raises(Conflict, match="declined this request"):
        services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    outcome = services.match_run(round_id=first_round.pk, by=people["coord75"])
    assert (outcome["proposed"], outcome["refused"]) == (0, 1)
    assert services.ProxyMatch.objects.filter(status="proposed").count() == 0


def test_an_established_or_used_proxy_is_not_declined_here(voter, first_round, people):
    request, offer, holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    for side in (request.member, holder):
        services.match_accept(match_id=match.pk, member=side)
    services.match_step(match_id=match.pk, member=request.member, step="declared")
    for side in (request.member, holder):
        with pytest.raises(Conflict, match="revokes it officially"):
            services.match_decline(match_id=match.pk, member=side)
    first_round.date = timezone_today()
    first_round.save()
    services.match_step(match_id=match.pk, member=holder, step="voted")
    with pytest.raises(Conflict, match="vote took place"):
        services.match_decline(match_id=match.pk, member=holder)
    request.refresh_from_db()
    assert request.status == "voted"  # nothing was lost


def timezone_today():
    from django.utils import timezone

    return timezone.localdate()


def test_nothing_is_proposed_or_accepted_for_a_round_past_or_too_close(voter, first_round, people):
    request, offer, holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    other_request, other_offer, _ = _pair(voter, first_round, people, holder=voter("Max"))
    first_round.date = timezone_today() - datetime.timedelta(days=3)
    first_round.save()
    with pytest.raises(Conflict, match="round is over"):
        services.match_accept(match_id=match.pk, member=holder)
    with pytest.raises(Conflict, match="round is over"):
        services.match_propose(request_id=other_request.pk, offer_id=other_offer.pk,
                               by=people["coord75"])  # fmt: skip
    first_round.date = timezone_today() + datetime.timedelta(days=1)  # inside the deadline
    first_round.save()
    with pytest.raises(Conflict, match="arranged here until"):
        services.match_propose(request_id=other_request.pk, offer_id=other_offer.pk,
                               by=people["coord75"])  # fmt: skip


def test_a_member_deleted_frees_the_other_side_who_is_told(
    voter, first_round, people, django_capture_on_commit_callbacks
):
    request, offer, holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    for side in (request.member, holder):
        services.match_accept(match_id=match.pk, member=side)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        holder.delete()
    request.refresh_from_db()
    assert request.status == "requested"  # waits for another holder
    assert [m.to for m in mail.outbox] == [[request.member.email]]
    assert "annulée" in mail.outbox[0].subject


def test_a_region_coordinator_sees_requests_in_arrondissements(voter, first_round, people, area):
    from nextwork.network.models import Grant, Role
    from nextwork.territories.models import AreaKind

    idf = people["member"]
    Grant.objects.create(member=idf, role=Role.COORDINATOR, area=area("11", AreaKind.REGION))
    in_paris = services.request_create(member=voter("Rania", "75111"), round_id=first_round.pk)
    in_hauts_de_seine = services.request_create(member=voter("Hugo", "92012"),
                                                round_id=first_round.pk)  # fmt: skip
    seen = set(selectors.requests_in_scope(caller=idf).values_list("pk", flat=True))
    assert seen == {in_paris.pk, in_hauts_de_seine.pk}
    assert not selectors.requests_in_scope(caller=people["coord13"]).exists()


def test_automatic_matching_prefers_the_same_commune_then_nearby(voter, first_round, people):
    # Paris: two requests; Boulogne-Billancourt (92012, next to Paris): one; Lyon: one.
    paris = [services.request_create(member=voter(n), round_id=first_round.pk) for n in "AB"]
    boulogne = services.request_create(member=voter("C", "92012"), round_id=first_round.pk)
    lyon = services.request_create(member=voter("D", "69123"), round_id=first_round.pk)
    # One holder can go to Paris or Boulogne, one to Paris only, one to Montreuil (93048).
    services.offer_create(member=voter("H1"), round_id=first_round.pk,
                          commune_codes=["75056", "92012"])  # fmt: skip
    services.offer_create(member=voter("H2"), round_id=first_round.pk, commune_codes=["75056"])
    services.offer_create(member=voter("H3"), round_id=first_round.pk, commune_codes=["93048"])
    outcome = services.match_run(round_id=first_round.pk, by=people["staff"], radius_km=20)
    assert (outcome["same_commune"], outcome["nearby"], outcome["unmatched"]) == (2, 1, 1)
    assert outcome["proposed"] == 3 and outcome["refused"] == 0
    matched = {m.request_id: m for m in services.ProxyMatch.objects.all()}
    assert set(matched) == {paris[0].pk, paris[1].pk, boulogne.pk}  # Lyon: nobody in 20 km
    far = [m for m in matched.values() if m.distance_km > 0]
    assert len(far) == 1 and 3 < far[0].distance_km < 20
    # Run again: nothing waits in reach, nothing changes.
    again = services.match_run(round_id=first_round.pk, by=people["staff"], radius_km=20)
    assert again["proposed"] == 0 and again["waiting"] == 1
    # A coordinator of 13 sees no waiting request of Paris or Lyon.
    assert services.match_run(round_id=first_round.pk, by=people["coord13"])["waiting"] == 0
    assert lyon.pk not in matched


def test_a_queued_run_is_done_once_and_a_lost_one_again(
    voter, first_round, people, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from nextwork.mobilisation.models import MatchRun

    request, _, _ = _pair(voter, first_round, people)
    with pytest.raises(Forbidden):
        services.match_run_queue(round_id=first_round.pk, by=people["member"])
    with django_capture_on_commit_callbacks() as queued:
        run = services.match_run_queue(round_id=first_round.pk, by=people["coord75"])
    assert len(queued) == 1 and run.status == "queued"  # the task, once the write commits
    with pytest.raises(Conflict, match="under way"):
        services.match_run_queue(round_id=first_round.pk, by=people["coord75"])
    done = services.match_run_do(run.pk)
    assert done.status == "done" and done.result["proposed"] == 1 and done.finished_at
    assert services.match_run_do(run.pk).finished_at == done.finished_at  # delivered twice
    assert services.ProxyMatch.objects.filter(request=request).count() == 1
    # A run whose worker died an hour ago is run again; only what still waits is matched.
    lost = services.match_run_queue(round_id=first_round.pk, by=people["coord75"])
    MatchRun.objects.filter(pk=lost.pk).update(
        status="running", started_at=timezone.now() - datetime.timedelta(hours=2)
    )
    again = services.match_run_do(lost.pk)
    assert again.status == "done" and again.result["waiting"] == 0
    assert services.ProxyMatch.objects.count() == 1


def test_a_run_that_cannot_be_done_says_why(voter, first_round, people):
    from nextwork.mobilisation.models import MatchRun

    run = services.match_run_queue(round_id=first_round.pk, by=people["coord75"])
    first_round.date = datetime.date(2000, 1, 1)  # the round passed while it waited
    first_round.save()
    failed = services.match_run_do(run.pk)
    assert failed.status == "failed" and failed.error == "This round is over."
    gone = MatchRun.objects.create(round=first_round, by=None)
    assert "has left" in services.match_run_do(gone.pk).error


def test_steps_are_reminded_once_and_not_after_the_round(
    voter, first_round, people, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from nextwork.mobilisation import notices
    from nextwork.mobilisation.models import ProxyMatch

    request, offer, holder = _pair(voter, first_round, people)
    match = services.match_propose(request_id=request.pk, offer_id=offer.pk, by=people["coord75"])
    services.match_accept(match_id=match.pk, member=request.member)
    mail.outbox.clear()
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.nudge_steps(now=now) == {"answer": 0, "declare": 0}  # too early
        later = now + datetime.timedelta(days=3)
        assert notices.nudge_steps(now=later) == {"answer": 1, "declare": 0}
        assert notices.nudge_steps(now=later) == {"answer": 0, "declare": 0}  # once
    # Only the holder, who has not answered, is reminded.
    assert [m.to for m in mail.outbox] == [[holder.email]]
    services.match_accept(match_id=match.pk, member=holder)
    # Accepted, the round in 21 days: nothing; within a week: the requester, once.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.nudge_steps(now=later)["declare"] == 0
        week = timezone.now() + datetime.timedelta(days=15)
        assert notices.nudge_steps(now=week) == {"answer": 0, "declare": 1}
        assert notices.nudge_steps(now=week)["declare"] == 0
    assert [m.to for m in mail.outbox] == [[request.member.email]]
    assert "maprocuration.gouv.fr" in mail.outbox[0].body
    # A round that is over gets nothing, whatever was missed.
    ProxyMatch.objects.filter(pk=match.pk).update(nudged_declare_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        after = timezone.now() + datetime.timedelta(days=30)
        assert notices.nudge_steps(now=after) == {"answer": 0, "declare": 0}
