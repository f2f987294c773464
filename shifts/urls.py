from django.urls import path

from shifts import request_views, views

urlpatterns = [
    path("calendar/", views.month_calendar, name="shift_calendar"),
    path("mine/", views.my_shifts, name="my_shifts"),
    path("person/<int:person_id>/", views.person_shifts, name="person_shifts"),
    path("new/", views.shift_new, name="shift_new"),
    path("<int:shift_id>/edit/", views.shift_edit, name="shift_edit"),
    path("<int:shift_id>/delete/", views.shift_delete, name="shift_delete"),
    path("compliance/", views.compliance_program, name="compliance_program"),
    path("requests/", request_views.my_shift_requests, name="shift_requests"),
    path("requests/add/", request_views.shift_request_add, name="shift_request_add"),
    path(
        "requests/<int:pk>/delete/",
        request_views.shift_request_delete,
        name="shift_request_delete",
    ),
    path("compliance/export.csv", views.compliance_csv, name="compliance_csv"),
]
