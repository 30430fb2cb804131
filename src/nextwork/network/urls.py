from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import path

from nextwork.network import accounts, coordination, views
from nextwork.network.security import views as security

app_name = "network"

# The admin's login counts failures and locks out like the site's (docs/security.md).
admin.site.login_form = accounts.AdminLoginForm

urlpatterns = [
    path("carte/", views.coverage_map, name="map"),
    path("inscription/", views.signup, name="signup"),
    path("inscription/envoyee/", views.signup_sent, name="signup_sent"),
    path("confirmer/<str:token>/", views.confirm, name="confirm"),
    path("connexion/", accounts.LoginView.as_view(), name="login"),
    path("connexion/lien/", accounts.login_link_request, name="login_link_request"),
    path("connexion/lien/<str:token>/", accounts.login_link, name="login_link"),
    path("deconnexion/", LogoutView.as_view(next_page="/"), name="logout"),
    path("connexion/mot-de-passe/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "connexion/mot-de-passe/envoye/",
        accounts.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "connexion/mot-de-passe/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("espace/", views.space, name="space"),
    path("espace/profil/", views.profile, name="profile"),
    path("espace/tableau/", views.dashboard, name="dashboard"),
    path("espace/securite/", security.security, name="security"),
    path("espace/securite/mot-de-passe/", security.password_change, name="password_change"),
    path(
        "espace/securite/deconnexion-partout/",
        security.logout_everywhere,
        name="logout_everywhere",
    ),
    path("espace/securite/jetons/", security.token_create, name="token_create"),
    path("espace/securite/jetons/<int:pk>/revoquer/", security.token_revoke, name="token_revoke"),
    path(
        "espace/securite/double-authentification/",
        security.two_factor_enrol,
        name="two_factor_enrol",
    ),
    path(
        "espace/securite/double-authentification/verifier/",
        security.two_factor_verify,
        name="two_factor_verify",
    ),
    path(
        "espace/securite/codes-de-secours/",
        security.backup_codes_renew,
        name="backup_codes_renew",
    ),
    path(
        "espace/membres/<uuid:public_id>/double-authentification/",
        security.two_factor_reset,
        name="two_factor_reset",
    ),
    path("espace/tableau/lacunes/<str:code>.csv", coordination.gap_members, name="gap_members"),
    path("espace/membres/", coordination.members, name="members"),
    path("espace/membres/export.csv", coordination.members_export, name="members_export"),
    path("espace/membres/<uuid:public_id>/inviter/", coordination.invite, name="invite"),
    path("espace/roles/<int:pk>/titulaire/", coordination.promote, name="promote"),
    path("espace/invitations/<int:pk>/", views.answer_invitation, name="answer_invitation"),
    path("espace/candidature/", views.apply, name="apply"),
    path("espace/candidatures/<int:pk>/decision/", views.decide, name="decide"),
    path("espace/roles/<int:pk>/fin/", views.step_down, name="step_down"),
]
