from django.urls import path

from nextwork.participation import programme_views as views

app_name = "programme"

urlpatterns = [
    path("programme/", views.public, name="public"),
    path("programme.pdf", views.pdf, name="pdf"),
    path("programme/versions/", views.versions_page, name="versions"),
    path("programme/versions/<int:number>/", views.version_page, name="version"),
    path("programme/versions/<int:number>.pdf", views.pdf, name="version_pdf"),
    path("programme/diff/", views.diff_pick, name="diff_pick"),
    path("programme/diff/<int:a>/<int:b>/", views.diff_page, name="diff"),
    path("equipe/programme/", views.edit, name="edit"),
    path("equipe/programme/apercu/", views.preview, name="preview"),
    path("equipe/programme/chapitres/", views.chapter_create, name="chapter_create"),
    path("equipe/programme/chapitres/<int:pk>/", views.chapter_update, name="chapter_update"),
    path("equipe/programme/chapitres/<int:pk>/deplacer/", views.chapter_move, name="chapter_move"),
    path(
        "equipe/programme/chapitres/<int:pk>/supprimer/",
        views.chapter_delete,
        name="chapter_delete",
    ),
    path(
        "equipe/programme/chapitres/<int:pk>/mesures/",
        views.measure_create,
        name="measure_create",
    ),
    path("equipe/programme/mesures/<int:pk>/", views.measure_update, name="measure_update"),
    path("equipe/programme/mesures/<int:pk>/deplacer/", views.measure_move, name="measure_move"),
    path(
        "equipe/programme/mesures/<int:pk>/supprimer/",
        views.measure_delete,
        name="measure_delete",
    ),
]
