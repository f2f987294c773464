"""The generation JSON API, included at the site root by residency/urls.py."""

from django.urls import path

from scheduling import views

app_name = "scheduling_api"

urlpatterns = [
    path("api/generation-runs", views.api_start, name="start"),
    path("api/generation-runs/<int:pk>", views.api_detail, name="detail"),
    path("api/generation-runs/<int:pk>/cancel", views.api_cancel, name="cancel"),
    path("api/generation-runs/<int:pk>/publish", views.api_publish, name="publish"),
    path("api/generation-runs/<int:pk>/discard", views.api_discard, name="discard"),
]
