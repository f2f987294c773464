"""Mounted at ``api/generation-runs`` (no trailing slash) by residency/urls.py."""

from django.urls import path

from scheduling import views

app_name = "scheduling_api"

urlpatterns = [
    path("", views.api_start, name="start"),
    path("/<int:pk>", views.api_detail, name="detail"),
    path("/<int:pk>/cancel", views.api_cancel, name="cancel"),
]
