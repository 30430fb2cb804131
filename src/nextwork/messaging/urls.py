from django.urls import path

from nextwork.messaging import views

app_name = "messaging"

urlpatterns = [
    path("desinscription/<str:token>/", views.unsubscribe, name="unsubscribe"),
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
