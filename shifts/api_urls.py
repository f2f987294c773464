from django.urls import path

from shifts import api

urlpatterns = [
    path("shifts/<int:shift_id>", api.shift_detail, name="api_shift_detail"),
    path("shift-requests", api.shift_request_list, name="api_shift_requests"),
    path("shift-requests/<int:pk>", api.shift_request_detail, name="api_shift_request"),
    path("people/<int:person_id>/duty-hours", api.person_duty_hours, name="api_person_duty_hours"),
]
