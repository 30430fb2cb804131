"""The texts a member agrees to outside the sign-up: community news, the SMS opt-in, the
preferences page. Each is stored as a versioned ``ConsentText`` the first time it is used, so
that the ledger says which wording was agreed to.

A new wording is a new version: never edit a text in place once it has been used.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from nextwork.network.models import ConsentText

COMMUNITY_NEWS_V1_FR = """\
En rejoignant une communauté, j'accepte de recevoir par courriel les nouvelles des communautés \
dont je suis membre. Je peux retirer cet accord à tout moment depuis mes préférences ou depuis \
le lien de désinscription présent dans chaque message."""

SMS_V1_FR = """\
J'accepte de recevoir par SMS les appels à l'action et les alertes de {organisation}. \
Je peux retirer cet accord à tout moment depuis mes préférences ou en répondant STOP."""

PREFERENCES_V1_FR = """\
Sur la page « Mes préférences », je choisis, type par type et canal par canal (courriel, SMS), \
les messages que {organisation} peut m'envoyer. Chaque choix peut être changé à tout moment, \
sur cette page ou depuis le lien de désinscription présent dans chaque message."""

PARTICIPATION_V1_FR = """\
En faisant une proposition, en soutenant, en commentant ou en suivant une discussion, \
j'accepte que {organisation} me dise par courriel ce que devient cette proposition : réponse \
de l'équipe, regroupement avec une autre, nouveaux commentaires. Je peux retirer cet accord à \
tout moment depuis mes préférences ou le lien de désinscription de chaque message, et cesser \
de suivre une discussion depuis sa page."""

ELECTORAL_V1_FR = """\
J'accepte que {organisation} conserve ce que je choisis de dire de ma situation électorale \
(inscription sur les listes, commune et bureau de vote, absence à un tour, procuration que je \
demande ou que je peux porter), pour m'aider à voter : rappels avant la date limite \
d'inscription et les jours de vote, recherche d'un mandataire ou d'un mandant. Rien n'est \
obligatoire. Ces informations sont vues par moi, par les coordinateurs de mon territoire qui \
organisent les procurations et, une fois que nous avons tous deux accepté, par la personne \
avec qui je suis mis·e en relation, qui reçoit alors mon nom et mes coordonnées. Je peux \
retirer cet accord à tout moment depuis ma page de situation électorale : ces informations \
sont alors effacées et mes procurations en cours annulées."""

# kind -> (current version, French body)
TEXTS = {
    "community_news": (1, COMMUNITY_NEWS_V1_FR),
    "sms": (1, SMS_V1_FR),
    "preferences": (1, PREFERENCES_V1_FR),
    "participation": (1, PARTICIPATION_V1_FR),
    "electoral": (1, ELECTORAL_V1_FR),
}


def consent_text(kind: str) -> ConsentText:
    """The current version of a text, created on first use."""
    version, body = TEXTS[kind]
    found = ConsentText.objects.filter(kind=kind, version=version, language="fr").first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return ConsentText.objects.create(kind=kind, version=version, language="fr", body=body)
    except IntegrityError:  # created at the same moment by another request
        return ConsentText.objects.get(kind=kind, version=version, language="fr")
