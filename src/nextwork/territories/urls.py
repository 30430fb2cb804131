from django.urls import path

from nextwork.territories import views

app_name = "territories"

urlpatterns = [
    path("", views.home, name="home"),
    path("trouver/", views.find, name="find"),
    path("circonscriptions/<str:code>/", views.constituency, name="constituency"),
]
