from django.urls import path

from nextwork.fundraising import views

app_name = "fundraising"

urlpatterns = [
    path("espace/dons/recus/<int:pk>.pdf", views.receipt_pdf, name="receipt_pdf"),
]
