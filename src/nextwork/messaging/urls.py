from django.urls import path

from nextwork.messaging import (
    community_views,
    compose_views,
    preference_views,
    tracking_views,
    views,
)
from nextwork.messaging.sms import webhooks as sms_webhooks

app_name = "messaging"

urlpatterns = [
    # One-click unsubscribe (RFC 8058): the signed token is the only authority.
    path("desinscription/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Opens and clicks, recorded only for members who allow it (tracking.py).
    path("m/c/<str:token>/", tracking_views.click, name="track_click"),
    path("m/o/<str:token>.gif", tracking_views.open_pixel, name="track_open"),
    # SMS: Twilio's webhooks (sms/webhooks.py), authenticated by their X-Twilio-Signature.
    path("sms/twilio/inbound/", sms_webhooks.inbound, name="sms-twilio-inbound"),
    path("sms/twilio/status/", sms_webhooks.status, name="sms-twilio-status"),
    # Communities and the member's preferences.
    path("communautes/", community_views.community_list, name="communities"),
    path("communautes/<slug:slug>/", community_views.community_detail, name="community"),
    path(
        "communautes/<slug:slug>/rejoindre/", community_views.community_join, name="community_join"
    ),
    path(
        "communautes/<slug:slug>/quitter/", community_views.community_leave, name="community_leave"
    ),
    path("espace/preferences/", preference_views.preferences, name="preferences"),
    # Writing to members: staff, coordinators and community coordinators (compose_views.py).
    path("espace/messages/", compose_views.message_list, name="compose_list"),
    path("espace/messages/nouveau/", compose_views.message_new, name="compose_new"),
    path("espace/messages/<int:pk>/", compose_views.message_detail, name="compose_detail"),
    path("espace/messages/<int:pk>/test/", compose_views.message_test, name="compose_test"),
    path("espace/messages/<int:pk>/envoyer/", compose_views.message_send, name="compose_send"),
    path("espace/messages/<int:pk>/annuler/", compose_views.message_cancel, name="compose_cancel"),
    path("espace/alertes/nouvelle/", compose_views.alert_new, name="alert_new"),
    path(
        "espace/communautes/<slug:slug>/coordination/",
        compose_views.community_coordination,
        name="community_coordination",
    ),
]
