"""The first version of the sign-up text, written into the database by a migration.

An organisation adapts it (a new version, in the admin) before opening sign-ups: the placeholder
``{organisation}`` is filled from the NEXTWORK_ORGANISATION setting when shown.
"""

SIGNUP_V1_FR = """\
{organisation} collecte ces informations pour vous inscrire à son réseau, vous rattacher à votre \
circonscription et vous écrire au sujet de son action. Elles révèlent une sympathie politique : \
elles ne sont ni vendues ni cédées, et seules les personnes que vous désignez par votre \
circonscription (relais, coordinateurs) et l'équipe nationale y ont accès, dans la limite \
de leur rôle.

Le nom, le prénom, l'adresse électronique et le lieu de résidence sont nécessaires ; le téléphone \
est facultatif. Vous pouvez à tout moment consulter, corriger, exporter ou effacer vos données et \
retirer votre consentement, depuis votre profil ou en écrivant à {organisation}. Vous pouvez aussi \
saisir la CNIL.

Votre inscription ne sera active qu'après la confirmation de votre adresse électronique."""
