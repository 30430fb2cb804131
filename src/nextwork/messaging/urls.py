from django.urls import path

from nextwork.messaging import views

app_name = "messaging"

urlpatterns = [
    path("desinscription/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
