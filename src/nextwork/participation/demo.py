"""Demonstration data for participation, added when ``nextwork demo`` seeds its network: one
national consultation with member proposals, supports, comments, a merge, answers and a news
item, so that every participation page has something true-looking to show."""

from __future__ import annotations

import datetime

from django.db.models import Count
from django.utils import timezone

from nextwork.participation.models import (
    Answer,
    AnswerStatus,
    Comment,
    Consultation,
    ConsultationStatus,
    Follow,
    NewsItem,
    Proposal,
    Support,
)

IDEAS = [
    ("Des cantines bio et locales", "Servir dans chaque cantine scolaire au moins **50 %** de "
     "produits bio et locaux, avec des contrats pluriannuels pour les agriculteurs voisins."),
    ("Ouvrir les écoles le soir", "Ouvrir les cours et les gymnases des écoles le soir et le "
     "week-end aux associations du quartier."),
    ("Des classes de 20 élèves", "Limiter les classes de maternelle et de primaire à 20 élèves "
     "en commençant par les quartiers prioritaires."),
    ("Le vélo pour aller à l'école", "Des rues scolaires fermées aux voitures à l'entrée et à la "
     "sortie des classes, et des parkings à vélos dans chaque école."),
    ("Des médecins scolaires", "Un médecin scolaire pour 2 000 élèves au plus, et une visite "
     "médicale garantie à 6 ans."),
    ("Former les enseignants au numérique", "Une formation continue de trois jours par an, "
     "pendant le temps de travail."),
    ("Des cantines bio", "Plus de bio dans les cantines, s'il vous plaît !"),
    ("Rénover les bâtiments", "Un plan de rénovation thermique des écoles sur dix ans, financé "
     "avec les collectivités."),
]  # fmt: skip
COMMENTS = [
    "Tout à fait d'accord, c'est déjà le cas dans ma commune et ça marche.",
    "Qui paie ? Il faudrait préciser le financement.",
    "Bonne idée, mais il faut associer les parents.",
    "Les agents municipaux devront être formés.",
]


TITLE = "Quelle école pour demain ?"
NEWS_TITLE = "La consultation sur l'école est ouverte"


def seed(sender=None, *, people, staff, rng, **kwargs) -> None:
    # A new demo replaces the previous one, whose people are gone by now (their content
    # lost its author and organiser).
    Consultation.objects.filter(title=TITLE, created_by__isnull=True).delete()
    NewsItem.objects.filter(title=NEWS_TITLE, author__isnull=True).delete()
    now = timezone.now()
    consultation = Consultation.objects.create(
        title=TITLE,
        text=(
            "L'école est au cœur de notre programme. Proposez vos idées, soutenez celles des "
            "autres : l'équipe répondra à chacune et les meilleures entreront au programme."
        ),
        opens_at=now - datetime.timedelta(days=12),
        proposals_close_at=now + datetime.timedelta(days=9),
        closes_at=now + datetime.timedelta(days=23),
        supports_per_member=5,
        status=ConsultationStatus.PUBLISHED,
        created_by=staff,
    )
    authors = rng.sample(people, min(len(IDEAS), len(people)))
    proposals = []
    for (title, body), author in zip(IDEAS, authors, strict=False):
        proposals.append(
            Proposal(
                consultation=consultation,
                author=author,
                title=title,
                body=body,
                created_at=now
                - datetime.timedelta(days=rng.randint(1, 11), hours=rng.randint(0, 23)),
            )
        )
    proposals = Proposal.objects.bulk_create(proposals)
    supports = []
    for proposal in proposals:
        fans = rng.sample(people, min(len(people), rng.randint(3, 60)))
        supports += [Support(proposal=proposal, member=m) for m in fans]
    Support.objects.bulk_create(supports, ignore_conflicts=True)
    follows = [Follow(proposal=p, member=p.author) for p in proposals]
    comments = []
    for proposal in proposals[:5]:
        for text in rng.sample(COMMENTS, 2):
            commenter = rng.choice(people)
            comments.append(Comment(proposal=proposal, author=commenter, body=text))
            follows.append(Follow(proposal=proposal, member=commenter))
    Comment.objects.bulk_create(comments)
    Follow.objects.bulk_create(follows, ignore_conflicts=True)
    _recount(consultation)

    duplicate, original = proposals[6], proposals[0]
    Support.objects.filter(proposal=duplicate).exclude(
        member__in=Support.objects.filter(proposal=original).values("member")
    ).update(proposal=original)
    Support.objects.filter(proposal=duplicate).delete()
    Proposal.objects.filter(pk=duplicate.pk).update(merged_into=original)
    _recount(consultation)
    for proposal, status, text in [
        (original, AnswerStatus.ACCEPTED, "Retenue : elle entre au programme, chapitre École."),
        (proposals[2], AnswerStatus.UNDER_REVIEW, "À l'étude avec nos élus locaux."),
        (proposals[5], AnswerStatus.PARTIALLY_ACCEPTED, "Retenue pour la formation continue."),
    ]:
        answer = Answer.objects.create(
            proposal=proposal, status=status, text=text, answered_by=staff
        )
        Proposal.objects.filter(pk=proposal.pk).update(
            answer_status=status, answered_at=answer.answered_at
        )
    _programme(staff, original)
    NewsItem.objects.create(
        title=NEWS_TITLE,
        body="Jusqu'à la fin du mois, proposez et soutenez les idées pour l'école de demain.",
        published_at=consultation.opens_at,
        author=staff,
    )


def _programme(staff, accepted: Proposal) -> None:
    """A first published version whose school chapter traces one measure to the accepted
    proposal (only when the programme is still empty: a demo never rewrites one)."""
    from nextwork.participation import programme
    from nextwork.participation.models import Chapter, ProgrammeVersion

    if Chapter.objects.exists() or ProgrammeVersion.objects.exists():
        return
    school = programme.chapter_create(
        by=staff, title="École", intro="Une école qui réduit les inégalités dès la maternelle."
    )
    programme.measure_create(
        by=staff,
        chapter_id=school.pk,
        title="Des cantines bio et locales",
        body="La moitié des repas servis dans les cantines scolaires bio et locaux d'ici 2030.",
    )
    measure = school.measures.get()
    programme.measure_link_proposals(by=staff, measure_id=measure.pk, proposal_ids=[accepted.pk])
    programme.chapter_create(
        by=staff, title="Santé", intro="Un médecin traitant pour chacun, partout."
    )
    programme.programme_publish(note="Première version", by=staff)


def _recount(consultation: Consultation) -> None:
    for proposal in Proposal.objects.filter(consultation=consultation).annotate(
        s=Count("supports", distinct=True),
        c=Count("comments", distinct=True),
        f=Count("follows", distinct=True),
    ):
        Proposal.objects.filter(pk=proposal.pk).update(
            support_count=proposal.s, comment_count=proposal.c, follower_count=proposal.f
        )
