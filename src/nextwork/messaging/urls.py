from django.urls import path

from nextwork.messaging import tracking_views, views

app_name = "messaging"

urlpatterns = [
    path("desinscription/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # Opens and clicks, recorded only for members who allow it (tracking.py).
    path("m/c/<str:token>/", tracking_views.click, name="track_click"),
    path("m/o/<str:token>.gif", tracking_views.open_pixel, name="track_open"),
]

# Communities and the member's preferences (community_views.py, preference_views.py).
from nextwork.messaging import community_views, preference_views  # noqa: E402

urlpatterns += [
    path("communautes/", community_views.community_list, name="communities"),
    path("communautes/<slug:slug>/", community_views.community_detail, name="community"),
    path(
        "communautes/<slug:slug>/rejoindre/",
        community_views.community_join,
        name="community_join",
    ),
    path(
        "communautes/<slug:slug>/quitter/", community_views.community_leave, name="community_leave"
    ),
    path("espace/preferences/", preference_views.preferences, name="preferences"),
]

# SMS: Twilio's webhooks (sms/webhooks.py), authenticated by their X-Twilio-Signature.
from nextwork.messaging.sms import webhooks as sms_webhooks  # noqa: E402

urlpatterns += [
    path("sms/twilio/inbound/", sms_webhooks.inbound, name="sms-twilio-inbound"),
    path("sms/twilio/status/", sms_webhooks.status, name="sms-twilio-status"),
]
