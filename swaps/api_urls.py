"""Included at api/ by residency/urls.py: POST /api/swaps, GET /api/swaps/<id>,
POST /api/swaps/<id>/accept | decline | cancel, GET /api/shifts/open,
POST /api/shifts/<shift id>/take."""

from django.urls import path

from swaps import api

app_name = "swaps_api"

urlpatterns = [
    path("swaps", api.create, name="create"),
    path("swaps/<int:pk>", api.detail, name="detail"),
    path("swaps/<int:pk>/accept", api.accept, name="accept"),
    path("swaps/<int:pk>/decline", api.decline, name="decline"),
    path("swaps/<int:pk>/cancel", api.cancel, name="cancel"),
    path("shifts/open", api.open_shifts, name="open_shifts"),
    path("shifts/<int:shift_id>/take", api.take_shift, name="take_shift"),
]
