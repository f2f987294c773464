from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from residency import api, grid_views, history_views, notification_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("rota/favicon.svg"), permanent=True),
        name="favicon",
    ),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("schedule/", views.schedule, name="schedule"),
    path("schedule/export.<str:fmt>", grid_views.schedule_export, name="schedule_export"),
    path("schedule/calendar/new/", grid_views.calendar_regenerate, name="calendar_regenerate"),
    path("schedule/rotations.css", views.rotation_colors_css, name="rotation_colors_css"),
    path("schedule/year/", grid_views.year_grid, name="year_grid_current"),
    # <path:...>: a year's label may contain a slash ("2026/27"). The export comes first: the
    # grid's pattern would otherwise read "2026-27/export.csv" as a label.
    path(
        "schedule/year/<path:label>/export.<str:fmt>",
        grid_views.year_grid_export,
        name="year_grid_export",
    ),
    path("schedule/year/<path:label>/", grid_views.year_grid, name="year_grid"),
    path("calendar/<str:token>.ics", grid_views.calendar_feed, name="calendar_feed"),
    path("schedule/person/<int:person_id>/", views.person_schedule, name="person_schedule"),
    path("schedule/block/<int:block_id>/", views.block_roster, name="block_roster"),
    path("schedule/block/<int:block_id>/reassign/", views.block_reassign, name="block_reassign"),
    path("assignments/<int:assignment_id>/edit/", views.assignment_edit, name="assignment_edit"),
    path("api/assignments", api.assignment_list, name="api_assignment_list"),
    path(
        "api/assignments/<int:assignment_id>",
        api.assignment_detail,
        name="api_assignment_detail",
    ),
    path(
        "assignments/<int:assignment_id>/history/",
        history_views.assignment_history,
        name="assignment_history",
    ),
    path("people/<int:person_id>/history/", history_views.person_history, name="person_history"),
    path("changes/", history_views.recent_changes, name="recent_changes"),
    path("api/changes", history_views.changes_api, name="api_changes"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/read/", notification_views.notifications_read, name="notifications_read"),
    path(
        "notifications/settings/",
        notification_views.notification_settings,
        name="notification_settings",
    ),
    path("shifts/", include("shifts.urls")),
    path("api/", include("shifts.api_urls")),
    path("swaps/", include("swaps.urls")),
    path("api/", include("swaps.api_urls")),
    path("generation/", include("scheduling.urls")),
    path("", include("scheduling.api_urls")),
    path("admin/rq/", include("residency.rq_dashboard")),  # coordinators only
    path("admin/login/", views.admin_login, name="admin_login_gate"),
    path("admin/", admin.site.urls),
]
