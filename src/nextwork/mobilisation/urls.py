from django.urls import path

from nextwork.mobilisation import views

app_name = "mobilisation"

urlpatterns = [
    path("elections/", views.election_list, name="elections"),
    path("elections/<slug:slug>/", views.election_detail, name="election"),
    path("espace/situation-electorale/", views.situation, name="situation"),
    path(
        "espace/situation-electorale/retirer/",
        views.situation_withdraw,
        name="situation_withdraw",
    ),
    path("espace/procurations/", views.proxies, name="proxies"),
    path("espace/procurations/coordination/", views.coordination, name="coordination"),
]
