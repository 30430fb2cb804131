from django.urls import path

from nextwork.events import views

app_name = "events"

urlpatterns = [
    path("evenements/", views.event_list, name="list"),
    path("evenements.ics", views.events_ics, name="feed"),
    path("evenements/carte/", views.event_map, name="map"),
    path("evenements/nouveau/", views.event_create, name="create"),
    path("evenements/<int:pk>/", views.event_detail, name="detail"),
    path("evenements/<int:pk>.ics", views.event_ics, name="ics"),
    path("evenements/<int:pk>/participation/", views.event_rsvp, name="rsvp"),
    path("evenements/<int:pk>/modifier/", views.event_edit, name="edit"),
    path("evenements/<int:pk>/annuler/", views.event_cancel, name="cancel"),
    path("evenements/<int:pk>/participants/", views.event_attendees, name="attendees"),
]
