from django.urls import path

from shifts import api

urlpatterns = [
    path("shifts/<int:shift_id>", api.shift_detail, name="api_shift_detail"),
    path("people/<int:person_id>/duty-hours", api.person_duty_hours, name="api_person_duty_hours"),
]
